//! A Python progress callback called from Rust work that runs without the GIL: each call
//! takes the GIL for the call only, and an exception it raises stops the work and is what
//! Python sees.

use super::errors::arrow_to_pyerr;
use arrow_schema::ArrowError;
use pyo3::prelude::*;

pub(crate) struct Progress {
    callback: Option<Py<PyAny>>,
    failed: Option<PyErr>,
}

impl Progress {
    pub(crate) fn new(callback: Option<Bound<'_, PyAny>>) -> Self {
        Progress {
            callback: callback.map(Bound::unbind),
            failed: None,
        }
    }

    /// Call the callback (if any); its exception becomes an error that stops the work.
    pub(crate) fn call(&mut self) -> Result<(), ArrowError> {
        let Some(callback) = &self.callback else {
            return Ok(());
        };
        Python::attach(|py| callback.call0(py).map(drop)).map_err(|e| {
            self.failed = Some(e);
            ArrowError::ExternalError("the progress callback failed".into())
        })
    }

    /// The work's result for Python, the callback's exception in place of the error it
    /// caused.
    pub(crate) fn result<T>(self, done: Result<T, ArrowError>) -> PyResult<T> {
        match (done, self.failed) {
            (_, Some(e)) => Err(e),
            (done, None) => done.map_err(arrow_to_pyerr),
        }
    }
}
