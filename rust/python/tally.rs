//! `DamageLog`: the bounded damage list (`crate::tally`) as a Python object that readers
//! append to. Regions become Python exceptions only when asked for, and only the kept ones.

use super::errors::to_pyexc;
use crate::error::DecodeError;
use crate::tally::{self, DamageLog as Log, Region};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Damaged regions: the first `keep` in full, every one counted.
#[pyclass(module = "bsmtrail._native")]
pub struct DamageLog {
    pub(crate) log: Log,
}

/// Add a region to `log`, if there is one.
pub(crate) fn note(
    log: Option<&Bound<'_, DamageLog>>,
    offset: u64,
    len: u64,
    error: &DecodeError,
) -> PyResult<()> {
    if let Some(l) = log {
        l.try_borrow_mut()?.log.push(offset, len, error);
    }
    Ok(())
}

fn region<'py>(py: Python<'py>, r: &Region) -> PyResult<Bound<'py, PyTuple>> {
    (r.offset, r.len, to_pyexc(py, &r.error)?).into_pyobject(py)
}

#[pymethods]
impl DamageLog {
    #[new]
    #[pyo3(signature = (keep = 1000))]
    fn new(keep: usize) -> Self {
        DamageLog {
            log: Log::new(keep),
        }
    }

    /// How many regions.
    #[getter]
    fn count(&self) -> u64 {
        self.log.count()
    }

    /// Bytes in all regions.
    #[getter]
    fn bytes(&self) -> u64 {
        self.log.bytes()
    }

    /// How many regions are kept in full.
    #[getter]
    fn keep(&self) -> usize {
        self.log.regions().keep()
    }

    /// The kept regions, first ones first, as `(offset, length, BSMError)`.
    fn regions<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.log
            .regions()
            .items()
            .iter()
            .map(|r| region(py, r))
            .collect()
    }

    /// The last region (kept or not), as `(offset, length, BSMError)`.
    fn last<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.log.last().map(|r| region(py, r)).transpose()
    }

    /// Reason code -> (regions, bytes), over every region.
    fn by_reason<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.log.by_reason() {
            d.set_item(*k, *v)?;
        }
        Ok(d)
    }

    /// Forget every region (a new reading starts).
    fn clear(&mut self) {
        self.log = Log::new(self.log.regions().keep());
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DamageLog>()?;
    m.add("DEFAULT_KEEP", tally::DEFAULT_KEEP)?;
    Ok(())
}
