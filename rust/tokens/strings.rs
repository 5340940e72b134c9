//! Tokens built around strings: argument, arg/ret uuid, privilege, use of privilege, and the
//! NUL-terminated string lists of exec args/env (and Apple's krb5/cert hash) (§4.7-4.10, §4.23).

use super::{ids, StrList, Token};
use crate::cursor::Cursor;
use crate::error::{ErrorKind, Fault};

pub(super) fn arg<'a>(c: &mut Cursor<'a>, id: u8) -> Result<Token<'a>, Fault> {
    let num = c.u8()?;
    let value = if id == ids::ARG64 {
        c.u64()?
    } else {
        u64::from(c.u32()?)
    };
    let desc = c.counted16()?;
    Ok(Token::Arg { num, value, desc })
}

/// A UUID's 16 bytes as lowercase hex grouped 8-4-4-4-12 (§4.8), appended to `out`.
pub fn write_uuid(out: &mut Vec<u8>, u: &[u8; 16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, &b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// [`write_uuid`] as a `String`.
pub fn uuid_string(u: &[u8; 16]) -> String {
    let mut v = Vec::with_capacity(36);
    write_uuid(&mut v, u);
    // Only ASCII hex digits and dashes were written.
    String::from_utf8(v).unwrap_or_default()
}

pub(super) fn uuid<'a>(c: &mut Cursor<'a>, id: u8) -> Result<Token<'a>, Fault> {
    let num = c.u8()?;
    let uuid = c.array()?;
    let desc = c.counted16()?;
    Ok(if id == ids::ARG_UUID {
        Token::ArgUuid { num, uuid, desc }
    } else {
        Token::RetUuid { num, uuid, desc }
    })
}

pub(super) fn privilege<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let set = c.counted16()?;
    let privs = c.counted16()?;
    Ok(Token::Privilege { set, privs })
}

pub(super) fn use_privilege<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let success = c.u8()?;
    let name = c.counted16()?;
    Ok(Token::UsePrivilege { success, name })
}

