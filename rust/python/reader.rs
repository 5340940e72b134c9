//! `Reader` (a whole trail over shared bytes) and `Record` (a lazy view of one record).
//! Iteration frames and validates in Rust; a `Record` holds only the shared buffer, an
//! offset and the decoded header, and decodes its tokens when asked.

use super::convert::token_dict;
use super::errors::{to_pyerr, to_pyexc};
use super::mode::PyMode;
use super::select::Selection;
use super::source::source_from;
use super::tally::{note, DamageLog};
use crate::error::{DecodeError, ErrorKind};
use crate::framing::{self, Check, Framer, Span, SpanKind};
use crate::inet;
use crate::mode::Mode;
use crate::recover::{Item, Items};
use crate::select::{AllOf, AllOfState, Verdict};
use crate::source::Source;
use crate::stream::{StreamDecoder as StreamCore, StreamItem};
use crate::tokens::{self, canonical_name, ids, Addr, DecodeOptions, Header, Token};
use crate::verify;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::sync::Arc;

/// Frame, check the trailer, and decode every token of the record at `span`.
fn validated(src: &Source, span: Span) -> Result<Record, DecodeError> {
    let data = src.bytes();
    let rec = &data[span.offset..span.offset + span.len];
    let mut header = None;
    tokens::walk_valid(rec, DecodeOptions::FULL, |t| {
        if let (None, Token::Header(h)) = (&header, &t.token) {
            header = Some(*h);
        }
    })
    .map_err(|f| f.at(span.offset as u64))?;
    // Framing guarantees a header token first; walk_valid decoded it.
    let header = header.ok_or(DecodeError {
        offset: span.offset as u64,
        record_offset: span.offset as u64,
        token_id: rec.first().copied(),
        kind: ErrorKind::NotARecord(rec.first().copied().unwrap_or(0)),
    })?;
    Ok(Record {
        source: src.clone(),
        offset: span.offset,
        len: span.len,
        id: rec.first().copied().unwrap_or(0),
        header,
        reported: span.offset as u64,
    })
}

/// One audit record: a view into the trail's bytes.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct Record {
    source: Source,
    /// Where the record's bytes start in `source`.
    offset: usize,
    len: usize,
    id: u8,
    header: Header,
    /// The offset reported to Python: in the trail, or in the stream for streamed records
    /// (whose `source` holds just the record).
    reported: u64,
}

impl Record {
    fn bytes(&self) -> &[u8] {
        &self.source.bytes()[self.offset..self.offset + self.len]
    }
}

#[pymethods]
impl Record {
    /// Byte offset of the record in its trail (or stream).
    #[getter]
    fn offset(&self) -> u64 {
        self.reported
    }
    /// Byte count (header's count; equal to the record's length).
    #[getter]
    fn size(&self) -> usize {
        self.len
    }
    /// `header32`, `header32_ex`, `header64` or `header64_ex`.
    #[getter]
    fn header_type(&self) -> &'static str {
        canonical_name(self.id)
    }
    #[getter]
    fn version(&self) -> u8 {
        self.header.version
    }
    #[getter]
    fn event(&self) -> u16 {
        self.header.event
    }
    #[getter]
    fn modifier(&self) -> u16 {
        self.header.modifier
    }
    /// Seconds since the epoch as stored (64-bit headers: reinterpret as signed if needed).
    #[getter]
    fn seconds(&self) -> u64 {
        self.header.seconds
    }
    #[getter]
    fn msec(&self) -> u64 {
        self.header.msec
    }
    /// The header_ex host address as text, or None.
    #[getter]
    fn host(&self) -> Option<String> {
        match self.header.host {
            Some(a @ (Addr::V4(_) | Addr::V6(_))) => Some(inet::addr_string(&a)),
            _ => None,
        }
    }
    /// The record's time as an aware UTC datetime, or None when it is outside datetime's
    /// range (hostile 64-bit headers).
    #[getter]
    fn time<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let secs = tokens::header_seconds(self.id, self.header.seconds);
        let dt = py.import("datetime")?;
        let utc = dt.getattr("timezone")?.getattr("utc")?;
        let epoch = dt
            .getattr("datetime")?
            .call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        let delta = dt.getattr("timedelta");
        let kwargs = PyDict::new(py);
        kwargs.set_item("seconds", secs)?;
        kwargs.set_item("milliseconds", self.header.msec)?;
        let t = delta
            .and_then(|d| d.call((), Some(&kwargs)))
            .and_then(|d| epoch.call_method1("__add__", (d,)));
        match t {
            Ok(v) if !v.is_none() && !v.is(py.NotImplemented().bind(py)) => Ok(Some(v)),
            _ => Ok(None),
        }
    }
    /// The record's bytes, header to trailer.
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = PyBytes::new(py, self.bytes());
        self.source.check()?;
        Ok(b)
    }
    /// Every token, header and trailer included, as dicts (see `bsmtrail.tokens`).
    #[getter]
    fn tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let mut decoded = Ok(());
        for t in tokens::TokenIter::new(self.bytes(), DecodeOptions::FULL) {
            // Validated when the record was made, so this fails only if the file changed
            // under a mapping (reported first, below).
            match t {
                Ok(t) => list.append(token_dict(py, &t, self.reported as usize)?)?,
                Err(f) => {
                    decoded = Err(to_pyerr(py, &f.at(self.reported)));
                    break;
                }
            }
        }
        self.source.check()?;
        decoded.map(|()| list)
    }
    fn __len__(&self) -> usize {
        self.len
    }
    fn __repr__(&self) -> String {
        format!(
            "<Record offset={} size={} event={} {}.{:03}>",
            self.reported, self.len, self.header.event, self.header.seconds, self.header.msec
        )
    }
}

