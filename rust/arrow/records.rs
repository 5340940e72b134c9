//! The records view: one row per record, built straight from borrowed tokens.
//!
//! Routing is fixed, whatever the projection: the first subject, return, exec_args,
//! exec_env, identity, groups, seq and zonename tokens fill their scalar columns; every
//! path, text, arg, attr, socket and process token goes to its list column; the header and
//! the final trailer are the row itself; and every other token (a second subject, exit,
//! ipc, opaque, ...) goes to `other_tokens` with its bytes, so that no token is lost. A
//! record that fails validation keeps what decoded before the failure, and its undecoded
//! rest is one `other_tokens` entry of type `invalid`.
//!
//! Speed: about forty values per record, so every column is a pre-sized `Vec` and columns
//! that are null together share one validity bitmap (see `builders.rs`).

use super::builders::{bools, dict_array, dictionary, prim, Offsets, Var};
use super::schema::{self, Col, NCOL};
use super::walk::{fast, walk_with, Visit};
use super::{errno, reason_dictionary, reason_key};
use crate::error::DecodeError;
use crate::tokens::{self, canonical_name, ids, Addr, DecodeOptions, Subject, Tok, Token};
use arrow_array::types::{
    Int64Type, TimestampMillisecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StructArray};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{ArrowError, DataType, Fields, SchemaRef};
use std::sync::{Arc, OnceLock};

/// Python's `datetime` range (years 1..=9999) in ms since the epoch: `time` is null
/// outside it, exactly where `Record.time` is None.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

/// The record's time in ms since the epoch, or None when out of range. 32-bit headers hold
/// unsigned seconds; 64-bit ones are read as signed (§1.2).
pub fn time_ms(id: u8, seconds: u64, msec: u64) -> Option<i64> {
    let ms = crate::tokens::header_seconds(id, seconds)
        .checked_mul(1000)?
        .checked_add(i64::try_from(msec).ok()?)?;
    (MIN_MS..=MAX_MS).contains(&ms).then_some(ms)
}

fn header_key(id: u8) -> i32 {
    match id {
        ids::HEADER32 => 0,
        ids::HEADER32_EX => 1,
        ids::HEADER64 => 2,
        _ => 3,
    }
}

fn header_dictionary() -> &'static ArrayRef {
    static D: OnceLock<ArrayRef> = OnceLock::new();
    D.get_or_init(|| dictionary(&["header32", "header32_ex", "header64", "header64_ex"]))
}

fn subject_key(id: u8) -> i32 {
    match id {
        ids::SUBJECT32 => 0,
        ids::SUBJECT32_EX => 1,
        ids::SUBJECT64 => 2,
        _ => 3,
    }
}

fn subject_dictionary() -> &'static ArrayRef {
    static D: OnceLock<ArrayRef> = OnceLock::new();
    D.get_or_init(|| dictionary(&["subject32", "subject32_ex", "subject64", "subject64_ex"]))
}

/// Validity as one bool per row (an inlined push), packed into a bitmap at the end; no
/// bitmap at all when every value is present.
struct Valid {
    v: Vec<bool>,
    /// Set by `all_null`: the batch's rows, every one null.
    all_null: Option<usize>,
}

impl Valid {
    fn new(cap: usize) -> Self {
        Valid {
            v: Vec::with_capacity(cap),
            all_null: None,
        }
    }
    #[inline(always)]
    fn push(&mut self, v: bool) {
        self.v.push(v);
    }
    /// `n` rows at once, all `v`.
    fn fill(&mut self, n: usize, v: bool) {
        self.v.resize(self.v.len() + n, v);
    }
    /// `rows` rows, all null, written by nobody (see `zeroed`).
    fn all_null(&mut self, rows: usize) {
        self.v = Vec::new();
        self.all_null = Some(rows);
    }
    fn finish(&mut self) -> Option<NullBuffer> {
        if let Some(rows) = self.all_null.take() {
            return Some(NullBuffer::new_null(rows));
        }
        let v = std::mem::take(&mut self.v);
        if v.iter().all(|b| *b) {
            None
        } else {
            Some(NullBuffer::from(v))
        }
    }
}

/// `n` zeros in memory nobody writes: the allocator's zeroed pages (calloc, fresh from the
/// kernel for a large column) are not even touched until someone reads them, so a column
/// null in a whole batch costs neither a page fault nor a write per row. Column groups no
/// record of a batch has (every `error` column of a clean trail, `identity` outside macOS,
/// ...) are made this way.
fn zeroed<T: Clone + Default>(n: usize) -> Vec<T> {
    vec![T::default(); n]
}

/// The seven ids and the terminal of a subject or process token.
struct Ids {
    ids: [Vec<u32>; 7],
    port: Vec<u64>,
    addr: Var,
    /// Whether `addr` is built: the terminal's address as text costs more than the
    /// seven ids together (an IPv6 address is formatted), and a projection of the ids
    /// (`stats` reads auid and euid) does not read it.
    with_addr: bool,
}

impl Ids {
    fn new(cap: usize, with_addr: bool) -> Self {
        Ids {
            ids: std::array::from_fn(|_| Vec::with_capacity(cap)),
            port: Vec::with_capacity(cap),
            addr: Var::with_capacity(cap, if with_addr { cap * 8 } else { 0 }),
            with_addr,
        }
    }

