//! Incremental framing for input that arrives in pieces: pipes, sockets, auditpipe(4), and
//! a trail that is still being written (follow mode).
//!
//! Bytes are fed as they come. Whole records come out as soon as their last byte is in; a
//! record cut at the current end is kept and completed by later input, never reported as
//! damage. Damage is skipped as in [`crate::recover`] and reported with absolute offsets.
//!
//! Memory stays bounded whatever the input claims: a header count above `max_record` is not
//! waited for (it is damage), and while no resync point is in sight only the last
//! `max_record` bytes are kept, because an offset further back than that can no longer
//! start a record that fits.

use crate::error::{DecodeError, ErrorKind};
use crate::framing::{frame, Check, SpanKind};
use crate::recover::resync;
use crate::tokens::ids;

/// libbsm refuses to write records over 32 KiB (`MAX_AUDIT_RECORD_SIZE`); kernels stay far
/// below 1 MiB. 16 MiB leaves room for odd writers without letting a lie cost much.
pub const DEFAULT_MAX_RECORD: usize = 16 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamItem {
    /// A whole record (header to trailer) starting at `offset` in the stream.
    Record { offset: u64, bytes: Vec<u8> },
    /// A standalone file token.
    File { offset: u64, bytes: Vec<u8> },
    /// Skipped bytes and why.
    Damage {
        offset: u64,
        len: u64,
        error: DecodeError,
    },
}

enum Resync {
    At(usize),
    Wait(usize),
    None,
}

pub struct StreamDecoder {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    max_record: usize,
    /// A damaged region being skipped that started at this stream offset.
    pending: Option<(u64, DecodeError)>,
}

impl StreamDecoder {
    pub fn new(max_record: usize) -> Self {
        StreamDecoder {
            buf: Vec::new(),
            base: 0,
            max_record: max_record.max(64),
            pending: None,
        }
    }

    /// Stream offset of the first byte not yet consumed.
    pub fn position(&self) -> u64 {
        self.base
    }

