//! The batch pipeline: sequential framing, parallel decoding, batches in input order.
//!
//! Framing (header counts and trailers only, 2.6 GB/s) runs on the consumer's thread and
//! cuts the input into chunks of at most `batch_size` records and `max_batch_bytes` input
//! bytes. Each chunk is decoded into one record batch on a rayon worker as soon as it is
//! framed, a few chunks ahead of the consumer (see `BatchReader`), and batches come out in
//! chunk order, so the row order is the input order whatever the thread count. The reader
//! owns everything it needs (sources are shared, immutable bytes), is `Send`, and never
//! touches Python.
//!
//! Inputs are byte buffers (a memory map or Python `bytes`) or files read through a
//! bounded window (`window.rs`), which keeps the resident set flat on huge trails.

use super::derived::Shape;
use super::errors::{errors_schema, ErrorsBuilder, DAMAGE, RECORD};
use super::records::RecordsBuilder;
use super::report::{self, Notes, SharedReport};
use super::schema::{self, Col};
use super::tokens::{tokens_schema, TokensBuilder};
use super::walk::walk;
use super::window::{FileReader, Found, WindowFramer, DEFAULT_WINDOW};
use crate::chunks;
use crate::error::DecodeError;
use crate::framing::Check;
use crate::merge::{self, Late, Merger, PieceKind};
use crate::mode::Mode;
use crate::ordered::{lean_depth, Pool};
use crate::recover::{Item, Items};
use crate::select::{AllOf, AllOfState, Verdict};
use crate::source::Source;
use crate::tokens::{decode, DecodeOptions};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, SchemaRef};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// The records view with these columns, in this order.
    Records(Vec<Col>),
    Tokens,
    Errors,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub view: View,
    pub mode: Mode,
    /// Records per batch (at least 1).
    pub batch_size: usize,
    /// A batch also closes once its records hold this many input bytes.
    pub max_batch_bytes: usize,
    /// Worker threads: 0 = rayon's global pool (all cores), 1 = this thread only.
    pub threads: usize,
    /// Walk and check every token even when the projection needs only the header.
    pub validate: bool,
    /// Window size for file inputs.
    pub window: usize,
    /// Only the records (and file tokens) this selection keeps become rows; the others
    /// are framed and judged, never decoded into columns. Rows keep their offsets in the
    /// input. Batches of kept rows are joined up to `batch_size` rows.
    pub selection: Option<Arc<AllOf>>,
    /// Rows in input order, or merged in time order (`crate::merge`).
    pub order: Order,
    /// The records view's output when some columns are derived (`derived::plan`): each
    /// batch gets them on the worker that decoded it.
    pub shape: Option<Arc<Shape>>,
}

/// The order of a stream's rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Inputs one after another, each in file order.
    #[default]
    Input,
    /// Every input merged by (time, msec, input order); inversions inside a trail up to
    /// `window_ms` are put right, larger ones reported (`Findings::late`).
    Time { window_ms: u64 },
}

impl Default for Options {
    fn default() -> Self {
        Options {
            view: View::Records(Col::ALL.to_vec()),
            mode: Mode::Recover,
            batch_size: 65_536,
            max_batch_bytes: 32 << 20,
            threads: 0,
            validate: true,
            window: DEFAULT_WINDOW,
            selection: None,
            order: Order::Input,
            shape: None,
        }
    }
}

/// Chunks an input of `total` bytes is cut into at least, whatever its records (at
/// [`MIN_SPREAD_BYTES`] or more each): a trail of a few megabytes is under a default
/// batch's records, and in one chunk it would decode on one worker. A constant, not the
/// thread count: the batches (and Parquet row groups) stay the same whatever the threads.
pub const SPREAD_CHUNKS: u64 = 8;
/// The smallest chunk [`spread_bytes`] makes: below it a chunk's set-up (its builders, a
/// row group's column writers) outweighs its records.
pub const MIN_SPREAD_BYTES: u64 = 1 << 20;

/// The input bytes a chunk holds at most so that `total` bytes make [`SPREAD_CHUNKS`].
pub fn spread_bytes(total: u64) -> usize {
    let each = (total / SPREAD_CHUNKS).max(MIN_SPREAD_BYTES);
    usize::try_from(each).unwrap_or(usize::MAX)
}

/// The bytes of `inputs` (a file that cannot be read yet counts as large: its error comes
/// when its turn comes; so does a pipe).
fn input_bytes(inputs: &[Input]) -> u64 {
    inputs
        .iter()
        .map(|i| match i {
            Input::Bytes { source, .. } => source.bytes().len() as u64,
            Input::File { path, .. } | Input::Mapped { path, .. } => {
                // A pipe or device (`-`, auditpipe) has no size to go by: large.
                match std::fs::metadata(path) {
                    Ok(m) if m.is_file() => m.len(),
                    _ => u64::MAX / 2,
                }
            }
        })
        .fold(0u64, u64::saturating_add)
}

/// One trail to read: its name (the `source` column) and where its bytes are.
pub enum Input {
    Bytes {
        name: String,
        source: Source,
        /// Where `source` starts in its trail (a slice of a file): added to every offset.
        base: u64,
    },
    /// Read through a bounded window: the resident set stays flat whatever the file's
    /// size (streaming, Parquet).
    File { name: String, path: PathBuf },
    /// Memory-mapped when its turn comes, unmapped when it is done: no copy into a window
    /// (about 10% faster), for callers that keep the whole result anyway.
    Mapped { name: String, path: PathBuf },
}

impl Input {
    fn name(&self) -> &str {
        match self {
            Input::Bytes { name, .. } | Input::File { name, .. } | Input::Mapped { name, .. } => {
                name
            }
        }
    }
}

/// Shared, immutable bytes a chunk points into.
#[derive(Clone)]
enum Buf {
    Source(Source),
    Window(Arc<Vec<u8>>),
}

