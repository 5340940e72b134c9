//! The `-x` form of every token (§3.8, §4).
//!
//! By default this is praudit's XML byte for byte, including the places where it is not
//! well-formed: `<IPCipc-type`, the element-less arg_uuid/ret_uuid/upriv/privset
//! attributes, the unclosed `<arbitrary ` and `<group>`, the repeated `</group>`, the
//! header32_ex mix-up, raw (unescaped) string values. With `Options::xml_strict` each of
//! these is fixed (listed in `docs/praudit-compat.md`).

use super::fmt;
use super::words::{
    attr, attr_u, cdhash, data_items, data_print_word, data_unit, header_attrs, header_fields,
    ipc_type, trunc_word, upriv_word, MAX_ARGS,
};
use super::Ctx;
use crate::tokens::{ids, Addr, StrList, Subject, Tok, Token};

fn strict(cx: &Ctx<'_>) -> bool {
    cx.opts.xml_strict
}

pub(crate) fn token(cx: &mut Ctx<'_>, out: &mut Vec<u8>, t: &Tok<'_>) {
    match &t.token {
        Token::Header(h) => {
            if strict(cx) && cx.open {
                out.extend_from_slice(b"</record>");
            }
            out.extend_from_slice(b"<record ");
            // header32_ex printer bug (§4.1): without -r it prints the delimited text body
            // and no `>`.
            if t.id == ids::HEADER32_EX && !cx.opts.raw && !strict(cx) {
                header_fields(cx, out, h);
                return;
            }
            header_attrs(cx, out, h);
            out.push(b'>');
            cx.open = strict(cx);
        }
        Token::Trailer { .. } => {
            if !strict(cx) || cx.open {
                out.extend_from_slice(b"</record>");
            }
            cx.open = false;
        }
        Token::File {
            seconds,
            msec,
            name,
        } => {
            out.extend_from_slice(b"<file ");
            attr(out, b"time", |o| cx.time(o, u64::from(*seconds)));
            attr(out, b"msec", |o| cx.msec(o, u64::from(*msec)));
            out.push(b'>');
            cx.value(out, name);
            out.extend_from_slice(b"</file>");
        }
        Token::Data {
            print,
            unit,
            count,
            data,
        } => {
            out.extend_from_slice(b"<arbitrary ");
            let (_, size) = data_unit(*unit);
            match data_print_word(*print) {
                Some(word) => {
                    attr(out, b"print", |o| o.extend_from_slice(word));
                    attr_u(out, b"type", size as u64);
                    attr_u(out, b"count", u64::from(*count));
                    out.push(b'>');
                    if strict(cx) && matches!(print, 0 | 4) {
                        // Raw characters: escape them.
                        let mut tmp = Vec::with_capacity(data.len() * 2);
                        data_items(&mut tmp, *print, *unit, data);
                        let mut esc = Vec::with_capacity(tmp.len());
                        escape_all(&mut esc, &tmp);
                        out.extend_from_slice(&esc);
                    } else {
                        data_items(out, *print, *unit, data);
                    }
                    out.extend_from_slice(b"</arbitrary>");
                }
                None if strict(cx) => {
                    attr_u(out, b"print", u64::from(*print));
                    attr_u(out, b"type", size as u64);
                    attr_u(out, b"count", u64::from(*count));
                    out.extend_from_slice(b"/>");
                }
                // praudit stops after `<arbitrary `.
                None => {}
            }
        }
        Token::Ipc { kind, id } => {
            // praudit's quirk: no space between the element name and the first attribute.
            out.extend_from_slice(if strict(cx) { b"<IPC " } else { b"<IPC" });
            attr(out, b"ipc-type", |o| ipc_type(cx, o, *kind));
            attr_u(out, b"ipc-id", u64::from(*id));
            out.extend_from_slice(b"/>");
        }
        Token::Path(s) => element(cx, out, b"path", s),
        Token::Text(s) => element(cx, out, b"text", s),
        Token::Zone(s) => {
            out.extend_from_slice(b"<zone ");
            attr(out, b"name", |o| cx.value(o, s));
            out.extend_from_slice(b"/>");
        }
        Token::Subject(s) => subject(cx, out, b"<subject ", s, t.id == ids::SUBJECT32),
        Token::Process(s) => subject(cx, out, b"<process ", s, false),
        Token::Return { status, value } => {
            out.extend_from_slice(b"<return ");
            attr(out, b"errval", |o| cx.status(o, *status));
            attr(out, b"retval", |o| {
                if t.id == ids::RETURN64 {
                    fmt::i64d(o, *value as i64)
                } else {
                    fmt::u64d(o, *value)
                }
            });
            out.extend_from_slice(b"/>");
        }
        Token::Opaque(b) => {
            out.extend_from_slice(b"<opaque>");
            fmt::hexdump(out, b);
            out.extend_from_slice(b"</opaque>");
        }
        Token::InAddr(a) => {
            out.extend_from_slice(b"<ip_address>");
            fmt::v4(out, a);
            out.extend_from_slice(b"</ip_address>");
        }
        Token::InAddrEx(a) => {
            out.extend_from_slice(b"<ip_address>");
            fmt::addr(out, a);
            out.extend_from_slice(b"</ip_address>");
        }
        Token::Ip(ip) => {
            let u16at = |i: usize| u64::from(u16::from_be_bytes([ip[i], ip[i + 1]]));
            out.extend_from_slice(b"<ip ");
            attr(out, b"version", |o| fmt::hexdump(o, &ip[0..1]));
            attr(out, b"service_type", |o| fmt::hexdump(o, &ip[1..2]));
            attr_u(out, b"len", u16at(2));
            attr_u(out, b"id", u16at(4));
            attr_u(out, b"offset", u16at(6));
            attr(out, b"time_to_live", |o| fmt::hexdump(o, &ip[8..9]));
            attr(out, b"protocol", |o| fmt::hexdump(o, &ip[9..10]));
            attr_u(out, b"cksum", u16at(10));
            attr(out, b"src_addr", |o| {
                fmt::v4(o, &[ip[12], ip[13], ip[14], ip[15]])
            });
            attr(out, b"dest_addr", |o| {
                fmt::v4(o, &[ip[16], ip[17], ip[18], ip[19]])
            });
            out.extend_from_slice(b"/>");
        }
        Token::IpPort(p) => {
            out.extend_from_slice(b"<ip_port>");
            fmt::alt_hex(out, u64::from(*p));
            out.extend_from_slice(b"</ip_port>");
        }
        Token::Arg { num, value, desc } => {
            out.extend_from_slice(b"<argument ");
            attr_u(out, b"arg-num", u64::from(*num));
            attr(out, b"value", |o| fmt::hex0x(o, *value));
            attr(out, b"desc", |o| cx.value(o, desc));
            out.extend_from_slice(b"/>");
        }
        Token::Socket {
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            out.extend_from_slice(b"<socket ");
            attr_u(out, b"sock_type", u64::from(*sock_type));
            attr_u(out, b"lport", u64::from(*lport));
            attr(out, b"laddr", |o| fmt::v4(o, laddr));
            attr_u(out, b"fport", u64::from(*rport));
            attr(out, b"faddr", |o| fmt::v4(o, raddr));
            out.extend_from_slice(b"/>");
        }
        Token::Seq(n) => {
            out.extend_from_slice(b"<sequence ");
            attr_u(out, b"seq-num", u64::from(*n));
            out.extend_from_slice(b"/>");
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
            out.extend_from_slice(b"<IPC_perm ");
            attr(out, b"uid", |o| cx.user(o, *uid));
            attr(out, b"gid", |o| cx.group(o, *gid));
            attr(out, b"creator-uid", |o| cx.user(o, *cuid));
            attr(out, b"creator-gid", |o| cx.group(o, *cgid));
            attr(out, b"mode", |o| fmt::oct(o, u64::from(*mode)));
            attr_u(out, b"seq", u64::from(*seq));
            attr_u(out, b"key", u64::from(*key));
            out.extend_from_slice(b"/>");
        }
        Token::Privilege { set, privs } => {
            if strict(cx) {
                out.extend_from_slice(b"<privilege ");
            }
            attr(out, b"type", |o| cx.value(o, set));
            attr(out, b"priv", |o| cx.value(o, privs));
            if strict(cx) {
                out.extend_from_slice(b"/>");
            }
        }
        Token::UsePrivilege { success, name } => {
            if strict(cx) {
                out.extend_from_slice(b"<use_of_privilege ");
            }
            attr(out, b"status", |o| {
                o.extend_from_slice(upriv_word(*success))
            });
            attr(out, b"name", |o| cx.value(o, name));
            if strict(cx) {
                out.extend_from_slice(b"/>");
            }
        }
        Token::Groups(g) => {
            out.extend_from_slice(b"<group>");
            for gid in g.iter() {
                out.extend_from_slice(b"<gid>");
                cx.group(out, gid);
                out.extend_from_slice(b"</gid>");
                if !strict(cx) {
                    // praudit closes the group after every gid.
                    out.extend_from_slice(b"</group>");
                }
            }
            if strict(cx) {
                out.extend_from_slice(b"</group>");
            }
        }
        Token::ExecArgs(l) => str_list(cx, out, b"exec_args", b"arg", l, MAX_ARGS),
        Token::ExecEnv(l) => str_list(cx, out, b"exec_env", b"env", l, MAX_ARGS),
        Token::Krb5Principal(l) => {
            str_list(cx, out, b"krb5_principal", b"principal", l, usize::MAX)
        }
        Token::CertHash(l) => str_list(cx, out, b"cert_hash", b"hash", l, usize::MAX),
        Token::Attr {
            mode,
            uid,
            gid,
            fsid,
            nodeid,
            device,
        } => {
            out.extend_from_slice(b"<attribute ");
            attr(out, b"mode", |o| fmt::oct(o, u64::from(*mode)));
            attr(out, b"uid", |o| cx.user(o, *uid));
            attr(out, b"gid", |o| cx.group(o, *gid));
            attr_u(out, b"fsid", u64::from(*fsid));
            attr(out, b"nodeid", |o| fmt::i64d(o, *nodeid as i64));
            attr_u(out, b"device", *device);
            out.extend_from_slice(b"/>");
        }
        Token::Exit { status, value } => {
            out.extend_from_slice(b"<exit ");
            attr(out, b"errval", |o| {
                o.extend_from_slice(b"Error ");
                fmt::u64d(o, u64::from(*status));
            });
            attr_u(out, b"retval", u64::from(*value));
            out.extend_from_slice(b"/>");
        }
        Token::SocketEx {
            domain,
            sock_type,
            lport,
            laddr,
            rport,
            raddr,
        } => {
            // faddr before fport, unlike the text order (§4.20).
            out.extend_from_slice(b"<socket ");
            attr(out, b"sock_dom", |o| fmt::alt_hex(o, u64::from(*domain)));
            attr(out, b"sock_type", |o| {
                fmt::alt_hex(o, u64::from(*sock_type))
            });
            attr(out, b"lport", |o| fmt::alt_hex(o, u64::from(*lport)));
            attr(out, b"laddr", |o| fmt::addr(o, laddr));
            attr(out, b"faddr", |o| fmt::addr(o, raddr));
            attr(out, b"fport", |o| fmt::alt_hex(o, u64::from(*rport)));
            out.extend_from_slice(b"/>");
        }
        Token::SockInet { family, port, addr } => {
            out.extend_from_slice(b"<socket-inet ");
            attr_u(out, b"type", u64::from(*family));
            attr_u(out, b"port", u64::from(*port));
            attr(out, b"addr", |o| fmt::v4(o, addr));
            out.extend_from_slice(b"/>");
        }
        Token::SockInet6 { family, port, addr } => {
            out.extend_from_slice(b"<socket-inet6 ");
            attr_u(out, b"type", u64::from(*family));
            attr_u(out, b"port", u64::from(*port));
            attr(out, b"addr", |o| fmt::addr(o, &Addr::V6(*addr)));
            out.extend_from_slice(b"/>");
        }
        Token::SockUnix { family, path } => {
            out.extend_from_slice(b"<socket-unix ");
            attr_u(out, b"type", u64::from(*family));
            attr(out, b"port", |_| {});
            attr(out, b"addr", |o| cx.value(o, fmt::cstr(path)));
            out.extend_from_slice(b"/>");
        }
        Token::ArgUuid { num, uuid, desc } => uuid_attrs(cx, out, b"arg_uuid", *num, uuid, desc),
        Token::RetUuid { num, uuid, desc } => uuid_attrs(cx, out, b"ret_uuid", *num, uuid, desc),
        Token::Identity(i) => {
            out.extend_from_slice(b"<identity ");
            attr_u(out, b"signer-type", u64::from(i.signer_type));
            attr(out, b"signing-id", |o| cx.value(o, i.signing_id));
            attr(out, b"signing-id-truncated", |o| {
                o.extend_from_slice(trunc_word(cx, i.signing_id_truncated))
            });
            attr(out, b"team-id", |o| cx.value(o, i.team_id));
            attr(out, b"team-id-truncated", |o| {
                o.extend_from_slice(trunc_word(cx, i.team_id_truncated))
            });
            attr(out, b"cdhash", |o| cdhash(cx, o, i.cdhash));
            out.extend_from_slice(b"/>");
        }
        // praudit prints nothing for an unknown token under -x.
        Token::Unknown(_) => {}
    }
}

