//! Building one record: header, body tokens, trailer, with the byte counts filled in.
//!
//! The header's count is the length of the whole record, header and 7-byte trailer
//! included, and the trailer repeats it (§1.3, §1.4), as libbsm's `au_close` writes it.

use super::encode::{self, EncodeError};
use crate::framing::{TRAILER_LEN, TRAILER_MAGIC};
use crate::tokens::{ids, Addr, Header, Token};

/// OpenBSM's header version (`AUDIT_HEADER_VERSION_OPENBSM11`).
pub const VERSION_OPENBSM: u8 = 11;

/// Which header token starts the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderKind {
    /// header32 (0x14): times must fit u32.
    Header32,
    /// header32_ex (0x15) with the writing host's address.
    Header32Ex(Addr),
    /// header64 (0x74).
    Header64,
    /// header64_ex (0x79).
    Header64Ex(Addr),
}

impl HeaderKind {
    pub fn id(&self) -> u8 {
        match self {
            HeaderKind::Header32 => ids::HEADER32,
            HeaderKind::Header32Ex(_) => ids::HEADER32_EX,
            HeaderKind::Header64 => ids::HEADER64,
            HeaderKind::Header64Ex(_) => ids::HEADER64_EX,
        }
    }

    fn host(&self) -> Option<Addr> {
        match *self {
            HeaderKind::Header32Ex(a) | HeaderKind::Header64Ex(a) => Some(a),
            HeaderKind::Header32 | HeaderKind::Header64 => None,
        }
    }
}

/// A record under construction. Body tokens are appended in order; the first error is kept
/// and returned by [`RecordBuilder::finish`] (later additions are then ignored), so calls
/// can be chained:
///
/// ```
/// use _native::tokens::{ids, Token};
/// use _native::writer::{HeaderKind, RecordBuilder};
///
/// let rec = RecordBuilder::new(HeaderKind::Header32, 45000, 0, 1_700_000_000, 125)
///     .token(&Token::Text(b"auditd::Audit startup\0"), ids::TEXT)
///     .token(&Token::Return { status: 0, value: 0 }, ids::RETURN32)
///     .finish()
///     .unwrap();
/// assert_eq!(rec.len(), 18 + 25 + 6 + 7);
/// ```
#[derive(Clone, Debug)]
pub struct RecordBuilder {
    kind: HeaderKind,
    version: u8,
    event: u16,
    modifier: u16,
    seconds: u64,
    msec: u64,
    body: Vec<u8>,
    error: Option<EncodeError>,
}

impl RecordBuilder {
    /// A record of event `event` with `modifier` flags at `seconds` + `msec`, version 11.
    pub fn new(kind: HeaderKind, event: u16, modifier: u16, seconds: u64, msec: u64) -> Self {
        RecordBuilder {
            kind,
            version: VERSION_OPENBSM,
            event,
            modifier,
            seconds,
            msec,
            body: Vec::new(),
            error: None,
        }
    }

    /// Set the header version (default 11).
    pub fn version(&mut self, version: u8) -> &mut Self {
        self.version = version;
        self
    }

    /// Append a body token (see [`encode::encode`] for how `id` is used).
    pub fn token(&mut self, token: &Token<'_>, id: u8) -> &mut Self {
        self.with(|out| encode::encode(token, id, out))
    }

    /// Append whatever `f` writes, typically one of the [`encode`] functions:
    /// `rec.with(|b| encode::exec_args(b, ["ls", "-l"]))`. If `f` fails, its partial output
    /// is dropped and the error kept.
    pub fn with(&mut self, f: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>) -> &mut Self {
        if self.error.is_none() {
            let start = self.body.len();
            if let Err(e) = f(&mut self.body) {
                self.body.truncate(start);
                self.error = Some(e);
            }
        }
        self
    }