impl Buf {
    fn bytes(&self) -> &[u8] {
        match self {
            Buf::Source(s) => s.bytes(),
            Buf::Window(w) => w,
        }
    }
}

enum JobKind {
    Record {
        index: u64,
        /// The selection already kept it (a sequential selection judges on the framer's
        /// thread).
        kept: bool,
    },
    /// A record a sequential selection could not decide: reported, no row.
    Undecided,
    File,
    /// Boxed: damage is rare, and a small `Job` keeps framing's vector small.
    Damage {
        len: u64,
        error: Box<DecodeError>,
    },
}

/// One framed item: `len` bytes at `rel` in its segment's buffer, `offset` in its trail.
struct Job {
    rel: usize,
    len: usize,
    offset: u64,
    kind: JobKind,
}

impl Job {
    /// The job for an item framed in a memory input that starts `base` bytes into its
    /// trail (`rel` stays the position in the buffer, offsets become the trail's).
    fn of(item: Item, base: u64) -> Job {
        let (rel, len, kind) = match item {
            Item::Record(s) => (
                s.offset,
                s.len,
                JobKind::Record {
                    index: 0,
                    kept: false,
                },
            ),
            Item::File(s) => (s.offset, s.len, JobKind::File),
            Item::Damage(d) => (
                d.offset,
                0,
                JobKind::Damage {
                    len: d.len as u64,
                    error: Box::new(d.error.shifted(base)),
                },
            ),
        };
        Job {
            rel,
            len,
            offset: base + rel as u64,
            kind,
        }
    }
}

/// Consecutive jobs of one input sharing one buffer.
struct Segment {
    source: i32,
    generation: u64,
    buf: Buf,
    jobs: Vec<Job>,
}

#[derive(Default)]
struct Chunk {
    segments: Vec<Segment>,
    records: usize,
    /// (input, records framed, their bytes), for the report.
    framed: Vec<(i32, u64, u64)>,
    /// A range for the worker to frame itself (then `segments` is empty).
    range: Option<Range>,
    /// The mapped input framing had reached when the chunk closed, and where.
    end: Option<(Source, usize)>,
    /// A time-ordered read's late records found while the chunk was merged.
    late: Vec<Late>,
}

/// Framing state of the input being read.
enum Cursor {
    Mem {
        source: Source,
        pos: usize,
        base: u64,
        /// Frame here, one record at a time (after a range did not land on its end).
        serial: bool,
    },
    Win(Box<WindowFramer<FileReader>>),
}

/// An item from a cursor, relative to the cursor's current buffer.
enum Step {
    Job(Job),
    /// The first error in strict mode; the stream ends after the chunks before it.
    Fatal(ArrowError),
}

struct Framer {
    inputs: Vec<Input>,
    next_input: usize,
    cursor: Option<(i32, Cursor)>,
    record_index: u64,
    mode: Mode,
    window: usize,
    fatal: Option<ArrowError>,
    done: bool,
    /// A selection that must judge records in order (`AllOf::sequential`) does it here.
    sequential: Option<(Arc<AllOf>, AllOfState)>,
    /// Any other selection, whose header check runs here.
    prefilter: Option<Arc<AllOf>>,
    /// Hand memory inputs to the workers as byte ranges to frame themselves (`Range`).
    ranges: bool,
    /// A time-ordered read: every input framed at once and merged (`crate::merge`).
    merge: Option<Merger>,
}

/// `[start, end)` of a memory input, framed on a worker: a selective query's framing and
/// header checks are most of its work, and they run on every core this way. `start` is a
/// position of the sequential walk; the worker walks from it and reports where the walk
/// lands at or after `end`. When it lands on `end`, `end` is a position of the
/// sequential walk too, so the ranges give exactly the sequential items; when it does
/// not (a record crafted across the split point), the reader goes back to framing
/// serially from where that walk landed (see `Miss`).
struct Range {
    at: Place,
    start: usize,
    end: usize,
}

/// A memory input: its index, its bytes, and where they start in its trail.
#[derive(Clone)]
struct Place {
    input: i32,
    source: Source,
    base: u64,
}

/// Ranges that did not land on their end, for the tests.
#[cfg(test)]
pub(crate) static MISSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A range whose walk did not land on its end: framing resumes serially at `landing`.
struct Miss {
    at: Place,
    landing: usize,
}

pub(crate) fn external(e: DecodeError) -> ArrowError {
    ArrowError::ExternalError(Box::new(e))
}

impl Framer {
    fn open(&mut self) -> Result<bool, ArrowError> {
        while self.cursor.is_none() {
            let Some(input) = self.inputs.get(self.next_input) else {
                return Ok(false);
            };
            let idx = self.next_input as i32;
            self.next_input += 1;
            self.record_index = 0;
            let c = match input {
                Input::Bytes { source, base, .. } => Cursor::Mem {
                    source: source.clone(),
                    pos: 0,
                    base: *base,
                    serial: false,
                },
                Input::Mapped { path, .. } => Cursor::Mem {
                    source: Source::map_file(path)
                        .map_err(|e| ArrowError::IoError(format!("{}: {e}", path.display()), e))?,
                    pos: 0,
                    base: 0,
                    serial: false,
                },
                Input::File { path, .. } => {
                    let r = FileReader::open(path)
                        .map_err(|e| ArrowError::IoError(format!("{}: {e}", path.display()), e))?;
                    Cursor::Win(Box::new(WindowFramer::new(
                        r,
                        self.window,
                        self.mode == Mode::Recover,
                    )))
                }
            };
            self.cursor = Some((idx, c));
        }
        Ok(true)
    }

