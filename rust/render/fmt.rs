//! Byte-level formatting primitives shared by the text and XML printers (§3.1, §3.5, §3.6,
//! §3.8). Everything appends to a `Vec<u8>`; nothing allocates beyond the output buffer.

use crate::inet;
use crate::tokens::Addr;

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
pub(crate) fn u64d(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub(crate) fn i64d(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `%d` of a u32 taken as signed.
#[inline]
pub(crate) fn i32d(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(itoa::Buffer::new().format(v as i32).as_bytes());
}

/// `%x` / `%llx`: lowercase hex, no prefix, no padding.
pub(crate) fn hex(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = HEX[(v & 0xf) as usize];
        }
        v >>= 4;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}

/// `0x%x`: always prefixed (0 → `0x0`).
pub(crate) fn hex0x(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(b"0x");
    hex(out, v);
}

/// C `%#x`: prefixed, except that 0 prints as `0`.
pub(crate) fn alt_hex(out: &mut Vec<u8>, v: u64) {
    if v == 0 {
        out.push(b'0');
    } else {
        hex0x(out, v);
    }
}

/// `%o`: octal, no prefix.
pub(crate) fn oct(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 22];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (v & 7) as u8;
        }
        v >>= 3;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}

/// praudit's `print_mem`: `0x` then two hex digits per byte; nothing at all for no bytes.
pub(crate) fn hexdump(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    out.extend_from_slice(b"0x");
    hex_digits(out, bytes);
}

/// Two lower-case hex digits per byte.
pub(crate) fn hex_digits(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(2 * bytes.len());
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// A length-prefixed string (§3.6): every byte as is, NULs dropped (not terminators).
#[inline]
pub(crate) fn nonul(out: &mut Vec<u8>, s: &[u8]) {
    // The common case is one trailing NUL.
    let s = s.strip_suffix(b"\0").unwrap_or(s);
    if memchr::memchr(0, s).is_none() {
        out.extend_from_slice(s);
    } else {
        out.extend(s.iter().copied().filter(|&b| b != 0));
    }
}

/// A C string: the bytes up to the first NUL.
#[inline]
pub(crate) fn cstr(s: &[u8]) -> &[u8] {
    match memchr::memchr(0, s) {
        Some(i) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// The XML escaping praudit applies to exec args and env (§3.8): the five entities, then
/// BSD `vis(3)` with `VIS_CSTYLE` in the C locale for every other byte. Stops at the first
/// NUL, as praudit passes C strings.
///
/// Like praudit, this leaves the markup character of a meta sequence raw: byte 0xbc is
/// `\M-<`, which breaks the document. [`xml_vis_strict`] escapes it.
pub(crate) fn xml_vis(out: &mut Vec<u8>, s: &[u8]) {
    vis(out, s, false);
}

/// [`xml_vis`] for well-formed XML that keeps text as text: valid UTF-8 characters that
/// XML allows are written as they are ("café 日本語" stays so); only bytes that are not
/// valid UTF-8, control characters (C0 and C1) and the non-characters U+FFFE/U+FFFF are
/// escaped, vis-style. There the character after `\M-` is an entity when it is one of the
/// five (0xa6, 0xbc, 0xbe, 0xa2, 0xa7 give `\M-&amp;`, `\M-&lt;`, ...).
pub(crate) fn xml_vis_strict(out: &mut Vec<u8>, s: &[u8]) {
    for chunk in cstr(s).utf8_chunks() {
        let text = chunk.valid();
        let mut plain = 0; // start of the run of characters copied as they are
        for (i, ch) in text.char_indices() {
            let keep = !ch.is_ascii() && !ch.is_control() && !matches!(ch, '\u{fffe}' | '\u{ffff}');
            if !keep {
                out.extend_from_slice(&text.as_bytes()[plain..i]);
                vis(out, &text.as_bytes()[i..i + ch.len_utf8()], true);
                plain = i + ch.len_utf8();
            }
        }
        out.extend_from_slice(&text.as_bytes()[plain..]);
        vis(out, chunk.invalid(), true);
    }
}

fn entity(c: u8) -> Option<&'static [u8]> {
    Some(match c {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        b'"' => b"&quot;",
        b'\'' => b"&apos;",
        _ => return None,
    })
}

fn vis(out: &mut Vec<u8>, s: &[u8], strict: bool) {
    for &c in cstr(s) {
        if let Some(e) = entity(c) {
            out.extend_from_slice(e);
            continue;
        }
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x21..=0x7e | b' ' | b'\t' | b'\n' => out.push(c),
            0x0d => out.extend_from_slice(b"\\r"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x0b => out.extend_from_slice(b"\\v"),
            0x0c => out.extend_from_slice(b"\\f"),
            0xa0 => out.extend_from_slice(b"\\240"),
            0x80..=0xff => {
                out.extend_from_slice(b"\\M");
                let low = c & 0x7f;
                match low {
                    0x7f => out.extend_from_slice(b"^?"),
                    0..=0x1f => {
                        out.push(b'^');
                        out.push(low + 0x40);
                    }
                    _ => {
                        out.push(b'-');
                        match entity(low) {
                            Some(e) if strict => out.extend_from_slice(e),
                            _ => out.push(low),
                        }
                    }
                }
            }
            0x7f => out.extend_from_slice(b"\\^?"),
            _ => {
                out.extend_from_slice(b"\\^");
                out.push(c + 0x40);
            }
        }
    }
}

/// Dotted decimal.
pub(crate) fn v4(out: &mut Vec<u8>, a: &[u8; 4]) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(a[0]).as_bytes());
    for x in &a[1..] {
        out.push(b'.');
        out.extend_from_slice(b.format(*x).as_bytes());
    }
}

