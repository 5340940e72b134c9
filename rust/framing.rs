//! Record framing: where records and standalone file tokens start and end.
//!
//! Invariants:
//! - A trail is records and standalone file tokens (0x11) back to back, with no file header.
//! - A record starts with a header token (0x14, 0x15, 0x74, 0x79) whose u32 byte count is
//!   the length of the whole record, header and trailer included (§1.3).
//! - Framing never trusts a count before checking the bytes are there, and never allocates:
//!   a span is an offset and a length into the input.
//!
//! Two checks are offered. [`Check::Count`] frames exactly as OpenBSM's `au_read_rec`
//! does (§1.6): the count must be at least 5 and the bytes present, nothing else.
//! [`Check::Trailer`] also requires room for the header and a trailer, and a trailer token
//! with magic 0xb105 and the header's count as the record's last seven bytes.

use crate::error::{DecodeError, ErrorKind, Fault};
use crate::tokens::ids;
use std::sync::atomic::{AtomicUsize, Ordering};

/// libbsm refuses to write records over 32 KiB (`MAX_AUDIT_RECORD_SIZE`); kernels stay far
/// below 1 MiB. 16 MiB leaves room for odd writers without letting a lie cost much.
pub const DEFAULT_MAX_RECORD: usize = 16 << 20;
/// The smallest maximum accepted: the longest header plus a trailer fit.
pub const MIN_MAX_RECORD: usize = 64;

/// The one maximum record size, for every reader path (files, windows, chunks, streams,
/// selection, rendering). A process-wide setting, as `csv.field_size_limit` is in Python:
/// it bounds what a hostile header can make any path read, hold or build.
static MAX_RECORD: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_RECORD);

/// The maximum record size in force.
pub fn max_record() -> usize {
    MAX_RECORD.load(Ordering::Relaxed)
}

/// Set the maximum record size (at least [`MIN_MAX_RECORD`]); returns the previous one.
pub fn set_max_record(n: usize) -> usize {
    MAX_RECORD.swap(n.max(MIN_MAX_RECORD), Ordering::Relaxed)
}

pub const TRAILER_LEN: usize = 7;
pub const TRAILER_MAGIC: u16 = 0xb105;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Record,
    /// A standalone file token between records (§1.5).
    File,
}

/// One framed item: `data[offset..offset + len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
    pub kind: SpanKind,
}

/// How much framing checks: what a record must be to be framed. (Whether a reader stops
/// at the first problem or recovers is its [`crate::mode::Mode`], a separate choice.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The header's byte count alone, as praudit's and auditreduce's `au_read_rec`.
    Count,
    /// The count, room for the header and a trailer, and a trailer repeating the count.
    Trailer,
}

fn err(offset: usize, record_offset: usize, token_id: Option<u8>, kind: ErrorKind) -> DecodeError {
    DecodeError {
        offset: offset as u64,
        record_offset: record_offset as u64,
        token_id,
        kind,
    }
}

fn truncated(off: usize, id: u8, needed: usize, available: usize) -> DecodeError {
    err(
        off,
        off,
        Some(id),
        ErrorKind::Truncated {
            needed: needed as u64,
            available: available as u64,
        },
    )
}

