//! One encoder per BSM token: the libbsm `au_to_*` family, plus Apple's identity, krb5
//! principal and certificate hash tokens (§4, §7).
//!
//! Encoders append to a `Vec<u8>` and write fields exactly as given: they never add a NUL
//! to a counted string. libbsm's writers store `strlen + 1` bytes (the string and its NUL)
//! for text, path, zone, argument descriptions, file names and privilege strings; use
//! [`cstr`] to get those bytes. The only NULs an encoder writes are the ones that are part of
//! a layout with no length field: the terminators of exec args/env, krb5 principal and cert
//! hash strings (given without NULs to [`exec_args`] and friends) and of a socket-unix path
//! (see [`sock_unix`]).
//!
//! Every encoder either writes the whole token or, on error, nothing: a failed call leaves
//! `out` as it was. Nothing panics.
//!
//! [`encode`] writes any decoded [`Token`] back: `decode(encode(t, id)) == t`, with the same
//! length, for every token that the layout can hold.

use std::fmt;

use crate::framing::TRAILER_MAGIC;
use crate::tokens::{ids, Addr, Header, Identity, StrList, Subject, Token};

/// Why a token cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The id is not one that this kind of token is written with (for example
    /// `Token::Text` with id 0x23, or `Token::Unknown` with an id that has a decoder).
    IdMismatch { id: u8, token: &'static str },
    /// A byte string or list longer than its length or count field can describe.
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// A value too large for the 32-bit field of the chosen 32-bit variant.
    OutOfRange { field: &'static str, value: u64 },
    /// An address the layout cannot hold: `Addr::Other` anywhere but a header_ex, an IPv6
    /// address in a non-_ex subject or process, an _ex header missing its host (or a plain
    /// header with one), or socket_ex addresses of different families.
    Address { field: &'static str },
    /// An arbitrary-data unit type other than 0..=3 (§4.6).
    BadDataUnit(u8),
    /// Arbitrary data whose length is not count × unit size.
    DataLength { expected: usize, actual: usize },
    /// A string list whose bytes are not exactly `count` NUL-terminated strings, or a string
    /// given to a list encoder that holds a NUL.
    StrList { field: &'static str },
    /// A socket-unix path holding a NUL, or longer than the 108 bytes a reader searches.
    SockUnixPath { len: usize },
    /// A whole record longer than its u32 byte count can describe.
    RecordTooLarge { len: usize },
}

impl EncodeError {
    /// A stable snake_case identifier for the kind.
    pub fn code(&self) -> &'static str {
        match self {
            EncodeError::IdMismatch { .. } => "id_mismatch",
            EncodeError::TooLong { .. } => "too_long",
            EncodeError::OutOfRange { .. } => "out_of_range",
            EncodeError::Address { .. } => "address",
            EncodeError::BadDataUnit(_) => "bad_data_unit",
            EncodeError::DataLength { .. } => "data_length",
            EncodeError::StrList { .. } => "str_list",
            EncodeError::SockUnixPath { .. } => "sock_unix_path",
            EncodeError::RecordTooLarge { .. } => "record_too_large",
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::IdMismatch { id, token } => {
                write!(f, "token id 0x{id:02x} cannot carry a {token} token")
            }
            EncodeError::TooLong { field, len, max } => {
                write!(f, "{field} has {len} bytes or items, at most {max} fit")
            }
            EncodeError::OutOfRange { field, value } => {
                write!(f, "{field} value {value} does not fit the 32-bit field")
            }
            EncodeError::Address { field } => {
                write!(f, "{field}: address family not allowed by this token")
            }
            EncodeError::BadDataUnit(u) => write!(f, "arbitrary-data unit type {u} is not 0..3"),
            EncodeError::DataLength { expected, actual } => write!(
                f,
                "arbitrary data holds {actual} bytes, count x unit size is {expected}"
            ),
            EncodeError::StrList { field } => write!(
                f,
                "{field}: bytes are not exactly count NUL-terminated strings"
            ),
            EncodeError::SockUnixPath { len } => write!(
                f,
                "socket-unix path of {len} bytes holds a NUL or is longer than 108 bytes"
            ),
            EncodeError::RecordTooLarge { len } => {
                write!(f, "record of {len} bytes does not fit a u32 byte count")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

impl From<EncodeError> for std::io::Error {
    fn from(e: EncodeError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

type Result<T = ()> = std::result::Result<T, EncodeError>;

// ---------------------------------------------------------------------------------------
// Helpers for callers
// ---------------------------------------------------------------------------------------

/// `s` followed by a NUL: the bytes libbsm stores for a string field (`strlen + 1`).
pub fn cstr(s: impl AsRef<[u8]>) -> Vec<u8> {
    let s = s.as_ref();
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    v
}

/// The `raw` bytes of a [`StrList`] (exec args/env, krb5 principal, cert hash): each string
/// followed by its NUL. Returns the count and the bytes; build the token with
/// `StrList { count, raw: &raw }`. Fails if a string holds a NUL or there are more than
/// 2^32 − 1 strings.
pub fn nul_list<I>(strings: I) -> Result<(u32, Vec<u8>)>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut raw = Vec::new();
    let mut n: usize = 0;
    for s in strings {
        let s = s.as_ref();
        if memchr::memchr(0, s).is_some() {
            return Err(EncodeError::StrList { field: "string" });
        }
        raw.extend_from_slice(s);
        raw.push(0);
        n += 1;
    }
    let count = u32::try_from(n).map_err(|_| EncodeError::TooLong {
        field: "string list",
        len: n,
        max: u32::MAX as usize,
    })?;
    Ok((count, raw))
}

/// Items of an arbitrary-data token in the byte order praudit reads them in: little-endian
/// (§4.6). `unit` is the unit type (1 = short, 2 = int, 3 = int64); values are truncated to
/// the unit's width.
pub fn data_units_le(unit: u8, values: &[u64]) -> Result<Vec<u8>> {
    let size = unit_size(unit)?;
    let mut v = Vec::with_capacity(values.len().saturating_mul(size));
    for x in values {
        v.extend_from_slice(&x.to_le_bytes()[..size]);
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------

fn u16_be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u32_be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u64_be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn len16(field: &'static str, s: &[u8]) -> Result<u16> {
    u16::try_from(s.len()).map_err(|_| EncodeError::TooLong {
        field,
        len: s.len(),
        max: u16::MAX as usize,
    })
}

fn fit32(field: &'static str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| EncodeError::OutOfRange { field, value: v })
}

/// Size of an arbitrary-data unit (§4.6).
fn unit_size(unit: u8) -> Result<usize> {
    match unit {
        0 => Ok(1),
        1 => Ok(2),
        2 => Ok(4),
        3 => Ok(8),
        _ => Err(EncodeError::BadDataUnit(unit)),
    }
}

/// How many bytes a reader searches for a socket-unix path's NUL (`sizeof(sun_path)`, §4.22).
pub const SOCKUNIX_WINDOW: usize = 108;

/// Runs `f` and undoes its partial output if it fails.
fn atomic(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>) -> Result) -> Result {
    let start = out.len();
    let r = f(out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// An _ex address with a u32 type field (subject_ex, process_ex, in_addr_ex).
fn ex_addr(out: &mut Vec<u8>, field: &'static str, a: &Addr) -> Result {
    match a {
        Addr::V4(b) => {
            u32_be(out, 4);
            out.extend_from_slice(b);
        }
        Addr::V6(b) => {
            u32_be(out, 16);
            out.extend_from_slice(b);
        }
        Addr::Other(_) => return Err(EncodeError::Address { field }),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Headers, trailer, file
// ---------------------------------------------------------------------------------------

fn header_any(out: &mut Vec<u8>, id: u8, h: &Header) -> Result {
    let ex = matches!(id, ids::HEADER32_EX | ids::HEADER64_EX);
    let wide = matches!(id, ids::HEADER64 | ids::HEADER64_EX);
    // Type 4 or 16 with no address bytes would read back as an address.
    if ex != h.host.is_some() || matches!(h.host, Some(Addr::Other(4 | 16))) {
        return Err(EncodeError::Address {
            field: "header host",
        });
    }
    let times = if wide {
        None
    } else {
        Some((
            fit32("header seconds", h.seconds)?,
            fit32("header msec", h.msec)?,
        ))
    };
    out.push(id);
    u32_be(out, h.count);
    out.push(h.version);
    u16_be(out, h.event);
    u16_be(out, h.modifier);
    match h.host {
        Some(Addr::V4(a)) => {
            u32_be(out, 4);
            out.extend_from_slice(&a);
        }
        Some(Addr::V6(a)) => {
            u32_be(out, 16);
            out.extend_from_slice(&a);
        }
        // header_ex alone tolerates other types: no address bytes (§1.2).
        Some(Addr::Other(t)) => u32_be(out, t),
        None => {}
    }
    match times {
        Some((s, ms)) => {
            u32_be(out, s);
            u32_be(out, ms);
        }
        None => {
            u64_be(out, h.seconds);
            u64_be(out, h.msec);
        }
    }
    Ok(())
}

/// header32 (0x14): `h.host` must be `None`, seconds and msec must fit u32.
pub fn header32(out: &mut Vec<u8>, h: &Header) -> Result {
    header_any(out, ids::HEADER32, h)
}

/// header32_ex (0x15): `h.host` must be `Some`; `Addr::Other(t)` writes type t and no
/// address, as header_ex readers accept.
pub fn header32_ex(out: &mut Vec<u8>, h: &Header) -> Result {
    header_any(out, ids::HEADER32_EX, h)
}

/// header64 (0x74).
pub fn header64(out: &mut Vec<u8>, h: &Header) -> Result {
    header_any(out, ids::HEADER64, h)
}

/// header64_ex (0x79).
pub fn header64_ex(out: &mut Vec<u8>, h: &Header) -> Result {
    header_any(out, ids::HEADER64_EX, h)
}

/// Trailer (0x13) with the magic 0xb105 and the record's byte count.
pub fn trailer(out: &mut Vec<u8>, count: u32) {
    trailer_with_magic(out, TRAILER_MAGIC, count);
}

/// Trailer with any magic (for re-encoding what was read, or for writing damaged trails).
pub fn trailer_with_magic(out: &mut Vec<u8>, magic: u16, count: u32) {
    out.push(ids::TRAILER);
    u16_be(out, magic);
    u32_be(out, count);
}

/// File token (0x11, `au_to_file`); `name` as stored (libbsm: `cstr(name)`).
pub fn file(out: &mut Vec<u8>, seconds: u32, msec: u32, name: &[u8]) -> Result {
    let n = len16("file name", name)?;
    out.push(ids::OTHER_FILE32);
    u32_be(out, seconds);
    u32_be(out, msec);
    u16_be(out, n);
    out.extend_from_slice(name);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Subject and process
// ---------------------------------------------------------------------------------------

fn subject_any(out: &mut Vec<u8>, id: u8, s: &Subject) -> Result {
    let (wide, ex) = (ids::has_wide_port(id), ids::has_typed_addr(id));
    let port32 = if wide {
        None
    } else {
        Some(fit32("terminal port", s.port)?)
    };
    let v4 = match (ex, s.addr) {
        (true, Addr::Other(_)) => return Err(EncodeError::Address { field: "terminal" }),
        (true, _) => None,
        (false, Addr::V4(a)) => Some(a),
        (false, _) => return Err(EncodeError::Address { field: "terminal" }),
    };
    out.push(id);
    for v in [s.auid, s.euid, s.egid, s.ruid, s.rgid, s.pid, s.sid] {
        u32_be(out, v);
    }
    match port32 {
        Some(p) => u32_be(out, p),
        None => u64_be(out, s.port),
    }
    match v4 {
        Some(a) => out.extend_from_slice(&a),
        None => ex_addr(out, "terminal", &s.addr)?,
    }
    Ok(())
}

macro_rules! subject_fns {
    ($($(#[$m:meta])* $name:ident => $id:expr;)*) => {$(
        $(#[$m])*
        pub fn $name(out: &mut Vec<u8>, s: &Subject) -> Result {
            atomic(out, |out| subject_any(out, $id, s))
        }
    )*};
}

subject_fns! {
    /// subject32 (0x24): port must fit u32, address must be IPv4.
    subject32 => ids::SUBJECT32;
    /// subject64 (0x75): u64 port, IPv4 address.
    subject64 => ids::SUBJECT64;
    /// subject32_ex (0x7a): u32 port, IPv4 or IPv6 address.
    subject32_ex => ids::SUBJECT32_EX;
    /// subject64_ex (0x7c): u64 port, IPv4 or IPv6 address.
    subject64_ex => ids::SUBJECT64_EX;
    /// process32 (0x26).
    process32 => ids::PROCESS32;
    /// process64 (0x77).
    process64 => ids::PROCESS64;
    /// process32_ex (0x7b).
    process32_ex => ids::PROCESS32_EX;
    /// process64_ex (0x7d).
    process64_ex => ids::PROCESS64_EX;
}

// ---------------------------------------------------------------------------------------
// Return, exit, arguments, attributes
// ---------------------------------------------------------------------------------------

/// return32 (0x27): BSM errno status and a u32 value.
pub fn return32(out: &mut Vec<u8>, status: u8, value: u32) {
    out.push(ids::RETURN32);
    out.push(status);
    u32_be(out, value);
}

/// return64 (0x72).
pub fn return64(out: &mut Vec<u8>, status: u8, value: u64) {
    out.push(ids::RETURN64);
    out.push(status);
    u64_be(out, value);
}

/// exit (0x52): `au_to_exit(retval, err)` stores the error (status) first.
pub fn exit(out: &mut Vec<u8>, status: u32, value: u32) {
    out.push(ids::EXIT);
    u32_be(out, status);
    u32_be(out, value);
}

/// arg32 (0x2d); `desc` as stored (libbsm: `cstr(desc)`).
pub fn arg32(out: &mut Vec<u8>, num: u8, value: u32, desc: &[u8]) -> Result {
    let n = len16("argument description", desc)?;
    out.push(ids::ARG32);
    out.push(num);
    u32_be(out, value);
    u16_be(out, n);
    out.extend_from_slice(desc);
    Ok(())
}

/// arg64 (0x71).
pub fn arg64(out: &mut Vec<u8>, num: u8, value: u64, desc: &[u8]) -> Result {
    let n = len16("argument description", desc)?;
    out.push(ids::ARG64);
    out.push(num);
    u64_be(out, value);
    u16_be(out, n);
    out.extend_from_slice(desc);
    Ok(())
}

fn uuid_any(out: &mut Vec<u8>, id: u8, num: u8, uuid: &[u8; 16], desc: &[u8]) -> Result {
    let n = len16("uuid description", desc)?;
    out.push(id);
    out.push(num);
    out.extend_from_slice(uuid);
    u16_be(out, n);
    out.extend_from_slice(desc);
    Ok(())
}

/// arg_uuid (0x84): the UUID bytes in big-endian field order (§4.8).
pub fn arg_uuid(out: &mut Vec<u8>, num: u8, uuid: &[u8; 16], desc: &[u8]) -> Result {
    uuid_any(out, ids::ARG_UUID, num, uuid, desc)
}

/// ret_uuid (0x85).
pub fn ret_uuid(out: &mut Vec<u8>, num: u8, uuid: &[u8; 16], desc: &[u8]) -> Result {
    uuid_any(out, ids::RETURN_UUID, num, uuid, desc)
}

/// attr32 (0x3e): mode, uid, gid, fsid, node id (u64), device (u32).
pub fn attr32(
    out: &mut Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
    fsid: u32,
    nodeid: u64,
    device: u32,
) {
    out.push(ids::ATTR32);
    for v in [mode, uid, gid, fsid] {
        u32_be(out, v);
    }
    u64_be(out, nodeid);
    u32_be(out, device);
}

/// attr64 (0x73): as attr32 with a u64 device.
pub fn attr64(
    out: &mut Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
    fsid: u32,
    nodeid: u64,
    device: u64,
) {
    out.push(ids::ATTR64);
    for v in [mode, uid, gid, fsid] {
        u32_be(out, v);
    }
    u64_be(out, nodeid);
    u64_be(out, device);
}

// ---------------------------------------------------------------------------------------
// Counted strings
// ---------------------------------------------------------------------------------------

fn counted_token(out: &mut Vec<u8>, id: u8, field: &'static str, s: &[u8]) -> Result {
    let n = len16(field, s)?;
    out.push(id);
    u16_be(out, n);
    out.extend_from_slice(s);
    Ok(())
}

/// text (0x28); libbsm stores `cstr(text)`.
pub fn text(out: &mut Vec<u8>, s: &[u8]) -> Result {
    counted_token(out, ids::TEXT, "text", s)
}

/// path (0x23); libbsm stores `cstr(path)`.
pub fn path(out: &mut Vec<u8>, s: &[u8]) -> Result {
    counted_token(out, ids::PATH, "path", s)
}

/// zonename (0x60); libbsm stores `cstr(zone)`.
pub fn zone(out: &mut Vec<u8>, s: &[u8]) -> Result {
    counted_token(out, ids::ZONENAME, "zone", s)
}

/// opaque (0x29): raw bytes, no NUL.
pub fn opaque(out: &mut Vec<u8>, s: &[u8]) -> Result {
    counted_token(out, ids::OPAQUE, "opaque", s)
}

/// privset (0x38, Solaris): the set name and the privilege list, each as stored.
pub fn privset(out: &mut Vec<u8>, set: &[u8], privs: &[u8]) -> Result {
    let n1 = len16("privilege set", set)?;
    let n2 = len16("privilege list", privs)?;
    out.push(ids::PRIV);
    u16_be(out, n1);
    out.extend_from_slice(set);
    u16_be(out, n2);
    out.extend_from_slice(privs);
    Ok(())
}

/// upriv (0x39, Solaris use of privilege): `success` non-zero for a successful use.
pub fn upriv(out: &mut Vec<u8>, success: u8, name: &[u8]) -> Result {
    let n = len16("privilege name", name)?;
    out.push(ids::UPRIV);
    out.push(success);
    u16_be(out, n);
    out.extend_from_slice(name);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Arbitrary data, IPC, sequence, groups
// ---------------------------------------------------------------------------------------

/// Arbitrary data (0x21) exactly as given: print format, unit type, count, then the item
/// bytes, which must be `count` × unit size long. Multi-byte items are stored as given; build
/// them little-endian (§4.6) with [`data_units_le`].
pub fn data(out: &mut Vec<u8>, print: u8, unit: u8, count: u8, items: &[u8]) -> Result {
    let expected = usize::from(count) * unit_size(unit)?;
    if items.len() != expected {
        return Err(EncodeError::DataLength {
            expected,
            actual: items.len(),
        });
    }
    out.extend_from_slice(&[ids::DATA, print, unit, count]);
    out.extend_from_slice(items);
    Ok(())
}

/// Arbitrary data of `values` in units of `unit` (0 byte, 1 short, 2 int, 3 int64), each
/// truncated to the unit width and stored little-endian (`au_to_data` on a little-endian
/// host). At most 255 values.
pub fn data_values(out: &mut Vec<u8>, print: u8, unit: u8, values: &[u64]) -> Result {
    let count = u8::try_from(values.len()).map_err(|_| EncodeError::TooLong {
        field: "arbitrary data",
        len: values.len(),
        max: 255,
    })?;
    let items = data_units_le(unit, values)?;
    data(out, print, unit, count, &items)
}

/// IPC (0x22): type (1 message, 2 semaphore, 3 shared memory) and id.
pub fn ipc(out: &mut Vec<u8>, kind: u8, id: u32) {
    out.push(ids::IPC);
    out.push(kind);
    u32_be(out, id);
}

/// IPC perm (0x32): uid, gid, creator uid, creator gid, mode, seq, key.
#[allow(clippy::too_many_arguments)]
pub fn ipc_perm(
    out: &mut Vec<u8>,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    mode: u32,
    seq: u32,
    key: u32,
) {
    out.push(ids::IPC_PERM);
    for v in [uid, gid, cuid, cgid, mode, seq, key] {
        u32_be(out, v);
    }
}

/// Sequence (0x2f).
pub fn seq(out: &mut Vec<u8>, n: u32) {
    out.push(ids::SEQ);
    u32_be(out, n);
}

/// Groups (0x3b, `au_to_newgroups`): the count then every gid. Readers take at most 16 gids
/// (§4.11): more than 16 are written, as libbsm does, but then read back as further tokens.
pub fn groups(out: &mut Vec<u8>, gids: &[u32]) -> Result {
    let n = u16::try_from(gids.len()).map_err(|_| EncodeError::TooLong {
        field: "groups",
        len: gids.len(),
        max: u16::MAX as usize,
    })?;
    out.push(ids::NEWGROUPS);
    u16_be(out, n);
    for g in gids {
        u32_be(out, *g);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// String lists
// ---------------------------------------------------------------------------------------

/// Checks that `raw` is exactly `count` NUL-terminated strings.
fn check_list(field: &'static str, l: &StrList<'_>) -> Result {
    let nuls = memchr::memchr_iter(0, l.raw).count();
    let ends_well = l.raw.last().map_or(true, |b| *b == 0);
    if u64::from(l.count) != nuls as u64 || !ends_well {
        return Err(EncodeError::StrList { field });
    }
    Ok(())
}

fn list_raw(out: &mut Vec<u8>, id: u8, field: &'static str, l: &StrList<'_>) -> Result {
    check_list(field, l)?;
    out.push(id);
    u32_be(out, l.count);
    out.extend_from_slice(l.raw);
    Ok(())
}

fn list_of<I>(out: &mut Vec<u8>, id: u8, strings: I) -> Result
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    atomic(out, |out| {
        out.push(id);
        let at = out.len();
        u32_be(out, 0);
        let mut n: u64 = 0;
        for s in strings {
            let s = s.as_ref();
            if memchr::memchr(0, s).is_some() {
                return Err(EncodeError::StrList { field: "string" });
            }
            out.extend_from_slice(s);
            out.push(0);
            n += 1;
        }
        let count = u32::try_from(n).map_err(|_| EncodeError::TooLong {
            field: "string list",
            len: usize::try_from(n).unwrap_or(usize::MAX),
            max: u32::MAX as usize,
        })?;
        out[at..at + 4].copy_from_slice(&count.to_be_bytes());
        Ok(())
    })
}

/// exec args (0x3c): each string (without NUL) is written with its NUL.
pub fn exec_args<I>(out: &mut Vec<u8>, args: I) -> Result
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    list_of(out, ids::EXEC_ARGS, args)
}

/// exec env (0x3d).
pub fn exec_env<I>(out: &mut Vec<u8>, env: I) -> Result
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    list_of(out, ids::EXEC_ENV, env)
}

/// Apple krb5 principal (0xee): same layout as exec args (§7.2).
pub fn krb5_principal<I>(out: &mut Vec<u8>, names: I) -> Result
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    list_of(out, ids::KRB5_PRINCIPAL, names)
}

/// Apple certificate hash (0xef): same layout as exec args (§7.2).
pub fn cert_hash<I>(out: &mut Vec<u8>, hashes: I) -> Result
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    list_of(out, ids::CERT_HASH, hashes)
}

// ---------------------------------------------------------------------------------------
// Addresses and sockets
// ---------------------------------------------------------------------------------------

/// in_addr (0x2a).
pub fn in_addr(out: &mut Vec<u8>, a: [u8; 4]) {
    out.push(ids::IN_ADDR);
    out.extend_from_slice(&a);
}

/// in_addr_ex (0x7e): IPv4 or IPv6 (libbsm's `au_to_in_addr_ex` writes only type 16).
pub fn in_addr_ex(out: &mut Vec<u8>, a: &Addr) -> Result {
    atomic(out, |out| {
        out.push(ids::IN_ADDR_EX);
        ex_addr(out, "in_addr_ex", a)
    })
}

/// ip (0x2b): a raw 20-byte IPv4 header.
pub fn ip(out: &mut Vec<u8>, hdr: &[u8; 20]) {
    out.push(ids::IP);
    out.extend_from_slice(hdr);
}

/// ip port (0x2c); network order.
pub fn iport(out: &mut Vec<u8>, port: u16) {
    out.push(ids::IPORT);
    u16_be(out, port);
}

/// socket (0x2e): type, local port and address, remote port and address.
pub fn socket(
    out: &mut Vec<u8>,
    sock_type: u16,
    lport: u16,
    laddr: [u8; 4],
    rport: u16,
    raddr: [u8; 4],
) {
    out.push(ids::SOCKET);
    u16_be(out, sock_type);
    u16_be(out, lport);
    out.extend_from_slice(&laddr);
    u16_be(out, rport);
    out.extend_from_slice(&raddr);
}

/// socket_ex (0x7f): BSM domain and type, then local and remote port and address, both of
/// one family (the layout has a single u16 address type).
pub fn socket_ex(
    out: &mut Vec<u8>,
    domain: u16,
    sock_type: u16,
    local: (u16, &Addr),
    remote: (u16, &Addr),
) -> Result {
    let atype: u16 = match (local.1, remote.1) {
        (Addr::V4(_), Addr::V4(_)) => 4,
        (Addr::V6(_), Addr::V6(_)) => 16,
        _ => return Err(EncodeError::Address { field: "socket_ex" }),
    };
    out.push(ids::SOCKET_EX);
    u16_be(out, domain);
    u16_be(out, sock_type);
    u16_be(out, atype);
    for (port, addr) in [local, remote] {
        u16_be(out, port);
        match addr {
            Addr::V4(a) => out.extend_from_slice(a),
            Addr::V6(a) => out.extend_from_slice(a),
            Addr::Other(_) => {}
        }
    }
    Ok(())
}

/// socket-inet (0x80): the writer's AF_* family, port and address in network order.
pub fn sock_inet32(out: &mut Vec<u8>, family: u16, port: u16, addr: [u8; 4]) {
    out.push(ids::SOCKINET32);
    u16_be(out, family);
    u16_be(out, port);
    out.extend_from_slice(&addr);
}

/// socket-inet6 (0x81).
pub fn sock_inet128(out: &mut Vec<u8>, family: u16, port: u16, addr: [u8; 16]) {
    out.push(ids::SOCKINET128);
    u16_be(out, family);
    u16_be(out, port);
    out.extend_from_slice(&addr);
}

/// socket-unix (0x82): family, then the path and its NUL, as `au_to_sock_unix` writes it.
/// The layout has no length field, so the path must not hold a NUL. A path of 108 bytes
/// (the whole window a reader searches, §4.22) is written without its NUL, which reads back
/// the same; longer paths fail.
pub fn sock_unix(out: &mut Vec<u8>, family: u16, path: &[u8]) -> Result {
    let window = SOCKUNIX_WINDOW;
    if path.len() > window || memchr::memchr(0, path).is_some() {
        return Err(EncodeError::SockUnixPath { len: path.len() });
    }
    out.push(ids::SOCKUNIX);
    u16_be(out, family);
    out.extend_from_slice(path);
    if path.len() < window {
        out.push(0);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Apple
// ---------------------------------------------------------------------------------------

/// Apple identity (0xed, §7.1). The signing and team ids are written as stored (xnu stores
/// them with their NUL: `cstr`).
pub fn identity(out: &mut Vec<u8>, idn: &Identity<'_>) -> Result {
    let n1 = len16("signing id", idn.signing_id)?;
    let n2 = len16("team id", idn.team_id)?;
    let n3 = len16("cdhash", idn.cdhash)?;
    out.push(ids::IDENTITY);
    u32_be(out, idn.signer_type);
    u16_be(out, n1);
    out.extend_from_slice(idn.signing_id);
    out.push(idn.signing_id_truncated);
    u16_be(out, n2);
    out.extend_from_slice(idn.team_id);
    out.push(idn.team_id_truncated);
    u16_be(out, n3);
    out.extend_from_slice(idn.cdhash);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Any token
// ---------------------------------------------------------------------------------------

/// The canonical id of a token variant, when the variant has exactly one; `None` for the
/// variants whose id picks a layout (header, subject, process, return, arg, attr) and for
/// `Unknown`.
pub fn sole_id(token: &Token<'_>) -> Option<u8> {
    Some(match token {
        Token::Header(_)
        | Token::Subject(_)
        | Token::Process(_)
        | Token::Return { .. }
        | Token::Arg { .. }
        | Token::Attr { .. }
        | Token::Unknown(_) => return None,
        Token::Trailer { .. } => ids::TRAILER,
        Token::File { .. } => ids::OTHER_FILE32,
        Token::Data { .. } => ids::DATA,
        Token::Ipc { .. } => ids::IPC,
        Token::Path(_) => ids::PATH,
        Token::Text(_) => ids::TEXT,
        Token::Opaque(_) => ids::OPAQUE,
        Token::InAddr(_) => ids::IN_ADDR,
        Token::Ip(_) => ids::IP,
        Token::IpPort(_) => ids::IPORT,
        Token::Socket { .. } => ids::SOCKET,
        Token::Seq(_) => ids::SEQ,
        Token::IpcPerm { .. } => ids::IPC_PERM,
        Token::Privilege { .. } => ids::PRIV,
        Token::UsePrivilege { .. } => ids::UPRIV,
        Token::Groups(_) => ids::NEWGROUPS,
        Token::ExecArgs(_) => ids::EXEC_ARGS,
        Token::ExecEnv(_) => ids::EXEC_ENV,
        Token::Exit { .. } => ids::EXIT,
        Token::Zone(_) => ids::ZONENAME,
        Token::InAddrEx(_) => ids::IN_ADDR_EX,
        Token::SocketEx { .. } => ids::SOCKET_EX,
        Token::SockInet { .. } => ids::SOCKINET32,
        Token::SockInet6 { .. } => ids::SOCKINET128,
        Token::SockUnix { .. } => ids::SOCKUNIX,
        Token::ArgUuid { .. } => ids::ARG_UUID,
        Token::RetUuid { .. } => ids::RETURN_UUID,
        Token::Identity(_) => ids::IDENTITY,
        Token::Krb5Principal(_) => ids::KRB5_PRINCIPAL,
        Token::CertHash(_) => ids::CERT_HASH,
    })
}

fn variant_name(token: &Token<'_>) -> &'static str {
    match token {
        Token::Header(_) => "header",
        Token::Subject(_) => "subject",
        Token::Process(_) => "process",
        Token::Return { .. } => "return",
        Token::Arg { .. } => "argument",
        Token::Attr { .. } => "attribute",
        Token::Unknown(_) => "unknown",
        other => sole_id(other).map_or("unknown", crate::tokens::canonical_name),
    }
}

/// Whether `id` is one that `token` can be written with.
fn id_fits(token: &Token<'_>, id: u8) -> bool {
    match token {
        Token::Header(_) => ids::is_header(id),
        Token::Subject(_) => matches!(
            id,
            ids::SUBJECT32 | ids::SUBJECT64 | ids::SUBJECT32_EX | ids::SUBJECT64_EX
        ),
        Token::Process(_) => matches!(
            id,
            ids::PROCESS32 | ids::PROCESS64 | ids::PROCESS32_EX | ids::PROCESS64_EX
        ),
        Token::Return { .. } => matches!(id, ids::RETURN32 | ids::RETURN64),
        Token::Arg { .. } => matches!(id, ids::ARG32 | ids::ARG64),
        Token::Attr { .. } => matches!(id, ids::ATTR32 | ids::ATTR64),
        // An unknown token may carry any id without a decoder, and the Apple ids (which
        // praudit-mode decoding treats as unknown).
        Token::Unknown(_) => {
            !ids::DECODED.contains(&id)
                || matches!(id, ids::IDENTITY | ids::KRB5_PRINCIPAL | ids::CERT_HASH)
        }
        other => sole_id(other) == Some(id),
    }
}

/// Write `token` with id `id` (which picks the 32/64/_ex layout of headers, subjects,
/// processes, returns, arguments and attributes, and must match the variant otherwise).
/// Every field is written as given, counts included, so a decoded token is written back
/// byte for byte. On error `out` is left unchanged.
///
/// Exceptions to exact re-encoding, all fixed by the decoder's model of the bytes:
/// - `Token::Unknown` is written as its id and data; it reads back as the same token only
///   when exactly seven bytes (a trailer) follow it in the record (§4.24).
/// - `Token::SockUnix` is written with a NUL after the path unless the path is the whole
///   108-byte window; a path the decoder cut off at the record end had no NUL (§4.22).
/// - `Token::Groups` holds at most 16 gids however many were declared (§4.11).
pub fn encode(token: &Token<'_>, id: u8, out: &mut Vec<u8>) -> Result {
    if !id_fits(token, id) {
        return Err(EncodeError::IdMismatch {
            id,
            token: variant_name(token),
        });
    }
    atomic(out, |out| encode_checked(token, id, out))
}

fn encode_checked(token: &Token<'_>, id: u8, out: &mut Vec<u8>) -> Result {
    match *token {
        Token::Header(ref h) => header_any(out, id, h)?,
        Token::Trailer { magic, count } => trailer_with_magic(out, magic, count),
        Token::File {
            seconds,
            msec,
            name,
        } => file(out, seconds, msec, name)?,
        Token::Data {
            print,
            unit,
            count,
            data: items,
        } => data(out, print, unit, count, items)?,
        Token::Ipc { kind, id } => ipc(out, kind, id),
        Token::Path(s) => path(out, s)?,
        Token::Text(s) => text(out, s)?,
        Token::Zone(s) => zone(out, s)?,
        Token::Opaque(s) => opaque(out, s)?,
        Token::Subject(ref s) | Token::Process(ref s) => subject_any(out, id, s)?,
        Token::Return { status, value } => {
            if id == ids::RETURN64 {
                return64(out, status, value);
            } else {
                return32(out, status, fit32("return value", value)?);
            }
        }
        Token::Exit { status, value } => exit(out, status, value),
        Token::InAddr(a) => in_addr(out, a),
        Token::Ip(ref h) => ip(out, h),
        Token::IpPort(p) => iport(out, p),
        Token::Arg { num, value, desc } => {
            if id == ids::ARG64 {
                arg64(out, num, value, desc)?;
            } else {
                arg32(out, num, fit32("argument value", value)?, desc)?;
            }
        }
        Token::Socket {
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => socket(out, sock_type, lport, laddr, rport, raddr),
        Token::Seq(n) => seq(out, n),
        Token::IpcPerm {
            uid,
            gid,
            cuid,
            cgid,
            mode,
            seq,
            key,
        } => ipc_perm(out, uid, gid, cuid, cgid, mode, seq, key),
        Token::Privilege { set, privs } => privset(out, set, privs)?,
        Token::UsePrivilege { success, name } => upriv(out, success, name)?,
        Token::Groups(g) => {
            // The decoder keeps min(declared, 16) gids; write the declared count as read.
            out.push(ids::NEWGROUPS);
            u16_be(out, g.declared);
            for gid in g.iter() {
                u32_be(out, gid);
            }
        }
        Token::ExecArgs(ref l) => list_raw(out, ids::EXEC_ARGS, "exec args", l)?,
        Token::ExecEnv(ref l) => list_raw(out, ids::EXEC_ENV, "exec env", l)?,
        Token::Krb5Principal(ref l) => list_raw(out, ids::KRB5_PRINCIPAL, "krb5 principal", l)?,
        Token::CertHash(ref l) => list_raw(out, ids::CERT_HASH, "cert hash", l)?,
        Token::Attr {
            mode,
            uid,
            gid,
            fsid,
            nodeid,
            device,
        } => {
            if id == ids::ATTR64 {
                attr64(out, mode, uid, gid, fsid, nodeid, device);
            } else {
                let device = fit32("attribute device", device)?;
                attr32(out, mode, uid, gid, fsid, nodeid, device);
            }
        }
        Token::InAddrEx(ref a) => {
            out.push(ids::IN_ADDR_EX);
            ex_addr(out, "in_addr_ex", a)?;
        }
        Token::SocketEx {
            domain,
            sock_type,
            lport,
            ref laddr,
            rport,
            ref raddr,
        } => socket_ex(out, domain, sock_type, (lport, laddr), (rport, raddr))?,
        Token::SockInet { family, port, addr } => sock_inet32(out, family, port, addr),
        Token::SockInet6 { family, port, addr } => sock_inet128(out, family, port, addr),
        Token::SockUnix { family, path } => sock_unix(out, family, path)?,
        Token::ArgUuid {
            num,
            ref uuid,
            desc,
        } => arg_uuid(out, num, uuid, desc)?,
        Token::RetUuid {
            num,
            ref uuid,
            desc,
        } => ret_uuid(out, num, uuid, desc)?,
        Token::Identity(ref idn) => identity(out, idn)?,
        Token::Unknown(bytes) => {
            out.push(id);
            out.extend_from_slice(bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