    /// Append already-encoded token bytes as they are.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        if self.error.is_none() {
            self.body.extend_from_slice(bytes);
        }
        self
    }

    /// The body bytes so far.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    fn header(&self, count: u32) -> Header {
        Header {
            count,
            version: self.version,
            event: self.event,
            modifier: self.modifier,
            host: self.kind.host(),
            seconds: self.seconds,
            msec: self.msec,
        }
    }

    /// Append the whole record to `out`: header with the total count, body, trailer. On
    /// error `out` is left unchanged.
    pub fn write_into(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let start = out.len();
        // Write the header with a placeholder count, then patch it: the header length
        // depends on the kind and host address only.
        if let Err(e) = encode::encode(&Token::Header(self.header(0)), self.kind.id(), out) {
            out.truncate(start);
            return Err(e);
        }
        let len = (out.len() - start)
            .saturating_add(self.body.len())
            .saturating_add(TRAILER_LEN);
        let Ok(count) = u32::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::RecordTooLarge { len });
        };
        out[start + 1..start + 5].copy_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&self.body);
        encode::trailer_with_magic(out, TRAILER_MAGIC, count);
        Ok(len)
    }

    /// The whole record.
    pub fn finish(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.body.len() + 64);
        self.write_into(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::framing::{frame, Check, SpanKind};
    use crate::tokens::{walk_valid, DecodeOptions, Subject};
    use proptest::prelude::*;

    fn subject() -> Subject {
        Subject {
            auid: 501,
            euid: 0,
            egid: 0,
            ruid: 501,
            rgid: 20,
            pid: 4242,
            sid: 100_004,
            port: 0,
            addr: Addr::V4([0; 4]),
        }
    }

    /// Frames strictly, walks cleanly, and returns the ids.
    fn check(rec: &[u8]) -> Vec<u8> {
        let span = frame(rec, 0, Check::Trailer).expect("frames");
        assert_eq!(span.kind, SpanKind::Record);
        assert_eq!(span.len, rec.len());
        let count = u32::from_be_bytes([rec[1], rec[2], rec[3], rec[4]]) as usize;
        assert_eq!(count, rec.len());
        let mut ids = Vec::new();
        walk_valid(rec, DecodeOptions::FULL, |t| ids.push(t.id)).expect("walks");
        ids
    }

    #[test]
    fn every_header_kind_frames() {
        let v6 = Addr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        for (kind, hlen) in [
            (HeaderKind::Header32, 18),
            (HeaderKind::Header32Ex(Addr::V4([10, 0, 0, 1])), 26),
            (HeaderKind::Header32Ex(v6), 38),
            (HeaderKind::Header32Ex(Addr::Other(7)), 22),
            (HeaderKind::Header64, 26),
            (HeaderKind::Header64Ex(Addr::V4([10, 0, 0, 1])), 34),
            (HeaderKind::Header64Ex(v6), 46),
            (HeaderKind::Header64Ex(Addr::Other(0)), 30),
        ] {
            let rec = RecordBuilder::new(kind, 23, 0x4000, 1_700_000_000, 999)
                .with(|b| encode::subject32(b, &subject()))
                .with(|b| encode::text(b, b"hello\0"))
                .with(|b| {
                    encode::return32(b, 0, 0);
                    Ok(())
                })
                .finish()
                .unwrap();
            assert_eq!(rec.len(), hlen + 37 + 9 + 6 + 7, "{kind:?}");
            let ids = check(&rec);
            assert_eq!(
                ids,
                vec![
                    kind.id(),
                    ids::SUBJECT32,
                    ids::TEXT,
                    ids::RETURN32,
                    ids::TRAILER
                ]
            );
            let t = crate::tokens::decode(&rec, 0, DecodeOptions::FULL).unwrap();
            let Token::Header(h) = t.token else { panic!() };
            assert_eq!(h.count as usize, rec.len());
            assert_eq!(h.version, 11);
            assert_eq!((h.event, h.modifier), (23, 0x4000));
            assert_eq!((h.seconds, h.msec), (1_700_000_000, 999));
            assert_eq!(h.host, kind.host());
        }
    }

    #[test]
    fn empty_body_and_version() {
        let rec = RecordBuilder::new(HeaderKind::Header64, 1, 0, u64::MAX, u64::MAX)
            .version(10)
            .finish()
            .unwrap();
        assert_eq!(rec.len(), 26 + 7);
        assert_eq!(rec[5], 10);
        assert_eq!(check(&rec), vec![ids::HEADER64, ids::TRAILER]);
    }

    #[test]
    fn errors_are_kept_and_reported() {
        // header32 with a time beyond u32.
        let e = RecordBuilder::new(HeaderKind::Header32, 1, 0, 1 << 32, 0)
            .finish()
            .unwrap_err();
        assert_eq!(e.code(), "out_of_range");
        // A bad token: the first error wins, later tokens are ignored, out is unchanged.
        let mut b = RecordBuilder::new(HeaderKind::Header32, 1, 0, 0, 0);
        b.token(&Token::Text(b"ok\0"), ids::TEXT)
            .token(&Token::Text(b"x"), ids::PATH)
            .token(&Token::Seq(1), ids::SEQ);
        assert_eq!(b.body(), &[0x28, 0, 3, b'o', b'k', 0]);
        let mut out = vec![1, 2, 3];
        let e = b.write_into(&mut out).unwrap_err();
        assert!(matches!(e, EncodeError::IdMismatch { id: 0x23, .. }));
        assert_eq!(out, vec![1, 2, 3]);
    }

    #[test]
    fn records_over_libbsm_size_limit_are_written() {
        // libbsm refuses records over 32767 bytes; readers set no limit, nor does the
        // builder (short of the u32 count, which a test cannot reach in memory).
        let mut b = RecordBuilder::new(HeaderKind::Header32, 1, 0, 0, 0);
        let big = vec![b'a'; 65_535];
        for _ in 0..3 {
            b.token(&Token::Text(&big), ids::TEXT);
        }
        let rec = b.finish().unwrap();
        assert_eq!(rec.len(), 18 + 3 * (3 + 65_535) + 7);
        check(&rec);
    }

    #[test]
    fn damaged_records_can_be_built_from_raw_tokens() {
        // A record whose exec args count (5, with two strings) runs into the trailer, as a
        // decoder test vector: the walk takes "\x13\xb1\x05", "", "" from the trailer, and
        // its last byte (the count, 34) then starts a truncated IPC token.
        let rec = RecordBuilder::new(HeaderKind::Header32, 23, 0, 0, 0)
            .raw(&[0x3c, 0, 0, 0, 5, b'a', 0, b'b', 0])
            .finish()
            .unwrap();
        assert_eq!(rec.len(), 34);
        assert!(frame(&rec, 0, Check::Trailer).is_ok());
        let f = walk_valid(&rec, DecodeOptions::FULL, |_| {}).unwrap_err();
        assert_eq!(f.token_id, Some(ids::IPC));
        assert!(matches!(f.kind, ErrorKind::Truncated { .. }));
    }

    proptest! {
        #[test]
        fn built_records_frame_and_walk(
            kind in prop_oneof![
                Just(HeaderKind::Header32),
                Just(HeaderKind::Header64),
                any::<[u8; 4]>().prop_map(|a| HeaderKind::Header32Ex(Addr::V4(a))),
                any::<[u8; 16]>().prop_map(|a| HeaderKind::Header64Ex(Addr::V6(a))),
            ],
            event in any::<u16>(),
            modifier in any::<u16>(),
            seconds in any::<u32>(),
            msec in 0u32..1000,
            texts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            args in proptest::collection::vec("[a-z/.-]{0,20}", 0..20),
        ) {
            let mut b = RecordBuilder::new(kind, event, modifier, u64::from(seconds), u64::from(msec));
            let mut want = vec![kind.id()];
            for t in &texts {
                b.token(&Token::Text(t), ids::TEXT);
                want.push(ids::TEXT);
            }
            b.with(|o| encode::exec_args(o, &args));
            want.push(ids::EXEC_ARGS);
            b.with(|o| encode::subject64_ex(o, &subject()));
            want.push(ids::SUBJECT64_EX);
            want.push(ids::TRAILER);
            let rec = b.finish().unwrap();
            prop_assert_eq!(check(&rec), want);
        }
    }
}
