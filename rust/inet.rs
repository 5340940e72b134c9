//! Address text exactly as glibc/BIND `inet_ntop` writes it (§3.5). Rust's `Ipv6Addr`
//! Display and Python's `ipaddress` differ on embedded IPv4 forms, so this is explicit.

use crate::tokens::Addr;
use std::io::{self, Write};

// The digits are written by hand: an address per socket or subject token, where the
// formatting machinery cost more than the rest of the address.

pub fn write_v4<W: Write>(out: &mut W, a: &[u8; 4]) -> io::Result<()> {
    let mut text = [0u8; 15];
    let mut n = 0;
    for (i, &x) in a.iter().enumerate() {
        if i > 0 {
            text[n] = b'.';
            n += 1;
        }
        if x >= 100 {
            text[n] = b'0' + x / 100;
            n += 1;
        }
        if x >= 10 {
            text[n] = b'0' + x / 10 % 10;
            n += 1;
        }
        text[n] = b'0' + x % 10;
        n += 1;
    }
    out.write_all(&text[..n])
}

/// `v` as lower-case hex without leading zeros (`{:x}`).
fn write_hex_group<W: Write>(out: &mut W, v: u16) -> io::Result<()> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = [
        DIGITS[usize::from(v >> 12)],
        DIGITS[usize::from((v >> 8) & 0xf)],
        DIGITS[usize::from((v >> 4) & 0xf)],
        DIGITS[usize::from(v & 0xf)],
    ];
    let skip = (v.leading_zeros() / 4).min(3) as usize;
    out.write_all(&digits[skip..])
}

pub fn write_v6<W: Write>(out: &mut W, a: &[u8; 16]) -> io::Result<()> {
    let g: [u16; 8] = std::array::from_fn(|i| u16::from_be_bytes([a[2 * i], a[2 * i + 1]]));
    // Longest run of zero groups, the first among equals; runs of one are not compressed.
    let (mut best, mut best_len, mut cur, mut cur_len) = (0usize, 0usize, 0usize, 0usize);
    for (i, &v) in g.iter().enumerate() {
        if v == 0 {
            if cur_len == 0 {
                cur = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                best = cur;
                best_len = cur_len;
            }
        } else {
            cur_len = 0;
        }
    }
    if best_len < 2 {
        best_len = 0;
    }
    let mut i = 0;
    while i < 8 {
        if best_len > 0 && i == best {
            out.write_all(b"::")?;
            i += best_len;
            continue;
        }
        if i > 0 && !(best_len > 0 && i == best + best_len) {
            out.write_all(b":")?;
        }
        // Embedded IPv4: a leading run of 6 zeros, or 5 zeros then ffff.
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && g[5] == 0xffff)) {
            return write_v4(out, &[a[12], a[13], a[14], a[15]]);
        }
        write_hex_group(out, g[i])?;
        i += 1;
    }
    Ok(())
}

/// Type-4 and type-16 addresses; any other type prints `invalid` (only header_ex has one).
pub fn write_addr<W: Write>(out: &mut W, a: &Addr) -> io::Result<()> {
    match a {
        Addr::V4(v) => write_v4(out, v),
        Addr::V6(v) => write_v6(out, v),
        Addr::Other(_) => out.write_all(b"invalid"),
    }
}

pub fn addr_string(a: &Addr) -> String {
    let mut v = Vec::with_capacity(40);
    // Writing to a Vec cannot fail.
    let _ = write_addr(&mut v, a);
    String::from_utf8_lossy(&v).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(groups: [u16; 8]) -> String {
        let mut a = [0u8; 16];
        for (i, g) in groups.iter().enumerate() {
            a[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
        }
        addr_string(&Addr::V6(a))
    }

    #[test]
    fn glibc_checked_outputs() {
        // The table of §3.5.
        let cases: [([u16; 8], &str); 12] = [
            ([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], "::ffff:1.2.3.4"),
            ([0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::1.2.3.4"),
            ([0, 0, 0, 0, 0, 0, 0xffff, 0xffff], "::255.255.255.255"),
            ([0, 0, 0, 0, 0, 0, 0, 0x0100], "::100"),
            ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
            ([0; 8], "::"),
            ([1, 0, 0, 1, 0, 0, 0, 1], "1:0:0:1::1"),
            ([1, 0, 1, 0, 1, 0, 1, 0], "1:0:1:0:1:0:1:0"),
            ([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"),
            ([0, 2, 3, 4, 5, 6, 7, 8], "0:2:3:4:5:6:7:8"),
            ([0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304], "::ffff:0:102:304"),
            (
                [0x64, 0xff9b, 0, 0, 0, 0, 0x0102, 0x0304],
                "64:ff9b::102:304",
            ),
        ];
        for (g, want) in cases {
            assert_eq!(v6(g), want, "{g:x?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn addresses_read_back_as_the_standard_library_reads_them(
            groups in proptest::array::uniform8(proptest::prop_oneof![
                proptest::prelude::Just(0u16),
                proptest::prelude::Just(0xffff),
                0u16..=0xff,
                proptest::prelude::any::<u16>(),
            ]),
            v4 in proptest::prelude::any::<[u8; 4]>(),
        ) {
            use std::net::{Ipv4Addr, Ipv6Addr};
            let text = v6(groups);
            let back: Ipv6Addr = text.parse().unwrap();
            proptest::prop_assert_eq!(back.segments(), groups, "{}", text);
            proptest::prop_assert_eq!(
                addr_string(&Addr::V4(v4)),
                Ipv4Addr::from(v4).to_string()
            );
            // Each group as `{:x}` writes it.
            for g in groups {
                let mut out = Vec::new();
                write_hex_group(&mut out, g).unwrap();
                proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), format!("{g:x}"));
            }
        }
    }

    #[test]
    fn more_forms() {
        assert_eq!(v6([0xfe80, 0, 0, 0, 0, 0, 0, 1]), "fe80::1");
        assert_eq!(v6([1, 2, 3, 4, 5, 6, 7, 0]), "1:2:3:4:5:6:7:0");
        assert_eq!(v6([1, 2, 3, 4, 5, 6, 0, 0]), "1:2:3:4:5:6::");
        assert_eq!(v6([0xffff; 8]), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(addr_string(&Addr::V4([0, 0, 0, 0])), "0.0.0.0");
        assert_eq!(addr_string(&Addr::Other(7)), "invalid");
    }
}
