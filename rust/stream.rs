//! Incremental framing for input that arrives in pieces: pipes, sockets, auditpipe(4), and
//! a trail that is still being written (follow mode).
//!
//! Bytes are fed as they come. Whole records come out as soon as their last byte is in; a
//! record cut at the current end is kept and completed by later input, never reported as
//! damage. Damage is skipped as in [`crate::recover`] and reported with absolute offsets.
//!
//! Memory stays bounded whatever the input claims: a header count above `max_record` is not
//! waited for (it is damage), and bytes where no record can start any more are let go.
//!
//! Work stays linear in the input whatever the piece sizes: consumed bytes are dropped by
//! moving a start index (the buffer is compacted only once the dead part is at least half
//! of it), and a resync search never looks at the same candidate twice: when no candidate
//! can still complete, every one of them has failed for good (its verdict needed only bytes
//! that are in), so the whole buffer goes.

use crate::error::{DecodeError, ErrorKind};
use crate::framing::{frame, Check, SpanKind};
use crate::recover::resync;
use crate::tokens::ids;

pub use crate::framing::DEFAULT_MAX_RECORD;

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
    /// `buf[head..]` holds the bytes not yet consumed.
    buf: Vec<u8>,
    head: usize,
    /// Stream offset of `buf[head]`.
    base: u64,
    max_record: usize,
    /// A damaged region being skipped that started at this stream offset.
    pending: Option<(u64, DecodeError)>,
    /// The damage goes on through every byte let go so far: the unconsumed bytes are
    /// searched for a resync point from their first byte on, never framed there (a file
    /// token, which framing accepts, is not a resync point).
    skipping: bool,
    /// Bytes looked at by resync searches, and bytes moved by compaction (see `work`).
    scanned: u64,
    moved: u64,
    /// Items carry their bytes (else records and file tokens come out empty: for a
    /// caller that only needs to know how far the input is decided).
    keep_bytes: bool,
}

impl StreamDecoder {
    pub fn new(max_record: usize) -> Self {
        StreamDecoder {
            buf: Vec::new(),
            head: 0,
            base: 0,
            max_record: max_record.max(64),
            pending: None,
            skipping: false,
            scanned: 0,
            moved: 0,
            keep_bytes: true,
        }
    }

    /// Whether record and file-token items carry their bytes from now on (they do
    /// unless told otherwise). Framing, damage and `position` are the same either way.
    pub fn keep_bytes(&mut self, keep: bool) {
        self.keep_bytes = keep;
    }

    /// Stream offset of the first byte not yet consumed.
    pub fn position(&self) -> u64 {
        self.base
    }

    /// Work done so far: bytes looked at by resync searches and bytes moved to compact the
    /// buffer. Both stay within a small multiple of the input, however it is cut.
    pub fn work(&self) -> (u64, u64) {
        (self.scanned, self.moved)
    }

    /// The longest record waited for.
    pub fn max_record(&self) -> usize {
        self.max_record
    }

    /// Bytes held back, waiting for the rest of a record.
    pub fn buffered(&self) -> usize {
        self.data().len()
    }

    fn data(&self) -> &[u8] {
        self.buf.get(self.head..).unwrap_or(&[])
    }

