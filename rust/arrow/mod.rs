//! Arrow export: trails as Arrow record batches, built in Rust with no Python object per
//! record.
//!
//! Three views share one pipeline (`parallel.rs`): framing walks record headers
//! sequentially (2.6 GB/s), groups the spans into chunks of `batch_size` records, and rayon
//! decodes the chunks in parallel into one `RecordBatch` each, in input order.
//!
//! - **records** (`records.rs`): one row per record; header, first subject and return as
//!   scalar columns, variable parts as list columns, every other token in `other_tokens`.
//! - **tokens** (`tokens.rs`): one row per token, with its bytes and a JSON field object.
//! - **errors** (`errors.rs`): damaged regions and records that fail validation.
//!
//! Columns derived by a table from a decoded one (event names, user names, labels) are
//! added on the workers (`derived.rs`).
//!
//! Column names and types are in `schema.rs` and documented in `docs/arrow-schema.md`.

mod builders;
pub mod derived;
pub mod errno;
mod errors;
pub mod parallel;
mod records;
pub mod report;
pub mod schema;
mod tokens;
pub(crate) mod walk;
pub mod window;

pub use builders::text;
pub use derived::{Derived, Shape};
pub use parallel::{
    unbox, BatchReader, Batches, Finish, Finished, Fused, Input, Options, Order, Prefetch, View,
};
pub use records::time_ms;
pub use report::{Findings, InputReport, Report, SharedReport};
pub use schema::{Col, SCHEMA_VERSION};

use crate::error::ErrorKind;
use arrow_array::ArrayRef;
use std::sync::OnceLock;

/// Every `ErrorKind` code, in key order (the `error` and `reason` dictionaries).
pub(crate) fn reason_key(kind: &ErrorKind) -> i32 {
    kind.reason_index() as i32
}

pub(crate) fn reason_dictionary() -> ArrayRef {
    static D: OnceLock<ArrayRef> = OnceLock::new();
    D.get_or_init(|| builders::dictionary(&ErrorKind::REASONS))
        .clone()
}

/// Test helpers (`read`) are shared with the exporters' and lineage's tests.
#[cfg(test)]
pub(crate) mod tests;