    #[inline]
    fn push(&mut self, s: &Subject) {
        let v = [s.auid, s.euid, s.egid, s.ruid, s.rgid, s.pid, s.sid];
        for (b, x) in self.ids.iter_mut().zip(v) {
            b.push(x);
        }
        self.port.push(s.port);
        if self.with_addr {
            self.addr.push_addr(&s.addr);
        }
    }

    #[inline]
    fn push_null(&mut self) {
        for b in &mut self.ids {
            b.push(0);
        }
        self.port.push(0);
        if self.with_addr {
            self.addr.push_empty();
        }
    }

    /// The ten arrays, all sharing `nulls`.
    fn arrays(&mut self, nulls: &Option<NullBuffer>) -> Result<Vec<ArrayRef>, ArrowError> {
        let mut out: Vec<ArrayRef> = Vec::with_capacity(10);
        for (i, v) in self.ids.iter_mut().enumerate() {
            let n = if i == 0 {
                unset_auid(v, nulls.clone())
            } else {
                nulls.clone()
            };
            out.push(prim::<UInt32Type>(v, n));
        }
        out.push(prim::<UInt64Type>(&mut self.port, nulls.clone()));
        out.push(self.addr.utf8(nulls.clone())?);
        Ok(out)
    }
}

/// The validity of an `auid` column: null where `nulls` says so and where the id is
/// 4294967295, the unset audit id (AU_DEFAUDITID), so that `auid = -1`-style sentinels
/// neither match a real user nor pollute `max()` (docs/arrow-schema.md, schema 2).
fn unset_auid(values: &[u32], nulls: Option<NullBuffer>) -> Option<NullBuffer> {
    if !values.contains(&u32::MAX) {
        return nulls;
    }
    let set = NullBuffer::from(BooleanBuffer::collect_bool(values.len(), |i| {
        values[i] != u32::MAX
    }));
    NullBuffer::union(nulls.as_ref(), Some(&set))
}

/// `success`: the first return token's status is 0; null where there is no return token.
fn success_array(status: &[u8], ret: Option<NullBuffer>) -> ArrayRef {
    let ok = BooleanBuffer::collect_bool(status.len(), |i| status[i] == 0);
    Arc::new(BooleanArray::new(ok, ret))
}

fn list_field(dt: DataType) -> Arc<arrow_schema::Field> {
    schema::item(dt, false)
}

fn strukt(fields: Fields, arrays: Vec<ArrayRef>) -> Result<ArrayRef, ArrowError> {
    Ok(Arc::new(StructArray::try_new(fields, arrays, None)?))
}

/// A list<utf8> column.
struct StrList {
    offsets: Offsets,
    valid: Valid,
    values: Var,
}

impl StrList {
    fn new(cap: usize, items: usize, bytes: usize) -> Self {
        StrList {
            offsets: Offsets::with_capacity(cap),
            valid: Valid::new(cap),
            values: Var::with_capacity(items, bytes),
        }
    }
    #[inline]
    fn close(&mut self, valid: bool) {
        self.offsets.close(self.values.len());
        self.valid.push(valid);
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let values = self.values.utf8(None)?;
        let nulls = self.valid.finish();
        self.offsets.list(list_field(DataType::Utf8), values, nulls)
    }
}

#[derive(Default)]
struct Args {
    num: Vec<u8>,
    value: Vec<u64>,
    desc: Option<Var>,
}

#[derive(Default)]
struct Attrs {
    u32s: [Vec<u32>; 4],
    nodeid: Vec<u64>,
    device: Vec<u64>,
}

struct Sockets {
    kind: Var,
    family: (Vec<u16>, Valid),
    sock_type: (Vec<u16>, Valid),
    lport: (Vec<u16>, Valid),
    laddr: (Var, Valid),
    rport: (Vec<u16>, Valid),
    raddr: (Var, Valid),
}

impl Sockets {
    fn new() -> Self {
        Sockets {
            kind: Var::new(),
            family: (Vec::new(), Valid::new(0)),
            sock_type: (Vec::new(), Valid::new(0)),
            lport: (Vec::new(), Valid::new(0)),
            laddr: (Var::new(), Valid::new(0)),
            rport: (Vec::new(), Valid::new(0)),
            raddr: (Var::new(), Valid::new(0)),
        }
    }
}

#[inline]
fn opt16(c: &mut (Vec<u16>, Valid), v: Option<u16>) {
    c.0.push(v.unwrap_or(0));
    c.1.push(v.is_some());
}

struct Identity {
    valid: Valid,
    signer_type: Vec<u32>,
    signing_id: Var,
    signing_id_truncated: Vec<bool>,
    team_id: Var,
    team_id_truncated: Vec<bool>,
    cdhash: Var,
}

/// A column group that most records lack. Its rows are written lazily by [`Lagged`].
trait Sparse {
    /// `n` null rows.
    fn fill_null(&mut self, n: usize);
    /// `rows` null rows in a group nothing was written to. Groups with fixed-width
    /// columns take zeroed memory nobody writes (see `zeroed`).
    fn zeroed(&mut self, rows: usize) {
        self.fill_null(rows);
    }
}

