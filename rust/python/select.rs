//! `Selection` and `reduce`: auditreduce's record selection (`crate::select`) and its output
//! (`crate::reduce`) to Python. Criteria arrive already resolved (numbers, masks, tables)
//! from `bsmtrail/select.py`.

use super::errors::to_pyexc;
use super::mode::PyMode;
use super::source::source_from;
use super::tally::DamageLog;
use crate::reduce::{reduce as reduce_core, Carry, Reduced};
use crate::select::{file_patterns, AllOf, AllOfState, Rows, Selection as Core, Variants, Verdict};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What a sequential selection (auditreduce's variants with a class, `-c`) carries from
/// one record to the next: give the same one to each `reduce` of consecutive pieces of
/// one stream (a merged timeline's chunks), and each piece is judged as the whole stream
/// would be.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct SelectionState {
    carry: Carry,
}

#[pymethods]
impl SelectionState {
    #[new]
    fn new() -> Self {
        SelectionState {
            carry: Arc::new(Mutex::new(AllOfState::default())),
        }
    }
}

/// Compiled selection criteria (see `bsmtrail.select`). `a & b` keeps what both keep.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct Selection {
    pub(crate) core: Arc<AllOf>,
    /// The keyword arguments of each part, as given: what pickling sends.
    specs: Vec<Py<PyDict>>,
}

impl Selection {
    /// What both keep: the parts of `self`, then those of `other`.
    fn and(&self, py: Python<'_>, other: &Selection) -> Selection {
        Selection {
            core: Arc::new(self.core.and(&other.core)),
            specs: self
                .specs
                .iter()
                .chain(&other.specs)
                .map(|s| s.clone_ref(py))
                .collect(),
        }
    }
}

impl Default for Selection {
    /// No part: keeps everything (the unit of `and`).
    fn default() -> Self {
        Selection {
            core: Arc::new(AllOf::default()),
            specs: Vec::new(),
        }
    }
}

#[pymethods]
impl Selection {
    #[new]
    #[pyo3(signature = (
        *, variants = "all", all = false, after = None, before = None, class_mask = None,
        event_classes = None, events = None, euid = None, egid = None, rgid = None,
        ruid = None, auid = None, subject_pid = None, object_pid = None, msgqid = None,
        semid = None, shmid = None, files = None, zone = None, invert = false,
        time_ms = None, first_subject = None, success = None, paths = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        variants: &str,
        all: bool,
        after: Option<i64>,
        before: Option<i64>,
        class_mask: Option<(u32, u32)>,
        event_classes: Option<Vec<(u16, u32)>>,
        events: Option<Vec<u16>>,
        euid: Option<u32>,
        egid: Option<u32>,
        rgid: Option<u32>,
        ruid: Option<u32>,
        auid: Option<u32>,
        subject_pid: Option<u32>,
        object_pid: Option<u32>,
        msgqid: Option<u32>,
        semid: Option<u32>,
        shmid: Option<u32>,
        files: Option<&str>,
        zone: Option<&[u8]>,
        invert: bool,
        time_ms: Option<(i64, i64)>,
        first_subject: Option<BTreeMap<String, Vec<u32>>>,
        success: Option<bool>,
        paths: Option<Vec<Vec<u8>>>,
    ) -> PyResult<Self> {
        // The arguments as given, beside the compiled form, so a pickled selection is
        // rebuilt by this same constructor.
        let spec = PyDict::new(py);
        spec.set_item("variants", variants)?;
        spec.set_item("all", all)?;
        spec.set_item("after", after)?;
        spec.set_item("before", before)?;
        spec.set_item("class_mask", class_mask)?;
        spec.set_item("event_classes", event_classes.clone())?;
        spec.set_item("events", events.clone())?;
        for (k, v) in [
            ("euid", euid),
            ("egid", egid),
            ("rgid", rgid),
            ("ruid", ruid),
            ("auid", auid),
            ("subject_pid", subject_pid),
            ("object_pid", object_pid),
            ("msgqid", msgqid),
            ("semid", semid),
            ("shmid", shmid),
        ] {
            spec.set_item(k, v)?;
        }
        spec.set_item("files", files)?;
        spec.set_item("zone", zone.map(|z| PyBytes::new(py, z)))?;
        spec.set_item("invert", invert)?;
        spec.set_item("time_ms", time_ms)?;
        spec.set_item("first_subject", first_subject.clone())?;
        spec.set_item("success", success)?;
        spec.set_item(
            "paths",
            paths
                .as_ref()
                .map(|ps| ps.iter().map(|p| PyBytes::new(py, p)).collect::<Vec<_>>()),
        )?;
        let mut rows = Rows {
            time_ms,
            success,
            paths,
            ..Rows::default()
        };
        for (k, v) in first_subject.unwrap_or_default() {
            let slot = match k.as_str() {
                "auid" => &mut rows.auid,
                "euid" => &mut rows.euid,
                "egid" => &mut rows.egid,
                "ruid" => &mut rows.ruid,
                "rgid" => &mut rows.rgid,
                "pid" => &mut rows.pid,
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "first_subject takes auid, euid, egid, ruid, rgid and pid, not {k:?}"
                    )))
                }
            };
            *slot = Some(v);
        }
        let variants = match variants {
            "all" => Variants::All,
            "auditreduce" => Variants::Auditreduce,
            v => {
                return Err(PyValueError::new_err(format!(
                    "variants must be 'all' or 'auditreduce', not {v:?}"
                )))
            }
        };
        let mut table = vec![None; 1 << 16];
        for (e, m) in event_classes.unwrap_or_default() {
            table[usize::from(e)] = Some(m);
        }
        let files = match files {
            Some(spec) => {
                Some(file_patterns(spec).map_err(|e| PyValueError::new_err(e.to_string()))?)
            }
            None => None,
        };
        let core = Core {
            variants,
            all,
            after,
            before,
            class: class_mask,
            event_classes: table,
            events,
            euid,
            egid,
            rgid,
            ruid,
            auid,
            subject_pid,
            object_pid,
            msgqid,
            semid,
            shmid,
            files,
            zone: zone.map(<[u8]>::to_vec),
            invert,
            rows,
        };
        Ok(Selection {
            core: Arc::new(AllOf::new(vec![core])),
            specs: vec![spec.unbind()],
        })
    }

    /// auditreduce's verdict for one record's bytes.
    fn matches(&self, record: &[u8]) -> bool {
        self.core.verdict(record, &mut AllOfState::default()) == Verdict::Selected
    }

    /// Keeps what both keep (a selection made from a selection).
    fn __and__(&self, py: Python<'_>, other: PyRef<'_, Selection>) -> Selection {
        self.and(py, &other)
    }

    /// Pickled as its constructor's arguments (Dask sends selections to its workers).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let rebuild = py.import("bsmtrail._native")?.getattr("_selection_of")?;
        let specs: Vec<&Py<PyDict>> = self.specs.iter().collect();
        (rebuild, (specs,)).into_pyobject(py)
    }

    fn __repr__(&self) -> String {
        format!("<bsmtrail Selection of {} part(s)>", self.specs.len())
    }
}

