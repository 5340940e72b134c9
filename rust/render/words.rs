//! Pieces both printers use (§4): the header's two forms (praudit's header32_ex printer
//! prints one form's body inside the other, §4.1), the words of IPC types, arbitrary data,
//! identity truncation and upriv, cdhashes, and the XML attribute helpers. Kept apart so
//! that neither printer imports the other.

use super::fmt;
use super::Ctx;
use crate::tokens::Header;

/// Exec args/env print at most this many strings (`AUDIT_MAX_ARGS`, §4.10).
pub(crate) const MAX_ARGS: usize = 128;

/// The IPC object type (§4.17).
pub(crate) fn ipc_type(cx: &Ctx<'_>, out: &mut Vec<u8>, kind: u8) {
    let word: &[u8] = match kind {
        1 => b"Message IPC",
        2 => b"Semaphore IPC",
        3 => b"Shared Memory IPC",
        _ => b"",
    };
    if cx.opts.raw || word.is_empty() {
        fmt::u64d(out, u64::from(kind));
    } else {
        out.extend_from_slice(word);
    }
}

/// The arbitrary-data words (§4.6).
pub(crate) fn data_print_word(print: u8) -> Option<&'static [u8]> {
    Some(match print {
        0 => b"binary",
        1 => b"octal",
        2 => b"decimal",
        3 => b"hex",
        4 => b"string",
        _ => return None,
    })
}

pub(crate) fn data_unit(unit: u8) -> (&'static [u8], usize) {
    match unit {
        0 => (b"byte", 1),
        1 => (b"short", 2),
        2 => (b"int", 4),
        _ => (b"int64", 8),
    }
}

/// The items of an arbitrary-data token (§4.6). Units are read little-endian (the
/// writer's and reader's host order on every current platform); an int64 contributes only
/// its low 32 bits, as the C varargs call passes them.
pub(crate) fn data_items(out: &mut Vec<u8>, print: u8, unit: u8, data: &[u8]) {
    let (_, size) = data_unit(unit);
    for item in data.chunks_exact(size) {
        let mut v: u32 = 0;
        for (i, &b) in item.iter().take(4).enumerate() {
            v |= u32::from(b) << (8 * i);
        }
        match print {
            0 => {
                out.push(b' ');
                out.push(v as u8);
            }
            1 => {
                out.push(b' ');
                fmt::oct(out, u64::from(v));
            }
            2 => {
                out.push(b' ');
                fmt::i32d(out, v);
            }
            3 => {
                out.push(b' ');
                fmt::hex(out, u64::from(v));
            }
            4 => out.push(v as u8),
            _ => {}
        }
    }
}

/// The identity truncation flag word (§7.1).
pub(crate) fn trunc_word<'o>(cx: &'o Ctx<'_>, flag: u8) -> &'o [u8] {
    if flag == 0 {
        b"complete"
    } else {
        &cx.opts.apple_truncated_word
    }
}

pub(crate) fn cdhash(cx: &Ctx<'_>, out: &mut Vec<u8>, h: &[u8]) {
    if h.is_empty() {
        out.extend_from_slice(&cx.opts.apple_empty_cdhash);
    } else {
        fmt::hexdump(out, h);
    }
}

pub(crate) fn upriv_word(success: u8) -> &'static [u8] {
    if success != 0 {
        b"successful use of priv"
    } else {
        b"failed use of priv"
    }
}

/// `D count D version D event D modifier [D host] D time D msec`.
pub(crate) fn header_fields(cx: &mut Ctx<'_>, out: &mut Vec<u8>, h: &Header) {
    let opts = cx.opts;
    let del: &[u8] = &opts.delim;
    out.extend_from_slice(del);
    fmt::u64d(out, u64::from(h.count));
    out.extend_from_slice(del);
    fmt::u64d(out, u64::from(h.version));
    out.extend_from_slice(del);
    cx.event(out, h.event);
    out.extend_from_slice(del);
    fmt::u64d(out, u64::from(h.modifier));
    if let Some(a) = &h.host {
        out.extend_from_slice(del);
        fmt::addr(out, a);
    }
    out.extend_from_slice(del);
    cx.time(out, h.seconds);
    out.extend_from_slice(del);
    cx.msec(out, h.msec);
}

/// `name="` value `" ` (every attribute is followed by a space).
#[inline]
pub(crate) fn attr(out: &mut Vec<u8>, name: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(name);
    out.extend_from_slice(b"=\"");
    value(out);
    out.extend_from_slice(b"\" ");
}

pub(crate) fn attr_u(out: &mut Vec<u8>, name: &[u8], v: u64) {
    attr(out, name, |o| fmt::u64d(o, v));
}

/// The attributes of a header token: `version event modifier [host] time msec `.
pub(crate) fn header_attrs(cx: &mut Ctx<'_>, out: &mut Vec<u8>, h: &Header) {
    attr_u(out, b"version", u64::from(h.version));
    attr(out, b"event", |o| cx.event(o, h.event));
    attr_u(out, b"modifier", u64::from(h.modifier));
    if let Some(a) = &h.host {
        attr(out, b"host", |o| fmt::addr(o, a));
    }
    attr(out, b"time", |o| cx.time(o, h.seconds));
    attr(out, b"msec", |o| cx.msec(o, h.msec));
}