    fn is_incomplete(&self, e: &DecodeError) -> bool {
        // Only a record (or file token) cut at the end of what we have, and small enough to
        // wait for.
        match e.kind {
            ErrorKind::Truncated { needed, available } => {
                e.record_offset == self.base
                    && available == self.buffered() as u64
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
        let n = n.min(self.buffered());
        self.head += n;
        self.base += n as u64;
    }

    /// Drop the consumed bytes once they are at least half the buffer: each byte is moved
    /// at most about once on average.
    fn compact(&mut self) {
        if self.head > 0 && self.head * 2 >= self.buf.len() {
            self.moved += (self.buf.len() - self.head) as u64;
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Where to resume after damage at `buf[0]`: the first later offset where a record
    /// frames strictly, as [`resync`] finds it over the whole input, unless a candidate
    /// before it is cut by the end of what has arrived (and small enough to wait for):
    /// with more bytes it may frame, so the search stops there.
    fn resync_point(&mut self, from: usize) -> Resync {
        let data = self.buf.get(self.head..).unwrap_or(&[]);
        let mut pos = from;
        let mut found = Resync::None;
        while let Some(rest) = data.get(pos..) {
            let Some(i) = rest.iter().position(|&b| ids::is_header(b)) else {
                break;
            };
            let cand = pos + i;
            pos = cand + 1;
            match frame(data, cand, Check::Trailer) {
                Ok(_) => {
                    found = Resync::At(cand);
                    break;
                }
                Err(e) => {
                    if let ErrorKind::Truncated { needed, available } = e.kind {
                        if available == (data.len() - cand) as u64
                            && needed <= self.max_record as u64
                        {
                            found = Resync::Wait(cand);
                            break;
                        }
                    }
                }
            }
        }
        self.scanned += match found {
            Resync::None => data.len().saturating_sub(from),
            _ => pos - from,
        } as u64;
        found
    }

    /// Add bytes; push every item they complete to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<StreamItem>) {
        self.compact();
        self.buf.extend_from_slice(data);
        self.drain(out);
    }

    fn drain(&mut self, out: &mut Vec<StreamItem>) {
        let mut pos = 0usize;
        while pos < self.buffered() {
            if self.skipping {
                // Nothing is framed while skipping (`pos` is 0): the search for a resync
                // point goes on from the first byte that arrived.
                self.skipping = false;
                if !self.resync(0, out) {
                    return;
                }
                continue;
            }
            // Offsets in errors from `frame` are relative to the unconsumed bytes; rebase.
            let at = self.base + pos as u64;
            match frame(self.data(), pos, Check::Trailer) {
                Ok(span) => {
                    self.flush_pending(at, out);
                    let bytes = if self.keep_bytes {
                        self.data()[span.offset..span.offset + span.len].to_vec()
                    } else {
                        Vec::new()
                    };
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
                    self.pending.get_or_insert((self.base, e));
                    if !self.resync(1, out) {
                        return;
                    }
                }
            }
        }
        self.consume(pos);
    }

    /// Damage is pending at the first unconsumed byte: move to the resync point searched
    /// from `from` on. True when a record now starts at the first unconsumed byte (framing
    /// goes on); false when a candidate still arriving must be waited for, or when every
    /// byte was let go (`skipping`: the search goes on with the next bytes).
    fn resync(&mut self, from: usize, out: &mut Vec<StreamItem>) -> bool {
        match self.resync_point(from) {
            Resync::At(q) => {
                self.flush_pending(self.base + q as u64, out);
                self.consume(q);
                true
            }
            Resync::Wait(c) => {
                // A record may start at `c` once its bytes are in; `Recover` would see it,
                // so nothing past it can be skipped yet. The damage stays open from where
                // it started.
                self.consume(c);
                false
            }
            Resync::None => {
                // Every candidate here failed on bytes that are all in (one cut by the end
                // would be `Wait`): none can ever start a record. The damage goes on from
                // where it started; the bytes go.
                self.consume(self.buffered());
                self.skipping = true;
                false
            }
        }
    }

    /// The input has gone quiet (follow mode: a poll found no new bytes). A record still
    /// waiting at the first unconsumed byte is given up when a whole record frames after
    /// it in what has arrived: the writer has written past it (auditd writes each record
    /// whole), so its claimed length is a lie, and waiting for it would hold every later
    /// record back until that many more bytes came (five planted bytes claiming 16 MiB
    /// silence a followed trail). It becomes damage up to that record, as `Recover` would
    /// report it were the file to end there, and framing goes on. True when it gave up.
    pub fn settle(&mut self, out: &mut Vec<StreamItem>) -> bool {
        if self.skipping || self.buffered() == 0 {
            return false;
        }
        let Some(q) = resync(self.data(), 1) else {
            return false;
        };
        if self.pending.is_none() {
            let mut e = match frame(self.data(), 0, Check::Trailer) {
                Err(e) => e,
                // Cannot happen (a record that frames is never left waiting); never lose it.
                Ok(_) => return false,
            };
            e.offset += self.base;
            e.record_offset += self.base;
            self.pending = Some((self.base, e));
        }
        self.scanned += q as u64;
        self.flush_pending(self.base + q as u64, out);
        self.consume(q);
        self.drain(out);
        true
    }

    /// The input has ended: nothing will complete a record still waiting for bytes, so it
    /// is damage, and the records inside the bytes it claimed are recovered as
    /// [`crate::recover::Recover`] does; what is left after the last of them is a
    /// truncated tail.
    pub fn finish(&mut self, out: &mut Vec<StreamItem>) {
        while self.buffered() > 0 {
            if self.pending.is_none() {
                let e = match frame(self.data(), 0, Check::Trailer) {
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
                            available: self.buffered() as u64,
                        },
                    },
                };
                self.pending = Some((self.base, e));
            }
            let from = if std::mem::take(&mut self.skipping) {
                0
            } else {
                1
            };
            let Some(q) = resync(self.data(), from) else {
                break;
            };
            self.flush_pending(self.base + q as u64, out);
            self.consume(q);
            self.drain(out);
        }
        let end = self.base + self.buffered() as u64;
        self.flush_pending(end, out);
        self.base = end;
        self.buf.clear();
        self.head = 0;
        self.skipping = false;
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
        // Framing only: the same items (without their bytes) and the same positions.
        let mut bare = StreamDecoder::new(1024);
        bare.keep_bytes(false);
        let mut bare_out = Vec::new();
        for c in data.chunks(piece.max(1)) {
            d.feed(c, &mut out);
            bare.feed(c, &mut bare_out);
            assert_eq!(d.position(), bare.position(), "piece {piece}");
        }
        d.finish(&mut out);
        bare.finish(&mut bare_out);
        // (kind, offset, length): a record's or file token's length only when it has bytes.
        let place = |v: &[StreamItem], with_bytes: bool| -> Vec<(u8, u64, u64)> {
            v.iter()
                .map(|i| match i {
                    StreamItem::Record { offset, bytes } => {
                        assert_eq!(bytes.is_empty(), !with_bytes);
                        (0, *offset, 0)
                    }
                    StreamItem::File { offset, bytes } => {
                        assert_eq!(bytes.is_empty(), !with_bytes);
                        (1, *offset, 0)
                    }
                    StreamItem::Damage { offset, len, .. } => (2, *offset, *len),
                })
                .collect()
        };
        assert_eq!(place(&bare_out, false), place(&out, true), "piece {piece}");
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
        // Every item alike: records, file tokens and damage, with their extents.
        let items = |v: &[StreamItem]| -> Vec<(u8, u64, u64)> {
            v.iter()
                .map(|i| match i {
                    StreamItem::Record { offset, bytes } => (0, *offset, bytes.len() as u64),
                    StreamItem::File { offset, bytes } => (1, *offset, bytes.len() as u64),
                    StreamItem::Damage { offset, len, .. } => (2, *offset, *len),
                })
                .collect()
        };
        assert_eq!(items(&out), items(&want), "piece {piece}");
        for i in &out {
            if let StreamItem::Record { offset, bytes } | StreamItem::File { offset, bytes } = i {
                let at = *offset as usize;
                assert_eq!(&data[at..at + bytes.len()], &bytes[..], "piece {piece}");
            }
        }
    }

    /// Found by the framing fuzzer: once every byte of a damaged region had been let go,
    /// the next piece was framed from its first byte, where a file token was taken as the
    /// end of the damage. `Recover` resumes only at a record, so the file token is part
    /// of the damage.
    #[test]
    fn a_file_token_does_not_end_damage() {
        let mut t = rec(1);
        t[30] = 30; // the trailer's count no longer matches: 31 bytes of damage
        let mut file = vec![0x11, 0, 0, 0, 9, 0, 0, 0, 0, 0, 6];
        file.extend_from_slice(b"a.log\0");
        t.extend(&file);
        t.extend(rec(2));
        for piece in [1, 5, 31, 32, 48, 1000] {
            check_pieces(&t, piece);
        }
        // After a clean record a file token is an item of its own, in any pieces.
        let mut u = rec(3);
        u.extend(&file);
        u.extend(rec(4));
        for piece in [1, 31, 1000] {
            check_pieces(&u, piece);
        }
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

    /// Feed `data` in pieces of 1..=`max_piece` bytes (cycling); the decoder's work
    /// counters must stay within a small multiple of the input, whatever the damage.
    fn assert_linear(data: &[u8], max_piece: usize, max_record: usize) {
        let mut d = StreamDecoder::new(max_record);
        let mut out = Vec::new();
        let (mut at, mut k) = (0, 0);
        while at < data.len() {
            let n = (k % max_piece + 1).min(data.len() - at);
            d.feed(&data[at..at + n], &mut out);
            at += n;
            k += 1;
            assert!(d.buffered() <= max_record + max_piece);
        }
        d.finish(&mut out);
        let n = data.len() as u64;
        assert!(
            d.scanned <= 2 * n,
            "resync looked at {} bytes of {n}",
            d.scanned
        );
        assert!(
            d.moved <= 2 * n,
            "compaction moved {} bytes of {n}",
            d.moved
        );
        let covered: u64 = out
            .iter()
            .map(|i| match i {
                StreamItem::Record { bytes, .. } | StreamItem::File { bytes, .. } => {
                    bytes.len() as u64
                }
                StreamItem::Damage { len, .. } => *len,
            })
            .sum();
        assert_eq!(covered, n);
    }

    /// Hostile input dribbled a byte or a few at a time used to be rescanned (up to
    /// `max_record` bytes) on every feed, and every consumed byte moved the rest of the
    /// buffer: quadratic. Now each byte is looked at and moved a bounded number of times.
    #[test]
    fn damage_fed_in_tiny_pieces_costs_linear_work() {
        let max_record = 64 << 10;
        // No header byte at all.
        assert_linear(&vec![0x55u8; 1 << 20], 3, max_record);
        // Header bytes everywhere, each claiming an impossible count.
        assert_linear(&vec![0x14u8; 1 << 20], 5, max_record);
        // Many small damaged regions between records, fed in larger pieces.
        let mut t = Vec::new();
        for i in 0..20_000u32 {
            t.extend(rec(i as u8));
            t.extend_from_slice(&[0x00, 0x14, 0x00]);
        }
        assert_linear(&t, 4096, max_record);
        assert_linear(&t, 7, max_record);
        // A candidate that waits for most of max_record, then fails, again and again.
        let mut w = Vec::new();
        for _ in 0..8 {
            let mut liar = rec(1);
            liar[1..5].copy_from_slice(&((max_record - 100) as u32).to_be_bytes());
            w.extend(liar);
            w.extend(std::iter::repeat(0x55u8).take(max_record));
            w.extend(rec(2));
        }
        assert_linear(&w, 13, max_record);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Records, junk, records cut short and lying counts, fed in pieces of any size:
        /// the same records as reading the whole input, and every byte accounted for.
        #[test]
        fn pieces_agree_with_recover(
            parts in proptest::collection::vec((0u8..5, proptest::prelude::any::<u8>()), 0..40),
            piece in 1usize..70,
        ) {
            let mut t = Vec::new();
            for (kind, x) in parts {
                match kind {
                    0 => t.extend(rec(x)),
                    1 => t.extend_from_slice(&[0x11, 0, 0, 0, x, 0, 0, 0, 0, 0, 2, b'f', 0]),
                    2 => t.extend_from_slice(&[x, 0x14, x ^ 0x55]),
                    3 => t.extend(&rec(x)[..usize::from(x) % 31]),
                    _ => {
                        let mut liar = rec(x);
                        liar[4] = 31u8.wrapping_add(x);
                        t.extend(liar);
                    }
                }
            }
            check_pieces(&t, piece);
        }
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

    #[test]
    fn settle_gives_up_a_lying_candidate_that_later_records_overtook() {
        // Five planted bytes claiming 16 MiB, then two whole records.
        let r = rec(1);
        let mut t = vec![0x14];
        t.extend_from_slice(&(16u32 << 20).to_be_bytes());
        t.extend_from_slice(&r);
        t.extend_from_slice(&r);
        let mut d = StreamDecoder::new(DEFAULT_MAX_RECORD);
        let mut out = Vec::new();
        d.feed(&t, &mut out);
        assert!(out.is_empty(), "the candidate may still complete: {out:?}");
        assert!(d.settle(&mut out));
        let kinds: Vec<(u64, &str)> = out
            .iter()
            .map(|i| match i {
                StreamItem::Record { offset, .. } => (*offset, "R"),
                StreamItem::File { offset, .. } => (*offset, "F"),
                StreamItem::Damage { offset, .. } => (*offset, "D"),
            })
            .collect();
        assert_eq!(kinds, [(0, "D"), (5, "R"), (5 + r.len() as u64, "R")]);
        // Nothing left to give up: a record cut at the end with nothing after it waits.
        let mut d = StreamDecoder::new(DEFAULT_MAX_RECORD);
        let mut out = Vec::new();
        d.feed(&r[..10], &mut out);
        assert!(!d.settle(&mut out) && out.is_empty());
        d.feed(&r[10..], &mut out);
        assert_eq!(out.len(), 1);
    }
}
