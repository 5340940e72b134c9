//! DecodeError -> Python exception, at the edge only. The classes live in
//! `bsmtrail/errors.py` so they are ordinary, picklable Python exceptions with typed
//! attributes; this looks up the factory once.

use crate::error::DecodeError;
use pyo3::exceptions::PyRuntimeError;
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

pub(crate) fn to_pyerr(py: Python<'_>, e: &DecodeError) -> PyErr {
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
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => PyRuntimeError::new_err(format!("{e} (and the error class failed: {err})")),
    }
}