    /// The buffer the last step's job points into, and its generation.
    fn buf(&self) -> Option<(Buf, u64)> {
        match &self.cursor.as_ref()?.1 {
            Cursor::Mem { source, .. } => Some((Buf::Source(source.clone()), 0)),
            Cursor::Win(w) => {
                let (b, _, g) = w.window();
                Some((Buf::Window(b.clone()), g))
            }
        }
    }

    /// The next item of the current input (None at its end), with the generation of the
    /// buffer it points into.
    fn step(&mut self) -> Option<(i32, u64, Step)> {
        let (src, cursor) = self.cursor.as_mut()?;
        let src = *src;
        match cursor {
            Cursor::Mem {
                source, pos, base, ..
            } => {
                let base = *base;
                let data = source.bytes();
                if *pos >= data.len() {
                    return None;
                }
                let mut items = Items::new(data, *pos, self.mode, Check::Trailer);
                let item = items.next()?;
                *pos = items.position();
                let job = match item {
                    Ok(item) => Job::of(item, base),
                    Err(e) => {
                        *pos = data.len();
                        // Zeros where a mapped file shrank are not the trail's error.
                        let fatal = match source.check() {
                            Ok(()) => external(e.shifted(base)),
                            Err(io) => ArrowError::IoError(io.to_string(), io),
                        };
                        return Some((src, 0, Step::Fatal(fatal)));
                    }
                };
                Some((src, 0, Step::Job(job)))
            }
            Cursor::Win(w) => {
                let found = match w.next() {
                    Ok(f) => f?,
                    Err(e) => {
                        let fatal = Step::Fatal(ArrowError::IoError(e.to_string(), e));
                        return Some((src, 0, fatal));
                    }
                };
                let (_, base, generation) = w.window();
                let job = match found {
                    Found::Record(s) => Job::of(Item::Record(s), base),
                    Found::File(s) => Job::of(Item::File(s), base),
                    Found::Damage { offset, len, error } => Job {
                        rel: 0,
                        len: 0,
                        offset,
                        kind: JobKind::Damage {
                            len,
                            error: Box::new(error),
                        },
                    },
                    Found::Error(e) => return Some((src, generation, Step::Fatal(external(e)))),
                };
                Some((src, generation, Step::Job(job)))
            }
        }
    }

    /// The bytes a job of the current input covers.
    fn bytes_of(&self, job: &Job) -> &[u8] {
        let buf: &[u8] = match self.cursor.as_ref().map(|c| &c.1) {
            Some(Cursor::Mem { source, .. }) => source.bytes(),
            Some(Cursor::Win(w)) => &w.window().0[..],
            None => &[],
        };
        buf.get(job.rel..job.rel + job.len).unwrap_or(&[])
    }

    /// A selection's first look at a record or file token, here in input order: false
    /// drops the job. A sequential selection gives its whole verdict here (an undecided
    /// record stays as a job, for the report); any other drops only records its header
    /// check rejects (the header is in cache: framing just read its count), and the
    /// workers judge the rest.
    fn judge(&mut self, job: &mut Job) -> bool {
        let Some((sel, mut state)) = self.sequential.take() else {
            return match (&self.prefilter, &job.kind) {
                (Some(sel), JobKind::Record { .. }) => sel.prefilter(self.bytes_of(job)),
                _ => true,
            };
        };
        let keep = match job.kind {
            JobKind::Record { .. } | JobKind::File => {
                let verdict = sel.verdict(self.bytes_of(job), &mut state);
                apply_verdict(&mut job.kind, verdict)
            }
            _ => true,
        };
        self.sequential = Some((sel, state));
        keep
    }

    /// The next range of a memory input (see `Range`), when ranges are on.
    fn range_chunk(&mut self) -> Option<Chunk> {
        if !self.ranges {
            return None;
        }
        let Some((
            input,
            Cursor::Mem {
                source,
                pos,
                base,
                serial,
            },
        )) = &mut self.cursor
        else {
            return None;
        };
        if *serial {
            return None;
        }
        let data = source.bytes();
        let start = *pos;
        if start >= data.len() {
            return None;
        }
        let Some(end) = chunks::range_end(data, start, chunks::RANGE_BYTES) else {
            // No boundary near the split point: the rest of this input is framed here.
            *serial = true;
            return None;
        };
        *pos = end;
        Some(Chunk {
            end: Some((source.clone(), end)),
            range: Some(Range {
                at: Place {
                    input: *input,
                    source: source.clone(),
                    base: *base,
                },
                start,
                end,
            }),
            ..Chunk::default()
        })
    }

    /// Go back to `miss.landing` of its input and frame serially from there on.
    fn rewind(&mut self, miss: Miss) {
        let at = miss.at;
        self.next_input = usize::try_from(at.input).map_or(0, |i| i + 1);
        self.cursor = Some((
            at.input,
            Cursor::Mem {
                source: at.source,
                pos: miss.landing,
                base: at.base,
                serial: true,
            },
        ));
        self.fatal = None;
        self.done = false;
    }