/// A trail: shared bytes plus iteration and scanning.
/// What `Reader.verify` found (`crate::verify::Report`), field by field.
#[pyclass(module = "bsmtrail._native", frozen, get_all)]
pub struct Verified {
    nbytes: u64,
    records: u64,
    file_tokens: u64,
    bytes: u64,
    truncated_tail: bool,
    damage: Py<DamageLog>,
    /// (offset, expected, found), the first ones.
    seq_gaps: Vec<(u64, u32, u32)>,
    seq_gaps_total: u64,
    /// (offset, previous (seconds, msec), this (seconds, msec)), the first ones.
    time_backwards: Vec<(u64, verify::Time, verify::Time)>,
    time_backwards_total: u64,
    /// (event, records).
    events: Vec<(u16, u64)>,
    first_time: Option<verify::Time>,
    last_time: Option<verify::Time>,
    /// The earliest and latest record times anywhere in the trail.
    earliest: Option<verify::Time>,
    latest: Option<verify::Time>,
    token_counts: Vec<(String, u64)>,
    /// The file tokens the trail opens and ends with: (offset, (seconds, msec), name).
    opening: Option<FileMark>,
    closing: Option<FileMark>,
}

type FileMark = (u64, verify::Time, Vec<u8>);

fn mark(m: Option<verify::FileMark>) -> Option<FileMark> {
    m.map(|m| (m.offset as u64, m.time, m.name))
}

/// What `Reader.scan` found (`crate::verify::Scan`), field by field.
#[pyclass(module = "bsmtrail._native", frozen, get_all)]
pub struct Scanned {
    records: u64,
    file_tokens: u64,
    bytes: u64,
    nbytes: u64,
    first_seconds: Option<u64>,
    last_seconds: Option<u64>,
    token_counts: Vec<(String, u64)>,
    error: Option<Py<PyAny>>,
}

#[pyclass(module = "bsmtrail._native", frozen)]
pub struct Reader {
    source: Source,
}

