//! return/return64/exit, arbitrary data, IPC, IPC perm, groups and attribute tokens.

use super::{ids, Groups, Token};
use crate::cursor::Cursor;
use crate::error::{ErrorKind, Fault};

/// Most gids a groups token holds; praudit reads no more (`AUDIT_MAX_GROUPS`, §4.11).
pub const MAX_GROUPS: u16 = 16;

pub(super) fn ret<'a>(c: &mut Cursor<'a>, id: u8) -> Result<Token<'a>, Fault> {
    Ok(match id {
        ids::EXIT => Token::Exit {
            status: c.u32()?,
            value: c.u32()?,
        },
        ids::RETURN64 => Token::Return {
            status: c.u8()?,
            value: c.u64()?,
        },
        _ => Token::Return {
            status: c.u8()?,
            value: u64::from(c.u32()?),
        },
    })
}

/// Size in bytes of an arbitrary-data unit type, or `None` for an invalid type.
pub fn data_unit_size(unit: u8) -> Option<usize> {
    match unit {
        0 => Some(1),
        1 => Some(2),
        2 => Some(4),
        3 => Some(8),
        _ => None,
    }
}

/// The values of an arbitrary-data token: multi-byte units are in the writer's host order,
/// little-endian on every current platform (§4.6).
pub fn data_values(unit: u8, data: &[u8]) -> impl Iterator<Item = u64> + '_ {
    // A decoded token always has a valid unit; 8 only keeps the function total.
    let size = data_unit_size(unit).unwrap_or(8);
    data.chunks_exact(size).map(move |c| {
        let mut v = [0u8; 8];
        v[..size].copy_from_slice(c);
        u64::from_le_bytes(v)
    })
}

pub(super) fn data<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let print = c.u8()?;
    let unit_pos = c.pos();
    let unit = c.u8()?;
    let count = c.u8()?;
    let size = data_unit_size(unit).ok_or(Fault {
        pos: unit_pos,
        token_id: None,
        kind: ErrorKind::BadDataUnit(unit),
    })?;
    // At most 255 * 8 bytes: no overflow possible.
    let data = c.bytes(usize::from(count) * size)?;
    Ok(Token::Data {
        print,
        unit,
        count,
        data,
    })
}

pub(super) fn ipc<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    Ok(Token::Ipc {
        kind: c.u8()?,
        id: c.u32()?,
    })
}

pub(super) fn ipc_perm<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    Ok(Token::IpcPerm {
        uid: c.u32()?,
        gid: c.u32()?,
        cuid: c.u32()?,
        cgid: c.u32()?,
        mode: c.u32()?,
        seq: c.u32()?,
        key: c.u32()?,
    })
}

pub(super) fn groups<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let declared = c.u16()?;
    let n = declared.min(MAX_GROUPS);
    let raw = c.bytes(usize::from(n) * 4)?;
    Ok(Token::Groups(Groups { declared, raw }))
}