    /// Bytes held back, waiting for the rest of a record.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn is_incomplete(&self, e: &DecodeError) -> bool {
        // Only a record (or file token) cut at the end of what we have, and small enough to
        // wait for.
        match e.kind {
            ErrorKind::Truncated { needed, available } => {
                e.record_offset == self.base
                    && available == self.buf.len() as u64
                    && needed <= self.max_record as u64
            }
            _ => false,
        }
    }

    fn flush_pending(&mut self, end: u64, out: &mut Vec<StreamItem>) {
        if let Some((start, error)) = self.pending.take() {
            if end > start {
                out.push(StreamItem::Damage {
                    offset: start,
                    len: end - start,
                    error,
                });
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.base += n as u64;
    }

    /// Where to resume after damage at `buf[0]`: the first later offset where a record
    /// frames strictly, as [`resync`] finds it over the whole input, unless a candidate
    /// before it is cut by the end of what has arrived (and small enough to wait for):
    /// with more bytes it may frame, so the search stops there.
    fn resync_point(&self) -> Resync {
        let mut pos = 1;
        while let Some(rest) = self.buf.get(pos..) {
            let Some(i) = rest.iter().position(|&b| ids::is_header(b)) else {
                break;
            };
            let cand = pos + i;
            match frame(&self.buf, cand, Check::Strict) {
                Ok(_) => return Resync::At(cand),
                Err(e) => {
                    if let ErrorKind::Truncated { needed, available } = e.kind {
                        if available == (self.buf.len() - cand) as u64
                            && needed <= self.max_record as u64
                        {
                            return Resync::Wait(cand);
                        }
                    }
                }
            }
            pos = cand + 1;
        }
        Resync::None
    }

    /// Add bytes; push every item they complete to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<StreamItem>) {
        self.buf.extend_from_slice(data);
        self.drain(out);
    }

    fn drain(&mut self, out: &mut Vec<StreamItem>) {
        let mut pos = 0usize;
        while pos < self.buf.len() {
            // Offsets in errors from `frame` are relative to `buf`; rebase them.
            let at = self.base + pos as u64;
            match frame(&self.buf, pos, Check::Strict) {
                Ok(span) => {
                    self.flush_pending(at, out);
                    let bytes = self.buf[span.offset..span.offset + span.len].to_vec();
                    out.push(match span.kind {
                        SpanKind::Record => StreamItem::Record { offset: at, bytes },
                        SpanKind::File => StreamItem::File { offset: at, bytes },
                    });
                    pos += span.len;
                }
                Err(mut e) => {
                    e.offset += self.base;
                    e.record_offset += self.base;
                    self.consume(pos);
                    pos = 0;
                    if self.is_incomplete(&e) {
                        // Wait for the rest: a record cut at the end, or (with damage
                        // pending) a resync candidate that may still complete.
                        return;
                    }
                    match self.resync_point() {
                        Resync::At(q) => {
                            self.pending.get_or_insert((self.base, e));
                            self.flush_pending(self.base + q as u64, out);
                            self.consume(q);
                        }
                        Resync::Wait(c) => {
                            // A record may start at `c` once its bytes are in; `Recover`
                            // would see it, so nothing past it can be skipped yet. The
                            // damage stays open from where it started.
                            self.pending.get_or_insert((self.base, e));
                            self.consume(c);
                            return;
                        }
                        Resync::None => {
                            self.pending.get_or_insert((self.base, e));
                            // Nothing further back than max_record can start a record that
                            // fits: let it go, keep the rest for the next feed.
                            let keep = self.max_record.min(self.buf.len());
                            let drop = self.buf.len() - keep;
                            if drop > 0 {
                                self.consume(drop);
                            }
                            return;
                        }
                    }
                }
            }
        }
        self.consume(pos);
    }

    /// The input has ended: nothing will complete a record still waiting for bytes, so it
    /// is damage, and the records inside the bytes it claimed are recovered as
    /// [`crate::recover::Recover`] does; what is left after the last of them is a
    /// truncated tail.
    pub fn finish(&mut self, out: &mut Vec<StreamItem>) {
        while !self.buf.is_empty() {
            if self.pending.is_none() {
                let e = match frame(&self.buf, 0, Check::Strict) {
                    Err(mut e) => {
                        e.offset += self.base;
                        e.record_offset += self.base;
                        e
                    }
                    Ok(_) => DecodeError {
                        offset: self.base,
                        record_offset: self.base,
                        token_id: None,
                        kind: ErrorKind::Truncated {
                            needed: 0,
                            available: self.buf.len() as u64,
                        },
                    },
                };
                self.pending = Some((self.base, e));
            }
            let Some(q) = resync(&self.buf, 1) else {
                break;
            };
            self.flush_pending(self.base + q as u64, out);
            self.consume(q);
            self.drain(out);
        }
        let end = self.base + self.buf.len() as u64;
        self.flush_pending(end, out);
        self.base = end;
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::{Item, Recover};

    fn rec(i: u8) -> Vec<u8> {
        let mut r = vec![0x14, 0, 0, 0, 31, 11, 0, i, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6];
        r.extend_from_slice(&[0x28, 0, 3, b'h', b'i', 0]);
        r.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 31]);
        r
    }

    /// Feed in pieces of `piece` bytes; compare with the whole-buffer recovering reader.
    fn check_pieces(data: &[u8], piece: usize) {
        let mut d = StreamDecoder::new(1024);
        let mut out = Vec::new();
        for c in data.chunks(piece.max(1)) {
            d.feed(c, &mut out);
        }
        d.finish(&mut out);
        let want: Vec<StreamItem> = Recover::new(data)
            .map(|i| match i {
                Item::Record(s) => StreamItem::Record {
                    offset: s.offset as u64,
                    bytes: data[s.offset..s.offset + s.len].to_vec(),
                },
                Item::File(s) => StreamItem::File {
                    offset: s.offset as u64,
                    bytes: data[s.offset..s.offset + s.len].to_vec(),
                },
                Item::Damage(dm) => StreamItem::Damage {
                    offset: dm.offset as u64,
                    len: dm.len as u64,
                    error: dm.error,
                },
            })
            .collect();
        let recs = |v: &[StreamItem]| -> Vec<(u64, Vec<u8>)> {
            v.iter()
                .filter_map(|i| match i {
                    StreamItem::Record { offset, bytes } => Some((*offset, bytes.clone())),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(recs(&out), recs(&want), "piece {piece}");
        // Damage covers exactly the bytes that are not records or file tokens.
        let covered: u64 = out
            .iter()
            .map(|i| match i {
                StreamItem::Record { bytes, .. } | StreamItem::File { bytes, .. } => {
                    bytes.len() as u64
                }
                StreamItem::Damage { len, .. } => *len,
            })
            .sum();
        assert_eq!(covered, data.len() as u64, "piece {piece}");
    }

    #[test]
    fn records_split_anywhere_arrive_once() {
        let mut t = Vec::new();
        for i in 0..20 {
            t.extend(rec(i));
        }
        for piece in [1, 2, 3, 7, 30, 31, 32, 100, 1000] {
            check_pieces(&t, piece);
        }
    }

    #[test]
    fn damage_in_a_stream() {
        let mut t = rec(1);
        t.extend_from_slice(b"\x00garbage\x14\x14");
        t.extend(rec(2));
        let mut bad = rec(3);
        bad[30] = 7;
        t.extend(bad);
        t.extend(rec(4));
        t.extend(&rec(5)[..9]);
        for piece in [1, 5, 17, 64, 4096] {
            check_pieces(&t, piece);
        }
    }

    /// Found by the atheris API harness (stream vs. recover mode): a header whose count
    /// runs past the end of input, but within `max_record`, is waited for; at the end of
    /// input the records inside the bytes it claimed were dropped with it as a truncated
    /// tail, where `Recover` keeps them.
    #[test]
    fn records_inside_a_count_cut_by_the_end_are_kept() {
        let mut t = rec(1);
        let mut liar = rec(2);
        liar[4] = 200; // claims 200 bytes; 10 bytes of it are there before rec(3)
        t.extend(&liar[..10]);
        t.extend(rec(3));
        t.extend(rec(4));
        t.extend(&rec(5)[..12]);
        for piece in [1, 3, 10, 31, 1000] {
            check_pieces(&t, piece);
        }
    }

    /// Found by the atheris API harness (stream in 16-byte pieces vs. recover mode): after
    /// damage, a record still arriving was skipped because it did not frame yet, and
    /// resync landed on a smaller record inside it that had arrived whole.
    #[test]
    fn resync_waits_for_a_candidate_still_arriving() {
        // A record that frames strictly (count 62, matching trailer) with a whole record
        // inside its body; one junk byte before it.
        let mut outer = vec![0x14, 0, 0, 0, 62, 11, 0, 9, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6];
        outer.extend(rec(2));
        outer.extend_from_slice(&[0x2f, 0, 0, 0, 1, 0]);
        outer.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 62]);
        assert_eq!(outer.len(), 62);
        let mut t = vec![0x00];
        t.extend(&outer);
        t.extend(rec(3));
        for piece in [1, 5, 16, 40, 1000] {
            check_pieces(&t, piece);
        }
    }

    #[test]
    fn lying_huge_count_is_not_waited_for() {
        let mut d = StreamDecoder::new(1024);
        let mut out = Vec::new();
        let mut bad = rec(1);
        bad[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        d.feed(&bad, &mut out);
        for i in 0..100 {
            d.feed(&rec(i), &mut out);
            assert!(d.buffered() <= 1024 + 31);
        }
        d.finish(&mut out);
        let n = out
            .iter()
            .filter(|i| matches!(i, StreamItem::Record { .. }))
            .count();
        assert_eq!(n, 100);
        assert!(matches!(
            out[0],
            StreamItem::Damage {
                offset: 0,
                len: 31,
                ..
            }
        ));
    }

    #[test]
    fn endless_junk_keeps_memory_bounded() {
        let mut d = StreamDecoder::new(4096);
        let mut out = Vec::new();
        for _ in 0..1000 {
            d.feed(&[0x55u8; 1000], &mut out);
            assert!(d.buffered() <= 4096 + 1000);
        }
        d.finish(&mut out);
        let total: u64 = out
            .iter()
            .map(|i| match i {
                StreamItem::Damage { len, .. } => *len,
                _ => 0,
            })
            .sum();
        assert_eq!(total, 1_000_000);
    }
}