    /// Frame the next chunk; None when the inputs are exhausted (or a fatal error stops
    /// them, kept in `fatal`).
    fn chunk(&mut self, max_records: usize, max_bytes: usize) -> Option<Chunk> {
        if self.merge.is_some() {
            return self.merged_chunk(max_records, max_bytes);
        }
        let mut chunk = Chunk::default();
        let (mut records, mut bytes, mut items) = (0usize, 0usize, 0usize);
        while !self.done && records < max_records && bytes < max_bytes {
            match self.open() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.fatal = Some(e);
                    self.done = true;
                    break;
                }
            }
            if items == 0 {
                if let Some(range) = self.range_chunk() {
                    return Some(range);
                }
            }
            let Some((src, generation, step)) = self.step() else {
                self.cursor = None;
                continue;
            };
            let mut job = match step {
                Step::Job(j) => j,
                Step::Fatal(e) => {
                    self.fatal = Some(e);
                    self.done = true;
                    break;
                }
            };
            if let JobKind::Record { index, .. } = &mut job.kind {
                *index = self.record_index;
                self.record_index += 1;
                records += 1;
                match chunk.framed.last_mut() {
                    Some((s, n, b)) if *s == src => {
                        *n += 1;
                        *b += job.len as u64;
                    }
                    _ => chunk.framed.push((src, 1, job.len as u64)),
                }
            }
            bytes += job.len;
            items += 1;
            if !self.judge(&mut job) {
                continue;
            }
            let same = chunk
                .segments
                .last()
                .is_some_and(|s| s.source == src && s.generation == generation);
            if !same {
                if let Some((buf, _)) = self.buf() {
                    // A selective query keeps few jobs: let its vectors grow.
                    let selective = self.prefilter.is_some() || self.sequential.is_some();
                    let expected = if selective {
                        64
                    } else {
                        max_records.min(1 << 16)
                    };
                    chunk.segments.push(Segment {
                        source: src,
                        generation,
                        buf,
                        jobs: Vec::with_capacity(expected),
                    });
                }
            }
            if let Some(seg) = chunk.segments.last_mut() {
                seg.jobs.push(job);
            }
            // Errors-view chunks hold few records; bound their damage items too.
            if items >= max_records.saturating_mul(4) {
                break;
            }
        }
        chunk.records = records;
        if let Some((_, Cursor::Mem { source, pos, .. })) = &self.cursor {
            chunk.end = Some((source.clone(), *pos));
        }
        (items > 0).then_some(chunk)
    }
}

impl Framer {
    /// The next chunk of a time-ordered read: merged items gathered into one buffer, in
    /// segments of consecutive items of one input.
    fn merged_chunk(&mut self, max_records: usize, max_bytes: usize) -> Option<Chunk> {
        let merger = self.merge.as_mut()?;
        if self.done {
            return None;
        }
        let next = merger.next_chunk(max_records, max_bytes);
        if let Err(e) = merger.check() {
            self.fatal = Some(ArrowError::IoError(e.to_string(), e));
            self.done = true;
            return None;
        }
        if self.mode == Mode::Strict {
            if let Some((_, e)) = merger.fatal() {
                // Strictly, the stream ends with the first error: after this chunk.
                self.fatal = Some(external(e.clone()));
                self.done = true;
            }
        }
        let Some(g) = next else {
            self.done = true;
            return None;
        };
        let buf = Buf::Window(Arc::new(g.bytes));
        let mut chunk = Chunk {
            framed: g.framed.iter().map(|&(i, n, b)| (i as i32, n, b)).collect(),
            late: g.late,
            ..Chunk::default()
        };
        for p in g.pieces {
            let input = p.input as i32;
            let mut job = Job {
                rel: p.rel,
                len: p.len,
                offset: p.offset,
                kind: match p.kind {
                    PieceKind::Record { index } => {
                        chunk.records += 1;
                        JobKind::Record { index, kept: false }
                    }
                    PieceKind::File => JobKind::File,
                    PieceKind::Damage { len, error } => JobKind::Damage { len, error },
                },
            };
            if let Some((sel, state)) = self.sequential.as_mut() {
                // A selection that judges in order judges the merged order, here.
                let bytes = buf.bytes().get(p.rel..p.rel + p.len).unwrap_or(&[]);
                let keep = match job.kind {
                    JobKind::Record { .. } | JobKind::File => {
                        apply_verdict(&mut job.kind, sel.verdict(bytes, state))
                    }
                    _ => true,
                };
                if !keep {
                    continue;
                }
            }
            match chunk.segments.last_mut() {
                Some(seg) if seg.source == input => seg.jobs.push(job),
                _ => chunk.segments.push(Segment {
                    source: input,
                    generation: 0,
                    buf: buf.clone(),
                    jobs: vec![job],
                }),
            }
        }
        Some(chunk)
    }
}

/// Everything decoding needs, shared by the workers.
struct Ctx {
    view: View,
    mode: Mode,
    validate: bool,
    /// The batches given out.
    schema: SchemaRef,
    /// The records view's decoded columns, and the shape that makes `schema` of them.
    decoded: SchemaRef,
    shape: Option<Arc<Shape>>,
    /// Run on each batch on its worker ([`BatchReader::fuse`]).
    finish: Option<Finish>,
    sources: ArrayRef,
    selection: Option<Arc<AllOf>>,
}

/// A chunk's batch, what was found in it, and for a range whose walk did not land on
/// its end, where it landed.
type Decoded = Result<(Payload, Notes, Option<Miss>), ArrowError>;

/// Work run on each batch by the worker that decoded it, instead of handing the batch
/// out: an export's encoding ([`BatchReader::fuse`]). It gets the batch's index in the
/// stream; its results come out in input order, and the batch is dropped on the worker.
pub type Finish = Arc<dyn Fn(usize, RecordBatch) -> Result<Finished, ArrowError> + Send + Sync>;
/// What a [`Finish`] made of a batch (the exporter knows its type).
pub type Finished = Box<dyn std::any::Any + Send>;

/// What a [`Finish`] made, as the type its consumer knows it to be.
pub fn unbox<T: 'static>(f: Finished) -> Result<T, ArrowError> {
    f.downcast::<T>().map(|b| *b).map_err(|_| {
        ArrowError::ComputeError("internal error: a batch finished as another type".into())
    })
}

/// A chunk's result: its batch, or what the stream's [`Finish`] made of it.
enum Payload {
    Batch(RecordBatch),
    Finished(Finished),
}