pub(super) fn attr<'a>(c: &mut Cursor<'a>, id: u8) -> Result<Token<'a>, Fault> {
    let mode = c.u32()?;
    let uid = c.u32()?;
    let gid = c.u32()?;
    let fsid = c.u32()?;
    let nodeid = c.u64()?;
    let device = if id == ids::ATTR64 {
        c.u64()?
    } else {
        u64::from(c.u32()?)
    };
    Ok(Token::Attr {
        mode,
        uid,
        gid,
        fsid,
        nodeid,
        device,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use crate::error::ErrorKind;

    #[test]
    fn return32_return64_exit() {
        let t = one(&[0x27, 2, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(t.len, 6);
        assert_eq!(
            t.token,
            Token::Return {
                status: 2,
                value: 0xffff_ffff
            }
        );
        let mut b = vec![0x72, 13];
        b.extend_from_slice(&u64::MAX.to_be_bytes());
        let t = one(&b);
        assert_eq!(t.len, 10);
        assert_eq!(
            t.token,
            Token::Return {
                status: 13,
                value: u64::MAX
            }
        );
        let t = one(&[0x52, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(t.len, 9);
        assert_eq!(
            t.token,
            Token::Exit {
                status: 3,
                value: u32::MAX
            }
        );
    }

    #[test]
    fn arbitrary_data_each_unit() {
        let t = one(&[0x21, 4, 0, 3, b'a', 0, b'b']);
        assert_eq!(t.len, 7);
        assert_eq!(
            t.token,
            Token::Data {
                print: 4,
                unit: 0,
                count: 3,
                data: b"a\0b"
            }
        );
        for (unit, size) in [(1u8, 2usize), (2, 4), (3, 8)] {
            let mut b = vec![0x21, 3, unit, 2];
            b.extend(std::iter::repeat(0xee).take(2 * size));
            let t = one(&b);
            assert_eq!(t.len, 4 + 2 * size);
        }
        // Maximum count with 8-byte units.
        let mut b = vec![0x21, 2, 3, 255];
        b.extend(std::iter::repeat(1).take(255 * 8));
        assert_eq!(one(&b).len, 4 + 255 * 8);
        // Zero items.
        assert_eq!(one(&[0x21, 2, 0, 0]).len, 4);
    }

    #[test]
    fn arbitrary_data_bad_unit_and_short() {
        let f = fail(&[0x21, 2, 4, 1, 0, 0, 0, 0]);
        assert_eq!(f.kind, ErrorKind::BadDataUnit(4));
        assert_eq!(f.pos, 2);
        let f = fail(&[0x21, 2, 2, 2, 0, 0, 0, 0]);
        assert_eq!(
            f.kind,
            ErrorKind::Truncated {
                needed: 8,
                available: 4
            }
        );
    }

    #[test]
    fn data_values_are_little_endian_units() {
        let v: Vec<u64> = data_values(0, &[0xff, 0x80, 0]).collect();
        assert_eq!(v, vec![255, 128, 0]);
        let v: Vec<u64> = data_values(1, &[0x34, 0x12, 0xff, 0xff]).collect();
        assert_eq!(v, vec![0x1234, 0xffff]);
        let v: Vec<u64> = data_values(2, &[4, 3, 2, 1, 1, 0, 0, 0x80]).collect();
        assert_eq!(v, vec![0x0102_0304, 0x8000_0001]);
        let v: Vec<u64> = data_values(3, &(-2i64).to_le_bytes()).collect();
        assert_eq!(v, vec![u64::MAX - 1]);
        assert_eq!(data_values(2, &[]).count(), 0);
    }

    #[test]
    fn ipc_and_ipc_perm() {
        let t = one(&[0x22, 1, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(
            t.token,
            Token::Ipc {
                kind: 1,
                id: 0x12345678
            }
        );
        let mut b = vec![0x32];
        for x in [0u32, 0, 1, 20, 0o600, 3, 4660] {
            b.extend_from_slice(&x.to_be_bytes());
        }
        let t = one(&b);
        assert_eq!(t.len, 29);
        assert_eq!(
            t.token,
            Token::IpcPerm {
                uid: 0,
                gid: 0,
                cuid: 1,
                cgid: 20,
                mode: 0o600,
                seq: 3,
                key: 4660
            }
        );
    }

    #[test]
    fn groups_reads_at_most_sixteen() {
        let t = one(&[0x3b, 0, 0]);
        assert_eq!(t.len, 3);
        let Token::Groups(g) = t.token else { panic!() };
        assert!(g.is_empty());

        let mut b = vec![0x3b, 0, 3];
        for g in [0u32, 20, 99999] {
            b.extend_from_slice(&g.to_be_bytes());
        }
        let Token::Groups(g) = one(&b).token else {
            panic!()
        };
        assert_eq!(g.iter().collect::<Vec<_>>(), vec![0, 20, 99999]);

        let mut b = vec![0x3b, 0xff, 0xff];
        for g in 0..20u32 {
            b.extend_from_slice(&g.to_be_bytes());
        }
        let t = one(&b);
        assert_eq!(t.len, 3 + 64);
        let Token::Groups(g) = t.token else { panic!() };
        assert_eq!(g.declared, 0xffff);
        assert_eq!(g.len(), 16);
    }

    #[test]
    fn attr32_and_attr64() {
        let mut b = vec![0x3e];
        for x in [0o100555u32, 0, 0, 90] {
            b.extend_from_slice(&x.to_be_bytes());
        }
        b.extend_from_slice(&24222u64.to_be_bytes());
        b.extend_from_slice(&112200u32.to_be_bytes());
        let t = one(&b);
        assert_eq!(t.len, 29);
        assert_eq!(
            t.token,
            Token::Attr {
                mode: 0o100555,
                uid: 0,
                gid: 0,
                fsid: 90,
                nodeid: 24222,
                device: 112200
            }
        );
        let mut b = vec![0x73];
        for x in [0o40755u32, 1, 1, 123] {
            b.extend_from_slice(&x.to_be_bytes());
        }
        b.extend_from_slice(&u64::MAX.to_be_bytes());
        b.extend_from_slice(&4294967297u64.to_be_bytes());
        let t = one(&b);
        assert_eq!(t.len, 33);
        assert_eq!(
            t.token,
            Token::Attr {
                mode: 0o40755,
                uid: 1,
                gid: 1,
                fsid: 123,
                nodeid: u64::MAX,
                device: 4294967297
            }
        );
    }
}