/// Frame the item that starts at `off`. `off` must be inside `data`.
pub fn frame(data: &[u8], off: usize, check: Check) -> Result<Span, DecodeError> {
    let rest = data.get(off..).unwrap_or(&[]);
    let Some(&id) = rest.first() else {
        return Err(truncated(off, 0, 1, 0));
    };
    if id == ids::OTHER_FILE32 {
        let Some(n) = rest.get(9..11) else {
            return Err(truncated(off, id, 11, rest.len()));
        };
        let name_len = u16::from_be_bytes([n[0], n[1]]);
        let len = 11 + usize::from(name_len);
        if rest.len() < len {
            return Err(truncated(off, id, len, rest.len()));
        }
        // Checked framing wants the name to be one C string: a length that reaches over
        // records (their headers' counts hold zero bytes) would hide them in a name.
        if check == Check::Trailer {
            let name = &rest[11..len];
            let body = name.split_last().map_or(&[][..], |(_, b)| b);
            if let Some(at) = body.iter().position(|&b| b == 0) {
                return Err(err(
                    off + 11 + at,
                    off,
                    Some(id),
                    ErrorKind::FileNameNul { len: name_len },
                ));
            }
        }
        return Ok(Span {
            offset: off,
            len,
            kind: SpanKind::File,
        });
    }
    if !ids::is_header(id) {
        return Err(err(off, off, None, ErrorKind::NotARecord(id)));
    }
    let Some(c) = rest.get(1..5) else {
        return Err(truncated(off, id, 5, rest.len()));
    };
    let count = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    // A count of 2^31 or more is a plain length here (praudit's int return misbehaves).
    let len = count as usize;
    // A claim above the maximum is damage before anything else: its bytes are never
    // waited for, read, mapped in or built into one value, whatever the input holds.
    let maximum = max_record();
    if len > maximum {
        return Err(err(
            off + 1,
            off,
            Some(id),
            ErrorKind::RecordTooLarge {
                count,
                maximum: maximum as u64,
            },
        ));
    }
    // A count the input cannot hold is a truncation (or a lie): say so before anything else,
    // and never look past the input for it.
    if rest.len() < len && len >= 5 {
        return Err(truncated(off, id, len, rest.len()));
    }
    let minimum = match check {
        Check::Count => 5,
        // The header (its length fixed by its own bytes) and a trailer must fit.
        Check::Trailer => header_len(rest).unwrap_or(fixed_header_len(id)) + TRAILER_LEN,
    };
    if len < minimum {
        return Err(err(
            off + 1,
            off,
            Some(id),
            ErrorKind::RecordTooSmall {
                count,
                minimum: minimum as u32,
            },
        ));
    }
    if check == Check::Trailer {
        check_trailer(&rest[..len], count).map_err(|f| f.at(off as u64))?;
    }
    Ok(Span {
        offset: off,
        len,
        kind: SpanKind::Record,
    })
}

/// Smallest possible header of each kind (an `_ex` header with no address bytes).
fn fixed_header_len(id: u8) -> usize {
    match id {
        ids::HEADER32 => 18,
        ids::HEADER32_EX => 22,
        ids::HEADER64 => 26,
        _ => 30,
    }
}

/// Length of the header token at the start of `bytes` (which may extend past the record).
/// Only the `_ex` headers need a look at their address type (§1.2).
fn header_len(bytes: &[u8]) -> Result<usize, Fault> {
    let id = bytes.first().copied().unwrap_or(0);
    let base = fixed_header_len(id);
    let len = match id {
        ids::HEADER32_EX | ids::HEADER64_EX => match bytes.get(10..14) {
            Some(t) => match u32::from_be_bytes([t[0], t[1], t[2], t[3]]) {
                4 => base + 4,
                16 => base + 16,
                _ => base,
            },
            None => base,
        },
        _ => base,
    };
    if bytes.len() < len {
        return Err(Fault {
            pos: bytes.len(),
            token_id: Some(id),
            kind: ErrorKind::Truncated {
                needed: len as u64,
                available: bytes.len() as u64,
            },
        });
    }
    Ok(len)
}

/// The last seven bytes of a record must be a trailer with the magic and the header's count.
pub(crate) fn check_trailer(rec: &[u8], count: u32) -> Result<(), Fault> {
    let at = rec.len().saturating_sub(TRAILER_LEN);
    let fault = |pos: usize, kind| Fault {
        pos,
        token_id: Some(ids::TRAILER),
        kind,
    };
    let Some(&[id, m0, m1, c0, c1, c2, c3]) = rec.get(at..).and_then(|t| t.first_chunk::<7>())
    else {
        return Err(Fault {
            pos: at,
            token_id: None,
            kind: ErrorKind::MissingTrailer,
        });
    };
    if id != ids::TRAILER {
        return Err(Fault {
            pos: at,
            token_id: None,
            kind: ErrorKind::MissingTrailer,
        });
    }
    let magic = u16::from_be_bytes([m0, m1]);
    if magic != TRAILER_MAGIC {
        return Err(fault(at + 1, ErrorKind::BadTrailerMagic(magic)));
    }
    let tc = u32::from_be_bytes([c0, c1, c2, c3]);
    if tc != count {
        return Err(fault(
            at + 3,
            ErrorKind::TrailerMismatch {
                header: count,
                trailer: tc,
            },
        ));
    }
    Ok(())
}

/// Iterates the spans of a trail from `start`, stopping after the first error.
pub struct Framer<'a> {
    data: &'a [u8],
    pos: usize,
    check: Check,
    done: bool,
}

