//! The records view: one row per record, built straight from borrowed tokens.
//!
//! Routing is fixed, whatever the projection: the first subject, return, exec_args,
//! exec_env, identity, groups, seq and zonename tokens fill their scalar columns; every
//! path, text, arg, attr, socket and process token goes to its list column; the header and
//! the final trailer are the row itself; and every other token (a second subject, exit,
//! ipc, opaque, ...) goes to `other_tokens` with its bytes, so that no token is lost. A
//! record that fails validation keeps what decoded before the failure, and its undecoded
//! rest is one `other_tokens` entry of type `invalid`.

use super::builders::{dictionary, finish_struct, Bin, Bool, Column, Dict, ListCol, Prim, Str};
use super::schema::{self, Col, NCOL};
use super::walk::walk;
use super::{errno, reason_dictionary, reason_key};
use crate::error::DecodeError;
use crate::inet;
use crate::tokens::{self, canonical_name, ids, Addr, DecodeOptions, Subject, Tok, Token};
use arrow_array::types::{
    Int64Type, TimestampMillisecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::NullBufferBuilder;
use arrow_schema::{ArrowError, DataType, SchemaRef};
use std::sync::OnceLock;

/// Python's `datetime` range (years 1..=9999) in ms since the epoch: `time` is null
/// outside it, exactly where `Record.time` is None.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

/// The record's time in ms since the epoch, or None when out of range. 32-bit headers hold
/// unsigned seconds; 64-bit ones are read as signed (§1.2).
pub fn time_ms(id: u8, seconds: u64, msec: u64) -> Option<i64> {
    let secs = if matches!(id, ids::HEADER64 | ids::HEADER64_EX) {
        seconds as i64
    } else {
        (seconds & 0xffff_ffff) as i64
    };
    let ms = secs
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

fn header_dictionary() -> ArrayRef {
    static D: OnceLock<ArrayRef> = OnceLock::new();
    D.get_or_init(|| dictionary(&["header32", "header32_ex", "header64", "header64_ex"]))
        .clone()
}

fn subject_key(id: u8) -> i32 {
    match id {
        ids::SUBJECT32 => 0,
        ids::SUBJECT32_EX => 1,
        ids::SUBJECT64 => 2,
        _ => 3,
    }
}

fn subject_dictionary() -> ArrayRef {
    static D: OnceLock<ArrayRef> = OnceLock::new();
    D.get_or_init(|| dictionary(&["subject32", "subject32_ex", "subject64", "subject64_ex"]))
        .clone()
}

/// Address text, glibc `inet_ntop` style (`inet.rs`).
fn addr_text<'b>(a: &Addr, buf: &'b mut Vec<u8>) -> &'b str {
    buf.clear();
    // Writing to a Vec cannot fail, and inet_ntop text is ASCII.
    let _ = inet::write_addr(buf, a);
    std::str::from_utf8(buf).unwrap_or("invalid")
}

struct Args {
    num: Prim<UInt8Type>,
    value: Prim<UInt64Type>,
    desc: Str,
}

impl Column for Args {
    fn len(&self) -> usize {
        self.num.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        finish_struct(
            schema::args_fields(),
            vec![&mut self.num, &mut self.value, &mut self.desc],
            None,
        )
    }
}

struct Attrs {
    u32s: [Prim<UInt32Type>; 4],
    nodeid: Prim<UInt64Type>,
    device: Prim<UInt64Type>,
}

impl Column for Attrs {
    fn len(&self) -> usize {
        self.nodeid.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let [a, b, c, d] = &mut self.u32s;
        finish_struct(
            schema::attrs_fields(),
            vec![a, b, c, d, &mut self.nodeid, &mut self.device],
            None,
        )
    }
}

struct Sockets {
    kind: Str,
    family: Prim<UInt16Type>,
    sock_type: Prim<UInt16Type>,
    lport: Prim<UInt16Type>,
    laddr: Str,
    rport: Prim<UInt16Type>,
    raddr: Str,
}

impl Column for Sockets {
    fn len(&self) -> usize {
        self.kind.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        finish_struct(
            schema::sockets_fields(),
            vec![
                &mut self.kind,
                &mut self.family,
                &mut self.sock_type,
                &mut self.lport,
                &mut self.laddr,
                &mut self.rport,
                &mut self.raddr,
            ],
            None,
        )
    }
}

/// The seven ids and the terminal (subject columns, and the process struct's children).
struct Ids {
    ids: [Prim<UInt32Type>; 7],
    port: Prim<UInt64Type>,
    addr: Str,
}

