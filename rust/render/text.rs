//! The delimited text form of every token (default, `-l`, `-n`, `-r`, `-s`, `-d`; §4).
//!
//! A token prints as its name (its id in decimal under `-r`), then each field preceded by
//! the delimiter. What follows a token (newline or delimiter) is the caller's business.

use super::fmt;
use super::words::{
    cdhash, data_items, data_print_word, data_unit, header_attrs, header_fields, ipc_type,
    trunc_word, upriv_word, MAX_ARGS,
};
use super::Ctx;
use crate::tokens::{ids, Addr, Header, StrList, Subject, Tok, Token};

/// The praudit name of a token (the first field of the text forms, §2).
pub(crate) fn name(t: &Tok<'_>) -> &'static [u8] {
    match t.token {
        Token::Header(_) => match t.id {
            ids::HEADER32_EX | ids::HEADER64_EX => b"header_ex",
            _ => b"header",
        },
        Token::Trailer { .. } => b"trailer",
        Token::File { .. } => b"file",
        Token::Data { .. } => b"arbitrary",
        Token::Ipc { .. } => b"IPC",
        Token::Path(_) => b"path",
        Token::Subject(_) => match t.id {
            ids::SUBJECT32_EX | ids::SUBJECT64_EX => b"subject_ex",
            _ => b"subject",
        },
        Token::Process(_) => match t.id {
            ids::PROCESS32_EX | ids::PROCESS64_EX => b"process_ex",
            _ => b"process",
        },
        Token::Return { .. } => b"return",
        Token::Text(_) => b"text",
        Token::Opaque(_) => b"opaque",
        Token::InAddr(_) => b"ip addr",
        Token::Ip(_) => b"ip",
        Token::IpPort(_) => b"ip port",
        Token::Arg { .. } => b"argument",
        Token::Socket { .. } | Token::SocketEx { .. } => b"socket",
        Token::Seq(_) => b"sequence",
        Token::IpcPerm { .. } => b"IPC perm",
        Token::Privilege { .. } => b"privilege",
        Token::UsePrivilege { .. } => b"use of privilege",
        Token::Groups(_) => b"group",
        Token::ExecArgs(_) => b"exec arg",
        Token::ExecEnv(_) => b"exec env",
        Token::Attr { .. } => b"attribute",
        Token::Exit { .. } => b"exit",
        Token::Zone(_) => b"zone",
        Token::InAddrEx(_) => b"ip addr ex",
        Token::SockInet { .. } => b"socket-inet",
        Token::SockInet6 { .. } => b"socket-inet6",
        Token::SockUnix { .. } => b"socket-unix",
        Token::ArgUuid { .. } => b"arg_uuid",
        Token::RetUuid { .. } => b"ret_uuid",
        Token::Identity(_) => b"identity",
        Token::Krb5Principal(_) => b"krb5_principal",
        Token::CertHash(_) => b"cert_hash",
        Token::Unknown(_) => b"unknown",
    }
}

pub(crate) fn token(cx: &mut Ctx<'_>, out: &mut Vec<u8>, t: &Tok<'_>) {
    let opts = cx.opts;
    let del: &[u8] = &opts.delim;
    if cx.opts.raw {
        fmt::u64d(out, u64::from(t.id));
    } else {
        out.extend_from_slice(name(t));
    }
    match &t.token {
        Token::Header(h) => header(cx, out, t.id, h),
        Token::Trailer { count, .. } => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*count));
        }
        Token::File {
            seconds,
            msec,
            name,
        } => {
            out.extend_from_slice(del);
            cx.time(out, u64::from(*seconds));
            out.extend_from_slice(del);
            cx.msec(out, u64::from(*msec));
            out.extend_from_slice(del);
            fmt::nonul(out, name);
        }
        Token::Data {
            print,
            unit,
            count,
            data,
        } => {
            out.extend_from_slice(del);
            let Some(word) = data_print_word(*print) else {
                return;
            };
            out.extend_from_slice(word);
            out.extend_from_slice(del);
            out.extend_from_slice(data_unit(*unit).0);
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*count));
            out.extend_from_slice(del);
            data_items(out, *print, *unit, data);
        }
        Token::Ipc { kind, id } => {
            out.extend_from_slice(del);
            ipc_type(cx, out, *kind);
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*id));
        }
        Token::Path(s) | Token::Text(s) | Token::Zone(s) => {
            out.extend_from_slice(del);
            fmt::nonul(out, s);
        }
        Token::Subject(s) | Token::Process(s) => subject(cx, out, s),
        Token::Return { status, value } => {
            out.extend_from_slice(del);
            cx.status(out, *status);
            out.extend_from_slice(del);
            if t.id == ids::RETURN64 {
                fmt::i64d(out, *value as i64);
            } else {
                fmt::u64d(out, *value);
            }
        }
        Token::Opaque(b) => {
            out.extend_from_slice(del);
            fmt::u64d(out, b.len() as u64);
            out.extend_from_slice(del);
            fmt::hexdump(out, b);
        }
        Token::InAddr(a) => {
            out.extend_from_slice(del);
            fmt::v4(out, a);
        }
        Token::InAddrEx(a) => {
            out.extend_from_slice(del);
            fmt::addr(out, a);
        }
        Token::Ip(ip) => {
            let u16at = |i: usize| u64::from(u16::from_be_bytes([ip[i], ip[i + 1]]));
            for (i, f) in [
                (0usize, 1u8),
                (1, 1),
                (2, 2),
                (4, 2),
                (6, 2),
                (8, 1),
                (9, 1),
                (10, 2),
            ] {
                out.extend_from_slice(del);
                if f == 1 {
                    fmt::hexdump(out, &ip[i..=i]);
                } else {
                    fmt::u64d(out, u16at(i));
                }
            }
            out.extend_from_slice(del);
            fmt::v4(out, &[ip[12], ip[13], ip[14], ip[15]]);
            out.extend_from_slice(del);
            fmt::v4(out, &[ip[16], ip[17], ip[18], ip[19]]);
        }
        Token::IpPort(p) => {
            out.extend_from_slice(del);
            fmt::alt_hex(out, u64::from(*p));
        }
        Token::Arg { num, value, desc } => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*num));
            out.extend_from_slice(del);
            fmt::hex0x(out, *value);
            out.extend_from_slice(del);
            fmt::nonul(out, desc);
        }
        Token::Socket {
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*sock_type));
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*lport));
            out.extend_from_slice(del);
            fmt::v4(out, laddr);
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*rport));
            out.extend_from_slice(del);
            fmt::v4(out, raddr);
        }
        Token::Seq(n) => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*n));
        }
        Token::IpcPerm {
            uid,
            gid,
            cuid,
            cgid,
            mode,
            seq,
            key,
        } => {
            out.extend_from_slice(del);
            cx.user(out, *uid);
            out.extend_from_slice(del);
            cx.group(out, *gid);
            out.extend_from_slice(del);
            cx.user(out, *cuid);
            out.extend_from_slice(del);
            cx.group(out, *cgid);
            out.extend_from_slice(del);
            fmt::oct(out, u64::from(*mode));
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*seq));
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*key));
        }
        Token::Privilege { set, privs } => {
            out.extend_from_slice(del);
            fmt::nonul(out, set);
            out.extend_from_slice(del);
            fmt::nonul(out, privs);
        }
        Token::UsePrivilege { success, name } => {
            out.extend_from_slice(del);
            out.extend_from_slice(upriv_word(*success));
            out.extend_from_slice(del);
            fmt::nonul(out, name);
        }
        Token::Groups(g) => {
            for gid in g.iter() {
                out.extend_from_slice(del);
                cx.group(out, gid);
            }
        }
        Token::ExecArgs(l) | Token::ExecEnv(l) => str_list(out, del, l, MAX_ARGS),
        Token::Krb5Principal(l) | Token::CertHash(l) => str_list(out, del, l, usize::MAX),
        Token::Attr {
            mode,
            uid,
            gid,
            fsid,
            nodeid,
            device,
        } => {
            out.extend_from_slice(del);
            fmt::oct(out, u64::from(*mode));
            out.extend_from_slice(del);
            cx.user(out, *uid);
            out.extend_from_slice(del);
            cx.group(out, *gid);
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*fsid));
            out.extend_from_slice(del);
            fmt::i64d(out, *nodeid as i64);
            out.extend_from_slice(del);
            fmt::u64d(out, *device);
        }
        Token::Exit { status, value } => {
            out.extend_from_slice(del);
            out.extend_from_slice(b"Error ");
            fmt::u64d(out, u64::from(*status));
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*value));
        }
        Token::SocketEx {
            domain,
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            out.extend_from_slice(del);
            fmt::alt_hex(out, u64::from(*domain));
            out.extend_from_slice(del);
            fmt::alt_hex(out, u64::from(*sock_type));
            out.extend_from_slice(del);
            fmt::alt_hex(out, u64::from(*lport));
            out.extend_from_slice(del);
            fmt::addr(out, laddr);
            out.extend_from_slice(del);
            fmt::alt_hex(out, u64::from(*rport));
            out.extend_from_slice(del);
            fmt::addr(out, raddr);
        }
        Token::SockInet { family, port, addr } => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*family));
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*port));
            out.extend_from_slice(del);
            fmt::v4(out, addr);
        }
        Token::SockInet6 { family, port, addr } => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*family));
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*port));
            out.extend_from_slice(del);
            fmt::addr(out, &Addr::V6(*addr));
        }
        Token::SockUnix { family, path } => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*family));
            out.extend_from_slice(del);
            out.extend_from_slice(fmt::cstr(path));
        }
        Token::ArgUuid { num, uuid, desc } | Token::RetUuid { num, uuid, desc } => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(*num));
            out.extend_from_slice(del);
            fmt::uuid(out, uuid);
            out.extend_from_slice(del);
            fmt::nonul(out, desc);
        }
        Token::Identity(i) => {
            out.extend_from_slice(del);
            fmt::u64d(out, u64::from(i.signer_type));
            out.extend_from_slice(del);
            fmt::nonul(out, i.signing_id);
            out.extend_from_slice(del);
            out.extend_from_slice(trunc_word(cx, i.signing_id_truncated));
            out.extend_from_slice(del);
            fmt::nonul(out, i.team_id);
            out.extend_from_slice(del);
            out.extend_from_slice(trunc_word(cx, i.team_id_truncated));
            out.extend_from_slice(del);
            cdhash(cx, out, i.cdhash);
        }
        Token::Unknown(b) => {
            out.extend_from_slice(del);
            fmt::hexdump(out, b);
        }
    }
}