/// The selection of every part's constructor arguments, all of them kept (`__reduce__`).
#[pyfunction]
fn _selection_of(py: Python<'_>, specs: Vec<Bound<'_, PyDict>>) -> PyResult<Selection> {
    let cls = py.get_type::<Selection>();
    let mut out: Option<Selection> = None;
    for spec in specs {
        let part: PyRef<'_, Selection> = cls.call((), Some(&spec))?.extract()?;
        out = Some(match out {
            Some(acc) => acc.and(py, &part),
            None => part.and(py, &Selection::default()),
        });
    }
    out.ok_or_else(|| PyValueError::new_err("a selection has at least one part"))
}

/// A Python binary file object as a `Write`: the GIL is taken for each call, and the
/// Python error of a failed call is kept to be raised as itself (a KeyboardInterrupt
/// stays one).
struct PyWriter {
    file: Py<PyAny>,
    error: Option<PyErr>,
}

impl Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Python::attach(|py| {
            self.file
                .bind(py)
                .call_method1("write", (PyBytes::new(py, buf),))
                .map(|_| buf.len())
                .map_err(|e| {
                    let msg = e.to_string();
                    self.error = Some(e);
                    io::Error::other(msg)
                })
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `reduce`'s answer: (kept, seen, error, undecided offsets, undecided total).
type Reduction = (u64, u64, Py<PyAny>, Vec<u64>, u64);

/// Write the selected records of `source` (whole, byte for byte, like auditreduce) to
/// `out`: a path (created or truncated) or a binary file object (written in 1 MiB
/// pieces). `mode="strict"` frames as auditreduce does and stops at its first framing
/// error; `"recover"` resynchronises past damage, adding each region to `damage`.
/// Returns `(kept, seen, error, undecided, undecided_total)`: `error` ended a strict read,
/// `undecided` the offsets of the first `keep` records the selection could not decide (a
/// token bsmtrail cannot decode hides what a criterion depends on; they are not written).
/// Verdicts are given on `threads` workers (0: every core); the output is the same.
/// `state` carries a sequential selection's state from the previous call (see
/// `SelectionState`); without it each call starts afresh.
#[pyfunction]
#[pyo3(signature = (
    source, selection, out, *, mode, damage = None, keep = 1000, threads = 0, state = None
))]
// The arguments are the Python function's keyword arguments, one each.
#[allow(clippy::too_many_arguments)]
pub fn reduce<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    selection: &Selection,
    out: &Bound<'py, PyAny>,
    mode: PyMode,
    damage: Option<&Bound<'py, DamageLog>>,
    keep: usize,
    threads: usize,
    state: Option<&SelectionState>,
) -> PyResult<Reduction> {
    let src = source_from(source)?;
    let sel = Arc::clone(&selection.core);
    let run = |w: &mut dyn Write| {
        let watch = |p: usize| src.release(p);
        let carry = state.map(|s| &s.carry);
        let r = reduce_core(&src, &sel, mode.0, keep, threads, carry, w, &watch)?;
        w.flush()?;
        Ok::<Reduced, io::Error>(r)
    };
    let r = if let Ok(path) = out.extract::<PathBuf>() {
        py.detach(|| {
            let file = std::fs::File::create(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            run(&mut BufWriter::with_capacity(1 << 20, file))
        })?
    } else {
        let mut w = PyWriter {
            file: out.clone().unbind(),
            error: None,
        };
        let r = py.detach(|| {
            let mut buf = BufWriter::with_capacity(1 << 20, &mut w);
            let r = run(&mut buf);
            // Flushed before the writer is looked at; a failure is in `w.error`.
            drop(buf);
            r
        });
        if let Some(e) = w.error.take() {
            return Err(e);
        }
        r?
    };
    src.check()?;
    if let Some(d) = damage {
        d.try_borrow_mut()?.log.absorb(r.damage);
    }
    let stopped = match &r.stopped {
        Some(e) => to_pyexc(py, e)?.unbind(),
        None => py.None(),
    };
    Ok((
        r.kept,
        r.seen,
        stopped,
        r.undecided.items().to_vec(),
        r.undecided.total(),
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Selection>()?;
    m.add_class::<SelectionState>()?;
    m.add_function(wrap_pyfunction!(reduce, m)?)?;
    m.add_function(wrap_pyfunction!(_selection_of, m)?)?;
    Ok(())
}