impl Ids {
    fn new() -> Self {
        Ids {
            ids: std::array::from_fn(|_| Prim::new()),
            port: Prim::new(),
            addr: Str::new(),
        }
    }

    fn push(&mut self, s: &Subject, buf: &mut Vec<u8>) {
        let v = [s.auid, s.euid, s.egid, s.ruid, s.rgid, s.pid, s.sid];
        for (b, x) in self.ids.iter_mut().zip(v) {
            b.push(x);
        }
        self.port.push(s.port);
        self.addr.push(addr_text(&s.addr, buf));
    }

    fn null(&mut self) {
        for b in &mut self.ids {
            b.null();
        }
        self.port.null();
        self.addr.null();
    }
}

struct Processes {
    ty: Str,
    ids: Ids,
}

impl Column for Processes {
    fn len(&self) -> usize {
        self.ty.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let [a, b, c, d, e, f, g] = &mut self.ids.ids;
        finish_struct(
            schema::processes_fields(),
            vec![
                &mut self.ty,
                a,
                b,
                c,
                d,
                e,
                f,
                g,
                &mut self.ids.port,
                &mut self.ids.addr,
            ],
            None,
        )
    }
}

struct Identity {
    signer_type: Prim<UInt32Type>,
    signing_id: Str,
    signing_id_truncated: Bool,
    team_id: Str,
    team_id_truncated: Bool,
    cdhash: Bin,
    nulls: NullBufferBuilder,
}

impl Identity {
    fn null(&mut self) {
        self.signer_type.push(0);
        self.signing_id.push("");
        self.signing_id_truncated.push(false);
        self.team_id.push("");
        self.team_id_truncated.push(false);
        self.cdhash.push(b"");
        self.nulls.append_null();
    }
}

impl Column for Identity {
    fn len(&self) -> usize {
        self.nulls.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let nulls = self.nulls.finish();
        finish_struct(
            schema::identity_fields(),
            vec![
                &mut self.signer_type,
                &mut self.signing_id,
                &mut self.signing_id_truncated,
                &mut self.team_id,
                &mut self.team_id_truncated,
                &mut self.cdhash,
            ],
            nulls,
        )
    }
}

pub(crate) struct Other {
    ty: Str,
    id: Prim<UInt8Type>,
    offset: Prim<UInt64Type>,
    data: Bin,
}

