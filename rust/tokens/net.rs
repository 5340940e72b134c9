//! Address and socket tokens: in_addr_ex, socket, socket_ex, socket-inet/-inet6/-unix
//! (§4.14, §4.19-4.22).

use super::{Addr, Token};
use crate::cursor::Cursor;
use crate::error::{ErrorKind, Fault};

/// Longest socket-unix path window praudit searches for a NUL (`sizeof(sun_path)`, §4.22).
pub const SOCKUNIX_WINDOW: usize = 108;

/// A u32 address type then 4 or 16 address bytes; other types fail (subject_ex, process_ex,
/// in_addr_ex).
pub(super) fn ex_addr(c: &mut Cursor<'_>) -> Result<Addr, Fault> {
    let at = c.pos();
    match c.u32()? {
        4 => Ok(Addr::V4(c.array()?)),
        16 => Ok(Addr::V6(c.array()?)),
        t => Err(Fault {
            pos: at,
            token_id: None,
            kind: ErrorKind::BadAddressType(t),
        }),
    }
}

pub(super) fn socket<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    Ok(Token::Socket {
        sock_type: c.u16()?,
        lport: c.u16()?,
        laddr: c.array()?,
        rport: c.u16()?,
        raddr: c.array()?,
    })
}

pub(super) fn socket_ex<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let domain = c.u16()?;
    let sock_type = c.u16()?;
    let at = c.pos();
    let atype = c.u16()?;
    let v6 = match atype {
        4 => false,
        16 => true,
        t => {
            return Err(Fault {
                pos: at,
                token_id: None,
                kind: ErrorKind::BadAddressType(u32::from(t)),
            })
        }
    };
    let addr = |c: &mut Cursor<'a>| -> Result<Addr, Fault> {
        Ok(if v6 {
            Addr::V6(c.array()?)
        } else {
            Addr::V4(c.array()?)
        })
    };
    let lport = c.u16()?;
    let laddr = addr(c)?;
    let rport = c.u16()?;
    let raddr = addr(c)?;
    Ok(Token::SocketEx {
        domain,
        sock_type,
        lport,
        laddr,
        rport,
        raddr,
    })
}

pub(super) fn sock_inet<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    Ok(Token::SockInet {
        family: c.u16()?,
        port: c.u16()?,
        addr: c.array()?,
    })
}

pub(super) fn sock_inet6<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    Ok(Token::SockInet6 {
        family: c.u16()?,
        port: c.u16()?,
        addr: c.array()?,
    })
}