/// Frame a range (see `Range`) into the jobs of one segment: records the selection's
/// header check rejects get none. Returns the segment and where the walk landed.
fn frame_range(ctx: &Ctx, r: &Range, notes: &mut Notes) -> (Segment, usize) {
    let data = r.at.source.bytes();
    let n = notes.of(r.at.input);
    let mut items = Items::new(data, r.start, Mode::Recover, Check::Trailer);
    let mut jobs = Vec::new();
    while items.position() < r.end {
        let Some(Ok(item)) = items.next() else {
            break;
        };
        if let Item::Record(s) = &item {
            n.records += 1;
            n.record_bytes += s.len as u64;
            let rec = &data[s.offset..s.offset + s.len];
            if !ctx
                .selection
                .as_ref()
                .map_or(true, |sel| sel.prefilter(rec))
            {
                continue;
            }
        }
        jobs.push(Job::of(item, r.at.base));
    }
    let segment = Segment {
        source: r.at.input,
        generation: 0,
        buf: Buf::Source(r.at.source.clone()),
        jobs,
    };
    (segment, items.position())
}

/// A job after a sequential selection's verdict: a selected record is marked kept, an
/// undecided one becomes [`JobKind::Undecided`] (reported); false when it is dropped.
fn apply_verdict(kind: &mut JobKind, verdict: Verdict) -> bool {
    match (kind, verdict) {
        (JobKind::Record { kept, .. }, Verdict::Selected) => {
            *kept = true;
            true
        }
        (kind @ JobKind::Record { .. }, Verdict::Undecided) => {
            *kind = JobKind::Undecided;
            true
        }
        (JobKind::File, Verdict::Selected) => true,
        _ => false,
    }
}

fn decode_chunk(ctx: &Ctx, chunk: &Chunk, index: usize) -> Decoded {
    let mut notes = Notes::default();
    for l in &chunk.late {
        notes
            .of(l.input as i32)
            .late
            .push((l.offset, l.time, l.after));
    }
    for &(source, records, bytes) in &chunk.framed {
        let n = notes.of(source);
        n.records += records;
        n.record_bytes += bytes;
    }
    let mut miss = None;
    let framed;
    let chunk = match &chunk.range {
        Some(r) => {
            let (segment, landing) = frame_range(ctx, r, &mut notes);
            if landing != r.end {
                miss = Some(Miss {
                    at: r.at.clone(),
                    landing,
                });
            }
            framed = Chunk {
                records: segment.jobs.len(),
                segments: vec![segment],
                ..Chunk::default()
            };
            &framed
        }
        None => chunk,
    };
    let batch = decode_segments(ctx, chunk, &mut notes);
    // A mapped file that shrank while this chunk was read gave zeros, not its bytes:
    // an error naming the file and offset (before any error those zeros caused), never
    // a batch built from them.
    for seg in &chunk.segments {
        if let Buf::Source(s) = &seg.buf {
            s.check()
                .map_err(|e| ArrowError::IoError(e.to_string(), e))?;
        }
    }
    let batch = batch?;
    let payload = match &ctx.finish {
        Some(finish) => Payload::Finished(finish(index, batch)?),
        None => Payload::Batch(batch),
    };
    Ok((payload, notes, miss))
}

/// The selection's verdict on a job's bytes, on this worker (`kept`: already judged).
struct Judge<'a> {
    selection: Option<&'a AllOf>,
    state: AllOfState,
}

impl Judge<'_> {
    fn verdict(&mut self, bytes: &[u8], kept: bool) -> Verdict {
        match self.selection {
            Some(sel) if !kept => sel.verdict(bytes, &mut self.state),
            _ => Verdict::Selected,
        }
    }

    /// Whether a record becomes a row: counted as one, or noted when undecided.
    fn row(
        &mut self,
        bytes: &[u8],
        kept: bool,
        notes: &mut Notes,
        source: i32,
        offset: u64,
    ) -> bool {
        match self.verdict(bytes, kept) {
            Verdict::Selected => {
                notes.of(source).rows += 1;
                true
            }
            Verdict::Undecided => {
                notes.undecided(source, offset);
                false
            }
            Verdict::Rejected => false,
        }
    }
}

/// A record that failed to decode: the stream's error in strict mode, else noted (its row
/// carries the error).
fn failed(
    strict: bool,
    notes: &mut Notes,
    seg: &Segment,
    job: &Job,
    e: DecodeError,
) -> Result<(), ArrowError> {
    if strict {
        return Err(external(e));
    }
    notes.failing(seg.source, job.offset, job.len as u64, &e);
    Ok(())
}

