//! header32/32_ex/64/64_ex, trailer and the standalone file token (§1.2, §1.4, §4.12).

use super::{ids, Addr, Header, Token};
use crate::cursor::Cursor;
use crate::error::Fault;

pub(super) fn header<'a>(c: &mut Cursor<'a>, id: u8) -> Result<Token<'a>, Fault> {
    let count = c.u32()?;
    let version = c.u8()?;
    let event = c.u16()?;
    let modifier = c.u16()?;
    let ex = matches!(id, ids::HEADER32_EX | ids::HEADER64_EX);
    // header_ex alone accepts any address type: for types other than 4 and 16 it reads no
    // address bytes and the time follows at once (§1.2).
    let host = if ex {
        Some(match c.u32()? {
            4 => Addr::V4(c.array()?),
            16 => Addr::V6(c.array()?),
            t => Addr::Other(t),
        })
    } else {
        None
    };
    let (seconds, msec) = if matches!(id, ids::HEADER64 | ids::HEADER64_EX) {
        (c.u64()?, c.u64()?)
    } else {
        (u64::from(c.u32()?), u64::from(c.u32()?))
    };
    Ok(Token::Header(Header {
        count,
        version,
        event,
        modifier,
        host,
        seconds,
        msec,
    }))
}

pub(super) fn trailer<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let magic = c.u16()?;
    let count = c.u32()?;
    Ok(Token::Trailer { magic, count })
}

pub(super) fn file<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let seconds = c.u32()?;
    let msec = c.u32()?;
    let name = c.counted16()?;
    Ok(Token::File {
        seconds,
        msec,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use crate::error::ErrorKind;

    const H32: [u8; 18] = [
        0x14, 0, 0, 0, 50, 11, 0x00, 0x01, 0x40, 0x00, 0x49, 0x57, 0x97, 0x52, 0, 0, 0, 131,
    ];

    #[test]
    fn header32() {
        let t = one(&H32);
        assert_eq!(t.len, 18);
        assert_eq!(
            t.token,
            Token::Header(Header {
                count: 50,
                version: 11,
                event: 1,
                modifier: 0x4000,
                host: None,
                seconds: 1230477138,
                msec: 131
            })
        );
    }

    #[test]
    fn header32_ex_ipv4_ipv6_and_other_types() {
        let mut v4 = vec![
            0x15, 0, 0, 0, 38, 11, 0xaf, 0xe5, 0, 0, 0, 0, 0, 4, 10, 0, 0, 1,
        ];
        v4.extend_from_slice(&[0x49, 0x57, 0x97, 0x52, 0, 0, 0, 131]);
        let t = one(&v4);
        assert_eq!(t.len, 26);
        let Token::Header(h) = t.token else { panic!() };
        assert_eq!(h.host, Some(Addr::V4([10, 0, 0, 1])));
        assert_eq!(h.event, 45029);
        assert_eq!(h.seconds, 1230477138);

        let mut v6 = vec![0x15, 0, 0, 0, 50, 11, 0, 1, 0, 0, 0, 0, 0, 16];
        let mut a = [0u8; 16];
        a[0] = 0xfe;
        a[1] = 0x80;
        a[15] = 1;
        v6.extend_from_slice(&a);
        v6.extend_from_slice(&[0, 0, 0, 5, 0, 0, 0, 6]);
        let t = one(&v6);
        assert_eq!(t.len, 38);
        let Token::Header(h) = t.token else { panic!() };
        assert_eq!(h.host, Some(Addr::V6(a)));
        assert_eq!((h.seconds, h.msec), (5, 6));

        let other = [
            0x15, 0, 0, 0, 46, 11, 0, 1, 0, 0, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 6,
        ];
        let t = one(&other);
        assert_eq!(t.len, 22);
        let Token::Header(h) = t.token else { panic!() };
        assert_eq!(h.host, Some(Addr::Other(7)));
        assert_eq!((h.seconds, h.msec), (5, 6));
    }

    #[test]
    fn header64_and_64_ex_with_extreme_times() {
        let mut b = vec![0x74, 0, 0, 0, 38, 11, 0xaf, 0xe5, 0x40, 0];
        b.extend_from_slice(&u64::MAX.to_be_bytes());
        b.extend_from_slice(&(1u64 << 40).to_be_bytes());
        let t = one(&b);
        assert_eq!(t.len, 26);
        let Token::Header(h) = t.token else { panic!() };
        assert_eq!((h.seconds, h.msec, h.host), (u64::MAX, 1 << 40, None));

        let mut b = vec![
            0x79, 0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4,
        ];
        b.extend_from_slice(&[192, 168, 1, 2]);
        b.extend_from_slice(&7u64.to_be_bytes());
        b.extend_from_slice(&8u64.to_be_bytes());
        let t = one(&b);
        assert_eq!(t.len, 34);
        let Token::Header(h) = t.token else { panic!() };
        assert_eq!(h.count, u32::MAX);
        assert_eq!(h.event, u16::MAX);
        assert_eq!(h.modifier, u16::MAX);
        assert_eq!(h.host, Some(Addr::V4([192, 168, 1, 2])));
        assert_eq!((h.seconds, h.msec), (7, 8));
    }

    #[test]
    fn truncated_header_reports_offset() {
        let f = fail(&H32[..12]);
        assert_eq!(f.pos, 10);
        assert_eq!(f.token_id, Some(0x14));
        assert_eq!(
            f.kind,
            ErrorKind::Truncated {
                needed: 4,
                available: 2
            }
        );
    }

    #[test]
    fn trailer() {
        let t = one(&[0x13, 0xb1, 0x05, 0, 0, 0, 50]);
        assert_eq!(t.len, 7);
        assert_eq!(
            t.token,
            Token::Trailer {
                magic: 0xb105,
                count: 50
            }
        );
        // praudit checks neither magic nor count: the decoder reports them as they are.
        let t = one(&[0x13, 0xde, 0xad, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            t.token,
            Token::Trailer {
                magic: 0xdead,
                count: u32::MAX
            }
        );
    }

    #[test]
    fn file_token_with_and_without_name() {
        let b = [
            0x11, 0, 1, 0x23, 0x45, 0, 0, 1, 0xa8, 0, 5, b't', b'e', b's', b't', 0,
        ];
        let t = one(&b);
        assert_eq!(t.len, 16);
        assert_eq!(
            t.token,
            Token::File {
                seconds: 74565,
                msec: 424,
                name: b"test\0"
            }
        );
        let t = one(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(t.len, 11);
        let f = fail(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, b'x']);
        assert_eq!(f.pos, 11);
    }
}