/// Strict mode: escape arbitrary bytes (NULs included) so the document stays well-formed.
fn escape_all(out: &mut Vec<u8>, s: &[u8]) {
    for chunk in s.split_inclusive(|&b| b == 0) {
        match chunk.split_last() {
            Some((0, head)) => {
                fmt::xml_vis_strict(out, head);
                out.extend_from_slice(b"\\000");
            }
            _ => fmt::xml_vis_strict(out, chunk),
        }
    }
}

fn element(cx: &Ctx<'_>, out: &mut Vec<u8>, name: &[u8], s: &[u8]) {
    out.push(b'<');
    out.extend_from_slice(name);
    out.push(b'>');
    cx.value(out, s);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name);
    out.push(b'>');
}

fn subject(cx: &mut Ctx<'_>, out: &mut Vec<u8>, open: &[u8], s: &Subject, spaced_tid: bool) {
    out.extend_from_slice(open);
    attr(out, b"audit-uid", |o| cx.user(o, s.auid));
    attr(out, b"uid", |o| cx.user(o, s.euid));
    attr(out, b"gid", |o| cx.group(o, s.egid));
    attr(out, b"ruid", |o| cx.user(o, s.ruid));
    attr(out, b"rgid", |o| cx.group(o, s.rgid));
    attr_u(out, b"pid", u64::from(s.pid));
    attr_u(out, b"sid", u64::from(s.sid));
    // tid is the port joined straight onto the address; subject32 alone has a space.
    attr(out, b"tid", |o| {
        fmt::u64d(o, s.port);
        if spaced_tid {
            o.push(b' ');
        }
        fmt::addr(o, &s.addr);
    });
    out.extend_from_slice(b"/>");
}