fn decode_segments(ctx: &Ctx, chunk: &Chunk, notes: &mut Notes) -> Result<RecordBatch, ArrowError> {
    let strict = ctx.mode == Mode::Strict;
    let mut judge = Judge {
        selection: ctx.selection.as_deref(),
        state: AllOfState::default(),
    };
    // Damage and undecided records are noted whatever the view.
    let note = |notes: &mut Notes, source: i32, job: &Job| match &job.kind {
        JobKind::Damage { len, error } => notes.damage(source, job.offset, *len, error),
        JobKind::Undecided => notes.undecided(source, job.offset),
        _ => {}
    };
    match &ctx.view {
        View::Records(cols) => {
            // A selective query keeps few records: grow the builders as rows come.
            let expected = if judge.selection.is_some() {
                chunk.records / 16 + 16
            } else {
                chunk.records
            };
            let mut b = RecordsBuilder::new(
                cols,
                ctx.sources.clone(),
                ctx.decoded.clone(),
                ctx.validate,
                expected,
            );
            for seg in &chunk.segments {
                let data = seg.buf.bytes();
                for job in &seg.jobs {
                    let JobKind::Record { kept, .. } = job.kind else {
                        note(notes, seg.source, job);
                        continue;
                    };
                    let rec = data.get(job.rel..job.rel + job.len).unwrap_or(&[]);
                    if !judge.row(rec, kept, notes, seg.source, job.offset) {
                        continue;
                    }
                    if let Some(e) = b.append(rec, job.offset, seg.source) {
                        failed(strict, notes, seg, job, e)?;
                    }
                }
            }
            let batch = b.finish()?;
            match &ctx.shape {
                Some(shape) => shape.apply(&batch, ctx.schema.clone()),
                None => Ok(batch),
            }
        }
        View::Tokens => {
            let mut b = TokensBuilder::new(ctx.sources.clone(), ctx.schema.clone());
            for seg in &chunk.segments {
                let data = seg.buf.bytes();
                for job in &seg.jobs {
                    let bytes = data.get(job.rel..job.rel + job.len).unwrap_or(&[]);
                    match job.kind {
                        JobKind::Record { index, kept } => {
                            if !judge.row(bytes, kept, notes, seg.source, job.offset) {
                                continue;
                            }
                            if let Some(e) = b.append_record(bytes, job.offset, seg.source, index) {
                                failed(strict, notes, seg, job, e)?;
                            }
                        }
                        JobKind::File => {
                            if judge.verdict(bytes, false) == Verdict::Selected {
                                let t = decode(bytes, 0, DecodeOptions::FULL).ok();
                                b.append_file(t, bytes, job.offset, seg.source);
                            }
                        }
                        _ => note(notes, seg.source, job),
                    }
                }
            }
            b.finish()
        }
        View::Errors => {
            let mut b = ErrorsBuilder::new(ctx.sources.clone(), ctx.schema.clone());
            for seg in &chunk.segments {
                let data = seg.buf.bytes();
                for job in &seg.jobs {
                    match &job.kind {
                        JobKind::Damage { len, error } => {
                            b.push(seg.source, job.offset, *len, DAMAGE, error);
                            note(notes, seg.source, job);
                        }
                        JobKind::Record { kept, .. } => {
                            let rec = data.get(job.rel..job.rel + job.len).unwrap_or(&[]);
                            if !judge.row(rec, *kept, notes, seg.source, job.offset) {
                                continue;
                            }
                            if let Some(f) = walk(rec, |_| {}).error {
                                let e = f.at(job.offset);
                                b.push(seg.source, job.offset, job.len as u64, RECORD, &e);
                                notes.failing(seg.source, job.offset, job.len as u64, &e);
                            }
                        }
                        _ => note(notes, seg.source, job),
                    }
                }
            }
            b.finish()
        }
    }
}

/// A chunk handed to a worker: its batch arrives on `rx` (or is already there).
enum Pending {
    Ready(Decoded),
    Decoding(mpsc::Receiver<Decoded>),
}

/// A decoding chunk and the mapped bytes it ends in: once its batch (and so every batch
/// before it) is built, the pages before that end are released (`Source::release`), so a
/// whole-table read of a mapped trail does not keep the whole file resident.
struct InFlight {
    pending: Pending,
    end: Option<(Source, usize)>,
}

impl Pending {
    fn wait(self) -> Decoded {
        match self {
            Pending::Ready(r) => r,
            Pending::Decoding(rx) => rx.recv().unwrap_or_else(|_| {
                Err(ArrowError::ComputeError(
                    "an Arrow decoding worker stopped without a result".into(),
                ))
            }),
        }
    }
}

/// `decode_chunk` on a worker thread: a panic (a bug) becomes an error for the consumer
/// instead of aborting the process from inside the thread pool.
fn decode_caught(ctx: &Ctx, chunk: &Chunk, index: usize) -> Decoded {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_chunk(ctx, chunk, index)
    }))
    .unwrap_or_else(|_| {
        Err(ArrowError::ComputeError(
            "internal error: an Arrow decoding or encoding worker panicked".into(),
        ))
    })
}

/// Record batches of one view over a list of trails, in input order.
///
/// The consumer's thread frames; each framed chunk is handed to a worker at once, and up
/// to `depth` chunks (one per worker and one more) are decoding or decoded ahead of the
/// consumer. There is no barrier between rounds: a worker that finishes takes the next
/// chunk while the others are still busy, so the cores stay loaded (an earlier version
/// decoded groups of chunks with `par_iter`, and every group waited for its slowest
/// chunk). Memory stays bounded by `depth` batches plus the window buffers their chunks
/// point into.
pub struct BatchReader {
    ctx: Arc<Ctx>,
    framer: Framer,
    pool: Pool,
    /// Chunks decoding or decoded ahead of a consumer that streams: one per worker and one
    /// more. A decoded batch and the window its chunk points into weigh some 30 MB on a
    /// generated trail, and a second one waiting per worker held 40 MB of a Parquet
    /// conversion's peak for no speed (BENCHMARKS.md, 2026-12-04).
    depth: usize,
    /// Chunks ahead when the whole table is read ([`Batches::read_all`]): two per worker,
    /// since the table holds every batch anyway, and a worker whose chunk ends early (a
    /// fresh process's chunks wait on page faults unevenly) takes the next at once.
    whole_depth: usize,
    batch_size: usize,
    max_batch_bytes: usize,
    pending: VecDeque<InFlight>,
    /// Chunks handed to the workers so far (the next one's index).
    submitted: usize,
    finished: bool,
    report: SharedReport,
    /// Rows of a selective query past the last batch handed out.
    carry: Option<RecordBatch>,
}

