//! Decoded tokens as Python dicts. Every field is named; integers are as stored (unsigned),
//! addresses are text (dotted quad, or glibc-style IPv6), byte strings become `str`.
//!
//! Strings: BSM strings are bytes with no declared encoding and attackers control them, so
//! they are decoded as UTF-8 with `surrogateescape` (lossless: `s.encode("utf-8",
//! "surrogateescape")` gives the bytes back) after dropping one trailing NUL, the C
//! terminator the writers add. Opaque data, arbitrary data and cdhashes stay `bytes`.

use crate::inet;
use crate::tokens::{canonical_name, data_values, uuid_string, Addr, StrList, Subject, Tok, Token};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

pub(crate) fn cstr<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let b = b.strip_suffix(b"\0").unwrap_or(b);
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        Err(_) => PyBytes::new(py, b).call_method1("decode", ("utf-8", "surrogateescape")),
    }
}

fn addr(a: &Addr) -> String {
    inet::addr_string(a)
}

fn str_list<'py>(py: Python<'py>, l: &StrList<'_>) -> PyResult<Bound<'py, PyList>> {
    let items = l
        .iter()
        .map(|s| cstr(py, s))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

fn subject(d: &Bound<'_, PyDict>, s: &Subject) -> PyResult<()> {
    d.set_item("auid", s.auid)?;
    d.set_item("euid", s.euid)?;
    d.set_item("egid", s.egid)?;
    d.set_item("ruid", s.ruid)?;
    d.set_item("rgid", s.rgid)?;
    d.set_item("pid", s.pid)?;
    d.set_item("sid", s.sid)?;
    d.set_item("port", s.port)?;
    d.set_item("addr", addr(&s.addr))
}

/// One token as a dict with `type` (bsmtrail's canonical name), `id`, `offset` (absolute)
/// and its fields.
pub(crate) fn token_dict<'py>(
    py: Python<'py>,
    t: &Tok<'_>,
    record_offset: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("type", canonical_name(t.id))?;
    d.set_item("id", t.id)?;
    d.set_item("offset", record_offset + t.offset)?;
    match &t.token {
        Token::Header(h) => {
            d.set_item("size", h.count)?;
            d.set_item("version", h.version)?;
            d.set_item("event", h.event)?;
            d.set_item("modifier", h.modifier)?;
            if let Some(a) = &h.host {
                match a {
                    Addr::Other(ty) => {
                        d.set_item("host", py.None())?;
                        d.set_item("host_type", *ty)?;
                    }
                    _ => d.set_item("host", addr(a))?,
                }
            }
            d.set_item("seconds", h.seconds)?;
            d.set_item("msec", h.msec)?;
        }
        Token::Trailer { magic, count } => {
            d.set_item("magic", *magic)?;
            d.set_item("size", *count)?;
        }
        Token::File {
            seconds,
            msec,
            name,
        } => {
            d.set_item("seconds", *seconds)?;
            d.set_item("msec", *msec)?;
            d.set_item("name", cstr(py, name)?)?;
        }
        Token::Data {
            print,
            unit,
            count,
            data,
        } => {
            d.set_item("print_format", *print)?;
            d.set_item("unit", *unit)?;
            d.set_item("count", *count)?;
            d.set_item("data", PyBytes::new(py, data))?;
            d.set_item("values", data_values(*unit, data).collect::<Vec<u64>>())?;
        }
        Token::Ipc { kind, id } => {
            d.set_item("ipc_type", *kind)?;
            d.set_item("ipc_id", *id)?;
        }
        Token::Path(p) => d.set_item("path", cstr(py, p)?)?,
        Token::Text(s) => d.set_item("text", cstr(py, s)?)?,
        Token::Zone(s) => d.set_item("zone", cstr(py, s)?)?,
        Token::Opaque(b) => d.set_item("data", PyBytes::new(py, b))?,
        Token::Subject(s) | Token::Process(s) => subject(&d, s)?,
        Token::Return { status, value } => {
            d.set_item("status", *status)?;
            d.set_item("value", *value)?;
        }
        Token::Exit { status, value } => {
            d.set_item("status", *status)?;
            d.set_item("value", *value)?;
        }
        Token::InAddr(a) => d.set_item("addr", addr(&Addr::V4(*a)))?,
        Token::InAddrEx(a) => d.set_item("addr", addr(a))?,
        Token::Ip(h) => {
            let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
            d.set_item("version_ihl", h[0])?;
            d.set_item("tos", h[1])?;
            d.set_item("length", be16(2))?;
            d.set_item("ip_id", be16(4))?;
            d.set_item("frag_offset", be16(6))?;
            d.set_item("ttl", h[8])?;
            d.set_item("protocol", h[9])?;
            d.set_item("checksum", be16(10))?;
            d.set_item("src", addr(&Addr::V4([h[12], h[13], h[14], h[15]])))?;
            d.set_item("dst", addr(&Addr::V4([h[16], h[17], h[18], h[19]])))?;
        }
        Token::IpPort(p) => d.set_item("port", *p)?,
        Token::Arg { num, value, desc } => {
            d.set_item("num", *num)?;
            d.set_item("value", *value)?;
            d.set_item("desc", cstr(py, desc)?)?;
        }
        Token::Socket {
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            d.set_item("sock_type", *sock_type)?;
            d.set_item("lport", *lport)?;
            d.set_item("laddr", addr(&Addr::V4(*laddr)))?;
            d.set_item("rport", *rport)?;
            d.set_item("raddr", addr(&Addr::V4(*raddr)))?;
        }
        Token::SocketEx {
            domain,
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            d.set_item("domain", *domain)?;
            d.set_item("sock_type", *sock_type)?;
            d.set_item("lport", *lport)?;
            d.set_item("laddr", addr(laddr))?;
            d.set_item("rport", *rport)?;
            d.set_item("raddr", addr(raddr))?;
        }
        Token::SockInet {
            family,
            port,
            addr: a,
        } => {
            d.set_item("family", *family)?;
            d.set_item("port", *port)?;
            d.set_item("addr", addr(&Addr::V4(*a)))?;
        }
        Token::SockInet6 {
            family,
            port,
            addr: a,
        } => {
            d.set_item("family", *family)?;
            d.set_item("port", *port)?;
            d.set_item("addr", addr(&Addr::V6(*a)))?;
        }
        Token::SockUnix { family, path } => {
            d.set_item("family", *family)?;
            d.set_item("path", cstr(py, path)?)?;
        }
        Token::Seq(s) => d.set_item("seq", *s)?,
        Token::IpcPerm {
            uid,
            gid,
            cuid,
            cgid,
            mode,
            seq,
            key,
        } => {
            d.set_item("uid", *uid)?;
            d.set_item("gid", *gid)?;
            d.set_item("cuid", *cuid)?;
            d.set_item("cgid", *cgid)?;
            d.set_item("mode", *mode)?;
            d.set_item("seq", *seq)?;
            d.set_item("key", *key)?;
        }
        Token::Privilege { set, privs } => {
            d.set_item("set", cstr(py, set)?)?;
            d.set_item("privs", cstr(py, privs)?)?;
        }
        Token::UsePrivilege { success, name } => {
            d.set_item("success", *success != 0)?;
            d.set_item("name", cstr(py, name)?)?;
        }
        Token::Groups(g) => {
            d.set_item("gids", g.iter().collect::<Vec<u32>>())?;
        }
        Token::ExecArgs(l) => d.set_item("args", str_list(py, l)?)?,
        Token::ExecEnv(l) => d.set_item("env", str_list(py, l)?)?,
        Token::Krb5Principal(l) => d.set_item("principals", str_list(py, l)?)?,
        Token::CertHash(l) => d.set_item("hashes", str_list(py, l)?)?,
        Token::Attr {
            mode,
            uid,
            gid,
            fsid,
            nodeid,
            device,
        } => {
            d.set_item("mode", *mode)?;
            d.set_item("uid", *uid)?;
            d.set_item("gid", *gid)?;
            d.set_item("fsid", *fsid)?;
            d.set_item("nodeid", *nodeid)?;
            d.set_item("device", *device)?;
        }
        Token::ArgUuid { num, uuid, desc } | Token::RetUuid { num, uuid, desc } => {
            d.set_item("num", *num)?;
            d.set_item("uuid", uuid_string(uuid))?;
            d.set_item("desc", cstr(py, desc)?)?;
        }
        Token::Identity(i) => {
            d.set_item("signer_type", i.signer_type)?;
            d.set_item("signing_id", cstr(py, i.signing_id)?)?;
            d.set_item("signing_id_truncated", i.signing_id_truncated != 0)?;
            d.set_item("team_id", cstr(py, i.team_id)?)?;
            d.set_item("team_id_truncated", i.team_id_truncated != 0)?;
            d.set_item("cdhash", PyBytes::new(py, i.cdhash))?;
        }
        Token::Unknown(b) => d.set_item("data", PyBytes::new(py, b))?,
    }
    Ok(d)
}