/// A [`Sparse`] group written lazily: a row without the group's token writes nothing; the
/// null rows before a value are written in bulk when it comes (`at`), the rest when the
/// batch closes (`finish`), and a group with no value in the whole batch is `zeroed`.
/// Pushing every group's nulls row by row was a fifth of the records view's time.
struct Lagged<G> {
    g: G,
    /// Rows written so far.
    written: usize,
}

impl<G: Sparse> Lagged<G> {
    fn new(g: G) -> Self {
        Lagged { g, written: 0 }
    }

    /// The group, its null rows written up to row `row`, for the caller to write row
    /// `row`'s value (exactly one row).
    #[inline]
    fn at(&mut self, row: usize) -> &mut G {
        if row > self.written {
            self.g.fill_null(row - self.written);
        }
        self.written = row + 1;
        &mut self.g
    }

    /// Every one of the batch's `rows` rows written.
    fn finish(&mut self, rows: usize) {
        if self.written == 0 {
            self.g.zeroed(rows);
        } else if rows > self.written {
            self.g.fill_null(rows - self.written);
        }
        self.written = rows;
    }
}

/// A nullable text column (host, zone).
struct OptText {
    values: Var,
    valid: Valid,
}

impl Sparse for OptText {
    fn fill_null(&mut self, n: usize) {
        self.values.fill_empty(n);
        self.valid.fill(n, false);
    }
    fn zeroed(&mut self, rows: usize) {
        self.values = Var::zeroed(rows);
        self.valid.all_null(rows);
    }
}

/// A nullable u32 column (seq).
struct OptU32 {
    values: Vec<u32>,
    valid: Valid,
}

impl Sparse for OptU32 {
    fn fill_null(&mut self, n: usize) {
        self.values.resize(self.values.len() + n, 0);
        self.valid.fill(n, false);
    }
    fn zeroed(&mut self, rows: usize) {
        self.values = zeroed(rows);
        self.valid.all_null(rows);
    }
}

/// The `groups` list column.
struct GidList {
    offsets: Offsets,
    valid: Valid,
    values: Vec<u32>,
}

impl Sparse for GidList {
    fn fill_null(&mut self, n: usize) {
        self.offsets.fill(n);
        self.valid.fill(n, false);
    }
}

/// The `error` and `error_offset` columns, null together.
struct ErrorCols {
    valid: Valid,
    key: Vec<i32>,
    offset: Vec<u64>,
}

impl Sparse for ErrorCols {
    fn fill_null(&mut self, n: usize) {
        self.valid.fill(n, false);
        self.key.resize(self.key.len() + n, 0);
        self.offset.resize(self.offset.len() + n, 0);
    }
    fn zeroed(&mut self, rows: usize) {
        self.valid.all_null(rows);
        self.key = zeroed(rows);
        self.offset = zeroed(rows);
    }
}

impl Sparse for StrList {
    fn fill_null(&mut self, n: usize) {
        self.offsets.fill(n);
        self.valid.fill(n, false);
    }
}

impl Sparse for Identity {
    fn fill_null(&mut self, n: usize) {
        self.valid.fill(n, false);
        self.signer_type.resize(self.signer_type.len() + n, 0);
        self.signing_id.fill_empty(n);
        let len = self.signing_id_truncated.len();
        self.signing_id_truncated.resize(len + n, false);
        self.team_id.fill_empty(n);
        let len = self.team_id_truncated.len();
        self.team_id_truncated.resize(len + n, false);
        self.cdhash.fill_empty(n);
    }
    fn zeroed(&mut self, rows: usize) {
        self.valid.all_null(rows);
        self.signer_type = zeroed(rows);
        self.signing_id = Var::zeroed(rows);
        self.signing_id_truncated = zeroed(rows);
        self.team_id = Var::zeroed(rows);
        self.team_id_truncated = zeroed(rows);
        self.cdhash = Var::zeroed(rows);
    }
}

struct Other {
    ty: Var,
    id: Vec<u8>,
    offset: Vec<u64>,
    data: Var,
}

/// Which single-token groups the current row has filled.
#[derive(Default)]
struct Seen {
    header: bool,
    subject: bool,
    ret: bool,
    exec_args: bool,
    exec_env: bool,
    identity: bool,
    groups: bool,
    seq: bool,
    zone: bool,
}

/// Which column groups the projection needs (others are not built at all).
#[derive(Clone, Copy)]
struct Want {
    source: bool,
    offset: bool,
    size: bool,
    header_type: bool,
    header: bool,
    time: bool,
    host: bool,
    subject: bool,
    ret: bool,
    paths: bool,
    texts: bool,
    exec_args: bool,
    exec_env: bool,
    args: bool,
    attrs: bool,
    sockets: bool,
    processes: bool,
    identity: bool,
    groups: bool,
    seq: bool,
    zone: bool,
    other: bool,
    error: bool,
}

