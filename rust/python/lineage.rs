//! `Lineage`: the sessions and processes views (`crate::lineage`) over records-view
//! batches.

use crate::lineage::{self, EventKinds};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;
use std::sync::Mutex;

/// Builds the sessions and/or processes views from batches of the records view (columns
/// `COLUMNS`, `label` too when inputs are labelled), fed in order.
#[pyclass(module = "bsmtrail._native", name = "Lineage", frozen)]
pub struct Lineage {
    inner: Mutex<lineage::Lineage>,
}

fn locked(m: &Mutex<lineage::Lineage>) -> PyResult<std::sync::MutexGuard<'_, lineage::Lineage>> {
    m.lock()
        .map_err(|_| PyRuntimeError::new_err("the lineage failed in another thread"))
}

fn batch_out(
    py: Python<'_>,
    b: Result<arrow_array::RecordBatch, arrow_schema::ArrowError>,
) -> PyResult<Bound<'_, PyAny>> {
    let b = b.map_err(|e| PyValueError::new_err(e.to_string()))?;
    PyRecordBatch::new(b).into_pyarrow(py)
}

#[pymethods]
impl Lineage {
    #[classattr]
    const COLUMNS: [&'static str; 14] = lineage::COLUMNS;
    #[classattr]
    const FORK: u8 = lineage::FORK;
    #[classattr]
    const SPAWN: u8 = lineage::SPAWN;
    #[classattr]
    const EXEC: u8 = lineage::EXEC;
    #[classattr]
    const EXIT: u8 = lineage::EXIT;
    #[classattr]
    const LOGIN: u8 = lineage::LOGIN;
    #[classattr]
    const LOGOUT: u8 = lineage::LOGOUT;
    #[classattr]
    const FILE: u8 = lineage::FILE;
    #[classattr]
    const NETWORK: u8 = lineage::NETWORK;

    /// `kinds`: (event number, flags) pairs; `first_commands`: command lines a session
    /// row lists; `batch_rows`: finished processes per batch of the processes view.
    #[new]
    #[pyo3(signature = (
        kinds, *, sessions = true, processes = true, first_commands = 10, batch_rows = 65_536
    ))]
    fn new(
        kinds: Vec<(u16, u8)>,
        sessions: bool,
        processes: bool,
        first_commands: usize,
        batch_rows: usize,
    ) -> Self {
        Lineage {
            inner: Mutex::new(lineage::Lineage::new(
                EventKinds::new(&kinds),
                sessions,
                processes,
                first_commands,
                batch_rows,
            )),
        }
    }

    /// Take one batch (any object with `__arrow_c_array__`).
    fn add(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<()> {
        let batch = super::batch::import(batch)?;
        let mut l = locked(&self.inner)?;
        let l: &mut lineage::Lineage = &mut l;
        py.detach(|| l.add(&batch))
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The sessions view as a `pyarrow.RecordBatch` (once; None if not asked for).
    fn sessions<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut l = locked(&self.inner)?;
        let hosts = l.hosts().to_vec();
        match l.sessions.as_mut() {
            None => Ok(None),
            Some(s) => batch_out(py, s.finish(&hosts)).map(Some),
        }
    }

    /// The full batches (`pyarrow.RecordBatch`) of the processes that ended since the
    /// last call, in the order they ended (none if the view was not asked for).
    fn take_processes<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let mut l = locked(&self.inner)?;
        let batches = l.processes.as_mut().map(|p| p.take()).unwrap_or_default();
        batches.into_iter().map(|b| batch_out(py, Ok(b))).collect()
    }

    /// At the end of the input: the rest of the processes view, the processes still open
    /// last, in order of appearance; at least one batch (None if not asked for).
    fn processes<'py>(&self, py: Python<'py>) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
        let mut l = locked(&self.inner)?;
        let hosts = l.hosts().to_vec();
        let Some(p) = l.processes.as_mut() else {
            return Ok(None);
        };
        let batches = p
            .finish(&hosts)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let out: PyResult<Vec<_>> = batches.into_iter().map(|b| batch_out(py, Ok(b))).collect();
        out.map(Some)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Lineage>()
}
