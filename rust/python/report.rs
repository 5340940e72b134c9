//! What an Arrow stream found in each input (`crate::arrow::report`), to Python.

use super::tally::DamageLog;
use crate::arrow::InputReport as Core;
use pyo3::prelude::*;

/// One input's findings: records framed, rows made, damage skipped, records failing
/// validation, and records a selection could not decide.
#[pyclass(module = "bsmtrail._native", name = "InputReport", frozen)]
pub struct InputReport {
    core: Core,
}

impl InputReport {
    pub(crate) fn new(core: Core) -> Self {
        InputReport { core }
    }
}

#[pymethods]
impl InputReport {
    /// The input's name (its `source` value).
    #[getter]
    fn name(&self) -> &str {
        &self.core.name
    }

    /// Records framed (before any selection).
    #[getter]
    fn records(&self) -> u64 {
        self.core.found.records
    }

    /// Bytes of the records framed.
    #[getter]
    fn record_bytes(&self) -> u64 {
        self.core.found.record_bytes
    }

    /// Records that became rows.
    #[getter]
    fn rows(&self) -> u64 {
        self.core.found.rows
    }

    /// Regions framing skipped.
    #[getter]
    fn damage(&self) -> DamageLog {
        DamageLog {
            log: self.core.found.damage.clone(),
        }
    }

    /// Records that failed validation (rows with `error` set).
    #[getter]
    fn failing(&self) -> DamageLog {
        DamageLog {
            log: self.core.found.failing.clone(),
        }
    }

    /// Offsets of the first records a selection could not decide.
    #[getter]
    fn undecided(&self) -> Vec<u64> {
        self.core.found.undecided.items().to_vec()
    }

    /// How many records a selection could not decide.
    #[getter]
    fn undecided_total(&self) -> u64 {
        self.core.found.undecided.total()
    }

    /// A time-ordered read's first records that were older than one their input had
    /// already given out: (offset, (seconds, msec), (seconds, msec) it went out as).
    #[getter]
    fn late(&self) -> Vec<crate::arrow::report::Late> {
        self.core.found.late.items().to_vec()
    }

    /// How many records a time-ordered read could not put in their place.
    #[getter]
    fn late_total(&self) -> u64 {
        self.core.found.late.total()
    }

    fn __repr__(&self) -> String {
        format!(
            "<bsmtrail InputReport {:?}: {} records, {} rows, {} damaged regions>",
            self.core.name,
            self.core.found.records,
            self.core.found.rows,
            self.core.found.damage.count()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<InputReport>()?;
    Ok(())
}