impl Want {
    fn new(on: &[bool; NCOL]) -> Self {
        let any = |cs: &[Col]| cs.iter().any(|c| on[c.idx()]);
        Want {
            source: any(&[Col::Source]),
            offset: any(&[Col::RecordOffset]),
            size: any(&[Col::Size]),
            header_type: any(&[Col::HeaderType]),
            header: any(&[Col::Version, Col::Event, Col::Modifier]),
            time: any(&[Col::Time]),
            host: any(&[Col::Host]),
            subject: any(&[
                Col::SubjectType,
                Col::Auid,
                Col::Euid,
                Col::Egid,
                Col::Ruid,
                Col::Rgid,
                Col::Pid,
                Col::Sid,
                Col::TidPort,
                Col::TidAddr,
            ]),
            ret: any(&[
                Col::ReturnStatus,
                Col::ReturnValue,
                Col::ReturnErrno,
                Col::Success,
            ]),
            paths: any(&[Col::Paths]),
            texts: any(&[Col::Texts]),
            exec_args: any(&[Col::ExecArgs]),
            exec_env: any(&[Col::ExecEnv]),
            args: any(&[Col::Args]),
            attrs: any(&[Col::Attrs]),
            sockets: any(&[Col::Sockets]),
            processes: any(&[Col::Processes]),
            identity: any(&[Col::Identity]),
            groups: any(&[Col::Groups]),
            seq: any(&[Col::Seq]),
            zone: any(&[Col::Zone]),
            other: any(&[Col::OtherTokens]),
            error: any(&[Col::Error, Col::ErrorOffset]),
        }
    }
}

/// Validity of the column groups that are null together.
struct Groups {
    subject: Option<NullBuffer>,
    ret: Option<NullBuffer>,
    header: Option<NullBuffer>,
    error: Option<NullBuffer>,
    /// The `success` column, built from `return_status` before that is moved.
    success: Option<ArrayRef>,
}

/// One record being walked into the builder.
struct Row<'r, 'a> {
    b: &'r mut RecordsBuilder,
    rec: &'a [u8],
    offset: u64,
    seen: &'r mut Seen,
}

impl<'a> Visit<'a> for Row<'_, 'a> {
    #[inline(always)]
    fn visit(&mut self, t: &Tok<'a>) {
        self.b.token(t, self.rec, self.offset, self.seen);
    }
}

/// Builds one record batch of the records view for one projection.
pub struct RecordsBuilder {
    cols: Vec<Col>,
    w: Want,
    /// Walk every token (validation, or a token column was asked for).
    walk: bool,
    schema: SchemaRef,
    sources: ArrayRef,
    source: Vec<i32>,
    offset: Vec<u64>,
    size: Vec<u32>,
    header_type: Vec<i32>,
    header_valid: Valid,
    version: Vec<u8>,
    event: Vec<u16>,
    modifier: Vec<u16>,
    time: Vec<i64>,
    time_valid: Valid,
    host: Lagged<OptText>,
    subject_valid: Valid,
    subject_type: Vec<i32>,
    subject: Ids,
    return_valid: Valid,
    return_status: Vec<u8>,
    return_value: Vec<i64>,
    errno: Vec<i32>,
    errno_valid: Valid,
    paths: StrList,
    texts: StrList,
    exec_args: Lagged<StrList>,
    exec_env: Lagged<StrList>,
    args_offsets: Offsets,
    args: Args,
    attrs_offsets: Offsets,
    attrs: Attrs,
    sockets_offsets: Offsets,
    sockets: Sockets,
    processes_offsets: Offsets,
    process_type: Var,
    processes: Ids,
    identity: Lagged<Identity>,
    groups: Lagged<GidList>,
    seq: Lagged<OptU32>,
    zone: Lagged<OptText>,
    other_offsets: Offsets,
    other: Other,
    error: Lagged<ErrorCols>,
    /// Rows closed so far (the current row's index).
    rows: usize,
}