impl BatchReader {
    pub fn new(inputs: Vec<Input>, opts: Options) -> Result<Self, ArrowError> {
        let names: Vec<String> = inputs.iter().map(|i| i.name().to_string()).collect();
        // A small input in chunks of `batch_size` records would be one or two chunks: one
        // worker decoding while the others wait.
        let max_batch_bytes = opts.max_batch_bytes.min(spread_bytes(input_bytes(&inputs)));
        let decoded = match &opts.view {
            View::Records(cols) => schema::records_schema(cols, &names),
            View::Tokens => tokens_schema(&names),
            View::Errors => errors_schema(&names),
        };
        let shape = match opts.view {
            View::Records(_) => opts.shape.clone(),
            _ => None,
        };
        let schema = match &shape {
            Some(s) => s.schema(&decoded),
            None => decoded.clone(),
        };
        let sources: ArrayRef = Arc::new(StringArray::from_iter_values(names.iter()));
        let (pool, depth) =
            Pool::new(opts.threads, "arrow").map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
        // Ranges need no record numbers (the tokens view has them) and no strict stop (the
        // rows before a fatal error come first).
        let ranges = opts.selection.as_ref().is_some_and(|s| !s.sequential())
            && opts.mode == Mode::Recover
            && !matches!(opts.view, View::Tokens)
            && opts.order == Order::Input;
        let prefilter = opts.selection.clone().filter(|s| !s.sequential());
        let merge = match opts.order {
            Order::Input => None,
            Order::Time { window_ms } => Some(merger(&inputs, &opts, window_ms, &prefilter)?),
        };
        Ok(BatchReader {
            ctx: Arc::new(Ctx {
                view: opts.view,
                mode: opts.mode,
                validate: opts.validate,
                schema,
                decoded,
                shape,
                finish: None,
                sources,
                selection: opts.selection.clone(),
            }),
            framer: Framer {
                inputs,
                next_input: 0,
                cursor: None,
                record_index: 0,
                mode: opts.mode,
                window: opts.window,
                fatal: None,
                done: false,
                sequential: opts
                    .selection
                    .clone()
                    .filter(|s| s.sequential())
                    .map(|s| (s, AllOfState::default())),
                prefilter,
                ranges,
                merge,
            },
            pool,
            depth: lean_depth(depth),
            whole_depth: depth,
            batch_size: opts.batch_size.max(1),
            max_batch_bytes: max_batch_bytes.max(1),
            pending: VecDeque::new(),
            submitted: 0,
            finished: false,
            report: report::shared(&names),
            carry: None,
        })
    }

    /// What the stream has found in each input so far (complete once it is finished):
    /// shared, so it can be read after the reader is handed to a consumer.
    pub fn report(&self) -> SharedReport {
        Arc::clone(&self.report)
    }

    /// The next decoded chunk's batch, its notes merged into the report.
    fn next_decoded(&mut self) -> Option<Result<Payload, ArrowError>> {
        self.top_up();
        let Some(front) = self.pending.pop_front() else {
            self.finished = true;
            return None;
        };
        match front.pending.wait() {
            Ok((batch, notes, miss)) => {
                notes.merge_into(&self.report);
                if let Some(miss) = miss {
                    #[cfg(test)]
                    MISSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // Everything framed after this range started from a guess that did
                    // not hold: drop it and frame serially from where the walk landed.
                    self.pending.clear();
                    self.framer.rewind(miss);
                } else if let Some((src, end)) = front.end {
                    src.release(end);
                }
                Some(Ok(batch))
            }
            Err(e) => {
                // Strict mode: nothing after the first error (workers still decoding
                // finish into channels nobody reads).
                self.finished = true;
                self.pending.clear();
                Some(Err(e))
            }
        }
    }

    /// Frame chunks and start decoding them until `depth` are under way or the input is
    /// exhausted; a fatal framing error (strict mode) goes last, after the chunks before it.
    fn top_up(&mut self) {
        while !self.framer.done && self.pending.len() < self.depth {
            let Some(chunk) = self.framer.chunk(self.batch_size, self.max_batch_bytes) else {
                break;
            };
            let end = chunk.end.clone();
            let index = self.submitted;
            self.submitted += 1;
            let pending = match &self.pool {
                Pool::Single => Pending::Ready(decode_chunk(&self.ctx, &chunk, index)),
                pool => {
                    let (tx, rx) = mpsc::sync_channel(1);
                    let ctx = Arc::clone(&self.ctx);
                    // The consumer may have gone (the reader was dropped): nothing to do.
                    pool.spawn(move || {
                        let _ = tx.send(decode_caught(&ctx, &chunk, index));
                    });
                    Pending::Decoding(rx)
                }
            };
            self.pending.push_back(InFlight { pending, end });
        }
        if self.framer.done {
            if let Some(e) = self.framer.fatal.take() {
                self.pending.push_back(InFlight {
                    pending: Pending::Ready(Err(e)),
                    end: None,
                });
            }
        }
    }
}

/// The merge of a time-ordered read: every input opened at once (files mapped: the
/// merge reads them where it likes), a selection's header check applied as they are
/// framed.
fn merger(
    inputs: &[Input],
    opts: &Options,
    window_ms: u64,
    prefilter: &Option<Arc<AllOf>>,
) -> Result<Merger, ArrowError> {
    let mut lanes = Vec::with_capacity(inputs.len());
    for input in inputs {
        let (source, base) = match input {
            Input::Bytes { source, base, .. } => (source.clone(), *base),
            Input::File { path, .. } | Input::Mapped { path, .. } => (
                Source::map_file(path)
                    .map_err(|e| ArrowError::IoError(format!("{}: {e}", path.display()), e))?,
                0,
            ),
        };
        lanes.push(merge::Input { source, base });
    }
    let m = Merger::new(
        lanes,
        merge::Options {
            mode: opts.mode,
            check: Check::Trailer,
            window_ms,
            ..merge::Options::default()
        },
    );
    Ok(match prefilter {
        Some(sel) => {
            let sel = Arc::clone(sel);
            m.with_filter(move |rec| sel.prefilter(rec))
        }
        None => m,
    })
}

impl Iterator for BatchReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.next_batch();
        if item.is_none() {
            if let Ok(mut r) = self.report.lock() {
                r.finished = true;
            }
        }
        item
    }
}

