//! The `bsmtrail._native` extension module.