impl RecordsBuilder {
    /// `validate`: walk and check every token even when no column needs them (so `error`
    /// is always filled). Without it a header-only projection reads just the header.
    /// `cap`: the expected number of rows.
    pub fn new(
        cols: &[Col],
        sources: ArrayRef,
        schema: SchemaRef,
        validate: bool,
        cap: usize,
    ) -> Self {
        let mut on = [false; NCOL];
        for c in cols {
            on[c.idx()] = true;
        }
        let walk = validate || cols.iter().any(|c| !c.header_only());
        RecordsBuilder {
            cols: cols.to_vec(),
            w: Want::new(&on),
            walk,
            schema,
            sources,
            source: Vec::with_capacity(cap),
            offset: Vec::with_capacity(cap),
            size: Vec::with_capacity(cap),
            header_type: Vec::with_capacity(cap),
            header_valid: Valid::new(cap),
            version: Vec::with_capacity(cap),
            event: Vec::with_capacity(cap),
            modifier: Vec::with_capacity(cap),
            time: Vec::with_capacity(cap),
            time_valid: Valid::new(cap),
            host: Lagged::new(OptText {
                values: Var::with_capacity(cap, 0),
                valid: Valid::new(cap),
            }),
            subject_valid: Valid::new(cap),
            subject_type: Vec::with_capacity(cap),
            subject: Ids::new(cap, on[Col::TidAddr.idx()]),
            return_valid: Valid::new(cap),
            return_status: Vec::with_capacity(cap),
            return_value: Vec::with_capacity(cap),
            errno: Vec::with_capacity(cap),
            errno_valid: Valid::new(cap),
            // Initial sizes for typical trails (a path or text in most records); they grow
            // as needed.
            paths: StrList::new(cap, cap, cap * 32),
            texts: StrList::new(cap, cap / 2, cap * 16),
            exec_args: Lagged::new(StrList::new(cap, 0, 0)),
            exec_env: Lagged::new(StrList::new(cap, 0, 0)),
            args_offsets: Offsets::with_capacity(cap),
            args: Args {
                desc: Some(Var::new()),
                ..Args::default()
            },
            attrs_offsets: Offsets::with_capacity(cap),
            attrs: Attrs::default(),
            sockets_offsets: Offsets::with_capacity(cap),
            sockets: Sockets::new(),
            processes_offsets: Offsets::with_capacity(cap),
            process_type: Var::new(),
            processes: Ids::new(0, true),
            identity: Lagged::new(Identity {
                valid: Valid::new(cap),
                signer_type: Vec::with_capacity(cap),
                signing_id: Var::with_capacity(cap, 0),
                signing_id_truncated: Vec::with_capacity(cap),
                team_id: Var::with_capacity(cap, 0),
                team_id_truncated: Vec::with_capacity(cap),
                cdhash: Var::with_capacity(cap, 0),
            }),
            groups: Lagged::new(GidList {
                offsets: Offsets::with_capacity(cap),
                valid: Valid::new(cap),
                values: Vec::new(),
            }),
            seq: Lagged::new(OptU32 {
                values: Vec::with_capacity(cap),
                valid: Valid::new(cap),
            }),
            zone: Lagged::new(OptText {
                values: Var::with_capacity(cap, 0),
                valid: Valid::new(cap),
            }),
            other_offsets: Offsets::with_capacity(cap),
            other: Other {
                ty: Var::new(),
                id: Vec::new(),
                offset: Vec::new(),
                data: Var::new(),
            },
            error: Lagged::new(ErrorCols {
                valid: Valid::new(cap),
                key: Vec::with_capacity(cap),
                offset: Vec::with_capacity(cap),
            }),
            rows: 0,
        }
    }

    /// Every lagged group and every list written up to the batch's last row.
    fn catch_up_all(&mut self) {
        let w = self.w;
        let rows = self.rows;
        if w.host {
            self.host.finish(rows);
        }
        if w.exec_args {
            self.exec_args.finish(rows);
        }
        if w.exec_env {
            self.exec_env.finish(rows);
        }
        if w.identity {
            self.identity.finish(rows);
        }
        if w.groups {
            self.groups.finish(rows);
        }
        if w.seq {
            self.seq.finish(rows);
        }
        if w.zone {
            self.zone.finish(rows);
        }
        if w.error {
            self.error.finish(rows);
        }
        for (on, o) in [
            (w.args, &mut self.args_offsets),
            (w.attrs, &mut self.attrs_offsets),
            (w.sockets, &mut self.sockets_offsets),
            (w.processes, &mut self.processes_offsets),
            (w.other, &mut self.other_offsets),
        ] {
            if on {
                o.fill_to(rows);
            }
        }
    }

    /// Append the record `rec`, found at `offset` of source `source`. Returns the
    /// validation error, if any (the row is written either way).
    pub fn append(&mut self, rec: &[u8], offset: u64, source: i32) -> Option<DecodeError> {
        let id = rec.first().copied().unwrap_or(0);
        let w = self.w;
        if w.source {
            self.source.push(source);
        }
        if w.offset {
            self.offset.push(offset);
        }
        if w.size {
            // A record's length is its header's u32 count.
            self.size.push(u32::try_from(rec.len()).unwrap_or(u32::MAX));
        }
        if w.header_type {
            self.header_type.push(header_key(id));
        }
        let mut seen = Seen::default();
        let mut err = None;
        if self.walk {
            let mut row = Row {
                b: self,
                rec,
                offset,
                seen: &mut seen,
            };
            let w = walk_with(rec, &mut row);
            if let Some(fault) = w.error {
                let rest = rec.get(w.end..).unwrap_or(&[]);
                if let Some(&first) = rest.first() {
                    self.other_entry(b"invalid", first, offset + w.end as u64, rest);
                }
                err = Some(fault.at(offset));
            }
        } else if let Some(t) = fast(rec, 0) {
            self.token(&t, rec, offset, &mut seen);
        } else if let Ok(t) = tokens::decode(rec, 0, DecodeOptions::FULL) {
            self.token(&t, rec, offset, &mut seen);
        }
        self.close_row(&seen, err.as_ref());
        err
    }