impl Column for Other {
    fn len(&self) -> usize {
        self.id.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        finish_struct(
            schema::other_fields(),
            vec![&mut self.ty, &mut self.id, &mut self.offset, &mut self.data],
            None,
        )
    }
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

/// Builds record batches of the records view for one projection.
pub struct RecordsBuilder {
    cols: Vec<Col>,
    on: [bool; NCOL],
    /// Walk every token (validation, or a token column was asked for).
    walk: bool,
    schema: SchemaRef,
    rows: usize,
    source: Dict,
    offset: Prim<UInt64Type>,
    size: Prim<UInt32Type>,
    header_type: Dict,
    version: Prim<UInt8Type>,
    event: Prim<UInt16Type>,
    modifier: Prim<UInt16Type>,
    time: Prim<TimestampMillisecondType>,
    host: Str,
    subject_type: Dict,
    subject: Ids,
    return_status: Prim<UInt8Type>,
    return_value: Prim<Int64Type>,
    return_errno: Dict,
    paths: ListCol<Str>,
    texts: ListCol<Str>,
    exec_args: ListCol<Str>,
    exec_env: ListCol<Str>,
    args: ListCol<Args>,
    attrs: ListCol<Attrs>,
    sockets: ListCol<Sockets>,
    processes: ListCol<Processes>,
    identity: Identity,
    groups: ListCol<Prim<UInt32Type>>,
    seq: Prim<UInt32Type>,
    zone: Str,
    other: ListCol<Other>,
    error: Dict,
    error_offset: Prim<UInt64Type>,
    scratch: String,
    buf: Vec<u8>,
}

fn str_list() -> ListCol<Str> {
    ListCol::new(Str::new(), schema::item(DataType::Utf8, false))
}

fn struct_list<C: Column>(child: C, fields: arrow_schema::Fields) -> ListCol<C> {
    ListCol::new(child, schema::item(DataType::Struct(fields), false))
}

impl RecordsBuilder {
    /// `validate`: walk and check every token even when no column needs them (so `error`
    /// is always filled). Without it a header-only projection reads just the header.
    pub fn new(cols: &[Col], sources: ArrayRef, schema: SchemaRef, validate: bool) -> Self {
        let mut on = [false; NCOL];
        for c in cols {
            on[c.idx()] = true;
        }
        let walk = validate || cols.iter().any(|c| !c.header_only());
        RecordsBuilder {
            cols: cols.to_vec(),
            on,
            walk,
            schema,
            rows: 0,
            source: Dict::new(sources),
            offset: Prim::new(),
            size: Prim::new(),
            header_type: Dict::new(header_dictionary()),
            version: Prim::new(),
            event: Prim::new(),
            modifier: Prim::new(),
            time: Prim::typed(schema::timestamp()),
            host: Str::new(),
            subject_type: Dict::new(subject_dictionary()),
            subject: Ids::new(),
            return_status: Prim::new(),
            return_value: Prim::new(),
            return_errno: Dict::new(errno::dictionary()),
            paths: str_list(),
            texts: str_list(),
            exec_args: str_list(),
            exec_env: str_list(),
            args: struct_list(
                Args {
                    num: Prim::new(),
                    value: Prim::new(),
                    desc: Str::new(),
                },
                schema::args_fields(),
            ),
            attrs: struct_list(
                Attrs {
                    u32s: std::array::from_fn(|_| Prim::new()),
                    nodeid: Prim::new(),
                    device: Prim::new(),
                },
                schema::attrs_fields(),
            ),
            sockets: struct_list(
                Sockets {
                    kind: Str::new(),
                    family: Prim::new(),
                    sock_type: Prim::new(),
                    lport: Prim::new(),
                    laddr: Str::new(),
                    rport: Prim::new(),
                    raddr: Str::new(),
                },
                schema::sockets_fields(),
            ),
            processes: struct_list(
                Processes {
                    ty: Str::new(),
                    ids: Ids::new(),
                },
                schema::processes_fields(),
            ),
            identity: Identity {
                signer_type: Prim::new(),
                signing_id: Str::new(),
                signing_id_truncated: Bool::new(),
                team_id: Str::new(),
                team_id_truncated: Bool::new(),
                cdhash: Bin::new(),
                nulls: NullBufferBuilder::new(0),
            },
            groups: ListCol::new(Prim::new(), schema::item(DataType::UInt32, false)),
            seq: Prim::new(),
            zone: Str::new(),
            other: struct_list(
                Other {
                    ty: Str::new(),
                    id: Prim::new(),
                    offset: Prim::new(),
                    data: Bin::new(),
                },
                schema::other_fields(),
            ),
            error: Dict::new(reason_dictionary()),
            error_offset: Prim::new(),
            scratch: String::new(),
            buf: Vec::with_capacity(64),
        }
    }

    #[inline]
    fn on(&self, c: Col) -> bool {
        self.on[c.idx()]
    }

    /// Append the record `rec`, found at `offset` of source `source`. Returns the
    /// validation error, if any (the row is written either way).
    pub fn append(&mut self, rec: &[u8], offset: u64, source: i32) -> Option<DecodeError> {
        self.rows += 1;
        let id = rec.first().copied().unwrap_or(0);
        self.source.push(source);
        self.offset.push(offset);
        // A record's length is its header's u32 count.
        self.size.push(u32::try_from(rec.len()).unwrap_or(u32::MAX));
        self.header_type.push(header_key(id));
        let mut seen = Seen::default();
        let mut err = None;
        if self.walk {
            let w = walk(rec, |t| self.token(t, rec, offset, &mut seen));
            if let Some(fault) = w.error {
                let rest = rec.get(w.end..).unwrap_or(&[]);
                if !rest.is_empty() {
                    self.other_entry("invalid", rest[0], offset + w.end as u64, rest);
                }
                err = Some(fault.at(offset));
            }
        } else if let Ok(t) = tokens::decode(rec, 0, DecodeOptions::FULL) {
            self.token(&t, rec, offset, &mut seen);
        }
        self.close_row(&seen, err.as_ref());
        err
    }

    fn close_row(&mut self, seen: &Seen, err: Option<&DecodeError>) {
        if !seen.header {
            self.version.null();
            self.event.null();
            self.modifier.null();
            self.time.null();
            self.host.null();
        }
        if !seen.subject {
            self.subject_type.null();
            self.subject.null();
        }
        if !seen.ret {
            self.return_status.null();
            self.return_value.null();
            self.return_errno.null();
        }
        if !seen.identity {
            self.identity.null();
        }
        if !seen.seq {
            self.seq.null();
        }
        if !seen.zone {
            self.zone.null();
        }
        self.paths.close(true);
        self.texts.close(true);
        self.exec_args.close(seen.exec_args);
        self.exec_env.close(seen.exec_env);
        self.args.close(true);
        self.attrs.close(true);
        self.sockets.close(true);
        self.processes.close(true);
        self.groups.close(seen.groups);
        self.other.close(true);
        match err {
            Some(e) => {
                self.error.push(reason_key(&e.kind));
                self.error_offset.push(e.offset);
            }
            None => {
                self.error.null();
                self.error_offset.null();
            }
        }
    }