#[pymethods]
impl Reader {
    #[new]
    fn new(source: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Reader {
            source: source_from(source)?,
        })
    }

    /// Total bytes in the input.
    #[getter]
    fn nbytes(&self) -> usize {
        self.source.bytes().len()
    }

    fn __iter__(&self) -> RecordIter {
        RecordIter::new(self.source.clone(), Mode::Strict)
    }

    /// Iterate records. In `"recover"` mode damaged regions and records that fail to
    /// decode are skipped and added to `damage` (a bounded `DamageLog`) instead of raising;
    /// iteration resynchronises on the next record that frames strictly. With `files`,
    /// standalone file tokens are not skipped: each yields `files(token_dict, raw_bytes)`
    /// in its place in the trail. With `selection`, only the records (and file tokens) it
    /// keeps are yielded; those it cannot decide go to `undecided` (offsets, the first
    /// `keep`) and are counted in the iterator's `undecided_total`.
    #[pyo3(signature = (
        mode, *, damage = None, files = None, selection = None, undecided = None, keep = 1000
    ))]
    fn records(
        &self,
        mode: PyMode,
        damage: Option<Py<DamageLog>>,
        files: Option<Py<PyAny>>,
        selection: Option<PyRef<'_, Selection>>,
        undecided: Option<Py<PyList>>,
        keep: usize,
    ) -> RecordIter {
        RecordIter {
            damage,
            files,
            selection: selection.map(|s| (Arc::clone(&s.core), AllOfState::default())),
            undecided,
            undecided_total: 0,
            keep,
            ..RecordIter::new(self.source.clone(), mode.0)
        }
    }

    /// Integrity report over the whole trail (recovering; never raises for bad input).
    /// Its lists keep their first `keep` entries in full and count the rest.
    /// Records are walked on `threads` workers (0: every core); the report is the same.
    #[pyo3(signature = (*, backwards_tolerance_ms = 1000, keep = 1000, threads = 0))]
    fn verify(
        &self,
        py: Python<'_>,
        backwards_tolerance_ms: u64,
        keep: usize,
        threads: usize,
    ) -> PyResult<Verified> {
        let src = self.source.clone();
        let r = py.detach(|| {
            verify::verify_parallel(&src, backwards_tolerance_ms, keep, threads, &|pos| {
                src.release(pos)
            })
        })?;
        src.check()?;
        let truncated_tail = r.truncated_tail();
        Ok(Verified {
            nbytes: r.nbytes as u64,
            records: r.records,
            file_tokens: r.file_tokens,
            bytes: r.covered,
            truncated_tail,
            damage: Py::new(py, DamageLog { log: r.damage })?,
            seq_gaps: r
                .seq_gaps
                .items()
                .iter()
                .map(|g| (g.offset as u64, g.expected, g.found))
                .collect(),
            seq_gaps_total: r.seq_gaps.total(),
            time_backwards: r
                .time_backwards
                .items()
                .iter()
                .map(|t| (t.offset as u64, t.previous, t.current))
                .collect(),
            time_backwards_total: r.time_backwards.total(),
            events: r.events.into_iter().collect(),
            first_time: r.first_time,
            last_time: r.last_time,
            earliest: r.earliest,
            latest: r.latest,
            opening: mark(r.opening),
            closing: mark(r.closing),
            token_counts: r
                .token_counts
                .iter()
                .map(|(id, n)| (canonical_name(*id).to_string(), *n))
                .collect(),
        })
    }

    /// Standalone file tokens (0x11) found between records, as dicts with `offset`.
    fn file_tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let data = self.source.bytes();
        for span in Framer::new(data, Check::Trailer) {
            let span = span.map_err(|e| to_pyerr(py, &e))?;
            if span.kind == SpanKind::File {
                let rec = &data[span.offset..span.offset + span.len];
                let t = tokens::decode(rec, 0, DecodeOptions::FULL)
                    .map_err(|f| to_pyerr(py, &f.at(span.offset as u64)))?;
                list.append(token_dict(py, &t, span.offset)?)?;
            }
        }
        Ok(list)
    }

    /// Walk the whole trail in Rust, without the GIL: framing and trailer checks, and with
    /// `decode=True` every token (`crate::verify::scan`). The first error is returned, not
    /// raised.
    #[pyo3(signature = (*, decode = true))]
    fn scan(&self, py: Python<'_>, decode: bool) -> PyResult<Scanned> {
        let src = self.source.clone();
        let s = py.detach(|| verify::scan(src.bytes(), decode, &|p| src.release(p)));
        src.check()?;
        Ok(Scanned {
            records: s.records,
            file_tokens: s.files,
            bytes: s.covered,
            nbytes: self.source.bytes().len() as u64,
            first_seconds: s.first,
            last_seconds: s.last,
            token_counts: s
                .token_counts
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
            error: match &s.error {
                Some(e) => Some(to_pyexc(py, e)?.unbind()),
                None => None,
            },
        })
    }
}

#[pyclass(module = "bsmtrail._native")]
pub struct RecordIter {
    source: Source,
    mode: Mode,
    pos: usize,
    done: bool,
    damage: Option<Py<DamageLog>>,
    /// Called for each standalone file token (else they are skipped).
    files: Option<Py<PyAny>>,
    selection: Option<(Arc<AllOf>, AllOfState)>,
    undecided: Option<Py<PyList>>,
    #[pyo3(get)]
    undecided_total: u64,
    keep: usize,
}

impl RecordIter {
    fn new(source: Source, mode: Mode) -> Self {
        RecordIter {
            source,
            mode,
            pos: 0,
            done: false,
            damage: None,
            files: None,
            selection: None,
            undecided: None,
            undecided_total: 0,
            keep: 0,
        }
    }

    /// A standalone file token as `files(token_dict, raw)`, or None to skip it.
    fn file_item(&self, py: Python<'_>, span: Span) -> PyResult<Option<Py<PyAny>>> {
        let Some(f) = &self.files else {
            return Ok(None);
        };
        let raw = &self.source.bytes()[span.offset..span.offset + span.len];
        let t = tokens::decode(raw, 0, DecodeOptions::FULL)
            .map_err(|e| to_pyerr(py, &e.at(span.offset as u64)))?;
        let dict = token_dict(py, &t, span.offset)?;
        Ok(Some(
            f.bind(py).call1((dict, PyBytes::new(py, raw)))?.unbind(),
        ))
    }