    fn close_row(&mut self, seen: &Seen, err: Option<&DecodeError>) {
        let w = self.w;
        if !seen.header {
            if w.header {
                self.header_valid.push(false);
                self.version.push(0);
                self.event.push(0);
                self.modifier.push(0);
            }
            if w.time {
                self.time.push(0);
                self.time_valid.push(false);
            }
        }
        if !seen.subject && w.subject {
            self.subject_valid.push(false);
            self.subject_type.push(0);
            self.subject.push_null();
        }
        if !seen.ret && w.ret {
            self.return_valid.push(false);
            self.return_status.push(0);
            self.return_value.push(0);
            self.errno.push(0);
            self.errno_valid.push(false);
        }
        if w.paths {
            self.paths.close(true);
        }
        if w.texts {
            self.texts.close(true);
        }
        let row = self.rows;
        if w.args {
            self.args_offsets.close_at(row, self.args.num.len());
        }
        if w.attrs {
            self.attrs_offsets.close_at(row, self.attrs.nodeid.len());
        }
        if w.sockets {
            self.sockets_offsets.close_at(row, self.sockets.kind.len());
        }
        if w.processes {
            self.processes_offsets
                .close_at(row, self.process_type.len());
        }
        if w.other {
            self.other_offsets.close_at(row, self.other.id.len());
        }
        if w.error {
            if let Some(e) = err {
                let g = self.error.at(self.rows);
                g.valid.push(true);
                g.key.push(reason_key(&e.kind));
                g.offset.push(e.offset);
            }
        }
        self.rows += 1;
    }

    fn other_entry(&mut self, ty: &[u8], id: u8, offset: u64, data: &[u8]) {
        if self.w.other {
            let o = &mut self.other;
            o.ty.push(ty);
            o.id.push(id);
            o.offset.push(offset);
            o.data.push(data);
        }
    }

    #[inline(always)]
    fn token(&mut self, t: &Tok<'_>, rec: &[u8], rec_offset: u64, seen: &mut Seen) {
        let w = self.w;
        match &t.token {
            Token::Header(h) if t.offset == 0 => {
                seen.header = true;
                if w.header {
                    self.header_valid.push(true);
                    self.version.push(h.version);
                    self.event.push(h.event);
                    self.modifier.push(h.modifier);
                }
                if w.time {
                    let ms = time_ms(t.id, h.seconds, h.msec);
                    self.time.push(ms.unwrap_or(0));
                    self.time_valid.push(ms.is_some());
                }
                if w.host {
                    if let Some(a @ (Addr::V4(_) | Addr::V6(_))) = &h.host {
                        let g = self.host.at(self.rows);
                        g.values.push_addr(a);
                        g.valid.push(true);
                    }
                }
            }
            Token::Trailer { .. } => {}
            Token::Subject(s) if !seen.subject => {
                seen.subject = true;
                if w.subject {
                    self.subject_valid.push(true);
                    self.subject_type.push(subject_key(t.id));
                    self.subject.push(s);
                }
            }
            Token::Return { .. } if !seen.ret && !w.ret => seen.ret = true,
            Token::Return { status, value } if !seen.ret => {
                seen.ret = true;
                self.return_valid.push(true);
                self.return_status.push(*status);
                let v = if t.id == ids::RETURN64 {
                    *value as i64
                } else {
                    (*value & 0xffff_ffff) as i64
                };
                self.return_value.push(v);
                self.errno.push(i32::from(*status));
                self.errno_valid.push(*status != 0);
            }
            Token::Path(p) => {
                if w.paths {
                    self.paths.values.push_text(p);
                }
            }
            Token::Text(p) => {
                if w.texts {
                    self.texts.values.push_text(p);
                }
            }
            Token::ExecArgs(l) if !seen.exec_args => {
                seen.exec_args = true;
                if w.exec_args {
                    let g = self.exec_args.at(self.rows);
                    for s in l.iter() {
                        g.values.push_text(s);
                    }
                    g.close(true);
                }
            }
            Token::ExecEnv(l) if !seen.exec_env => {
                seen.exec_env = true;
                if w.exec_env {
                    let g = self.exec_env.at(self.rows);
                    for s in l.iter() {
                        g.values.push_text(s);
                    }
                    g.close(true);
                }
            }
            Token::Arg { num, value, desc } => {
                if w.args {
                    let a = &mut self.args;
                    a.num.push(*num);
                    a.value.push(*value);
                    if let Some(d) = &mut a.desc {
                        d.push_text(desc);
                    }
                }
            }
            Token::Attr {
                mode,
                uid,
                gid,
                fsid,
                nodeid,
                device,
            } => {
                if w.attrs {
                    let a = &mut self.attrs;
                    for (b, v) in a.u32s.iter_mut().zip([*mode, *uid, *gid, *fsid]) {
                        b.push(v);
                    }
                    a.nodeid.push(*nodeid);
                    a.device.push(*device);
                }
            }
            Token::Socket { .. }
            | Token::SocketEx { .. }
            | Token::SockInet { .. }
            | Token::SockInet6 { .. }
            | Token::SockUnix { .. } => {
                if w.sockets {
                    self.socket(t);
                }
            }
            Token::Process(s) => {
                if w.processes {
                    self.process_type.push(canonical_name(t.id).as_bytes());
                    self.processes.push(s);
                }
            }
            Token::Identity(_) if !seen.identity && !w.identity => seen.identity = true,
            Token::Identity(i) if !seen.identity => {
                seen.identity = true;
                let d = self.identity.at(self.rows);
                d.valid.push(true);
                d.signer_type.push(i.signer_type);
                d.signing_id.push_text(i.signing_id);
                d.signing_id_truncated.push(i.signing_id_truncated != 0);
                d.team_id.push_text(i.team_id);
                d.team_id_truncated.push(i.team_id_truncated != 0);
                d.cdhash.push(i.cdhash);
            }
            Token::Groups(g) if !seen.groups => {
                seen.groups = true;
                if w.groups {
                    let c = self.groups.at(self.rows);
                    c.values.extend(g.iter());
                    c.offsets.close(c.values.len());
                    c.valid.push(true);
                }
            }
            Token::Seq(s) if !seen.seq => {
                seen.seq = true;
                if w.seq {
                    let g = self.seq.at(self.rows);
                    g.values.push(*s);
                    g.valid.push(true);
                }
            }
            Token::Zone(z) if !seen.zone => {
                seen.zone = true;
                if w.zone {
                    let g = self.zone.at(self.rows);
                    g.values.push_text(z);
                    g.valid.push(true);
                }
            }
            _ => {
                let data = rec.get(t.offset..t.offset + t.len).unwrap_or(&[]);
                self.other_entry(
                    canonical_name(t.id).as_bytes(),
                    t.id,
                    rec_offset + t.offset as u64,
                    data,
                );
            }
        }
    }

