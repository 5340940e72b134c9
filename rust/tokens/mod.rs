//! Token decoding: one [`Token`] per BSM token, borrowed from the input.
//!
//! The decoders follow OpenBSM's `au_fetch_tok` (`libbsm/bsm_io.c`) exactly, including its
//! treatment of lying length fields (`docs/bsm-format.md` §1.7, §4), because the praudit
//! renderer must reproduce its output byte for byte. Every read is bounded by the end of the
//! record, never by the end of the input. Nothing here allocates: strings and lists are
//! sub-slices of the record.

pub mod ids;

mod apple;
pub mod fields;
mod header;
mod misc;
mod net;
mod strings;
mod subject;

use crate::cursor::Cursor;
use crate::error::{ErrorKind, Fault};

pub use ids::canonical_name;
pub use misc::MAX_GROUPS;
pub use misc::{data_unit_size, data_values};
pub use strings::{uuid_string, write_uuid};

/// An address whose family is given by a type field (the `_ex` tokens, §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
    /// Only header_ex tolerates other types (it then reads no address bytes).
    Other(u32),
}

/// header32 / header32_ex / header64 / header64_ex (§1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub count: u32,
    pub version: u8,
    pub event: u16,
    pub modifier: u16,
    /// The `_ex` host address; `None` for the plain headers.
    pub host: Option<Addr>,
    pub seconds: u64,
    pub msec: u64,
}

/// A header's seconds since the epoch as every reader reads them (§1.2): a 32-bit header's
/// are unsigned, a 64-bit header's signed (as praudit prints them). `id` is the header's
/// token id, `seconds` the field as decoded.
pub fn header_seconds(id: u8, seconds: u64) -> i64 {
    if matches!(id, ids::HEADER64 | ids::HEADER64_EX) {
        seconds as i64
    } else {
        (seconds & 0xffff_ffff) as i64
    }
}

/// The seven ids and terminal of subject and process tokens and their variants (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject {
    pub auid: u32,
    pub euid: u32,
    pub egid: u32,
    pub ruid: u32,
    pub rgid: u32,
    pub pid: u32,
    pub sid: u32,
    pub port: u64,
    pub addr: Addr,
}

/// `count` NUL-terminated strings stored back to back (exec args/env, krb5, cert hash).
/// `raw` holds exactly `count` strings, each with its NUL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrList<'a> {
    pub count: u32,
    pub raw: &'a [u8],
}

impl<'a> StrList<'a> {
    /// The strings, without their NULs.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let raw = self.raw;
        let body = raw.strip_suffix(b"\0").unwrap_or(raw);
        let empty = raw.is_empty();
        body.split(|b| *b == 0).filter(move |_| !empty)
    }
}

/// The gids of a groups token: at most 16 are read (`AUDIT_MAX_GROUPS`, §4.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Groups<'a> {
    /// The count as written in the token.
    pub declared: u16,
    raw: &'a [u8],
}

impl<'a> Groups<'a> {
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        self.raw
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
    pub fn len(&self) -> usize {
        self.raw.len() / 4
    }
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// Apple's code-signing identity token (0xed, §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    pub signer_type: u32,
    /// As stored, including its NUL when there is one.
    pub signing_id: &'a [u8],
    pub signing_id_truncated: u8,
    pub team_id: &'a [u8],
    pub team_id_truncated: u8,
    pub cdhash: &'a [u8],
}