pub(super) fn sock_unix<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let family = c.u16()?;
    let window = c.remaining().min(SOCKUNIX_WINDOW);
    let rest = c.rest().get(..window).unwrap_or(&[]);
    let path = match memchr::memchr(0, rest) {
        Some(i) => {
            let p = c.bytes(i)?;
            c.bytes(1)?;
            p
        }
        None => c.bytes(window)?,
    };
    Ok(Token::SockUnix { family, path })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use crate::error::ErrorKind;

    #[test]
    fn in_addr_and_in_addr_ex() {
        let t = one(&[0x2a, 192, 168, 100, 15]);
        assert_eq!((t.len, t.token), (5, Token::InAddr([192, 168, 100, 15])));
        let t = one(&[0x7e, 0, 0, 0, 4, 1, 2, 3, 4]);
        assert_eq!(
            (t.len, t.token),
            (9, Token::InAddrEx(Addr::V4([1, 2, 3, 4])))
        );
        let mut b = vec![0x7e, 0, 0, 0, 16];
        let a = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        b.extend_from_slice(&a);
        let t = one(&b);
        assert_eq!((t.len, t.token), (21, Token::InAddrEx(Addr::V6(a))));
        let f = fail(&[0x7e, 0, 0, 0, 5, 1, 2, 3, 4]);
        assert_eq!((f.pos, f.kind), (1, ErrorKind::BadAddressType(5)));
    }

    #[test]
    fn ip_header_and_port() {
        let ip: [u8; 20] = [
            0x45, 0x10, 0, 60, 0x04, 0xd2, 0x40, 0, 0x40, 6, 0xab, 0xcd, 192, 168, 1, 2, 10, 0, 0,
            1,
        ];
        let mut b = vec![0x2b];
        b.extend_from_slice(&ip);
        let t = one(&b);
        assert_eq!((t.len, t.token), (21, Token::Ip(ip)));
        let t = one(&[0x2c, 0x50, 0x00]);
        assert_eq!((t.len, t.token), (3, Token::IpPort(0x5000)));
    }

    #[test]
    fn socket32() {
        let t = one(&[0x2e, 0, 2, 0, 80, 192, 168, 1, 2, 0x01, 0xbb, 8, 8, 8, 8]);
        assert_eq!(t.len, 15);
        assert_eq!(
            t.token,
            Token::Socket {
                sock_type: 2,
                lport: 80,
                laddr: [192, 168, 1, 2],
                rport: 443,
                raddr: [8, 8, 8, 8]
            }
        );
    }

    #[test]
    fn socket_ex_ipv4_ipv6_bad_type() {
        let t = one(&[
            0x7f, 0, 2, 0, 2, 0, 4, 0, 0, 127, 0, 0, 1, 0, 0, 127, 0, 0, 1,
        ]);
        assert_eq!(t.len, 19);
        assert_eq!(
            t.token,
            Token::SocketEx {
                domain: 2,
                sock_type: 2,
                lport: 0,
                laddr: Addr::V4([127, 0, 0, 1]),
                rport: 0,
                raddr: Addr::V4([127, 0, 0, 1])
            }
        );
        let mut b = vec![0x7f, 0, 26, 0, 1, 0, 16, 0x1f, 0x90];
        let mut a = [0u8; 16];
        a[15] = 1;
        b.extend_from_slice(&a);
        b.extend_from_slice(&[0, 53]);
        b.extend_from_slice(&a);
        let t = one(&b);
        assert_eq!(t.len, 43);
        let Token::SocketEx {
            domain,
            lport,
            laddr,
            rport,
            ..
        } = t.token
        else {
            panic!()
        };
        assert_eq!((domain, lport, laddr, rport), (26, 8080, Addr::V6(a), 53));
        let f = fail(&[0x7f, 0, 2, 0, 2, 0, 5, 0, 0]);
        assert_eq!((f.pos, f.kind), (5, ErrorKind::BadAddressType(5)));
    }

    #[test]
    fn socket_inet_and_inet6() {
        let t = one(&[0x80, 0, 2, 0x1f, 0x90, 192, 168, 1, 2]);
        assert_eq!(
            (t.len, t.token),
            (
                9,
                Token::SockInet {
                    family: 2,
                    port: 8080,
                    addr: [192, 168, 1, 2]
                }
            )
        );
        let mut b = vec![0x81, 0, 28, 0x1f, 0x90];
        let a = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        b.extend_from_slice(&a);
        let t = one(&b);
        assert_eq!(
            (t.len, t.token),
            (
                21,
                Token::SockInet6 {
                    family: 28,
                    port: 8080,
                    addr: a
                }
            )
        );
    }

    #[test]
    fn socket_unix_with_and_without_nul() {
        let mut b = vec![0x82, 0, 1];
        b.extend_from_slice(b"/var/run/sock\0");
        b.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 30]);
        let t = one(&b);
        assert_eq!(t.len, 17);
        assert_eq!(
            t.token,
            Token::SockUnix {
                family: 1,
                path: b"/var/run/sock"
            }
        );
        // No NUL in the path: it swallows the trailer up to its first zero byte.
        let mut b = vec![0x82, 0, 1];
        b.extend_from_slice(b"/tmp/abc");
        b.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 30]);
        let t = one(&b);
        assert_eq!(
            t.token,
            Token::SockUnix {
                family: 1,
                path: b"/tmp/abc\x13\xb1\x05"
            }
        );
        // No NUL within the 108-byte window: the token takes exactly the window.
        let mut b = vec![0x82, 0, 1];
        b.extend(std::iter::repeat(b'x').take(200));
        let t = one(&b);
        assert_eq!(t.len, 3 + 108);
        // No NUL and fewer than 108 bytes left: takes what is left.
        let t = one(&[0x82, 0, 1, b'a', b'b']);
        assert_eq!(t.len, 5);
        // Empty path.
        let t = one(&[0x82, 0, 1, 0]);
        assert_eq!(
            (t.len, t.token),
            (
                4,
                Token::SockUnix {
                    family: 1,
                    path: b""
                }
            )
        );
    }
}