    fn socket(&mut self, t: &Tok<'_>) {
        let s = &mut self.sockets;
        s.kind.push(canonical_name(t.id).as_bytes());
        let (family, sock_type, lport, rport) = match &t.token {
            Token::Socket {
                sock_type,
                lport,
                laddr,
                rport,
                raddr,
            } => {
                s.laddr.0.push_v4(laddr);
                s.raddr.0.push_v4(raddr);
                (None, Some(*sock_type), Some(*lport), Some(*rport))
            }
            Token::SocketEx {
                domain,
                sock_type,
                lport,
                laddr,
                rport,
                raddr,
            } => {
                s.laddr.0.push_addr(laddr);
                s.raddr.0.push_addr(raddr);
                (Some(*domain), Some(*sock_type), Some(*lport), Some(*rport))
            }
            Token::SockInet { family, port, addr } => {
                s.laddr.0.push_v4(addr);
                s.raddr.0.push_empty();
                (Some(*family), None, Some(*port), None)
            }
            Token::SockInet6 { family, port, addr } => {
                s.laddr.0.push_addr(&Addr::V6(*addr));
                s.raddr.0.push_empty();
                (Some(*family), None, Some(*port), None)
            }
            Token::SockUnix { family, path } => {
                s.laddr.0.push_text(path);
                s.raddr.0.push_empty();
                (Some(*family), None, None, None)
            }
            _ => {
                s.laddr.0.push_empty();
                s.raddr.0.push_empty();
                (None, None, None, None)
            }
        };
        s.laddr.1.push(true);
        s.raddr.1.push(rport.is_some());
        opt16(&mut s.family, family);
        opt16(&mut s.sock_type, sock_type);
        opt16(&mut s.lport, lport);
        opt16(&mut s.rport, rport);
    }