impl<'a> Framer<'a> {
    pub fn new(data: &'a [u8], check: Check) -> Self {
        Framer {
            data,
            pos: 0,
            check,
            done: false,
        }
    }

    pub fn starting_at(data: &'a [u8], pos: usize, check: Check) -> Self {
        Framer {
            data,
            pos,
            check,
            done: false,
        }
    }

    /// Offset of the next item to frame.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for Framer<'_> {
    type Item = Result<Span, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        match frame(self.data, self.pos, self.check) {
            Ok(span) => {
                self.pos += span.len;
                Some(Ok(span))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// header32 + text "hi\0" + trailer, count 31.
    fn rec() -> Vec<u8> {
        let mut r = vec![0x14, 0, 0, 0, 31, 11, 0, 1, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6];
        r.extend_from_slice(&[0x28, 0, 3, b'h', b'i', 0]);
        r.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 31]);
        r
    }

    fn file_token() -> Vec<u8> {
        vec![0x11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 2, b'f', 0]
    }

    #[test]
    fn frames_records_and_file_tokens() {
        let mut t = file_token();
        t.extend(rec());
        t.extend(rec());
        t.extend(file_token());
        let spans: Vec<Span> = Framer::new(&t, Check::Trailer)
            .collect::<Result<_, _>>()
            .unwrap();
        let kinds: Vec<(usize, usize, SpanKind)> =
            spans.iter().map(|s| (s.offset, s.len, s.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (0, 13, SpanKind::File),
                (13, 31, SpanKind::Record),
                (44, 31, SpanKind::Record),
                (75, 13, SpanKind::File)
            ]
        );
    }

    #[test]
    fn a_file_name_is_one_c_string_to_checked_framing() {
        let named = |name: &[u8]| {
            let mut t = vec![0x11, 0, 0, 0, 1, 0, 0, 0, 2];
            t.extend((name.len() as u16).to_be_bytes());
            t.extend(name);
            t
        };
        for ok in [&b""[..], b"f", b"f\0", b"\0", b"/var/audit/x\0"] {
            for check in [Check::Count, Check::Trailer] {
                let span = frame(&named(ok), 0, check).unwrap();
                assert_eq!((span.len, span.kind), (11 + ok.len(), SpanKind::File));
            }
        }
        // A name reaching over a record: praudit's framing takes it, checked framing
        // names the first NUL inside it.
        let mut over = b"/x".to_vec();
        over.extend(rec());
        over.push(0);
        let t = named(&over);
        assert_eq!(frame(&t, 0, Check::Count).unwrap().len, t.len());
        let e = frame(&t, 0, Check::Trailer).unwrap_err();
        assert_eq!((e.offset, e.record_offset, e.token_id), (14, 0, Some(0x11)));
        assert_eq!(
            e.kind,
            ErrorKind::FileNameNul {
                len: over.len() as u16
            }
        );
        assert!(frame(&named(b"a\0b"), 0, Check::Trailer).is_err());
    }

