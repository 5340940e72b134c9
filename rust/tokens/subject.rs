//! subject and process tokens, 32/64-bit and _ex (§4.2).

use super::{ids, net, Addr, Subject};
use crate::cursor::Cursor;
use crate::error::Fault;

pub(super) fn subject(c: &mut Cursor<'_>, id: u8) -> Result<Subject, Fault> {
    let auid = c.u32()?;
    let euid = c.u32()?;
    let egid = c.u32()?;
    let ruid = c.u32()?;
    let rgid = c.u32()?;
    let pid = c.u32()?;
    let sid = c.u32()?;
    let port = if ids::has_wide_port(id) {
        c.u64()?
    } else {
        u64::from(c.u32()?)
    };
    let addr = if ids::has_typed_addr(id) {
        net::ex_addr(c)?
    } else {
        Addr::V4(c.array()?)
    };
    Ok(Subject {
        auid,
        euid,
        egid,
        ruid,
        rgid,
        pid,
        sid,
        port,
        addr,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use crate::error::ErrorKind;

    fn ids7() -> Vec<u8> {
        let mut v = Vec::new();
        for x in [
            0x12345678u32,
            0x01234567,
            0x23456789,
            0x98765432,
            0x09876543,
            0x13243546,
            0x9785_6b64,
        ] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    fn expect(port: u64, addr: Addr) -> Subject {
        Subject {
            auid: 0x12345678,
            euid: 0x01234567,
            egid: 0x23456789,
            ruid: 0x98765432,
            rgid: 0x09876543,
            pid: 0x13243546,
            sid: 0x97856b64,
            port,
            addr,
        }
    }

    #[test]
    fn subject32_and_process32() {
        for (id, is_subject) in [(0x24u8, true), (0x26, false)] {
            let mut b = vec![id];
            b.extend(ids7());
            b.extend_from_slice(&0x1658_4646u32.to_be_bytes());
            b.extend_from_slice(&[127, 0, 0, 1]);
            let t = one(&b);
            assert_eq!(t.len, 37);
            let s = expect(0x16584646, Addr::V4([127, 0, 0, 1]));
            let want = if is_subject {
                Token::Subject(s)
            } else {
                Token::Process(s)
            };
            assert_eq!(t.token, want);
        }
    }

    #[test]
    fn subject64_and_process64_have_u64_port() {
        for id in [0x75u8, 0x77] {
            let mut b = vec![id];
            b.extend(ids7());
            b.extend_from_slice(&u64::MAX.to_be_bytes());
            b.extend_from_slice(&[192, 168, 1, 2]);
            let t = one(&b);
            assert_eq!(t.len, 41);
            let (Token::Subject(s) | Token::Process(s)) = t.token else {
                panic!()
            };
            assert_eq!(s, expect(u64::MAX, Addr::V4([192, 168, 1, 2])));
        }
    }

    #[test]
    fn ex_variants_ipv4_and_ipv6() {
        let mut v6 = [0u8; 16];
        v6[0] = 0xfe;
        v6[1] = 0x80;
        v6[15] = 1;
        for (id, port_len, base) in [(0x7au8, 4, 41), (0x7b, 4, 41), (0x7c, 8, 45), (0x7d, 8, 45)] {
            for (ty, addr) in [(4u32, &v6[..4]), (16, &v6[..])] {
                let mut b = vec![id];
                b.extend(ids7());
                b.extend(std::iter::repeat(0u8).take(port_len - 1));
                b.push(9);
                b.extend_from_slice(&ty.to_be_bytes());
                b.extend_from_slice(addr);
                let t = one(&b);
                assert_eq!(t.len, if ty == 4 { base } else { base + 12 });
                let (Token::Subject(s) | Token::Process(s)) = t.token else {
                    panic!()
                };
                assert_eq!(s.port, 9);
                let want = if ty == 4 {
                    Addr::V4([0xfe, 0x80, 0, 0])
                } else {
                    Addr::V6(v6)
                };
                assert_eq!(s.addr, want);
            }
        }
    }

    #[test]
    fn ex_with_bad_address_type_fails() {
        let mut b = vec![0x7a];
        b.extend(ids7());
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 6, 1, 2, 3, 4]);
        let f = fail(&b);
        assert_eq!(f.kind, ErrorKind::BadAddressType(6));
        assert_eq!(f.pos, 33);
        assert_eq!(f.token_id, Some(0x7a));
    }
}
