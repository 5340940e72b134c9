//! `Merge`: the time-ordered merge of several trails (`crate::merge`) as an iterator of
//! gathered chunks, each a `TrailSlice` of whole records that any reader of one trail
//! (the renderer, reduce, the record iterator) takes as it is.
//!
//! The merge runs one chunk ahead on its own thread, so that gathering the next chunk
//! overlaps whatever the caller does with this one (reduce's or the renderer's workers).

use super::errors::to_pyexc;
use super::mode::PyMode;
use super::select::Selection;
use super::source::{source_from, TrailSlice};
use super::tally::DamageLog;
use crate::framing::Check;
use crate::merge::{self, Gathered, Merger, PieceKind};
use crate::source::Source;
use crate::tally::{DamageLog as Log, Kept};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

/// What the merge found in one input.
struct Found {
    records: u64,
    damage: Log,
    late: Kept<LateEntry>,
}

struct State {
    merger: Merger,
    found: Vec<Found>,
}

/// Gathered chunks of every input's records and file tokens, merged by (time, msec,
/// input order). See `bsmtrail.timeline`.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct Merge {
    state: Arc<Mutex<State>>,
    /// The read-ahead thread's chunks once iteration has begun, and whether its last
    /// message (the end or an error) has come.
    ahead: Mutex<(Option<Receiver<Next>>, bool)>,
}

type Next = std::io::Result<Option<Gathered>>;

/// One gathered chunk: its bytes as a trail slice, and for each of its items (records
/// and file tokens, in order) the input it came from and its offset there.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct MergedChunk {
    #[pyo3(get)]
    slice: Py<TrailSlice>,
    #[pyo3(get)]
    inputs: Vec<u32>,
    #[pyo3(get)]
    offsets: Vec<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The next chunk holding any bytes, with what was found on the way noted in `st`.
fn gather(st: &mut State) -> Next {
    loop {
        let next = st.merger.next_chunk(1 << 16, 8 << 20);
        st.merger.check()?;
        let Some(g) = next else {
            return Ok(None);
        };
        for &(i, n, _) in &g.framed {
            st.found[i as usize].records += n;
        }
        for l in &g.late {
            st.found[l.input as usize]
                .late
                .push((l.offset, l.time, l.after));
        }
        for p in &g.pieces {
            if let PieceKind::Damage { len, error } = &p.kind {
                st.found[p.input as usize]
                    .damage
                    .push(p.offset, *len, error);
            }
        }
        if g.pieces.iter().any(|p| p.len > 0) {
            return Ok(Some(g));
        }
    }
}

/// Gathers chunks on a thread of its own, one ahead of the receiver. It ends after the
/// last chunk or an error, or when the receiver is dropped (its send fails).
fn read_ahead(state: Arc<Mutex<State>>) -> Receiver<Next> {
    let (tx, rx) = sync_channel::<Next>(1);
    thread::spawn(move || loop {
        let next = gather(&mut lock(&state));
        let last = !matches!(next, Ok(Some(_)));
        if tx.send(next).is_err() || last {
            return;
        }
    });
    rx
}

#[pymethods]
impl Merge {
    /// `inputs`: paths (memory-mapped) or bytes. `count_framing`: a strict read frames on
    /// the header's count alone (praudit, auditreduce) instead of checking trailers.
    /// `selection`: records its header check rejects are dropped as they are framed
    /// (counted, never gathered); the caller gives the full verdict.
    #[new]
    #[pyo3(signature = (inputs, *, mode, window_ms, count_framing = false, keep = 1000, selection = None))]
    fn new(
        inputs: Vec<Bound<'_, PyAny>>,
        mode: PyMode,
        window_ms: u64,
        count_framing: bool,
        keep: usize,
        selection: Option<PyRef<'_, Selection>>,
    ) -> PyResult<Self> {
        if inputs.is_empty() {
            return Err(PyValueError::new_err("a merge needs at least one input"));
        }
        let lanes = inputs
            .iter()
            .map(|obj| {
                Ok(merge::Input {
                    source: source_from(obj)?,
                    base: 0,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let found = (0..lanes.len())
            .map(|_| Found {
                records: 0,
                damage: Log::new(keep),
                late: Kept::new(keep),
            })
            .collect();
        let opts = merge::Options {
            mode: mode.0,
            check: if count_framing {
                Check::Count
            } else {
                Check::Trailer
            },
            window_ms,
            keep,
            ..merge::Options::default()
        };
        let mut merger = Merger::new(lanes, opts);
        // A sequential selection's verdicts depend on the records before them, those
        // its header check rejects included: it must see them all.
        if let Some(sel) = selection.filter(|s| !s.core.sequential()) {
            let sel = Arc::clone(&sel.core);
            merger = merger.with_filter(move |rec| sel.prefilter(rec));
        }
        Ok(Merge {
            state: Arc::new(Mutex::new(State { merger, found })),
            ahead: Mutex::new((None, false)),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next chunk (about 8 MiB of records), or StopIteration.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<MergedChunk>> {
        let gathered = py.detach(|| {
            let mut ahead = lock(&self.ahead);
            let (rx, ended) = &mut *ahead;
            if *ended {
                return Ok(None);
            }
            let rx = rx.get_or_insert_with(|| read_ahead(Arc::clone(&self.state)));
            let next = rx.recv().unwrap_or_else(|_| {
                // The thread always says how it ended: a closed channel without that
                // is a panic, and the chunks it would have given must not go unnoticed.
                Err(std::io::Error::other("the merge stopped unexpectedly"))
            });
            *ended = !matches!(next, Ok(Some(_)));
            next
        });
        let Some(g) = gathered? else {
            return Ok(None);
        };
        let (inputs, offsets) = g
            .pieces
            .iter()
            .filter(|p| p.len > 0)
            .map(|p| (p.input, p.offset))
            .unzip();
        let len = g.bytes.len();
        let slice = TrailSlice::whole(Source::from_owner(g.bytes), len);
        Ok(Some(MergedChunk {
            slice: Py::new(py, slice)?,
            inputs,
            offsets,
        }))
    }

    /// Per input: records framed, damaged regions skipped (recover mode), and late
    /// records (offset, time, time they went out as) with their total.
    fn report(&self) -> Vec<(u64, DamageLog, Vec<LateEntry>, u64)> {
        let st = lock(&self.state);
        st.found
            .iter()
            .map(|f| {
                (
                    f.records,
                    DamageLog {
                        log: f.damage.clone(),
                    },
                    f.late.items().to_vec(),
                    f.late.total(),
                )
            })
            .collect()
    }

    /// A strict read's first error: (input index, the error), or None.
    fn error<'py>(&self, py: Python<'py>) -> PyResult<Option<(u32, Bound<'py, PyAny>)>> {
        let st = lock(&self.state);
        st.merger
            .fatal()
            .map(|(i, e)| Ok((*i, to_pyexc(py, e)?)))
            .transpose()
    }
}

type LateEntry = (u64, (i64, u64), (i64, u64));

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Merge>()?;
    m.add_class::<MergedChunk>()?;
    Ok(())
}
