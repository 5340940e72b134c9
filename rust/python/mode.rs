//! The mode argument of every native entry point: `"strict"` or `"recover"`, parsed here
//! once into the crate's `Mode`.

use crate::mode::Mode;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A `Mode` read from its Python name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PyMode(pub Mode);

impl<'a, 'py> FromPyObject<'a, 'py> for PyMode {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let name: String = obj.extract()?;
        name.parse()
            .map(PyMode)
            .map_err(|e: crate::mode::UnknownMode| PyValueError::new_err(e.to_string()))
    }
}