impl BatchReader {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        if self.finished && self.carry.is_none() {
            return None;
        }
        if self.ctx.selection.is_none() {
            return self.next_decoded().map(|r| r.and_then(batch_of));
        }
        // A selection leaves few rows per chunk: join chunks' batches into batches of
        // `batch_size` rows (fewer, larger row groups in Parquet; the last one shorter),
        // and never hand out an empty one.
        let mut parts: Vec<RecordBatch> = self.carry.take().into_iter().collect();
        let mut rows: usize = parts.iter().map(RecordBatch::num_rows).sum();
        while rows < self.batch_size {
            match self.next_decoded().map(|r| r.and_then(batch_of)) {
                Some(Ok(b)) => {
                    rows += b.num_rows();
                    if b.num_rows() > 0 {
                        parts.push(b);
                    }
                }
                Some(Err(e)) => {
                    if parts.is_empty() {
                        return Some(Err(e));
                    }
                    // The rows before the error first; the error on the next call.
                    self.finished = false;
                    self.pending.push_front(InFlight {
                        pending: Pending::Ready(Err(e)),
                        end: None,
                    });
                    break;
                }
                None => break,
            }
        }
        let joined = match parts.len() {
            0 => return None,
            1 => parts.swap_remove(0),
            _ => match arrow_select::concat::concat_batches(&self.ctx.schema, &parts) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            },
        };
        if joined.num_rows() > self.batch_size {
            let rest = joined.num_rows() - self.batch_size;
            self.carry = Some(joined.slice(self.batch_size, rest));
            return Some(Ok(joined.slice(0, self.batch_size)));
        }
        Some(Ok(joined))
    }
}

impl RecordBatchReader for BatchReader {
    fn schema(&self) -> SchemaRef {
        self.ctx.schema.clone()
    }
}

/// A chunk's batch, in a reader that hands batches out (no [`Finish`]).
fn batch_of(p: Payload) -> Result<RecordBatch, ArrowError> {
    match p {
        Payload::Batch(b) => Ok(b),
        Payload::Finished(_) => Err(ArrowError::ComputeError(
            "internal error: a fused reader read for batches".into(),
        )),
    }
}

impl BatchReader {
    /// Whether [`fuse`](Self::fuse) takes this reader: nothing read yet, and one batch
    /// per chunk (a selection joins the few rows of several chunks into one batch).
    pub fn fusable(&self) -> bool {
        self.submitted == 0 && !self.finished && self.ctx.selection.is_none()
    }

    /// This stream with `finish` run on each batch by the worker that decoded it: the
    /// batch never waits in a queue between decoding and, say, encoding, and what is in
    /// flight is one chunk per worker and one more. Gives the reader back when it is not
    /// [`fusable`](Self::fusable).
    pub fn fuse(mut self: Box<Self>, finish: Finish) -> Result<Fused, Box<BatchReader>> {
        if !self.fusable() {
            return Err(self);
        }
        match Arc::get_mut(&mut self.ctx) {
            Some(ctx) => ctx.finish = Some(finish),
            None => return Err(self),
        }
        Ok(Fused { reader: self })
    }
}

/// A stream's batches as its [`Finish`] made them, in input order
/// ([`BatchReader::fuse`]).
pub struct Fused {
    reader: Box<BatchReader>,
}

impl Fused {
    /// What the stream has found in each input so far (see [`BatchReader::report`]).
    pub fn report(&self) -> SharedReport {
        self.reader.report()
    }
}

impl Iterator for Fused {
    type Item = Result<Finished, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.finished {
            return None;
        }
        match self.reader.next_decoded() {
            Some(Ok(Payload::Finished(f))) => Some(Ok(f)),
            Some(Ok(Payload::Batch(_))) => Some(Err(ArrowError::ComputeError(
                "internal error: a fused reader gave a batch".into(),
            ))),
            Some(Err(e)) => Some(Err(e)),
            None => {
                if let Ok(mut r) = self.reader.report.lock() {
                    r.finished = true;
                }
                None
            }
        }
    }
}

/// A stream of record batches that can also be read whole, the way that suits it.
pub trait Batches: RecordBatchReader + Send {
    /// Every remaining batch, in order.
    fn read_all(self: Box<Self>) -> Result<Vec<RecordBatch>, ArrowError> {
        self.collect()
    }

    /// The plain reader behind this stream, when it is one (work can be fused into it,
    /// [`BatchReader::fuse`]); else the stream itself.
    fn into_reader(self: Box<Self>) -> Result<Box<BatchReader>, Box<dyn Batches>>;
}

impl Batches for BatchReader {
    fn read_all(mut self: Box<Self>) -> Result<Vec<RecordBatch>, ArrowError> {
        self.depth = self.whole_depth;
        self.collect()
    }

    fn into_reader(self: Box<Self>) -> Result<Box<BatchReader>, Box<dyn Batches>> {
        Ok(self)
    }
}

impl Batches for Prefetch {
    fn into_reader(self: Box<Self>) -> Result<Box<BatchReader>, Box<dyn Batches>> {
        Err(self)
    }
}

/// Decodes ahead on a thread of its own, `depth` batches at most, so that a consumer
/// (a Parquet writer, say) works while the next batches are built. Memory stays bounded
/// by `depth` batches; dropping the reader stops the thread at its next batch.
pub struct Prefetch {
    schema: SchemaRef,
    rx: std::sync::mpsc::Receiver<Result<RecordBatch, ArrowError>>,
}

impl Prefetch {
    pub fn new(reader: BatchReader, depth: usize) -> Result<Self, ArrowError> {
        let schema = reader.schema();
        let (tx, rx) = std::sync::mpsc::sync_channel(depth.max(1));
        std::thread::Builder::new()
            .name("bsmtrail-ahead".into())
            .spawn(move || {
                for b in reader {
                    if tx.send(b).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
        Ok(Prefetch { schema, rx })
    }
}

impl Iterator for Prefetch {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

impl RecordBatchReader for Prefetch {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
