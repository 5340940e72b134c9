//! Writing BSM from Python: token dicts (exactly the schema `convert.rs` produces) become
//! token bytes, lists of them become records, and any mix of records, raw bytes and dict
//! lists becomes a trail, in one call that iterates in Rust.
//!
//! Strings follow `convert.rs` in reverse. A `str` is encoded as UTF-8 with
//! `surrogateescape` (so every decoded string gives its bytes back) and, for the counted
//! string fields the decoder strips one NUL from, gets libbsm's NUL appended. A `bytes` value
//! is written verbatim. String lists (exec args, env, krb5 principals, cert hashes) and the
//! socket-unix path get the NUL their layout requires, whatever the type.
//!
//! Errors become `bsmtrail.writer.EncodeError` (a `ValueError`) at the edge, carrying a
//! stable `reason`, the record index, the token index and the field name.

use super::reader::Record;
use crate::framing::{Check, Framer, SpanKind, TRAILER_MAGIC};
use crate::tokens::Token;
use crate::tokens::{
    canonical_name, ids, walk_valid, Addr, DecodeOptions, Identity, Subject, MAX_GROUPS,
};
use crate::writer::encode::{self, EncodeError};
use crate::writer::generate;
use crate::writer::record::{HeaderKind, RecordBuilder, VERSION_OPENBSM};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString, PyTuple};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Output is handed to the Python file object in pieces of this size.
const FLUSH_AT: usize = 1 << 20;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Why something cannot be written. `reason` is a stable snake_case code.
#[derive(Debug)]
struct WriteError {
    reason: &'static str,
    message: String,
    field: Option<&'static str>,
    token: Option<usize>,
    record: Option<usize>,
}

impl WriteError {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        WriteError {
            reason,
            message: message.into(),
            field: None,
            token: None,
            record: None,
        }
    }

    fn field(reason: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        WriteError {
            field: Some(field),
            ..WriteError::new(reason, message)
        }
    }

    fn in_token(mut self, index: usize) -> Self {
        self.token.get_or_insert(index);
        self
    }

    fn in_record(mut self, index: usize) -> Self {
        self.record.get_or_insert(index);
        self
    }

    /// The message with where it happened in front.
    fn full_message(&self) -> String {
        let mut at = Vec::new();
        if let Some(r) = self.record {
            at.push(format!("record {r}"));
        }
        if let Some(t) = self.token {
            at.push(format!("token {t}"));
        }
        if at.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", at.join(", "), self.message)
        }
    }
}

impl From<EncodeError> for WriteError {
    fn from(e: EncodeError) -> Self {
        WriteError::new(e.code(), e.to_string())
    }
}

/// A Python exception met while reading a field (a failing `__index__`, an unencodable
/// string); kept as a `WriteError` so it gets the record and token indexes.
fn py_failure(field: &'static str, e: &PyErr, py: Python<'_>) -> WriteError {
    WriteError::field(
        "bad_field",
        field,
        format!("field {field:?}: {}", e.value(py)),
    )
}

static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn to_pyerr(py: Python<'_>, e: &WriteError) -> PyErr {
    let made = FACTORY
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("bsmtrail.writer")?
                    .getattr("_encode_error")?
                    .unbind(),
            )
        })
        .and_then(|f| {
            f.bind(py)
                .call1((e.full_message(), e.reason, e.record, e.token, e.field))
        });
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => PyRuntimeError::new_err(format!(
            "{} (and the error class failed: {err})",
            e.full_message()
        )),
    }
}

type WResult<T> = Result<T, WriteError>;

// ---------------------------------------------------------------------------------------
// Reading fields out of a token dict
// ---------------------------------------------------------------------------------------

/// One token dict and its canonical type name, for field access with good messages.
struct Fields<'a, 'py> {
    d: &'a Bound<'py, PyDict>,
    ty: &'static str,
}

