//! Every token's named fields, written once. The Python token dicts (`python/convert.rs`)
//! and the JSON objects of the Arrow tokens view (`arrow/tokens.rs`) are two
//! [`FieldSink`]s fed by [`visit`], so a field's name and meaning cannot drift between
//! them; each sink decides only how a kind of value is written (a Python `bytes` or hex in
//! JSON, say).

use super::{data_values, uuid_string, Addr, StrList, Subject, Token};

/// Where a token's fields go, in order.
pub trait FieldSink {
    /// An unsigned integer, as stored.
    fn num(&mut self, key: &'static str, v: u64);
    fn boolean(&mut self, key: &'static str, v: bool);
    fn null(&mut self, key: &'static str);
    /// Stored bytes meant as text (one trailing NUL is the C terminator).
    fn text(&mut self, key: &'static str, b: &[u8]);
    /// Text bsmtrail made (a UUID).
    fn string(&mut self, key: &'static str, s: &str);
    /// Binary values (opaque, arbitrary data, a cdhash, an unknown token's bytes).
    fn bytes(&mut self, key: &'static str, b: &[u8]);
    fn addr(&mut self, key: &'static str, a: &Addr);
    /// NUL-separated strings (exec args and env, principals, hashes).
    fn texts(&mut self, key: &'static str, l: &StrList<'_>);
    fn nums(&mut self, key: &'static str, v: &mut dyn Iterator<Item = u64>);
}

fn subject(s: &Subject, f: &mut impl FieldSink) {
    for (k, v) in [
        ("auid", s.auid),
        ("euid", s.euid),
        ("egid", s.egid),
        ("ruid", s.ruid),
        ("rgid", s.rgid),
        ("pid", s.pid),
        ("sid", s.sid),
    ] {
        f.num(k, u64::from(v));
    }
    f.num("port", s.port);
    f.addr("addr", &s.addr);
}

fn int(f: &mut impl FieldSink, key: &'static str, v: impl Into<u64>) {
    f.num(key, v.into());
}

/// Hand `token`'s fields to `f` (not `type`, `id` or `offset`: the caller's).
pub fn visit(token: &Token<'_>, f: &mut impl FieldSink) {
    match token {
        Token::Header(h) => {
            int(f, "size", h.count);
            int(f, "version", h.version);
            int(f, "event", h.event);
            int(f, "modifier", h.modifier);
            match &h.host {
                Some(Addr::Other(ty)) => {
                    f.null("host");
                    int(f, "host_type", *ty);
                }
                Some(a) => f.addr("host", a),
                None => {}
            }
            f.num("seconds", h.seconds);
            f.num("msec", h.msec);
        }
        Token::Trailer { magic, count } => {
            int(f, "magic", *magic);
            int(f, "size", *count);
        }
        Token::File {
            seconds,
            msec,
            name,
        } => {
            int(f, "seconds", *seconds);
            int(f, "msec", *msec);
            f.text("name", name);
        }
        Token::Data {
            print,
            unit,
            count,
            data,
        } => {
            int(f, "print_format", *print);
            int(f, "unit", *unit);
            int(f, "count", *count);
            f.bytes("data", data);
            f.nums("values", &mut data_values(*unit, data));
        }
        Token::Ipc { kind, id } => {
            int(f, "ipc_type", *kind);
            int(f, "ipc_id", *id);
        }
        Token::Path(p) => f.text("path", p),
        Token::Text(p) => f.text("text", p),
        Token::Zone(p) => f.text("zone", p),
        Token::Opaque(b) | Token::Unknown(b) => f.bytes("data", b),
        Token::Subject(s) | Token::Process(s) => subject(s, f),
        Token::Return { status, value } => {
            int(f, "status", *status);
            f.num("value", *value);
        }
        Token::Exit { status, value } => {
            int(f, "status", *status);
            int(f, "value", *value);
        }
        Token::InAddr(a) => f.addr("addr", &Addr::V4(*a)),
        Token::InAddrEx(a) => f.addr("addr", a),
        Token::Ip(h) => {
            let be16 = |i: usize| u64::from(u16::from_be_bytes([h[i], h[i + 1]]));
            int(f, "version_ihl", h[0]);
            int(f, "tos", h[1]);
            f.num("length", be16(2));
            f.num("ip_id", be16(4));
            f.num("frag_offset", be16(6));
            int(f, "ttl", h[8]);
            int(f, "protocol", h[9]);
            f.num("checksum", be16(10));
            f.addr("src", &Addr::V4([h[12], h[13], h[14], h[15]]));
            f.addr("dst", &Addr::V4([h[16], h[17], h[18], h[19]]));
        }
        Token::IpPort(p) => int(f, "port", *p),
        Token::Arg { num, value, desc } => {
            int(f, "num", *num);
            f.num("value", *value);
            f.text("desc", desc);
        }
        Token::Socket {
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            int(f, "sock_type", *sock_type);
            int(f, "lport", *lport);
            f.addr("laddr", &Addr::V4(*laddr));
            int(f, "rport", *rport);
            f.addr("raddr", &Addr::V4(*raddr));
        }
        Token::SocketEx {
            domain,
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            int(f, "domain", *domain);
            int(f, "sock_type", *sock_type);
            int(f, "lport", *lport);
            f.addr("laddr", laddr);
            int(f, "rport", *rport);
            f.addr("raddr", raddr);
        }
        Token::SockInet { family, port, addr } => {
            int(f, "family", *family);
            int(f, "port", *port);
            f.addr("addr", &Addr::V4(*addr));
        }
        Token::SockInet6 { family, port, addr } => {
            int(f, "family", *family);
            int(f, "port", *port);
            f.addr("addr", &Addr::V6(*addr));
        }
        Token::SockUnix { family, path } => {
            int(f, "family", *family);
            f.text("path", path);
        }
        Token::Seq(s) => int(f, "seq", *s),
        Token::IpcPerm {
            uid,
            gid,
            cuid,
            cgid,
            mode,
            seq,
            key,
        } => {
            for (k, v) in [
                ("uid", uid),
                ("gid", gid),
                ("cuid", cuid),
                ("cgid", cgid),
                ("mode", mode),
                ("seq", seq),
                ("key", key),
            ] {
                int(f, k, *v);
            }
        }
        Token::Privilege { set, privs } => {
            f.text("set", set);
            f.text("privs", privs);
        }
        Token::UsePrivilege { success, name } => {
            f.boolean("success", *success != 0);
            f.text("name", name);
        }
        Token::Groups(g) => f.nums("gids", &mut g.iter().map(u64::from)),
        Token::ExecArgs(l) => f.texts("args", l),
        Token::ExecEnv(l) => f.texts("env", l),
        Token::Krb5Principal(l) => f.texts("principals", l),
        Token::CertHash(l) => f.texts("hashes", l),
        Token::Attr {
            mode,
            uid,
            gid,
            fsid,
            nodeid,
            device,
        } => {
            int(f, "mode", *mode);
            int(f, "uid", *uid);
            int(f, "gid", *gid);
            int(f, "fsid", *fsid);
            f.num("nodeid", *nodeid);
            f.num("device", *device);
        }
        Token::ArgUuid { num, uuid, desc } | Token::RetUuid { num, uuid, desc } => {
            int(f, "num", *num);
            f.string("uuid", &uuid_string(uuid));
            f.text("desc", desc);
        }
        Token::Identity(i) => {
            int(f, "signer_type", i.signer_type);
            f.text("signing_id", i.signing_id);
            f.boolean("signing_id_truncated", i.signing_id_truncated != 0);
            f.text("team_id", i.team_id);
            f.boolean("team_id_truncated", i.team_id_truncated != 0);
            f.bytes("cdhash", i.cdhash);
        }
    }
}