fn str_list(
    cx: &Ctx<'_>,
    out: &mut Vec<u8>,
    outer: &[u8],
    inner: &[u8],
    l: &StrList<'_>,
    max: usize,
) {
    out.push(b'<');
    out.extend_from_slice(outer);
    out.push(b'>');
    for s in l.iter().take(max) {
        out.push(b'<');
        out.extend_from_slice(inner);
        out.push(b'>');
        if strict(cx) {
            fmt::xml_vis_strict(out, s);
        } else {
            fmt::xml_vis(out, s);
        }
        out.extend_from_slice(b"</");
        out.extend_from_slice(inner);
        out.push(b'>');
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(outer);
    out.push(b'>');
}

/// arg_uuid / ret_uuid: praudit prints only the attributes, with no element (§4.8).
fn uuid_attrs(cx: &Ctx<'_>, out: &mut Vec<u8>, name: &[u8], num: u8, u: &[u8; 16], d: &[u8]) {
    if strict(cx) {
        out.push(b'<');
        out.extend_from_slice(name);
        out.push(b' ');
        attr_u(out, b"num", u64::from(num));
    } else {
        let mut n = name.to_vec();
        n.extend_from_slice(b"-num");
        attr_u(out, &n, u64::from(num));
    }
    attr(out, b"uuid", |o| fmt::uuid(o, u));
    attr(out, b"desc", |o| cx.value(o, d));
    if strict(cx) {
        out.extend_from_slice(b"/>");
    }
}

#[cfg(test)]
mod tests {
    use crate::lookup::Lookup;
    use crate::render::{Options, Renderer};
    use std::sync::Arc;

    /// Found by the render fuzz target: an exec arg holding byte 0xbc printed `\M-<` raw
    /// under `-x --xml-strict`. praudit's own `-x` output keeps it.
    #[test]
    fn strict_exec_arg_with_meta_markup_byte() {
        // header32 (18) + exec_args ["a\xbc"] (9) + trailer (7) = 34
        let mut rec = vec![0x14, 0, 0, 0, 34, 11, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        rec.extend_from_slice(&[0x3c, 0, 0, 0, 1, b'a', 0xbc, 0]);
        rec.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 34]);
        let render = |xml_strict| {
            let opts = Options {
                xml: true,
                xml_strict,
                raw: true,
                ..Options::default()
            };
            let mut out = Vec::new();
            Renderer::new(opts, Arc::new(Lookup::new())).record(&rec, &mut out);
            out
        };
        let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(has(&render(true), br"<arg>a\M-&lt;</arg>"));
        assert!(has(&render(false), br"<arg>a\M-<</arg>"));
    }
}