fn str_list(out: &mut Vec<u8>, del: &[u8], l: &StrList<'_>, max: usize) {
    for s in l.iter().take(max) {
        out.extend_from_slice(del);
        out.extend_from_slice(s);
    }
}

fn header(cx: &mut Ctx<'_>, out: &mut Vec<u8>, id: u8, h: &Header) {
    // header32_ex printer bug (§4.1): it picks its form by the -r flag, not -x, so under -r
    // the text form is the XML attribute body straight after the raw id.
    if id == ids::HEADER32_EX && cx.opts.raw {
        header_attrs(cx, out, h);
        out.push(b'>');
        return;
    }
    header_fields(cx, out, h);
}

fn subject(cx: &mut Ctx<'_>, out: &mut Vec<u8>, s: &Subject) {
    let opts = cx.opts;
    let del: &[u8] = &opts.delim;
    out.extend_from_slice(del);
    cx.user(out, s.auid);
    out.extend_from_slice(del);
    cx.user(out, s.euid);
    out.extend_from_slice(del);
    cx.group(out, s.egid);
    out.extend_from_slice(del);
    cx.user(out, s.ruid);
    out.extend_from_slice(del);
    cx.group(out, s.rgid);
    out.extend_from_slice(del);
    fmt::u64d(out, u64::from(s.pid));
    out.extend_from_slice(del);
    fmt::u64d(out, u64::from(s.sid));
    out.extend_from_slice(del);
    fmt::u64d(out, s.port);
    out.extend_from_slice(del);
    fmt::addr(out, &s.addr);
}