    /// Close the batch: the projection's columns, in its order.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.catch_up_all();
        // Each group's validity is built once and shared (an Arc) by its columns.
        let groups = Groups {
            subject: self.subject_valid.finish(),
            ret: self.return_valid.finish(),
            header: self.header_valid.finish(),
            error: self.error.g.valid.finish(),
            success: None,
        };
        // Read before `return_status` is moved into its own column.
        let groups = Groups {
            success: self
                .cols
                .contains(&Col::Success)
                .then(|| success_array(&self.return_status, groups.ret.clone())),
            ..groups
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len());
        for c in self.cols.clone() {
            arrays.push(self.finish_col(c, &groups)?);
        }
        RecordBatch::try_new(self.schema.clone(), arrays)
    }

    fn finish_col(&mut self, c: Col, g: &Groups) -> Result<ArrayRef, ArrowError> {
        let (subject, ret, header, error) = (
            g.subject.clone(),
            g.ret.clone(),
            g.header.clone(),
            g.error.clone(),
        );
        let idx = |c: Col| c.idx() - Col::Auid.idx();
        Ok(match c {
            Col::Source => dict_array(&mut self.source, None, &self.sources)?,
            Col::RecordOffset => prim::<UInt64Type>(&mut self.offset, None),
            Col::Size => prim::<UInt32Type>(&mut self.size, None),
            Col::HeaderType => dict_array(&mut self.header_type, None, header_dictionary())?,
            Col::Version => prim::<UInt8Type>(&mut self.version, header),
            Col::Event => prim::<UInt16Type>(&mut self.event, header),
            Col::Modifier => prim::<UInt16Type>(&mut self.modifier, header),
            Col::Time => {
                let nulls = self.time_valid.finish();
                let a = arrow_array::PrimitiveArray::<TimestampMillisecondType>::new(
                    std::mem::take(&mut self.time).into(),
                    nulls,
                );
                Arc::new(a.with_data_type(schema::timestamp()))
            }
            Col::Host => {
                let h = &mut self.host.g;
                let nulls = h.valid.finish();
                h.values.utf8(nulls)?
            }
            Col::SubjectType => dict_array(&mut self.subject_type, subject, subject_dictionary())?,
            Col::Auid | Col::Euid | Col::Egid | Col::Ruid | Col::Rgid | Col::Pid | Col::Sid => {
                let v = self.subject.ids.get_mut(idx(c));
                match v {
                    Some(v) if c == Col::Auid => {
                        let nulls = unset_auid(v, subject);
                        prim::<UInt32Type>(v, nulls)
                    }
                    Some(v) => prim::<UInt32Type>(v, subject),
                    None => return Err(ArrowError::SchemaError("subject id".into())),
                }
            }
            Col::TidPort => prim::<UInt64Type>(&mut self.subject.port, subject),
            Col::TidAddr => self.subject.addr.utf8(subject)?,
            Col::ReturnStatus => prim::<UInt8Type>(&mut self.return_status, ret),
            Col::ReturnValue => prim::<Int64Type>(&mut self.return_value, ret),
            Col::Success => match g.success.clone() {
                Some(a) => a,
                None => return Err(ArrowError::SchemaError("success".into())),
            },
            Col::ReturnErrno => {
                let nulls = self.errno_valid.finish();
                dict_array(&mut self.errno, nulls, &errno::dictionary())?
            }
            Col::Paths => self.paths.finish()?,
            Col::Texts => self.texts.finish()?,
            Col::ExecArgs => self.exec_args.g.finish()?,
            Col::ExecEnv => self.exec_env.g.finish()?,
            Col::Args => {
                let a = &mut self.args;
                let desc = match &mut a.desc {
                    Some(d) => d.utf8(None)?,
                    None => return Err(ArrowError::SchemaError("args".into())),
                };
                let values = strukt(
                    schema::args_fields(),
                    vec![
                        prim::<UInt8Type>(&mut a.num, None),
                        prim::<UInt64Type>(&mut a.value, None),
                        desc,
                    ],
                )?;
                let item = list_field(DataType::Struct(schema::args_fields()));
                self.args_offsets.list(item, values, None)?
            }
            Col::Attrs => {
                let a = &mut self.attrs;
                let mut v: Vec<ArrayRef> = a
                    .u32s
                    .iter_mut()
                    .map(|x| prim::<UInt32Type>(x, None))
                    .collect();
                v.push(prim::<UInt64Type>(&mut a.nodeid, None));
                v.push(prim::<UInt64Type>(&mut a.device, None));
                let values = strukt(schema::attrs_fields(), v)?;
                let item = list_field(DataType::Struct(schema::attrs_fields()));
                self.attrs_offsets.list(item, values, None)?
            }
            Col::Sockets => {
                let s = &mut self.sockets;
                let p = |c: &mut (Vec<u16>, Valid)| {
                    let n = c.1.finish();
                    prim::<UInt16Type>(&mut c.0, n)
                };
                let v = vec![
                    s.kind.utf8(None)?,
                    p(&mut s.family),
                    p(&mut s.sock_type),
                    p(&mut s.lport),
                    {
                        let n = s.laddr.1.finish();
                        s.laddr.0.utf8(n)?
                    },
                    p(&mut s.rport),
                    {
                        let n = s.raddr.1.finish();
                        s.raddr.0.utf8(n)?
                    },
                ];
                let values = strukt(schema::sockets_fields(), v)?;
                let item = list_field(DataType::Struct(schema::sockets_fields()));
                self.sockets_offsets.list(item, values, None)?
            }
            Col::Processes => {
                let mut v = vec![self.process_type.utf8(None)?];
                v.extend(self.processes.arrays(&None)?);
                let values = strukt(schema::processes_fields(), v)?;
                let item = list_field(DataType::Struct(schema::processes_fields()));
                self.processes_offsets.list(item, values, None)?
            }
            Col::Identity => {
                let d = &mut self.identity.g;
                let nulls = d.valid.finish();
                let v = vec![
                    prim::<UInt32Type>(&mut d.signer_type, None),
                    d.signing_id.utf8(None)?,
                    bools(&mut d.signing_id_truncated),
                    d.team_id.utf8(None)?,
                    bools(&mut d.team_id_truncated),
                    d.cdhash.binary(None)?,
                ];
                Arc::new(StructArray::try_new(schema::identity_fields(), v, nulls)?)
            }
            Col::Groups => {
                let g = &mut self.groups.g;
                let values = prim::<UInt32Type>(&mut g.values, None);
                let nulls = g.valid.finish();
                g.offsets
                    .list(list_field(DataType::UInt32), values, nulls)?
            }
            Col::Seq => {
                let g = &mut self.seq.g;
                let nulls = g.valid.finish();
                prim::<UInt32Type>(&mut g.values, nulls)
            }
            Col::Zone => {
                let g = &mut self.zone.g;
                let nulls = g.valid.finish();
                g.values.utf8(nulls)?
            }
            Col::OtherTokens => {
                let o = &mut self.other;
                let values = strukt(
                    schema::other_fields(),
                    vec![
                        o.ty.utf8(None)?,
                        prim::<UInt8Type>(&mut o.id, None),
                        prim::<UInt64Type>(&mut o.offset, None),
                        o.data.binary(None)?,
                    ],
                )?;
                let item = list_field(DataType::Struct(schema::other_fields()));
                self.other_offsets.list(item, values, None)?
            }
            Col::Error => dict_array(&mut self.error.g.key, error, &reason_dictionary())?,
            Col::ErrorOffset => prim::<UInt64Type>(&mut self.error.g.offset, error),
        })
    }
}