/// Bytes of a `bytes`, `bytearray` or `memoryview`, or `None` for other types.
fn bytes_like(v: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Ok(Some(b.to_vec()));
    }
    if v.is_instance_of::<PyMemoryView>() {
        let copy = v.py().import("builtins")?.getattr("bytes")?.call1((v,))?;
        return Ok(Some(copy.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    Ok(None)
}

/// A `str` as UTF-8 bytes, lone surrogates from `surrogateescape` turned back into bytes.
fn str_bytes(s: &Bound<'_, PyString>) -> PyResult<Vec<u8>> {
    match s.to_str() {
        Ok(t) => Ok(t.as_bytes().to_vec()),
        Err(_) => {
            let b = s.call_method1("encode", ("utf-8", "surrogateescape"))?;
            Ok(b.cast::<PyBytes>()?.as_bytes().to_vec())
        }
    }
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

impl<'py> Fields<'_, 'py> {
    fn py(&self) -> Python<'py> {
        self.d.py()
    }

    fn get(&self, key: &'static str) -> WResult<Option<Bound<'py, PyAny>>> {
        match self.d.get_item(key) {
            Ok(Some(v)) if v.is_none() => Ok(None),
            Ok(v) => Ok(v),
            Err(e) => Err(py_failure(key, &e, self.py())),
        }
    }

    fn req(&self, key: &'static str) -> WResult<Bound<'py, PyAny>> {
        self.get(key)?.ok_or_else(|| {
            WriteError::field(
                "missing_field",
                key,
                format!("{} token needs field {key:?}", self.ty),
            )
        })
    }

    fn bad(&self, key: &'static str, what: impl std::fmt::Display) -> WriteError {
        WriteError::field(
            "bad_field",
            key,
            format!("{} field {key:?}: {what}", self.ty),
        )
    }

    /// An integer of `bits` bits. Negative values down to -2^(bits-1) are stored in two's
    /// complement (so an auid of -1 is 0xffffffff, as praudit prints it back).
    fn int_of(&self, key: &'static str, v: &Bound<'py, PyAny>, bits: u32) -> WResult<u64> {
        let n: i128 = match v.extract::<i128>() {
            Ok(n) => n,
            Err(e) => {
                let kind = if v.is_instance_of::<pyo3::types::PyInt>() {
                    "is out of range".to_string()
                } else {
                    format!(
                        "must be an int, not {} ({})",
                        type_name(v),
                        e.value(self.py())
                    )
                };
                return Err(self.bad(key, kind));
            }
        };
        let max = (1i128 << bits) - 1;
        let min = -(1i128 << (bits - 1));
        if n < min || n > max {
            return Err(WriteError::field(
                "out_of_range",
                key,
                format!(
                    "{} field {key:?}: {n} does not fit {bits} bits ({min}..={max})",
                    self.ty
                ),
            ));
        }
        Ok((n & max) as u64)
    }

    fn int(&self, key: &'static str, bits: u32) -> WResult<u64> {
        let v = self.req(key)?;
        self.int_of(key, &v, bits)
    }

    fn int_or(&self, key: &'static str, bits: u32, default: u64) -> WResult<u64> {
        match self.get(key)? {
            Some(v) => self.int_of(key, &v, bits),
            None => Ok(default),
        }
    }

    fn u8(&self, key: &'static str) -> WResult<u8> {
        self.int(key, 8).map(|v| v as u8)
    }
    fn u16(&self, key: &'static str) -> WResult<u16> {
        self.int(key, 16).map(|v| v as u16)
    }
    fn u32(&self, key: &'static str) -> WResult<u32> {
        self.int(key, 32).map(|v| v as u32)
    }
    fn u64(&self, key: &'static str) -> WResult<u64> {
        self.int(key, 64)
    }

    /// A counted string field: `str` gets libbsm's NUL, `bytes` is verbatim.
    fn cstring(&self, key: &'static str) -> WResult<Vec<u8>> {
        let v = self.req(key)?;
        if let Ok(s) = v.cast::<PyString>() {
            let mut b = str_bytes(s).map_err(|e| py_failure(key, &e, self.py()))?;
            b.push(0);
            return Ok(b);
        }
        match bytes_like(&v).map_err(|e| py_failure(key, &e, self.py()))? {
            Some(b) => Ok(b),
            None => Err(self.bad(key, format!("must be str or bytes, not {}", type_name(&v)))),
        }
    }

    /// A string whose NUL (if any) the layout supplies: `str` or `bytes`, as is.
    fn plain_of(&self, key: &'static str, v: &Bound<'py, PyAny>) -> WResult<Vec<u8>> {
        if let Ok(s) = v.cast::<PyString>() {
            return str_bytes(s).map_err(|e| py_failure(key, &e, self.py()));
        }
        match bytes_like(v).map_err(|e| py_failure(key, &e, self.py()))? {
            Some(b) => Ok(b),
            None => Err(self.bad(key, format!("must be str or bytes, not {}", type_name(v)))),
        }
    }

    fn plain(&self, key: &'static str) -> WResult<Vec<u8>> {
        let v = self.req(key)?;
        self.plain_of(key, &v)
    }

    /// Raw bytes (opaque data, arbitrary data, cdhash): `bytes`-like only.
    fn raw(&self, key: &'static str) -> WResult<Vec<u8>> {
        let v = self.req(key)?;
        match bytes_like(&v).map_err(|e| py_failure(key, &e, self.py()))? {
            Some(b) => Ok(b),
            None => Err(self.bad(key, format!("must be bytes, not {}", type_name(&v)))),
        }
    }

    fn list(&self, key: &'static str) -> WResult<Vec<Bound<'py, PyAny>>> {
        let v = self.req(key)?;
        if v.is_instance_of::<PyString>()
            || v.is_instance_of::<PyBytes>()
            || v.is_instance_of::<PyByteArray>()
        {
            return Err(self.bad(key, "must be a list, not a single string"));
        }
        let it = v
            .try_iter()
            .map_err(|_| self.bad(key, format!("must be a list, not {}", type_name(&v))))?;
        it.map(|x| x.map_err(|e| py_failure(key, &e, self.py())))
            .collect()
    }

    /// A list of strings, each written with the NUL the layout requires.
    fn str_list(&self, key: &'static str) -> WResult<Vec<Vec<u8>>> {
        self.list(key)?
            .iter()
            .map(|x| self.plain_of(key, x))
            .collect()
    }

    fn addr_of(&self, key: &'static str, v: &Bound<'py, PyAny>) -> WResult<Addr> {
        let bytes = if let Ok(s) = v.cast::<PyString>() {
            let text = s.to_str().map_err(|e| py_failure(key, &e, self.py()))?;
            return if text.contains(':') {
                text.parse::<Ipv6Addr>()
                    .map(|a| Addr::V6(a.octets()))
                    .map_err(|_| self.bad(key, format!("{text:?} is not an IPv6 address")))
            } else {
                text.parse::<Ipv4Addr>()
                    .map(|a| Addr::V4(a.octets()))
                    .map_err(|_| self.bad(key, format!("{text:?} is not an IPv4 address")))
            };
        } else if let Some(b) = bytes_like(v).map_err(|e| py_failure(key, &e, self.py()))? {
            b
        } else if let Ok(p) = v.getattr("packed") {
            // ipaddress.IPv4Address / IPv6Address
            bytes_like(&p)
                .map_err(|e| py_failure(key, &e, self.py()))?
                .unwrap_or_default()
        } else {
            return Err(self.bad(
                key,
                format!(
                    "must be an address (str, 4 or 16 bytes, ipaddress), not {}",
                    type_name(v)
                ),
            ));
        };
        match bytes.len() {
            4 => Ok(Addr::V4([bytes[0], bytes[1], bytes[2], bytes[3]])),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&bytes);
                Ok(Addr::V6(a))
            }
            n => Err(self.bad(key, format!("an address has 4 or 16 bytes, not {n}"))),
        }
    }

    fn addr(&self, key: &'static str) -> WResult<Addr> {
        let v = self.req(key)?;
        self.addr_of(key, &v)
    }

    fn v4(&self, key: &'static str) -> WResult<[u8; 4]> {
        match self.addr(key)? {
            Addr::V4(a) => Ok(a),
            _ => Err(WriteError::field(
                "address",
                key,
                format!(
                    "{} field {key:?}: this token holds an IPv4 address only",
                    self.ty
                ),
            )),
        }
    }

    fn v6(&self, key: &'static str) -> WResult<[u8; 16]> {
        match self.addr(key)? {
            Addr::V6(a) => Ok(a),
            _ => Err(WriteError::field(
                "address",
                key,
                format!(
                    "{} field {key:?}: this token holds an IPv6 address only",
                    self.ty
                ),
            )),
        }
    }

    fn uuid(&self, key: &'static str) -> WResult<[u8; 16]> {
        let v = self.req(key)?;
        let bytes = if let Ok(s) = v.cast::<PyString>() {
            let text = s.to_str().map_err(|e| py_failure(key, &e, self.py()))?;
            let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
            let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            let parsed: Option<Vec<u8>> = (hex.len() == 32)
                .then(|| {
                    hex.chunks_exact(2)
                        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
                        .collect()
                })
                .flatten();
            parsed.ok_or_else(|| self.bad(key, format!("{text:?} is not a UUID")))?
        } else if let Some(b) = bytes_like(&v).map_err(|e| py_failure(key, &e, self.py()))? {
            b
        } else if let Ok(b) = v.getattr("bytes") {
            // uuid.UUID
            bytes_like(&b)
                .map_err(|e| py_failure(key, &e, self.py()))?
                .unwrap_or_default()
        } else {
            return Err(self.bad(key, format!("must be a UUID, not {}", type_name(&v))));
        };
        <[u8; 16]>::try_from(bytes.as_slice())
            .map_err(|_| self.bad(key, format!("a UUID has 16 bytes, not {}", bytes.len())))
    }

    fn subject(&self) -> WResult<Subject> {
        Ok(Subject {
            auid: self.u32("auid")?,
            euid: self.u32("euid")?,
            egid: self.u32("egid")?,
            ruid: self.u32("ruid")?,
            rgid: self.u32("rgid")?,
            pid: self.u32("pid")?,
            sid: self.u32("sid")?,
            port: self.u64("port")?,
            addr: self.addr("addr")?,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Token dicts to bytes
// ---------------------------------------------------------------------------------------

/// The id a dict names with `type` and/or `id` (they must agree when both are given).
fn token_id(d: &Bound<'_, PyDict>) -> WResult<u8> {
    let py = d.py();
    let ty = d
        .get_item("type")
        .map_err(|e| py_failure("type", &e, py))?
        .filter(|v| !v.is_none());
    let id = d
        .get_item("id")
        .map_err(|e| py_failure("id", &e, py))?
        .filter(|v| !v.is_none());
    let by_id = match id {
        Some(v) => match v.extract::<u8>() {
            Ok(i) if ids::DECODED.contains(&i) => Some(i),
            _ => {
                return Err(WriteError::field(
                    "unknown_type",
                    "id",
                    format!("id {v} is not a token bsmtrail can write"),
                ))
            }
        },
        None => None,
    };
    let by_type = match ty {
        Some(v) => {
            let name: String = v.extract().map_err(|_| {
                WriteError::field(
                    "bad_field",
                    "type",
                    format!("field \"type\" must be a str, not {}", type_name(&v)),
                )
            })?;
            match ids::DECODED
                .iter()
                .copied()
                .find(|&i| canonical_name(i) == name)
            {
                Some(i) => Some(i),
                None => {
                    return Err(WriteError::field(
                        "unknown_type",
                        "type",
                        format!("unknown token type {name:?} (see bsmtrail.token_ids())"),
                    ))
                }
            }
        }
        None => None,
    };
    match (by_type, by_id) {
        (Some(t), Some(i)) if t != i => Err(WriteError::field(
            "id_mismatch",
            "id",
            format!(
                "type {:?} has id 0x{t:02x}, but id is 0x{i:02x}",
                canonical_name(t)
            ),
        )),
        (Some(t), _) => Ok(t),
        (None, Some(i)) => Ok(i),
        (None, None) => Err(WriteError::field(
            "missing_field",
            "type",
            "a token dict needs \"type\" (or \"id\")",
        )),
    }
}

fn as_dict<'a, 'py>(item: &'a Bound<'py, PyAny>) -> WResult<&'a Bound<'py, PyDict>> {
    item.cast::<PyDict>().map_err(|_| {
        WriteError::new(
            "bad_item",
            format!("a token is a dict, not {}", type_name(item)),
        )
    })
}

fn header_kind(f: &Fields<'_, '_>, id: u8) -> WResult<HeaderKind> {
    let host = match id {
        ids::HEADER32_EX | ids::HEADER64_EX => Some(match f.get("host")? {
            Some(v) => f.addr_of("host", &v)?,
            None => match f.get("host_type")? {
                Some(t) => match f.int_of("host_type", &t, 32)? as u32 {
                    4 | 16 => {
                        return Err(f.bad(
                            "host_type",
                            "types 4 and 16 need a host address; give \"host\"",
                        ))
                    }
                    t => Addr::Other(t),
                },
                None => {
                    return Err(WriteError::field(
                        "missing_field",
                        "host",
                        format!("{} token needs field \"host\"", f.ty),
                    ))
                }
            },
        }),
        _ => {
            if f.get("host")?.is_some() {
                return Err(f.bad(
                    "host",
                    "only header32_ex and header64_ex carry a host address",
                ));
            }
            None
        }
    };
    Ok(match (id, host) {
        (ids::HEADER32_EX, Some(a)) => HeaderKind::Header32Ex(a),
        (ids::HEADER64_EX, Some(a)) => HeaderKind::Header64Ex(a),
        (ids::HEADER64, _) => HeaderKind::Header64,
        _ => HeaderKind::Header32,
    })
}

/// A record's header from its dict (the count is always computed).
fn record_builder(f: &Fields<'_, '_>, id: u8) -> WResult<RecordBuilder> {
    let kind = header_kind(f, id)?;
    let wide = matches!(id, ids::HEADER64 | ids::HEADER64_EX);
    let bits = if wide { 64 } else { 32 };
    let mut b = RecordBuilder::new(
        kind,
        f.u16("event")?,
        f.int_or("modifier", 16, 0)? as u16,
        f.int("seconds", bits)?,
        f.int_or("msec", bits, 0)?,
    );
    b.version(f.int_or("version", 8, u64::from(VERSION_OPENBSM))? as u8);
    Ok(b)
}

/// Append the body token `id` described by `f`.
fn body_token(f: &Fields<'_, '_>, id: u8, out: &mut Vec<u8>) -> WResult<()> {
    match id {
        ids::OTHER_FILE32 => encode::file(
            out,
            f.u32("seconds")?,
            f.int_or("msec", 32, 0)? as u32,
            &f.cstring("name")?,
        )?,
        ids::DATA => data_token(f, out)?,
        ids::IPC => encode::ipc(out, f.u8("ipc_type")?, f.u32("ipc_id")?),
        ids::PATH => encode::path(out, &f.cstring("path")?)?,
        ids::TEXT => encode::text(out, &f.cstring("text")?)?,
        ids::ZONENAME => encode::zone(out, &f.cstring("zone")?)?,
        ids::OPAQUE => encode::opaque(out, &f.raw("data")?)?,
        ids::SUBJECT32 | ids::SUBJECT64 | ids::SUBJECT32_EX | ids::SUBJECT64_EX => {
            let s = f.subject()?;
            encode::encode(&Token::Subject(s), id, out).map_err(|e| terminal_error(f, e))?
        }
        ids::PROCESS32 | ids::PROCESS64 | ids::PROCESS32_EX | ids::PROCESS64_EX => {
            let s = f.subject()?;
            encode::encode(&Token::Process(s), id, out).map_err(|e| terminal_error(f, e))?
        }
        ids::RETURN32 => encode::return32(out, f.u8("status")?, f.u32("value")?),
        ids::RETURN64 => encode::return64(out, f.u8("status")?, f.u64("value")?),
        ids::EXIT => encode::exit(out, f.u32("status")?, f.u32("value")?),
        ids::IN_ADDR => encode::in_addr(out, f.v4("addr")?),
        ids::IN_ADDR_EX => encode::in_addr_ex(out, &f.addr("addr")?)?,
        ids::IP => encode::ip(out, &ip_header(f)?),
        ids::IPORT => encode::iport(out, f.u16("port")?),
        ids::ARG32 => encode::arg32(out, f.u8("num")?, f.u32("value")?, &f.cstring("desc")?)?,
        ids::ARG64 => encode::arg64(out, f.u8("num")?, f.u64("value")?, &f.cstring("desc")?)?,
        ids::SOCKET => encode::socket(
            out,
            f.u16("sock_type")?,
            f.u16("lport")?,
            f.v4("laddr")?,
            f.u16("rport")?,
            f.v4("raddr")?,
        ),
        ids::SOCKET_EX => {
            let (laddr, raddr) = (f.addr("laddr")?, f.addr("raddr")?);
            encode::socket_ex(
                out,
                f.u16("domain")?,
                f.u16("sock_type")?,
                (f.u16("lport")?, &laddr),
                (f.u16("rport")?, &raddr),
            )
            .map_err(|e| match e {
                EncodeError::Address { .. } => WriteError::field(
                    "address",
                    "raddr",
                    "socket_ex: laddr and raddr must be of one family (both IPv4 or both IPv6)",
                ),
                e => e.into(),
            })?
        }
        ids::SOCKINET32 => {
            encode::sock_inet32(out, f.u16("family")?, f.u16("port")?, f.v4("addr")?)
        }
        ids::SOCKINET128 => {
            encode::sock_inet128(out, f.u16("family")?, f.u16("port")?, f.v6("addr")?)
        }
        ids::SOCKUNIX => encode::sock_unix(out, f.u16("family")?, &f.plain("path")?)?,
        ids::SEQ => encode::seq(out, f.u32("seq")?),
        ids::IPC_PERM => encode::ipc_perm(
            out,
            f.u32("uid")?,
            f.u32("gid")?,
            f.u32("cuid")?,
            f.u32("cgid")?,
            f.u32("mode")?,
            f.u32("seq")?,
            f.u32("key")?,
        ),
        ids::PRIV => encode::privset(out, &f.cstring("set")?, &f.cstring("privs")?)?,
        ids::UPRIV => encode::upriv(out, f.u8("success")?, &f.cstring("name")?)?,
        ids::NEWGROUPS => {
            let gids = f
                .list("gids")?
                .iter()
                .map(|g| f.int_of("gids", g, 32).map(|v| v as u32))
                .collect::<WResult<Vec<u32>>>()?;
            if gids.len() > usize::from(MAX_GROUPS) {
                return Err(WriteError::field(
                    "too_long",
                    "gids",
                    format!(
                        "groups token of {} gids: readers take at most {MAX_GROUPS} (AUDIT_MAX_GROUPS)",
                        gids.len()
                    ),
                ));
            }
            encode::groups(out, &gids)?
        }
        ids::EXEC_ARGS => {
            encode::exec_args(out, f.str_list("args")?).map_err(list_error("args"))?
        }
        ids::EXEC_ENV => encode::exec_env(out, f.str_list("env")?).map_err(list_error("env"))?,
        ids::KRB5_PRINCIPAL => encode::krb5_principal(out, f.str_list("principals")?)
            .map_err(list_error("principals"))?,
        ids::CERT_HASH => {
            encode::cert_hash(out, f.str_list("hashes")?).map_err(list_error("hashes"))?
        }
        ids::ATTR32 => encode::attr32(
            out,
            f.u32("mode")?,
            f.u32("uid")?,
            f.u32("gid")?,
            f.u32("fsid")?,
            f.u64("nodeid")?,
            f.u32("device")?,
        ),
        ids::ATTR64 => encode::attr64(
            out,
            f.u32("mode")?,
            f.u32("uid")?,
            f.u32("gid")?,
            f.u32("fsid")?,
            f.u64("nodeid")?,
            f.u64("device")?,
        ),
        ids::ARG_UUID => {
            encode::arg_uuid(out, f.u8("num")?, &f.uuid("uuid")?, &f.cstring("desc")?)?
        }
        ids::RETURN_UUID => {
            encode::ret_uuid(out, f.u8("num")?, &f.uuid("uuid")?, &f.cstring("desc")?)?
        }
        ids::IDENTITY => {
            let signing_id = f.cstring("signing_id")?;
            let team_id = f.cstring("team_id")?;
            let cdhash = f.raw("cdhash")?;
            encode::identity(
                out,
                &Identity {
                    signer_type: f.u32("signer_type")?,
                    signing_id: &signing_id,
                    signing_id_truncated: f.int_or("signing_id_truncated", 8, 0)? as u8,
                    team_id: &team_id,
                    team_id_truncated: f.int_or("team_id_truncated", 8, 0)? as u8,
                    cdhash: &cdhash,
                },
            )?
        }
        ids::HEADER32 | ids::HEADER32_EX | ids::HEADER64 | ids::HEADER64_EX => {
            return Err(WriteError::new(
                "misplaced_header",
                format!("a {} token can only start a record", f.ty),
            ))
        }
        ids::TRAILER => {
            return Err(WriteError::new(
                "misplaced_trailer",
                "a trailer token can only end a record",
            ))
        }
        other => {
            return Err(WriteError::new(
                "unknown_type",
                format!("token id 0x{other:02x} cannot be written"),
            ))
        }
    }
    Ok(())
}

fn list_error(field: &'static str) -> impl Fn(EncodeError) -> WriteError {
    move |e| match e {
        EncodeError::StrList { .. } => WriteError::field(
            "str_list",
            field,
            format!("{field}: a string of this list holds a NUL byte"),
        ),
        e => e.into(),
    }
}

fn terminal_error(f: &Fields<'_, '_>, e: EncodeError) -> WriteError {
    match e {
        EncodeError::Address { .. } => WriteError::field(
            "address",
            "addr",
            format!(
                "{}: only the _ex subject and process tokens hold an IPv6 terminal address",
                f.ty
            ),
        ),
        EncodeError::OutOfRange { .. } => WriteError::field(
            "out_of_range",
            "port",
            format!(
                "{}: the terminal port does not fit 32 bits (use a 64-bit variant)",
                f.ty
            ),
        ),
        e => e.into(),
    }
}

/// Arbitrary data from `data` (the item bytes) or `values` (little-endian units, §4.6); when
/// both are given they must agree.
fn data_token(f: &Fields<'_, '_>, out: &mut Vec<u8>) -> WResult<()> {
    let print = f.u8("print_format")?;
    let unit = f.u8("unit")?;
    let size: usize = match unit {
        0 => 1,
        1 => 2,
        2 => 4,
        3 => 8,
        u => return Err(EncodeError::BadDataUnit(u).into()),
    };
    let from_values = match f.get("values")? {
        Some(_) => {
            let vals = f
                .list("values")?
                .iter()
                .map(|v| f.int_of("values", v, 8 * size as u32))
                .collect::<WResult<Vec<u64>>>()?;
            Some(encode::data_units_le(unit, &vals)?)
        }
        None => None,
    };
    let items = match (f.get("data")?, from_values) {
        (Some(_), v) => {
            let d = f.raw("data")?;
            if v.as_ref().is_some_and(|v| *v != d) {
                return Err(f.bad("values", "values and data disagree"));
            }
            d
        }
        (None, Some(v)) => v,
        (None, None) => {
            return Err(WriteError::field(
                "missing_field",
                "data",
                "arbitrary token needs field \"data\" or \"values\"",
            ))
        }
    };
    let units = items.len() / size;
    let count = match f.get("count")? {
        Some(c) => f.int_of("count", &c, 8)? as u8,
        None => u8::try_from(units).map_err(|_| {
            WriteError::field(
                "too_long",
                "data",
                format!("arbitrary data of {units} units: at most 255 fit"),
            )
        })?,
    };
    encode::data(out, print, unit, count, &items)?;
    Ok(())
}

/// The 20-byte IPv4 header of an ip token from its named fields.
fn ip_header(f: &Fields<'_, '_>) -> WResult<[u8; 20]> {
    let mut h = [0u8; 20];
    h[0] = f.u8("version_ihl")?;
    h[1] = f.u8("tos")?;
    h[2..4].copy_from_slice(&f.u16("length")?.to_be_bytes());
    h[4..6].copy_from_slice(&f.u16("ip_id")?.to_be_bytes());
    h[6..8].copy_from_slice(&f.u16("frag_offset")?.to_be_bytes());
    h[8] = f.u8("ttl")?;
    h[9] = f.u8("protocol")?;
    h[10..12].copy_from_slice(&f.u16("checksum")?.to_be_bytes());
    h[12..16].copy_from_slice(&f.v4("src")?);
    h[16..20].copy_from_slice(&f.v4("dst")?);
    Ok(h)
}

/// One token dict, alone. Header and trailer counts come from `size` (default 0) and the
/// trailer magic from `magic` (default 0xb105), since a lone token has no record.
fn token_bytes(d: &Bound<'_, PyDict>, out: &mut Vec<u8>) -> WResult<()> {
    let id = token_id(d)?;
    let f = Fields {
        d,
        ty: canonical_name(id),
    };
    match id {
        ids::HEADER32 | ids::HEADER32_EX | ids::HEADER64 | ids::HEADER64_EX => {
            let b = record_builder(&f, id)?;
            let rec = b.finish()?;
            // The header is the record minus the 7-byte trailer; patch in the given count.
            let hlen = rec.len() - 7;
            out.extend_from_slice(&rec[..hlen]);
            let at = out.len() - hlen + 1;
            let size = f.int_or("size", 32, 0)? as u32;
            out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
        ids::TRAILER => encode::trailer_with_magic(
            out,
            f.int_or("magic", 16, u64::from(TRAILER_MAGIC))? as u16,
            f.int_or("size", 32, 0)? as u32,
        ),
        _ => body_token(&f, id, out)?,
    }
    Ok(())
}

/// A whole record from token dicts: a header dict first, an optional trailer dict last
/// (its fields are ignored: the writer always computes the counts).
fn record_bytes(tokens: &Bound<'_, PyAny>, body: &mut Vec<u8>, out: &mut Vec<u8>) -> WResult<()> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = tokens.cast::<PyList>() {
        l.iter().collect()
    } else if let Ok(t) = tokens.cast::<PyTuple>() {
        t.iter().collect()
    } else {
        return Err(WriteError::new(
            "bad_item",
            format!(
                "a record is a list of token dicts, not {}",
                type_name(tokens)
            ),
        ));
    };
    let Some(first) = items.first() else {
        return Err(WriteError::new(
            "missing_header",
            "a record needs at least a header token",
        ));
    };
    let hd = as_dict(first).map_err(|e| e.in_token(0))?;
    let hid = token_id(hd).map_err(|e| e.in_token(0))?;
    if !ids::is_header(hid) {
        return Err(WriteError::new(
            "missing_header",
            format!(
                "a record starts with a header token, not {}",
                canonical_name(hid)
            ),
        )
        .in_token(0));
    }
    let hf = Fields {
        d: hd,
        ty: canonical_name(hid),
    };
    let mut builder = record_builder(&hf, hid).map_err(|e| e.in_token(0))?;
    body.clear();
    let last = items.len() - 1;
    for (i, item) in items.iter().enumerate().skip(1) {
        let mut step = || -> WResult<()> {
            let d = as_dict(item)?;
            let id = token_id(d)?;
            if id == ids::TRAILER && i == last {
                return Ok(());
            }
            let f = Fields {
                d,
                ty: canonical_name(id),
            };
            body_token(&f, id, body)
        };
        step().map_err(|e| e.in_token(i))?;
    }
    builder.raw(body);
    let start = out.len();
    builder.write_into(out)?;
    // A safety net: what we write must read back (for example, tokens that the decoder
    // would read differently from how they were meant).
    if let Err(fault) = walk_valid(&out[start..], DecodeOptions::FULL, |_| {}) {
        out.truncate(start);
        return Err(WriteError::new(
            "unreadable",
            format!("the record would not read back: {}", fault.at(0)),
        ));
    }
    Ok(())
}

/// Raw bytes must be whole records and standalone file tokens that frame strictly.
/// Returns (records, file tokens).
fn check_raw(data: &[u8]) -> WResult<(u64, u64)> {
    if data.is_empty() {
        return Err(WriteError::new("bad_record_bytes", "empty record bytes"));
    }
    let (mut records, mut files) = (0, 0);
    for span in Framer::new(data, Check::Trailer) {
        match span {
            Ok(s) if s.kind == SpanKind::File => files += 1,
            Ok(_) => records += 1,
            Err(e) => {
                return Err(WriteError::new(
                    "bad_record_bytes",
                    format!("bytes are not whole, well-framed records: {e}"),
                ))
            }
        }
    }
    Ok((records, files))
}

// ---------------------------------------------------------------------------------------
// Python functions
// ---------------------------------------------------------------------------------------

/// Encode one token dict (see the module docs for the schema and string rules).
#[pyfunction]
fn encode_token<'py>(py: Python<'py>, token: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    as_dict(token)
        .and_then(|d| token_bytes(d, &mut out))
        .map_err(|e| to_pyerr(py, &e))?;
    Ok(PyBytes::new(py, &out))
}

/// Encode one record from token dicts: header first, optional trailer last, byte counts
/// computed. The result is checked to read back.
#[pyfunction]
fn encode_record<'py>(
    py: Python<'py>,
    tokens: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    record_bytes(tokens, &mut Vec::new(), &mut out).map_err(|e| to_pyerr(py, &e))?;
    Ok(PyBytes::new(py, &out))
}

/// Output buffered in Rust and handed to a Python file object's `write` in large pieces.
struct Sink<'py> {
    write: Bound<'py, PyAny>,
    buf: Vec<u8>,
    total: u64,
}

impl<'py> Sink<'py> {
    fn flush(&mut self) -> PyResult<()> {
        let py = self.write.py();
        let mut done = 0;
        while done < self.buf.len() {
            let chunk = PyBytes::new(py, &self.buf[done..]);
            let n = self.write.call1((chunk,))?;
            // Raw files may write less than asked; buffered ones return the length or None.
            let n = if n.is_none() {
                self.buf.len() - done
            } else {
                n.extract::<usize>()?.min(self.buf.len() - done)
            };
            if n == 0 {
                return Err(PyOSError::new_err(
                    "write() wrote nothing; is the file non-blocking?",
                ));
            }
            done += n;
        }
        self.total += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn maybe_flush(&mut self) -> PyResult<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }
}

/// Write `records` to the binary file object `file`; see `bsmtrail.write_trail`.
/// Returns (records, standalone file tokens, bytes).
#[pyfunction]
fn write_records(
    py: Python<'_>,
    file: &Bound<'_, PyAny>,
    records: &Bound<'_, PyAny>,
) -> PyResult<(u64, u64, u64)> {
    let mut sink = Sink {
        write: file.getattr("write")?,
        buf: Vec::with_capacity(FLUSH_AT + (1 << 16)),
        total: 0,
    };
    let (mut nrec, mut nfile) = (0u64, 0u64);
    let mut body = Vec::new();
    for (i, item) in records.try_iter()?.enumerate() {
        let item = item?;
        let added = write_item(&item, &mut body, &mut sink.buf);
        match added {
            Ok((r, f)) => {
                nrec += r;
                nfile += f;
            }
            Err(Failure::Write(e)) => return Err(to_pyerr(py, &e.in_record(i))),
            Err(Failure::Py(e)) => return Err(e),
        }
        sink.maybe_flush()?;
    }
    sink.flush()?;
    Ok((nrec, nfile, sink.total))
}

enum Failure {
    Write(WriteError),
    Py(PyErr),
}

impl From<WriteError> for Failure {
    fn from(e: WriteError) -> Self {
        Failure::Write(e)
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Py(e)
    }
}

/// Append one item of `write_records`; returns the records and file tokens it added.
fn write_item(
    item: &Bound<'_, PyAny>,
    body: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(u64, u64), Failure> {
    if item.is_instance_of::<Record>() {
        // Validated when it was read: copy as is.
        let raw = item.getattr("raw")?;
        out.extend_from_slice(raw.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes());
        return Ok((1, 0));
    }
    if let Some(b) = bytes_like(item)? {
        let counts = check_raw(&b)?;
        out.extend_from_slice(&b);
        return Ok(counts);
    }
    if let Ok(d) = item.cast::<PyDict>() {
        let id = token_id(d)?;
        if id != ids::OTHER_FILE32 {
            return Err(WriteError::new(
                "bad_item",
                format!(
                    "a dict item must be a standalone file token, not {}; give a record as a \
                     list of token dicts",
                    canonical_name(id)
                ),
            )
            .into());
        }
        body_token(&Fields { d, ty: "file" }, id, out)?;
        return Ok((0, 1));
    }
    if item.is_instance_of::<PyList>() || item.is_instance_of::<PyTuple>() {
        record_bytes(item, body, out)?;
        return Ok((1, 0));
    }
    if let Ok(raw) = item.getattr("raw") {
        // An item that carries its own bytes (a FileToken read from a trail): checked to
        // frame like raw bytes, then copied as is.
        if let Some(b) = bytes_like(&raw)? {
            let counts = check_raw(&b)?;
            out.extend_from_slice(&b);
            return Ok(counts);
        }
    }
    if let Ok(build) = item.getattr("build") {
        let built = build.call0()?;
        return match bytes_like(&built)? {
            Some(b) => {
                let counts = check_raw(&b)?;
                out.extend_from_slice(&b);
                Ok(counts)
            }
            None => Err(WriteError::new("bad_item", "build() did not return bytes").into()),
        };
    }
    Err(WriteError::new(
        "bad_item",
        format!(
            "cannot write a {} as a record (give a Record, bytes, a RecordBuilder, a list of \
             token dicts, or a file token dict)",
            type_name(item)
        ),
    )
    .into())
}

/// Write a generated trail of at least `size_bytes` bytes for `seed` to `path` (see
/// `crate::writer::generate`), without the GIL. Returns (records, file tokens, bytes).
#[pyfunction]
#[pyo3(signature = (path, size_bytes, seed = 0))]
fn generate_trail(
    py: Python<'_>,
    path: PathBuf,
    size_bytes: u64,
    seed: u64,
) -> PyResult<(u64, u64, u64)> {
    let s = py.detach(|| generate::generate_file(&path, size_bytes, seed))?;
    Ok((s.records, s.file_tokens, s.bytes))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_trail, m)?)?;
    m.add("GENERATOR_VERSION", generate::VERSION)?;
    m.add_function(wrap_pyfunction!(encode_token, m)?)?;
    m.add_function(wrap_pyfunction!(encode_record, m)?)?;
    m.add_function(wrap_pyfunction!(write_records, m)?)?;
    Ok(())
}