/// A u32 count, then that many NUL-terminated strings, all inside the record (§4.10). When
/// the count exceeds the strings present the walk runs on into later tokens, as praudit's
/// does. The loop is driven by bytes consumed, not by the (untrusted) count: every string
/// takes at least its NUL, so a count of 2^32 costs at most one pass over the record.
pub(super) fn str_list<'a>(c: &mut Cursor<'a>) -> Result<StrList<'a>, Fault> {
    let count = c.u32()?;
    let rest = c.rest();
    let mut used = 0usize;
    for _ in 0..count {
        let tail = rest.get(used..).unwrap_or(&[]);
        match memchr::memchr(0, tail) {
            Some(i) => used += i + 1,
            None => {
                return Err(Fault {
                    pos: c.pos() + used,
                    token_id: None,
                    kind: ErrorKind::Truncated {
                        needed: tail.len() as u64 + 1,
                        available: tail.len() as u64,
                    },
                })
            }
        }
    }
    let raw = c.bytes(used)?;
    Ok(StrList { count, raw })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use crate::error::ErrorKind;

    #[test]
    fn arg32_and_arg64() {
        let mut b = vec![0x2d, 3, 0xab, 0xcd, 0xef, 0x00, 0, 4];
        b.extend_from_slice(b"abc\0");
        let t = one(&b);
        assert_eq!(t.len, 12);
        assert_eq!(
            t.token,
            Token::Arg {
                num: 3,
                value: 0xabcdef00,
                desc: b"abc\0"
            }
        );
        let mut b = vec![0x71, 255];
        b.extend_from_slice(&u64::MAX.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        let t = one(&b);
        assert_eq!(t.len, 12);
        assert_eq!(
            t.token,
            Token::Arg {
                num: 255,
                value: u64::MAX,
                desc: b""
            }
        );
    }

    #[test]
    fn arg_desc_past_record_end_fails() {
        let b = [0x2d, 1, 0, 0, 0, 0, 0, 9, b'a'];
        let f = fail(&b);
        assert_eq!(f.pos, 8);
        assert_eq!(
            f.kind,
            ErrorKind::Truncated {
                needed: 9,
                available: 1
            }
        );
    }

    #[test]
    fn arg_and_ret_uuid() {
        let u: [u8; 16] = [
            0x5a, 0x62, 0xea, 0x53, 0xd4, 0x1c, 0x11, 0xe6, 0xc8, 0xa3, 0x25, 0x00, 0x9d, 0x4b,
            0xb4, 0x9c,
        ];
        for id in [0x84u8, 0x85] {
            let mut b = vec![id, 4];
            b.extend_from_slice(&u);
            b.extend_from_slice(&[0, 2, b'x', 0]);
            let t = one(&b);
            assert_eq!(t.len, 22);
            let want = if id == 0x84 {
                Token::ArgUuid {
                    num: 4,
                    uuid: u,
                    desc: b"x\0",
                }
            } else {
                Token::RetUuid {
                    num: 4,
                    uuid: u,
                    desc: b"x\0",
                }
            };
            assert_eq!(t.token, want);
        }
    }

    #[test]
    fn uuid_text_is_grouped_lowercase_hex() {
        let u: [u8; 16] = [
            0x5a, 0x62, 0xea, 0x53, 0xd4, 0x1c, 0x11, 0xe6, 0xc8, 0xa3, 0x25, 0x00, 0x9d, 0x4b,
            0xb4, 0x9c,
        ];
        assert_eq!(uuid_string(&u), "5a62ea53-d41c-11e6-c8a3-25009d4bb49c");
        assert_eq!(
            uuid_string(&[0; 16]),
            "00000000-0000-0000-0000-000000000000"
        );
    }

    #[test]
    fn privilege_and_use_of_privilege() {
        let mut b = vec![0x38, 0, 9];
        b.extend_from_slice(b"effective");
        b.extend_from_slice(&[0, 0]);
        let t = one(&b);
        assert_eq!(t.len, 14);
        assert_eq!(
            t.token,
            Token::Privilege {
                set: b"effective",
                privs: b""
            }
        );
        let mut b = vec![0x39, 1, 0, 4];
        b.extend_from_slice(b"PRIV");
        let t = one(&b);
        assert_eq!(t.len, 8);
        assert_eq!(
            t.token,
            Token::UsePrivilege {
                success: 1,
                name: b"PRIV"
            }
        );
    }

    #[test]
    fn exec_args_and_env() {
        let mut b = vec![0x3c, 0, 0, 0, 3];
        b.extend_from_slice(b"ls\0-l\0\0");
        let t = one(&b);
        assert_eq!(t.len, 12);
        let Token::ExecArgs(l) = t.token else {
            panic!()
        };
        assert_eq!(l.count, 3);
        let v: Vec<&[u8]> = l.iter().collect();
        assert_eq!(v, vec![&b"ls"[..], b"-l", b""]);

        let t = one(&[0x3d, 0, 0, 0, 0, 0x13]);
        assert_eq!(t.len, 5);
        let Token::ExecEnv(l) = t.token else { panic!() };
        assert_eq!(l.iter().count(), 0);
    }

    #[test]
    fn exec_args_count_larger_than_strings_walks_on() {
        // k = 5, two strings, then a trailer whose zero bytes count as empty strings.
        let mut b = vec![0x3c, 0, 0, 0, 5];
        b.extend_from_slice(b"a\0b\0");
        b.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 30]);
        let t = one(&b);
        let Token::ExecArgs(l) = t.token else {
            panic!()
        };
        let v: Vec<&[u8]> = l.iter().collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"\x13\xb1\x05", b"", b""]);
        assert_eq!(t.len, b.len() - 1);
    }

    #[test]
    fn exec_args_huge_count_fails_fast_without_allocating() {
        let mut b = vec![0x3c, 0xff, 0xff, 0xff, 0xff];
        b.extend_from_slice(b"a\0b\0");
        let f = fail(&b);
        assert_eq!(f.pos, 9);
        assert!(matches!(f.kind, ErrorKind::Truncated { .. }));
        // String with no NUL before the record end.
        let f = fail(&[0x3d, 0, 0, 0, 1, b'x', b'y']);
        assert_eq!(f.pos, 5);
        assert_eq!(f.token_id, Some(0x3d));
    }
}