    #[test]
    fn truncated_record() {
        let mut t = rec();
        t.extend(&rec()[..20]);
        let r: Vec<_> = Framer::new(&t, Check::Trailer).collect();
        assert_eq!(r.len(), 2);
        let e = r[1].clone().unwrap_err();
        assert_eq!(e.offset, 31);
        assert_eq!(e.record_offset, 31);
        assert_eq!(
            e.kind,
            ErrorKind::Truncated {
                needed: 31,
                available: 20
            }
        );
        // Only three bytes of the count.
        let e = frame(&[0x14, 0, 0, 0], 0, Check::Trailer).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Truncated {
                needed: 5,
                available: 4
            }
        );
    }

    #[test]
    fn trailer_disagreeing_with_header() {
        let mut r = rec();
        r[30] = 32;
        let e = frame(&r, 0, Check::Trailer).unwrap_err();
        assert_eq!(e.offset, 27);
        assert_eq!(
            e.kind,
            ErrorKind::TrailerMismatch {
                header: 31,
                trailer: 32
            }
        );
        // praudit framing does not look at the trailer.
        assert!(frame(&r, 0, Check::Count).is_ok());
    }

    #[test]
    fn bad_magic_and_missing_trailer() {
        let mut r = rec();
        r[25] = 0xb2;
        let e = frame(&r, 0, Check::Trailer).unwrap_err();
        assert_eq!((e.offset, e.kind), (25, ErrorKind::BadTrailerMagic(0xb205)));
        let mut r = rec();
        r[24] = 0x14;
        let e = frame(&r, 0, Check::Trailer).unwrap_err();
        assert_eq!((e.offset, e.kind), (24, ErrorKind::MissingTrailer));
    }

    #[test]
    fn count_smaller_than_header_and_trailer() {
        let mut r = rec();
        r[4] = 20;
        let e = frame(&r, 0, Check::Trailer).unwrap_err();
        assert_eq!(e.offset, 1);
        assert_eq!(
            e.kind,
            ErrorKind::RecordTooSmall {
                count: 20,
                minimum: 25
            }
        );
        r[4] = 4;
        let e = frame(&r, 0, Check::Count).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::RecordTooSmall {
                count: 4,
                minimum: 5
            }
        );
        r[4] = 10;
        assert_eq!(frame(&r, 0, Check::Count).unwrap().len, 10);
    }

    #[test]
    fn huge_count_is_damage_not_allocation() {
        // Above the maximum record size, under either check, whatever the input holds.
        let mut r = rec();
        r[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        for check in [Check::Trailer, Check::Count] {
            let e = frame(&r, 0, check).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::RecordTooLarge {
                    count: u32::MAX,
                    maximum: DEFAULT_MAX_RECORD as u64
                }
            );
            assert_eq!((e.offset, e.record_offset), (1, 0));
        }
        // At the maximum, a count the input cannot hold is a truncation.
        r[1..5].copy_from_slice(&(DEFAULT_MAX_RECORD as u32).to_be_bytes());
        let e = frame(&r, 0, Check::Trailer).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Truncated {
                needed: DEFAULT_MAX_RECORD as u64,
                available: 31
            }
        );
    }

    #[test]
    fn stray_byte_is_not_a_record() {
        let mut t = rec();
        t.push(0x00);
        t.extend(rec());
        let r: Vec<_> = Framer::new(&t, Check::Count).collect();
        assert_eq!(r.len(), 2);
        let e = r[1].clone().unwrap_err();
        assert_eq!((e.offset, e.kind), (31, ErrorKind::NotARecord(0)));
    }
}

#[cfg(test)]
mod robustness {
    //! Arbitrary bytes must frame and decode without panicking, every error must point
    //! inside the input, and every step must make progress (no hangs).
    use super::*;
    use crate::tokens::{decode, walk_valid, DecodeOptions, TokenIter};
    use proptest::prelude::*;

    fn check_all(data: &[u8]) {
        for check in [Check::Count, Check::Trailer] {
            let mut last = None;
            for item in Framer::new(data, check) {
                match item {
                    Ok(span) => {
                        assert!(span.len > 0 && span.offset + span.len <= data.len());
                        assert!(last.map_or(true, |l| span.offset >= l));
                        last = Some(span.offset + span.len);
                        let rec = &data[span.offset..span.offset + span.len];
                        // The fast header length agrees with the full header decoder.
                        if span.kind == SpanKind::Record {
                            if let Ok(t) = decode(rec, 0, DecodeOptions::FULL) {
                                assert_eq!(header_len(rec).unwrap(), t.len);
                            }
                        }
                        for opts in [DecodeOptions::PRAUDIT, DecodeOptions::FULL] {
                            let mut pos = 0;
                            for t in TokenIter::new(rec, opts) {
                                match t {
                                    Ok(t) => {
                                        assert_eq!(t.offset, pos);
                                        assert!(t.len > 0 && t.offset + t.len <= rec.len());
                                        pos += t.len;
                                    }
                                    Err(f) => assert!(f.pos <= rec.len()),
                                }
                            }
                            if let Err(f) = walk_valid(rec, opts, |_| {}) {
                                assert!(f.pos <= rec.len());
                            }
                        }
                    }
                    Err(e) => {
                        assert!(e.offset <= data.len() as u64);
                        assert!(e.record_offset <= e.offset);
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            check_all(&data);
        }

        /// A valid header32 and trailer around random token bytes, so decoding gets past
        /// the framing checks and exercises every token decoder.
        #[test]
        fn arbitrary_bodies(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let count = (18 + body.len() + 7) as u32;
            let mut rec = vec![0x14];
            rec.extend_from_slice(&count.to_be_bytes());
            rec.extend_from_slice(&[11, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
            rec.extend_from_slice(&body);
            rec.extend_from_slice(&[0x13, 0xb1, 0x05]);
            rec.extend_from_slice(&count.to_be_bytes());
            check_all(&rec);
        }
    }
}