    /// The selection's verdict on a span (everything is kept without one); undecided
    /// records are noted.
    fn kept(&mut self, py: Python<'_>, span: Span) -> PyResult<bool> {
        let Some((sel, state)) = &mut self.selection else {
            return Ok(true);
        };
        let bytes = &self.source.bytes()[span.offset..span.offset + span.len];
        match sel.verdict(bytes, state) {
            Verdict::Selected => Ok(true),
            Verdict::Rejected => Ok(false),
            Verdict::Undecided => {
                self.undecided_total += 1;
                if let Some(list) = &self.undecided {
                    let list = list.bind(py);
                    if list.len() < self.keep {
                        list.append(span.offset)?;
                    }
                }
                Ok(false)
            }
        }
    }

    fn note_damage(
        &self,
        py: Python<'_>,
        offset: usize,
        len: usize,
        e: &DecodeError,
    ) -> PyResult<()> {
        note(
            self.damage.as_ref().map(|d| d.bind(py)),
            offset as u64,
            len as u64,
            e,
        )
    }

    /// The next record or file token: one loop for both modes (`crate::recover::Items`).
    fn next_item(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        while !self.done {
            let src = self.source.clone();
            let watch = |p: usize| src.release(p);
            let mut items =
                Items::new(src.bytes(), self.pos, self.mode, Check::Trailer).watched(&watch);
            let item = items.next();
            self.pos = items.position();
            match item {
                None => self.done = true,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(to_pyerr(py, &e));
                }
                Some(Ok(Item::Damage(d))) => self.note_damage(py, d.offset, d.len, &d.error)?,
                Some(Ok(Item::File(span))) => {
                    if self.kept(py, span)? {
                        if let Some(f) = self.file_item(py, span)? {
                            return Ok(Some(f));
                        }
                    }
                }
                Some(Ok(Item::Record(span))) => {
                    if !self.kept(py, span)? {
                        continue;
                    }
                    match validated(&self.source, span) {
                        Ok(r) => return Ok(Some(Py::new(py, r)?.into_any())),
                        Err(e) if self.mode.recovers() => {
                            self.note_damage(py, span.offset, span.len, &e)?
                        }
                        Err(e) => {
                            self.done = true;
                            return Err(to_pyerr(py, &e));
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

#[pymethods]
impl RecordIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next item; an error if the mapped file shrank while it was read.
    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let item = self.next_item(py);
        self.source.release(self.pos);
        self.source.check()?;
        item
    }
}

/// Feeds bytes as they arrive (pipes, sockets, a growing file) and hands back whole
/// records; see `crate::stream`.
#[pyclass(module = "bsmtrail._native")]
pub struct StreamDecoder {
    inner: StreamCore,
}

#[pymethods]
impl StreamDecoder {
    #[new]
    /// `max_record` defaults to the maximum record size in force
    /// (`max_record_size`); a larger one is held to it, as every path is.
    #[pyo3(signature = (*, max_record = None))]
    fn new(max_record: Option<usize>) -> Self {
        let limit = framing::max_record();
        StreamDecoder {
            inner: StreamCore::new(max_record.unwrap_or(limit).min(limit)),
        }
    }

    /// Add bytes. Returns the records they complete; damaged regions are added to
    /// `damage`. With `keep=False` the bytes are only framed: nothing is validated, logged
    /// or returned, and `position` says how far the input is decided (for a caller that
    /// reads the decided bytes again itself, as `bsmtrail.live` does).
    #[pyo3(signature = (data, damage = None, *, keep = true))]
    fn feed(
        &mut self,
        data: &[u8],
        damage: Option<&Bound<'_, DamageLog>>,
        keep: bool,
    ) -> PyResult<Vec<Record>> {
        self.step(keep, damage, |d, out| {
            d.feed(data, out);
        })
    }

    /// The input has gone quiet: give up a record still waiting if whole records have
    /// arrived after it (see `crate::stream`); returns the records that frees (`keep` as
    /// for `feed`).
    #[pyo3(signature = (damage = None, *, keep = true))]
    fn settle(
        &mut self,
        damage: Option<&Bound<'_, DamageLog>>,
        keep: bool,
    ) -> PyResult<Vec<Record>> {
        self.step(keep, damage, |d, out| {
            d.settle(out);
        })
    }

    /// End of input: a record still incomplete becomes a truncated-tail damage region
    /// (`keep` as for `feed`).
    #[pyo3(signature = (damage = None, *, keep = true))]
    fn finish(
        &mut self,
        damage: Option<&Bound<'_, DamageLog>>,
        keep: bool,
    ) -> PyResult<Vec<Record>> {
        self.step(keep, damage, |d, out| d.finish(out))
    }

    /// Stream offset of the first byte not yet consumed.
    #[getter]
    fn position(&self) -> u64 {
        self.inner.position()
    }

    /// Bytes held back waiting for the rest of a record.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }

    /// The longest record this decoder waits for.
    #[getter]
    fn max_record(&self) -> usize {
        self.inner.max_record()
    }
}

impl StreamDecoder {
    /// One decoder call with `keep` applied: its items as records (see `stream_records`).
    fn step(
        &mut self,
        keep: bool,
        damage: Option<&Bound<'_, DamageLog>>,
        call: impl FnOnce(&mut StreamCore, &mut Vec<StreamItem>),
    ) -> PyResult<Vec<Record>> {
        let mut out = Vec::new();
        self.inner.keep_bytes(keep);
        call(&mut self.inner, &mut out);
        stream_records(out, damage, keep)
    }
}

fn stream_records(
    items: Vec<StreamItem>,
    damage: Option<&Bound<'_, DamageLog>>,
    keep: bool,
) -> PyResult<Vec<Record>> {
    let mut recs = Vec::new();
    if !keep {
        return Ok(recs);
    }
    let note = |offset: u64, len: u64, e: &DecodeError| note(damage, offset, len, e);
    for it in items {
        match it {
            StreamItem::File { .. } => {}
            StreamItem::Damage { offset, len, error } => note(offset, len, &error)?,
            StreamItem::Record { offset, bytes } => {
                let len = bytes.len();
                let src = Source::from_owner(bytes);
                let span = Span {
                    offset: 0,
                    len,
                    kind: SpanKind::Record,
                };
                match validated(&src, span) {
                    Ok(mut r) => {
                        r.reported = offset;
                        recs.push(r);
                    }
                    Err(mut e) => {
                        e.offset += offset;
                        e.record_offset += offset;
                        note(offset, len as u64, &e)?;
                    }
                }
            }
        }
    }
    Ok(recs)
}

/// Decode one whole record (e.g. from DTrace's dtaudit `bsm()` probe). The bytes must hold
/// exactly one record.
#[pyfunction]
pub fn parse_record(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Record> {
    let src = source_from(data)?;
    let bytes = src.bytes();
    let span = framing::frame(bytes, 0, Check::Trailer).map_err(|e| to_pyerr(py, &e))?;
    if span.kind == SpanKind::File {
        return Err(to_pyerr(
            py,
            &DecodeError {
                offset: 0,
                record_offset: 0,
                token_id: Some(ids::OTHER_FILE32),
                kind: ErrorKind::NotARecord(ids::OTHER_FILE32),
            },
        ));
    }
    if span.len < bytes.len() {
        return Err(to_pyerr(
            py,
            &DecodeError {
                offset: span.len as u64,
                record_offset: 0,
                token_id: None,
                kind: ErrorKind::TrailingBytes {
                    left: (bytes.len() - span.len) as u64,
                },
            },
        ));
    }
    validated(&src, span).map_err(|e| to_pyerr(py, &e))
}

/// The maximum record size every reader path applies; with `size`, set it and return the
/// previous one (as `csv.field_size_limit` does). A header claiming more is damage.
#[pyfunction]
#[pyo3(signature = (size = None))]
fn max_record_size(size: Option<usize>) -> PyResult<usize> {
    match size {
        None => Ok(framing::max_record()),
        Some(n) if n < framing::MIN_MAX_RECORD || n > u32::MAX as usize => {
            Err(pyo3::exceptions::PyValueError::new_err(format!(
                "maximum record size must be {}..{} bytes, not {n}",
                framing::MIN_MAX_RECORD,
                u32::MAX
            )))
        }
        Some(n) => Ok(framing::set_max_record(n)),
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(max_record_size, m)?)?;
    m.add_class::<Reader>()?;
    m.add_class::<Verified>()?;
    m.add_class::<Scanned>()?;
    m.add_class::<Record>()?;
    m.add_class::<RecordIter>()?;
    m.add_class::<StreamDecoder>()?;
    m.add_function(wrap_pyfunction!(parse_record, m)?)?;
    m.add(
        "DECODED_TOKEN_IDS",
        tokens::ids::DECODED
            .iter()
            .map(|&i| (i, canonical_name(i)))
            .collect::<Vec<_>>(),
    )?;
    Ok(())
}