/// One decoded token. Integer fields are as stored; byte strings are exactly the stored
/// bytes (NULs included) so that rendering and re-encoding are lossless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    Header(Header),
    Trailer {
        magic: u16,
        count: u32,
    },
    File {
        seconds: u32,
        msec: u32,
        name: &'a [u8],
    },
    Data {
        print: u8,
        unit: u8,
        count: u8,
        data: &'a [u8],
    },
    Ipc {
        kind: u8,
        id: u32,
    },
    Path(&'a [u8]),
    Subject(Subject),
    Process(Subject),
    Return {
        status: u8,
        value: u64,
    },
    Text(&'a [u8]),
    Opaque(&'a [u8]),
    InAddr([u8; 4]),
    /// A raw 20-byte IPv4 header.
    Ip([u8; 20]),
    IpPort(u16),
    Arg {
        num: u8,
        value: u64,
        desc: &'a [u8],
    },
    Socket {
        sock_type: u16,
        lport: u16,
        laddr: [u8; 4],
        rport: u16,
        raddr: [u8; 4],
    },
    Seq(u32),
    IpcPerm {
        uid: u32,
        gid: u32,
        cuid: u32,
        cgid: u32,
        mode: u32,
        seq: u32,
        key: u32,
    },
    Privilege {
        set: &'a [u8],
        privs: &'a [u8],
    },
    UsePrivilege {
        success: u8,
        name: &'a [u8],
    },
    Groups(Groups<'a>),
    ExecArgs(StrList<'a>),
    ExecEnv(StrList<'a>),
    Attr {
        mode: u32,
        uid: u32,
        gid: u32,
        fsid: u32,
        nodeid: u64,
        device: u64,
    },
    Exit {
        status: u32,
        value: u32,
    },
    Zone(&'a [u8]),
    InAddrEx(Addr),
    SocketEx {
        domain: u16,
        sock_type: u16,
        lport: u16,
        laddr: Addr,
        rport: u16,
        raddr: Addr,
    },
    SockInet {
        family: u16,
        port: u16,
        addr: [u8; 4],
    },
    SockInet6 {
        family: u16,
        port: u16,
        addr: [u8; 16],
    },
    SockUnix {
        family: u16,
        /// The path up to its NUL, or every byte consumed when there was none (§4.22).
        path: &'a [u8],
    },
    ArgUuid {
        num: u8,
        uuid: [u8; 16],
        desc: &'a [u8],
    },
    RetUuid {
        num: u8,
        uuid: [u8; 16],
        desc: &'a [u8],
    },
    Identity(Identity<'a>),
    Krb5Principal(StrList<'a>),
    CertHash(StrList<'a>),
    /// praudit's unknown-token rule (§4.24): the data bytes between the id and the last
    /// seven bytes of the record.
    Unknown(&'a [u8]),
}

/// A token with its place in the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tok<'a> {
    pub id: u8,
    /// Offset of the id byte from the start of the record.
    pub offset: usize,
    /// Length including the id byte.
    pub len: usize,
    pub token: Token<'a>,
}

/// How to treat ids that upstream praudit cannot read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    /// Decode Apple's identity, krb5 principal and cert hash tokens. When false they fall
    /// under the unknown-token rule, as upstream praudit does.
    pub apple: bool,
}

impl DecodeOptions {
    pub const PRAUDIT: DecodeOptions = DecodeOptions { apple: false };
    pub const FULL: DecodeOptions = DecodeOptions { apple: true };
}

/// Decode the token whose id byte is at `pos` of `rec` (one whole record).
pub fn decode<'a>(rec: &'a [u8], pos: usize, opts: DecodeOptions) -> Result<Tok<'a>, Fault> {
    let mut c = Cursor::new(rec, pos);
    let id = c.u8()?;
    let token = match id {
        ids::HEADER32 | ids::HEADER32_EX | ids::HEADER64 | ids::HEADER64_EX => {
            header::header(&mut c, id)
        }
        ids::TRAILER => header::trailer(&mut c),
        ids::OTHER_FILE32 => header::file(&mut c),
        ids::SUBJECT32 | ids::SUBJECT64 | ids::SUBJECT32_EX | ids::SUBJECT64_EX => {
            subject::subject(&mut c, id).map(Token::Subject)
        }
        ids::PROCESS32 | ids::PROCESS64 | ids::PROCESS32_EX | ids::PROCESS64_EX => {
            subject::subject(&mut c, id).map(Token::Process)
        }
        ids::TEXT => c.counted16().map(Token::Text),
        ids::PATH => c.counted16().map(Token::Path),
        ids::ZONENAME => c.counted16().map(Token::Zone),
        ids::OPAQUE => c.counted16().map(Token::Opaque),
        ids::ARG32 | ids::ARG64 => strings::arg(&mut c, id),
        ids::ARG_UUID | ids::RETURN_UUID => strings::uuid(&mut c, id),
        ids::PRIV => strings::privilege(&mut c),
        ids::UPRIV => strings::use_privilege(&mut c),
        ids::EXEC_ARGS => strings::str_list(&mut c).map(Token::ExecArgs),
        ids::EXEC_ENV => strings::str_list(&mut c).map(Token::ExecEnv),
        ids::RETURN32 | ids::RETURN64 | ids::EXIT => misc::ret(&mut c, id),
        ids::DATA => misc::data(&mut c),
        ids::IPC => misc::ipc(&mut c),
        ids::IPC_PERM => misc::ipc_perm(&mut c),
        ids::SEQ => c.u32().map(Token::Seq),
        ids::NEWGROUPS => misc::groups(&mut c),
        ids::ATTR32 | ids::ATTR64 => misc::attr(&mut c, id),
        ids::IN_ADDR => c.array().map(Token::InAddr),
        ids::IN_ADDR_EX => net::ex_addr(&mut c).map(Token::InAddrEx),
        ids::IP => c.array().map(Token::Ip),
        ids::IPORT => c.u16().map(Token::IpPort),
        ids::SOCKET => net::socket(&mut c),
        ids::SOCKET_EX => net::socket_ex(&mut c),
        ids::SOCKINET32 => net::sock_inet(&mut c),
        ids::SOCKINET128 => net::sock_inet6(&mut c),
        ids::SOCKUNIX => net::sock_unix(&mut c),
        ids::IDENTITY if opts.apple => apple::identity(&mut c),
        ids::KRB5_PRINCIPAL if opts.apple => strings::str_list(&mut c).map(Token::Krb5Principal),
        ids::CERT_HASH if opts.apple => strings::str_list(&mut c).map(Token::CertHash),
        _ => unknown(&mut c, id),
    }
    .map_err(|mut f| {
        f.token_id = Some(id);
        f
    })?;
    Ok(Tok {
        id,
        offset: pos,
        len: c.pos() - pos,
        token,
    })
}

/// §4.24: the token takes every byte of the record but the last seven; it needs at least
/// one data byte.
fn unknown<'a>(c: &mut Cursor<'a>, id: u8) -> Result<Token<'a>, Fault> {
    let left = c.remaining();
    if left < 8 {
        return Err(Fault {
            pos: c.pos() - 1,
            token_id: Some(id),
            kind: ErrorKind::UnknownToken(id),
        });
    }
    c.bytes(left - 7).map(Token::Unknown)
}

/// Walks the tokens of one record, praudit-style: it stops after the first token that fails.
pub struct TokenIter<'a> {
    rec: &'a [u8],
    pos: usize,
    opts: DecodeOptions,
    failed: bool,
}

impl<'a> TokenIter<'a> {
    pub fn new(rec: &'a [u8], opts: DecodeOptions) -> Self {
        TokenIter {
            rec,
            pos: 0,
            opts,
            failed: false,
        }
    }
}

impl<'a> Iterator for TokenIter<'a> {
    type Item = Result<Tok<'a>, Fault>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.rec.len() {
            return None;
        }
        match decode(self.rec, self.pos, self.opts) {
            Ok(t) => {
                // Every token consumes at least its id byte, so the walk always advances.
                self.pos += t.len;
                Some(Ok(t))
            }
            Err(f) => {
                self.failed = true;
                Some(Err(f))
            }
        }
    }
}

/// Decode every token of a record and check that it is well formed: no unknown tokens, and
/// a trailer token that ends the record exactly. Calls `f` for each token.
pub fn walk_valid<'a>(
    rec: &'a [u8],
    opts: DecodeOptions,
    mut f: impl FnMut(&Tok<'a>),
) -> Result<(), Fault> {
    let mut last_was_trailer = false;
    for t in TokenIter::new(rec, opts) {
        let t = t?;
        if let Token::Unknown(_) = t.token {
            return Err(Fault {
                pos: t.offset,
                token_id: Some(t.id),
                kind: ErrorKind::UnknownToken(t.id),
            });
        }
        last_was_trailer = t.id == ids::TRAILER;
        let end = t.offset + t.len;
        if last_was_trailer && end != rec.len() {
            return Err(Fault {
                pos: end,
                token_id: Some(t.id),
                kind: ErrorKind::TrailingBytes {
                    left: (rec.len() - end) as u64,
                },
            });
        }
        f(&t);
    }
    if !last_was_trailer {
        return Err(Fault {
            pos: rec.len().saturating_sub(7),
            token_id: None,
            kind: ErrorKind::MissingTrailer,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// Decode a single token that fills `bytes` (possibly followed by padding) with full
    /// (Apple-aware) decoding.
    pub fn one(bytes: &[u8]) -> Tok<'_> {
        decode(bytes, 0, DecodeOptions::FULL).expect("token decodes")
    }

    pub fn fail(bytes: &[u8]) -> Fault {
        decode(bytes, 0, DecodeOptions::FULL).expect_err("token must fail")
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn unknown_takes_all_but_seven_bytes() {
        // id 0x00, two data bytes, then seven bytes left for a trailer.
        let rec = [0x00, 0xaa, 0xbb, 0x13, 0xb1, 0x05, 0, 0, 0, 10];
        let t = one(&rec);
        assert_eq!(t.token, Token::Unknown(&[0xaa, 0xbb]));
        assert_eq!(t.len, 3);
    }

    #[test]
    fn unknown_with_no_data_byte_fails() {
        let rec = [0x00, 0x13, 0xb1, 0x05, 0, 0, 0, 8];
        let f = fail(&rec);
        assert_eq!(f.kind, ErrorKind::UnknownToken(0));
        assert_eq!(f.pos, 0);
        assert_eq!(f.token_id, Some(0));
    }

    #[test]
    fn apple_ids_are_unknown_in_praudit_mode() {
        let rec = [0xee, 0, 0, 0, 0, 0x13, 0xb1, 0x05, 0, 0, 0, 12];
        let t = decode(&rec, 0, DecodeOptions::PRAUDIT).unwrap();
        assert_eq!(t.token, Token::Unknown(&[0, 0, 0, 0]));
        let t = decode(&rec, 0, DecodeOptions::FULL).unwrap();
        assert_eq!(
            t.token,
            Token::Krb5Principal(StrList { count: 0, raw: b"" })
        );
        assert_eq!(t.len, 5);
    }

    #[test]
    fn every_decoded_id_has_a_canonical_name() {
        for id in ids::DECODED {
            assert_ne!(canonical_name(id), "unknown", "id 0x{id:02x}");
        }
        assert_eq!(canonical_name(0x00), "unknown");
    }

    #[test]
    fn text_path_zone_opaque_empty_and_maximum() {
        fn expected(id: u8, b: &[u8]) -> Token<'_> {
            match id {
                ids::TEXT => Token::Text(b),
                ids::PATH => Token::Path(b),
                ids::ZONENAME => Token::Zone(b),
                _ => Token::Opaque(b),
            }
        }
        for id in [ids::TEXT, ids::PATH, ids::ZONENAME, ids::OPAQUE] {
            let ctor = |b| expected(id, b);
            let empty = [id, 0, 0];
            let t = one(&empty);
            assert_eq!((t.len, t.token), (3, ctor(b"")));
            let nuls = [id, 0, 5, b'a', 0, b'b', 0xff, 0];
            let t = one(&nuls);
            assert_eq!((t.len, t.token), (8, ctor(b"a\0b\xff\0")));
            let mut max = vec![id, 0xff, 0xff];
            max.extend(std::iter::repeat(b'x').take(65535));
            let t = one(&max);
            assert_eq!(t.len, 65538);
            let f = fail(&max[..1000]);
            assert_eq!(f.pos, 3);
            assert_eq!(
                f.kind,
                ErrorKind::Truncated {
                    needed: 65535,
                    available: 997
                }
            );
        }
    }

    #[test]
    fn sequence() {
        let t = one(&[0x2f, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!((t.len, t.token), (5, Token::Seq(0x12345678)));
        let t = one(&[0x2f, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(t.token, Token::Seq(u32::MAX));
        assert_eq!(fail(&[0x2f, 0, 0]).pos, 1);
    }

    #[test]
    fn walk_valid_requires_trailer_last() {
        // header32 (18) + text "a\0" (5) + trailer (7) = 30
        let mut rec = vec![0x14, 0, 0, 0, 30, 11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2];
        rec.extend_from_slice(&[0x28, 0, 2, b'a', 0]);
        rec.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 30]);
        let mut n = 0;
        walk_valid(&rec, DecodeOptions::FULL, |_| n += 1).unwrap();
        assert_eq!(n, 3);

        // Same record with the text length lying by one: the text swallows a trailer byte,
        // the "trailer" that follows starts at 0xb1 and is an unknown id with too few bytes.
        let mut bad = rec.clone();
        bad[20] = 3;
        let f = walk_valid(&bad, DecodeOptions::FULL, |_| {}).unwrap_err();
        assert_eq!(f.kind, ErrorKind::UnknownToken(0xb1));
        assert_eq!(f.pos, 24);
    }

    #[test]
    fn walk_valid_rejects_bytes_after_trailer() {
        let mut rec = vec![0x14, 0, 0, 0, 27, 11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2];
        rec.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 27]);
        rec.extend_from_slice(&[0x2c, 0]);
        let f = walk_valid(&rec, DecodeOptions::FULL, |_| {}).unwrap_err();
        assert_eq!(f.kind, ErrorKind::TrailingBytes { left: 2 });
        assert_eq!(f.pos, 25);
    }
}