/// A type-tagged address (§3.5): dotted decimal, glibc `inet_ntop` text, or `invalid`.
pub(crate) fn addr(out: &mut Vec<u8>, a: &Addr) {
    match a {
        Addr::V4(v) => v4(out, v),
        // Writing to a Vec cannot fail.
        _ => {
            let _ = inet::write_addr(out, a);
        }
    }
}

/// A UUID's 16 bytes as lowercase hex grouped 8-4-4-4-12 (§4.8).
pub(crate) fn uuid(out: &mut Vec<u8>, u: &[u8; 16]) {
    crate::tokens::write_uuid(out, u);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut v);
        v
    }

    #[test]
    fn numbers() {
        assert_eq!(s(|o| hex(o, 0)), b"0");
        assert_eq!(s(|o| hex(o, u64::MAX)), b"ffffffffffffffff");
        assert_eq!(s(|o| hex0x(o, 0)), b"0x0");
        assert_eq!(s(|o| hex0x(o, 0xabcdef00)), b"0xabcdef00");
        assert_eq!(s(|o| alt_hex(o, 0)), b"0");
        assert_eq!(s(|o| alt_hex(o, 0x5000)), b"0x5000");
        assert_eq!(s(|o| oct(o, 0o100644)), b"100644");
        assert_eq!(s(|o| oct(o, 0)), b"0");
        assert_eq!(s(|o| oct(o, u64::MAX)), b"1777777777777777777777");
        assert_eq!(s(|o| i32d(o, u32::MAX)), b"-1");
        assert_eq!(s(|o| i32d(o, 2542171492)), b"-1752795804");
    }

    #[test]
    fn hexdump_and_strings() {
        assert_eq!(s(|o| hexdump(o, &[])), b"");
        assert_eq!(s(|o| hexdump(o, &[0xaa, 0xbb, 0, 0x0d])), b"0xaabb000d");
        assert_eq!(s(|o| nonul(o, b"ab\0cd\xff\0")), b"abcd\xff");
        assert_eq!(s(|o| nonul(o, b"")), b"");
        assert_eq!(s(|o| nonul(o, b"\0\0")), b"");
        assert_eq!(cstr(b"ab\0cd"), b"ab");
    }

    #[test]
    fn vis_escaping() {
        let bytes = [
            0x0d, 0x08, 0x07, 0x0b, 0x0c, 0xe9, 0x8d, 0x9b, 0x1b, 0x7e, 0x20, 0x5c,
        ];
        assert_eq!(
            s(|o| xml_vis(o, &bytes)),
            br"\r\b\a\v\f\M-i\M^M\M^[\^[~ \\".to_vec()
        );
        assert_eq!(
            s(|o| xml_vis(o, b"<a href='x'>&\"\0tail")),
            b"&lt;a href=&apos;x&apos;&gt;&amp;&quot;".to_vec()
        );
        assert_eq!(
            s(|o| xml_vis(o, &[0xa0, 0x80, 0xff, 0x7f, 0x01])),
            br"\240\M^@\M^?\^?\^A"
        );
    }

    /// Found by the render fuzz target: an exec arg holding byte 0xbc rendered as `\M-<`
    /// under `-x --xml-strict`, and the document no longer parsed.
    #[test]
    fn vis_strict_escapes_markup_after_meta() {
        let meta = [0xa6, 0xbc, 0xbe, 0xa2, 0xa7, 0xe9];
        assert_eq!(s(|o| xml_vis(o, &meta)), br#"\M-&\M-<\M->\M-"\M-'\M-i"#);
        assert_eq!(
            s(|o| xml_vis_strict(o, &meta)),
            br"\M-&amp;\M-&lt;\M-&gt;\M-&quot;\M-&apos;\M-i"
        );
        // Everything else is as praudit's.
        let all: Vec<u8> = (1..=255u8).filter(|b| !meta.contains(b)).collect();
        assert_eq!(s(|o| xml_vis_strict(o, &all)), s(|o| xml_vis(o, &all)));
    }

    #[test]
    fn addresses() {
        assert_eq!(s(|o| v4(o, &[127, 0, 0, 1])), b"127.0.0.1");
        assert_eq!(s(|o| v4(o, &[255, 255, 255, 255])), b"255.255.255.255");
        let mut a6 = [0u8; 16];
        a6[0] = 0xfe;
        a6[1] = 0x80;
        a6[15] = 1;
        assert_eq!(s(|o| addr(o, &Addr::V6(a6))), b"fe80::1");
        assert_eq!(s(|o| addr(o, &Addr::Other(7))), b"invalid");
        let u = [
            0x5a, 0x62, 0xea, 0x53, 0xd4, 0x1c, 0x11, 0xe6, 0xc8, 0xa3, 0x25, 0x00, 0x9d, 0x4b,
            0xb4, 0x9c,
        ];
        assert_eq!(
            s(|o| uuid(o, &u)),
            b"5a62ea53-d41c-11e6-c8a3-25009d4bb49c".to_vec()
        );
    }
}
