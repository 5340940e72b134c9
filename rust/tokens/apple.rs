//! Apple xnu's code-signing identity token (0xed, §7.1). krb5 principal (0xee) and cert
//! hash (0xef) share the exec-args layout and are decoded by `strings::str_list`.

use super::{Identity, Token};
use crate::cursor::Cursor;
use crate::error::Fault;

pub(super) fn identity<'a>(c: &mut Cursor<'a>) -> Result<Token<'a>, Fault> {
    let signer_type = c.u32()?;
    let signing_id = c.counted16()?;
    let signing_id_truncated = c.u8()?;
    let team_id = c.counted16()?;
    let team_id_truncated = c.u8()?;
    let cdhash = c.counted16()?;
    Ok(Token::Identity(Identity {
        signer_type,
        signing_id,
        signing_id_truncated,
        team_id,
        team_id_truncated,
        cdhash,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use crate::error::ErrorKind;

    #[test]
    fn identity_token() {
        let mut b = vec![0xed, 0, 0, 0, 1, 0, 5];
        b.extend_from_slice(b"com.\0");
        b.push(0);
        b.extend_from_slice(&[0, 1, 0]);
        b.push(1);
        b.extend_from_slice(&[0, 3, 0xec, 0x31, 0x87]);
        let t = one(&b);
        assert_eq!(t.len, b.len());
        assert_eq!(
            t.token,
            Token::Identity(Identity {
                signer_type: 1,
                signing_id: b"com.\0",
                signing_id_truncated: 0,
                team_id: b"\0",
                team_id_truncated: 1,
                cdhash: &[0xec, 0x31, 0x87],
            })
        );
        // Empty cdhash.
        let b = [0xed, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let t = one(&b);
        assert_eq!(t.len, 13);
        // A cdhash length past the end.
        let b = [0xed, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 1];
        let f = fail(&b);
        assert_eq!(f.pos, 13);
        assert!(matches!(f.kind, ErrorKind::Truncated { .. }));
    }

    #[test]
    fn krb5_and_cert_hash_lists() {
        let mut b = vec![0xee, 0, 0, 0, 2];
        b.extend_from_slice(b"alice@EXAMPLE.COM\0host/x@EXAMPLE.COM\0");
        let t = one(&b);
        let Token::Krb5Principal(l) = t.token else {
            panic!()
        };
        assert_eq!(l.iter().count(), 2);
        let mut b = vec![0xef, 0, 0, 0, 1];
        b.extend_from_slice(b"abcdef\0");
        let t = one(&b);
        assert_eq!(t.len, 12);
        let Token::CertHash(l) = t.token else {
            panic!()
        };
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![&b"abcdef"[..]]);
    }
}
