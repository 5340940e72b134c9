//! `StatsTally`: `bsmtrail stats`'s counting (`crate::stats`) over records-view batches.

use crate::stats::{self, Capped};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::hash::Hash;
use std::sync::Mutex;

/// Counts of records-view batches (columns `COLUMNS`): totals, time span, outcomes, and
/// tables by event, user, path, process and minute, each keeping at most `cap` keys.
#[pyclass(module = "bsmtrail._native", name = "StatsTally", frozen)]
pub struct StatsTally {
    tally: Mutex<stats::StatsTally>,
}

#[pymethods]
impl StatsTally {
    /// The records-view columns each batch must have.
    #[classattr]
    const COLUMNS: [&'static str; 9] = stats::COLUMNS;

    /// `exec_events`: event numbers of exec events (a record of one without arguments is
    /// named by its first path).
    #[new]
    #[pyo3(signature = (exec_events, *, cap = stats::DEFAULT_CAP))]
    fn new(exec_events: Vec<u16>, cap: usize) -> Self {
        StatsTally {
            tally: Mutex::new(stats::StatsTally::new(&exec_events, cap)),
        }
    }

    /// Count one batch (any object with `__arrow_c_array__`).
    fn add(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<()> {
        let batch = super::batch::import(batch)?;
        let mut t = self
            .tally
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the tally failed in another thread"))?;
        let t: &mut stats::StatsTally = &mut t;
        py.detach(|| t.add(&batch))
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The counts: totals by name, `first`/`last` (ms since the epoch, UTC), and lists
    /// most frequent first: `events` (event, records, failures), `auid`/`euid` (id,
    /// records), `paths`/`processes` (text, records), `minutes` (minute in ms, event,
    /// failed, records); `approximate` maps a capped table to (keys, records) dropped.
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut t = self
            .tally
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the tally failed in another thread"))?;
        let d = PyDict::new(py);
        d.set_item("records", t.records)?;
        d.set_item("bytes", t.bytes)?;
        d.set_item("first", t.first)?;
        d.set_item("last", t.last)?;
        d.set_item("untimed", t.untimed)?;
        d.set_item("success", t.success)?;
        d.set_item("failure", t.failure)?;
        d.set_item("no_return", t.no_return)?;
        d.set_item("record_errors", t.record_errors)?;
        let events: Vec<(Option<u16>, u64, u64)> = t
            .events()
            .into_iter()
            .map(|(e, c)| (e, c.records, c.failures))
            .collect();
        d.set_item("events", events)?;
        let approximate = PyDict::new(py);
        table(&d, &approximate, "auid", &mut t.auid)?;
        table(&d, &approximate, "euid", &mut t.euid)?;
        table(&d, &approximate, "paths", &mut t.paths)?;
        table(&d, &approximate, "processes", &mut t.processes)?;
        let minutes: Vec<(i64, Option<u16>, bool, u64)> = t
            .minutes
            .sorted()
            .into_iter()
            .map(|((m, e, f), n)| (m, e, f, n))
            .collect();
        d.set_item("minutes", minutes)?;
        if t.minutes.approximate() {
            approximate.set_item(
                "minutes",
                (t.minutes.dropped_keys, t.minutes.dropped_records),
            )?;
        }
        d.set_item("approximate", approximate)?;
        Ok(d)
    }
}

fn table<'py, K>(
    d: &Bound<'py, PyDict>,
    approximate: &Bound<'py, PyDict>,
    name: &str,
    c: &mut Capped<K>,
) -> PyResult<()>
where
    K: Hash + Eq + Ord + Clone + for<'a> IntoPyObject<'py>,
{
    d.set_item(name, c.sorted())?;
    if c.approximate() {
        approximate.set_item(name, (c.dropped_keys, c.dropped_records))?;
    }
    Ok(())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsTally>()
}
