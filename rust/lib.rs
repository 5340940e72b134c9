//! bsmtrail's core: framing, token decoding and rendering of BSM audit trails.
//!
//! The format reference is `docs/bsm-format.md` in the shared material; section numbers
//! (§) in comments point there.

pub mod arrow;
pub mod chunks;
pub(crate) mod cursor;
pub mod error;
pub mod export;
pub mod fault;
pub mod framing;
pub mod inet;
pub mod lineage;
pub mod lookup;
pub mod merge;
pub mod mode;
pub mod ocsf;
pub mod ordered;
pub mod recover;
pub mod reduce;
pub mod render;
pub mod select;
pub mod source;
pub mod stats;
pub mod stream;
pub mod tally;
pub mod tokens;
pub mod verify;
pub mod writer;

#[cfg(feature = "python")]
mod python;

pub use error::{DecodeError, ErrorKind, Fault};
