//! The BSM writer: token encoders (the libbsm `au_to_*` family and Apple's tokens), a record
//! builder that fills in the header and trailer byte counts, a trail writer, and the
//! package's demo trail.
//!
//! Everything written here reads back through [`crate::tokens::decode`] as the token it was
//! built from, and any decoded token is written back byte for byte by [`encode::encode`]
//! (with the few exceptions listed there).

pub mod demo;
pub mod encode;
pub mod generate;
pub mod record;
pub mod trail;

pub use demo::demo_trail;
pub use encode::{cstr, encode, nul_list, EncodeError};
pub use record::{HeaderKind, RecordBuilder};
pub use trail::TrailWriter;
