//! `Selection` and `reduce`: auditreduce's record selection over a whole trail in Rust.
//! Criteria arrive already resolved (numbers, masks, tables) from `bsmtrail/select.py`.

use super::errors::to_pyexc;
use super::reader::source_from;
use super::tally::{note, DamageLog};
use crate::error::DecodeError;
use crate::framing::{Check, Framer, SpanKind};
use crate::recover::{Item, Recover};
use crate::select::{file_patterns, SelectState, Selection as Core, Variants, Verdict};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// Compiled selection criteria (see `bsmtrail.select`).
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct Selection {
    pub(crate) core: Core,
}

#[pymethods]
impl Selection {
    #[new]
    #[pyo3(signature = (
        *, variants = "all", all = false, after = None, before = None, class_mask = None,
        event_classes = None, events = None, euid = None, egid = None, rgid = None,
        ruid = None, auid = None, subject_pid = None, object_pid = None, msgqid = None,
        semid = None, shmid = None, files = None, zone = None, invert = false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
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
    ) -> PyResult<Self> {
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
        Ok(Selection {
            core: Core {
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
            },
        })
    }

    /// auditreduce's verdict for one record's bytes.
    fn matches(&self, record: &[u8]) -> bool {
        self.core.matches(record, &mut SelectState::default())
    }
}

/// Records kept and seen by [`reduce`], plus where reading stopped.
struct Tally {
    kept: u64,
    seen: u64,
    undecided: u64,
    stopped: Option<DecodeError>,
}

/// Copy the selected records of `source` to `write` (called with ~1 MiB `bytes` chunks).
/// With `offsets`, every kept record's position in the output and its offset in `source`
/// are also written to `offsets.write` as little-endian u64 pairs, so callers can map rows
/// built from the output back to file positions.
/// Framing is auditreduce's (praudit's `au_read_rec`) unless `recover`, which frames
/// strictly and resynchronises past damage, adding it to `damage` (a `DamageLog`).
/// Returns `(kept, seen, error, undecided)`: `error` is the framing error that ended a
/// non-recovering read, or None; `undecided` how many records the selection could not
/// decide (a token it cannot decode hides what a criterion depends on; they are not
/// written). With `undecided`, the offsets of the first `keep` of those are appended to it
/// (a hostile trail can make every record one).
#[pyfunction]
#[pyo3(signature = (source, selection, write, *, recover = false, damage = None, chunk_size = 1048576, offsets = None, undecided = None, keep = 1000))]
#[allow(clippy::too_many_arguments)]
pub fn reduce<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    selection: &Selection,
    write: &Bound<'py, PyAny>,
    recover: bool,
    damage: Option<&Bound<'py, DamageLog>>,
    chunk_size: usize,
    offsets: Option<&Bound<'py, PyAny>>,
    undecided: Option<&Bound<'py, PyList>>,
    keep: usize,
) -> PyResult<(u64, u64, Py<PyAny>, u64)> {
    let src = source_from(source)?;
    let data = src.bytes();
    let sel = &selection.core;
    let mut out: Vec<u8> = Vec::with_capacity(chunk_size.min(1 << 24) + 1024);
    // (position in the output, offset in the source) of each kept record, LE u64 pairs.
    let mut pairs: Vec<u8> = Vec::new();
    let mut written: u64 = 0;
    let mut state = SelectState::default();
    let mut t = Tally {
        kept: 0,
        seen: 0,
        undecided: 0,
        stopped: None,
    };
    let flush = |out: &mut Vec<u8>, pairs: &mut Vec<u8>, force: bool| -> PyResult<()> {
        if !out.is_empty() && (force || out.len() >= chunk_size) {
            write.call1((PyBytes::new(py, out),))?;
            out.clear();
            if let Some(o) = offsets {
                o.call_method1("write", (PyBytes::new(py, pairs),))?;
            }
            pairs.clear();
        }
        Ok(())
    };
    // One loop for both reads: a strict read is the framer's spans as items, ending at
    // its first error.
    let watch = |p: usize| src.release(p);
    let mut recovering = recover.then(|| Recover::new(data).watched(&watch));
    let mut framing = (!recover).then(|| Framer::new(data, Check::Praudit));
    let mut next = || -> Option<Result<Item, DecodeError>> {
        match (&mut recovering, &mut framing) {
            (Some(r), _) => r.next().map(Ok),
            (_, Some(f)) => f.next().map(|r| {
                r.map(|s| match s.kind {
                    SpanKind::Record => Item::Record(s),
                    SpanKind::File => Item::File(s),
                })
            }),
            _ => None,
        }
    };
    while let Some(item) = next() {
        if let Ok(Item::Record(s) | Item::File(s)) = &item {
            src.release(s.offset);
        }
        match item {
            Ok(Item::Record(s) | Item::File(s)) => {
                let rec = &data[s.offset..s.offset + s.len];
                let is_record = s.kind == SpanKind::Record;
                if is_record {
                    t.seen += 1;
                }
                // `matches` checks the header first and stops at the first failing token,
                // so a record rejected on event, time or class costs one header decode.
                let verdict = sel.verdict(rec, &mut state);
                if verdict == Verdict::Undecided {
                    t.undecided += 1;
                    if let Some(list) = undecided.filter(|l| l.len() < keep) {
                        list.append(s.offset)?;
                    }
                }
                if verdict == Verdict::Selected {
                    if is_record {
                        t.kept += 1;
                        if offsets.is_some() {
                            pairs.extend_from_slice(&written.to_le_bytes());
                            pairs.extend_from_slice(&(s.offset as u64).to_le_bytes());
                        }
                    }
                    written += rec.len() as u64;
                    out.extend_from_slice(rec);
                }
            }
            Ok(Item::Damage(d)) => note(damage, d.offset as u64, d.len as u64, &d.error)?,
            Err(e) => {
                t.stopped = Some(e);
                break;
            }
        }
        flush(&mut out, &mut pairs, false)?;
    }
    flush(&mut out, &mut pairs, true)?;
    src.check()?;
    let stopped = match &t.stopped {
        Some(e) => to_pyexc(py, e)?.unbind(),
        None => py.None(),
    };
    Ok((t.kept, t.seen, stopped, t.undecided))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Selection>()?;
    m.add_function(wrap_pyfunction!(reduce, m)?)?;
    Ok(())
}
