//! Record batches handed in from Python, imported without letting arrow-rs panic.

use arrow_array::RecordBatch;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The record batch `obj` holds (any object with `__arrow_c_array__`). arrow-rs panics
/// importing some legal batches (a sliced struct holding a struct, as pyarrow exports it:
/// apache/arrow-rs#9235); that is a `ValueError` here, not a `PanicException` (which
/// `except Exception` would not catch). Python callers hand in unsliced copies of such
/// batches (`bsmtrail.export`).
pub(crate) fn import(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    match catch_unwind(AssertUnwindSafe(|| obj.extract::<PyRecordBatch>())) {
        Ok(batch) => Ok(batch?.into_inner()),
        Err(_) => Err(PyValueError::new_err(
            "arrow-rs could not import this record batch (a sliced column of nested \
             structs?); pass an unsliced copy (batch.take(indices))",
        )),
    }
}
