//! DecodeError -> Python exception, at the edge only. The classes live in
//! `bsmtrail/errors.py` so they are ordinary, picklable Python exceptions with typed
//! attributes; this looks up the factory once.

use crate::error::DecodeError;
use arrow_schema::ArrowError;
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn factory(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    FACTORY
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("bsmtrail.errors")?
                    .getattr("_from_native")?
                    .unbind(),
            )
        })
        .map(|f| f.bind(py))
}

/// The Python exception for `e`, as a value to store (damage lists). Building it runs
/// Python code, so a pending KeyboardInterrupt (or SystemExit, MemoryError) can surface
/// here: that is returned as the error, to propagate, never stored in the exception's
/// place. Only an ordinary failure of the error classes falls back to a RuntimeError.
pub(crate) fn to_pyexc<'py>(py: Python<'py>, e: &DecodeError) -> PyResult<Bound<'py, PyAny>> {
    let made = factory(py).and_then(|f| {
        f.call1((
            e.to_string(),
            e.offset,
            e.record_offset,
            e.token_id,
            e.kind.code(),
        ))
    });
    match made {
        Ok(exc) => Ok(exc),
        Err(err) if !err.is_instance_of::<PyException>(py) => Err(err),
        Err(err) => Ok(
            PyRuntimeError::new_err(format!("{e} (and the error class failed: {err})"))
                .into_value(py)
                .into_bound(py)
                .into_any(),
        ),
    }
}

/// The Python exception for `e`, to raise. An interrupt pending while it is built is
/// what is raised instead.
pub(crate) fn to_pyerr(py: Python<'_>, e: &DecodeError) -> PyErr {
    match to_pyexc(py, e) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("REASONS", crate::error::ErrorKind::REASONS.to_vec())?;
    Ok(())
}

/// An error of an Arrow-level stage (export, stats) as Python's exception: a stream's
/// decoding error (strict mode) as its `BSMError`, an I/O error as its `OSError`
/// subclass, a wrong schema or argument as `ValueError`, anything else as
/// `RuntimeError`.
pub(crate) fn arrow_to_pyerr(e: ArrowError) -> PyErr {
    match e {
        ArrowError::ExternalError(b) => match b.downcast::<DecodeError>() {
            Ok(d) => Python::attach(|py| to_pyerr(py, &d)),
            Err(b) => PyRuntimeError::new_err(b.to_string()),
        },
        ArrowError::IoError(_, io) => PyErr::from(io),
        ArrowError::SchemaError(m) | ArrowError::InvalidArgumentError(m) => {
            PyValueError::new_err(m)
        }
        other => PyRuntimeError::new_err(other.to_string()),
    }
}
