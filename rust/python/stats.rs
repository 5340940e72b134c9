//! `StatsTally`: `bsmtrail stats`'s counting (`crate::stats`) over records-view batches,
//! each batch counted on a worker and merged in the order given.

use super::arrow::ArrowStream;
use super::errors::arrow_to_pyerr;
use super::progress::Progress;
use crate::stats::{self, Texts};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;

/// Counts of records-view batches (columns `COLUMNS`): totals, time span, outcomes, and
/// tables by event, user, path, process and minute, each keeping at most `cap` keys.
#[pyclass(module = "bsmtrail._native", name = "StatsTally", frozen)]
pub struct StatsTally {
    inner: Mutex<stats::InOrder>,
}

impl StatsTally {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, stats::InOrder>> {
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the tally failed in another thread"))
    }
}

#[pymethods]
impl StatsTally {
    /// The records-view columns each batch must have.
    #[classattr]
    const COLUMNS: [&'static str; 9] = stats::COLUMNS;

    /// `exec_events`: event numbers of exec events (a record of one without arguments is
    /// named by its first path); `threads`: counting workers (0: every core, 1: the
    /// caller's thread). The counts do not depend on the thread count.
    #[new]
    #[pyo3(signature = (exec_events, *, cap = stats::DEFAULT_CAP, threads = 0))]
    fn new(exec_events: Vec<u16>, cap: usize, threads: usize) -> PyResult<Self> {
        let tally = stats::StatsTally::new(&exec_events, cap);
        Ok(StatsTally {
            inner: Mutex::new(stats::InOrder::new(tally, threads)?),
        })
    }

    /// Count one batch (any object with `__arrow_c_array__`): its columns are checked
    /// now, and it is counted on a worker while the next batches come.
    fn add(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<()> {
        let batch = super::batch::import(batch)?;
        let mut guard = self.lock()?;
        let inner: &mut stats::InOrder = &mut guard;
        py.detach(|| inner.add(batch)).map_err(arrow_to_pyerr)
    }

    /// Count every batch of `stream` (an `ArrowStream` with the `COLUMNS`, consumed),
    /// after the batches added before; each is counted on the worker that decoded it
    /// when the stream allows (`crate::stats::InOrder::add_stream`). `progress()` is
    /// called after each batch.
    #[pyo3(signature = (stream, progress = None))]
    fn consume(
        &self,
        py: Python<'_>,
        stream: &ArrowStream,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let batches = stream.take("counted by a tally")?;
        let mut guard = self.lock()?;
        let inner: &mut stats::InOrder = &mut guard;
        let mut tick = Progress::new(progress);
        let done = py.detach(|| inner.add_stream(batches, &mut || tick.call()));
        tick.result(done)
    }

    /// The counts: totals by name, `first`/`last` (ms since the epoch, UTC), and lists
    /// most frequent first: `events` (event, records, failures), `auid`/`euid` (id,
    /// records; ties by id, None last), `paths`/`processes` (text, records), `minutes`
    /// (minute in ms, event, failed, records; left out unless `minutes`); `approximate`
    /// maps a capped table to (keys, records) dropped. `top`: at most that many rows in
    /// the user, path and process tables.
    #[pyo3(signature = (*, top = None, minutes = true))]
    fn result<'py>(
        &self,
        py: Python<'py>,
        top: Option<usize>,
        minutes: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut guard = self.lock()?;
        let inner: &mut stats::InOrder = &mut guard;
        let t = py.detach(|| inner.tally()).map_err(arrow_to_pyerr)?;
        let d = PyDict::new(py);
        let totals = t.totals;
        d.set_item("records", totals.records)?;
        d.set_item("bytes", totals.bytes)?;
        d.set_item("first", totals.first)?;
        d.set_item("last", totals.last)?;
        d.set_item("untimed", totals.untimed)?;
        d.set_item("success", totals.success)?;
        d.set_item("failure", totals.failure)?;
        d.set_item("no_return", totals.no_return)?;
        d.set_item("record_errors", totals.record_errors)?;
        let events: Vec<(Option<u16>, u64, u64)> = t
            .events()
            .into_iter()
            .map(|(e, c)| (e, c.records, c.failures))
            .collect();
        d.set_item("events", events)?;
        let approximate = PyDict::new(py);
        let [auid, euid] = t.users(top);
        d.set_item("auid", auid)?;
        d.set_item("euid", euid)?;
        for (name, dropped) in ["auid", "euid"].into_iter().zip(t.users_dropped()) {
            if let Some(keys_records) = dropped {
                approximate.set_item(name, keys_records)?;
            }
        }
        text_table(&d, &approximate, "paths", &mut t.paths, top)?;
        text_table(&d, &approximate, "processes", &mut t.processes, top)?;
        t.minutes.settle(); // counted as dropped whether or not the rows are asked for
        if minutes {
            let rows: Vec<(i64, Option<u16>, bool, u64)> = t
                .minutes
                .sorted(None)
                .into_iter()
                .map(|((m, e, f), n)| (m, e, f, n))
                .collect();
            d.set_item("minutes", rows)?;
        }
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

/// A text table's rows, at most `top`, and what it dropped.
fn text_table<'py>(
    d: &Bound<'py, PyDict>,
    approximate: &Bound<'py, PyDict>,
    name: &str,
    c: &mut Texts,
    top: Option<usize>,
) -> PyResult<()> {
    d.set_item(name, c.sorted(top))?;
    if c.approximate() {
        approximate.set_item(name, c.dropped())?;
    }
    Ok(())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsTally>()
}