    fn other_entry(&mut self, ty: &str, id: u8, offset: u64, data: &[u8]) {
        if self.on(Col::OtherTokens) {
            let o = &mut self.other.child;
            o.ty.push(ty);
            o.id.push(id);
            o.offset.push(offset);
            o.data.push(data);
        }
    }

    fn token(&mut self, t: &Tok<'_>, rec: &[u8], rec_offset: u64, seen: &mut Seen) {
        match &t.token {
            Token::Header(h) if t.offset == 0 => {
                seen.header = true;
                self.version.push(h.version);
                self.event.push(h.event);
                self.modifier.push(h.modifier);
                if self.on(Col::Time) {
                    self.time.opt(time_ms(t.id, h.seconds, h.msec));
                } else {
                    self.time.null();
                }
                match (&h.host, self.on(Col::Host)) {
                    (Some(a @ (Addr::V4(_) | Addr::V6(_))), true) => {
                        self.host.push(addr_text(a, &mut self.buf))
                    }
                    _ => self.host.null(),
                }
            }
            Token::Trailer { .. } => {}
            Token::Subject(s) if !seen.subject => {
                seen.subject = true;
                self.subject_type.push(subject_key(t.id));
                self.subject.push(s, &mut self.buf);
            }
            Token::Return { status, value } if !seen.ret => {
                seen.ret = true;
                self.return_status.push(*status);
                let v = if t.id == ids::RETURN64 {
                    *value as i64
                } else {
                    (*value & 0xffff_ffff) as i64
                };
                self.return_value.push(v);
                if *status == 0 {
                    self.return_errno.null();
                } else {
                    self.return_errno.push(i32::from(*status));
                }
            }
            Token::Path(p) => {
                if self.on(Col::Paths) {
                    self.paths.child.push_bytes(p, &mut self.scratch);
                }
            }
            Token::Text(p) => {
                if self.on(Col::Texts) {
                    self.texts.child.push_bytes(p, &mut self.scratch);
                }
            }
            Token::ExecArgs(l) if !seen.exec_args => {
                seen.exec_args = true;
                if self.on(Col::ExecArgs) {
                    for s in l.iter() {
                        self.exec_args.child.push_bytes(s, &mut self.scratch);
                    }
                }
            }
            Token::ExecEnv(l) if !seen.exec_env => {
                seen.exec_env = true;
                if self.on(Col::ExecEnv) {
                    for s in l.iter() {
                        self.exec_env.child.push_bytes(s, &mut self.scratch);
                    }
                }
            }
            Token::Arg { num, value, desc } => {
                if self.on(Col::Args) {
                    let a = &mut self.args.child;
                    a.num.push(*num);
                    a.value.push(*value);
                    a.desc.push_bytes(desc, &mut self.scratch);
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
                if self.on(Col::Attrs) {
                    let a = &mut self.attrs.child;
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
                if self.on(Col::Sockets) {
                    self.socket(t);
                }
            }
            Token::Process(s) => {
                if self.on(Col::Processes) {
                    let p = &mut self.processes.child;
                    p.ty.push(canonical_name(t.id));
                    p.ids.push(s, &mut self.buf);
                }
            }
            Token::Identity(i) if !seen.identity => {
                seen.identity = true;
                let d = &mut self.identity;
                d.signer_type.push(i.signer_type);
                d.signing_id.push_bytes(i.signing_id, &mut self.scratch);
                d.signing_id_truncated.push(i.signing_id_truncated != 0);
                d.team_id.push_bytes(i.team_id, &mut self.scratch);
                d.team_id_truncated.push(i.team_id_truncated != 0);
                d.cdhash.push(i.cdhash);
                d.nulls.append_non_null();
            }
            Token::Groups(g) if !seen.groups => {
                seen.groups = true;
                if self.on(Col::Groups) {
                    for gid in g.iter() {
                        self.groups.child.push(gid);
                    }
                }
            }
            Token::Seq(s) if !seen.seq => {
                seen.seq = true;
                self.seq.push(*s);
            }
            Token::Zone(z) if !seen.zone => {
                seen.zone = true;
                self.zone.push_bytes(z, &mut self.scratch);
            }
            _ => {
                let data = rec.get(t.offset..t.offset + t.len).unwrap_or(&[]);
                self.other_entry(
                    canonical_name(t.id),
                    t.id,
                    rec_offset + t.offset as u64,
                    data,
                );
            }
        }
    }

    fn socket(&mut self, t: &Tok<'_>) {
        let s = &mut self.sockets.child;
        s.kind.push(canonical_name(t.id));
        let buf = &mut self.buf;
        match &t.token {
            Token::Socket {
                sock_type,
                lport,
                laddr,
                rport,
                raddr,
            } => {
                s.family.null();
                s.sock_type.push(*sock_type);
                s.lport.push(*lport);
                s.laddr.push(addr_text(&Addr::V4(*laddr), buf));
                s.rport.push(*rport);
                s.raddr.push(addr_text(&Addr::V4(*raddr), buf));
            }
            Token::SocketEx {
                domain,
                sock_type,
                lport,
                laddr,
                rport,
                raddr,
            } => {
                s.family.push(*domain);
                s.sock_type.push(*sock_type);
                s.lport.push(*lport);
                s.laddr.push(addr_text(laddr, buf));
                s.rport.push(*rport);
                s.raddr.push(addr_text(raddr, buf));
            }
            Token::SockInet { family, port, addr } => {
                s.family.push(*family);
                s.sock_type.null();
                s.lport.push(*port);
                s.laddr.push(addr_text(&Addr::V4(*addr), buf));
                s.rport.null();
                s.raddr.null();
            }
            Token::SockInet6 { family, port, addr } => {
                s.family.push(*family);
                s.sock_type.null();
                s.lport.push(*port);
                s.laddr.push(addr_text(&Addr::V6(*addr), buf));
                s.rport.null();
                s.raddr.null();
            }
            Token::SockUnix { family, path } => {
                s.family.push(*family);
                s.sock_type.null();
                s.lport.null();
                s.laddr.push_bytes(path, &mut self.scratch);
                s.rport.null();
                s.raddr.null();
            }
            _ => {}
        }
    }

    /// Close the batch: the projection's columns, in its order.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len());
        let cols = self.cols.clone();
        // Build every column (keeps the builders in step), then keep the projection's.
        let mut built: [Option<ArrayRef>; NCOL] = std::array::from_fn(|_| None);
        for c in Col::ALL {
            built[c.idx()] = Some(self.finish_col(*c)?);
        }
        for c in cols {
            if let Some(a) = built[c.idx()].take() {
                arrays.push(a);
            }
        }
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }

    fn finish_col(&mut self, c: Col) -> Result<ArrayRef, ArrowError> {
        let [auid, euid, egid, ruid, rgid, pid, sid] = &mut self.subject.ids;
        match c {
            Col::Source => self.source.finish(),
            Col::Offset => self.offset.finish(),
            Col::Size => self.size.finish(),
            Col::HeaderType => self.header_type.finish(),
            Col::Version => self.version.finish(),
            Col::Event => self.event.finish(),
            Col::Modifier => self.modifier.finish(),
            Col::Time => self.time.finish(),
            Col::Host => self.host.finish(),
            Col::SubjectType => self.subject_type.finish(),
            Col::Auid => auid.finish(),
            Col::Euid => euid.finish(),
            Col::Egid => egid.finish(),
            Col::Ruid => ruid.finish(),
            Col::Rgid => rgid.finish(),
            Col::Pid => pid.finish(),
            Col::Sid => sid.finish(),
            Col::TidPort => self.subject.port.finish(),
            Col::TidAddr => self.subject.addr.finish(),
            Col::ReturnStatus => self.return_status.finish(),
            Col::ReturnValue => self.return_value.finish(),
            Col::ReturnErrno => self.return_errno.finish(),
            Col::Paths => self.paths.finish(),
            Col::Texts => self.texts.finish(),
            Col::ExecArgs => self.exec_args.finish(),
            Col::ExecEnv => self.exec_env.finish(),
            Col::Args => self.args.finish(),
            Col::Attrs => self.attrs.finish(),
            Col::Sockets => self.sockets.finish(),
            Col::Processes => self.processes.finish(),
            Col::Identity => self.identity.finish(),
            Col::Groups => self.groups.finish(),
            Col::Seq => self.seq.finish(),
            Col::Zone => self.zone.finish(),
            Col::OtherTokens => self.other.finish(),
            Col::Error => self.error.finish(),
            Col::ErrorOffset => self.error_offset.finish(),
        }
    }
}
