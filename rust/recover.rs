//! Recovering framing: keep every intact record of a damaged trail and say exactly what was
//! skipped.
//!
//! After a framing error at offset `p`, the reader resynchronises on the next offset `q > p`
//! where a record frames under [`Check::Trailer`]: a header id, and a byte count that lands
//! on a trailer with magic 0xb105 and the same count. Checking a candidate costs O(1) (three
//! fixed-position reads), and candidates are only offsets holding a header id byte, so the
//! scan is linear in the input even when an attacker plants header ids everywhere. The
//! region `[p, q)` is reported as damage with the error found at `p`. With no resync point
//! before the end, the rest of the input is one damaged region (a truncated tail).
//!
//! Standalone file tokens are accepted only at positions reached by framing, never as
//! resync points: they carry no trailer, so a stray 0x11 byte would be indistinguishable.

use crate::error::DecodeError;
use crate::framing::{frame, Check, Framer, Span, SpanKind};
use crate::mode::Mode;
use crate::tokens::ids;

/// A skipped region of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub offset: usize,
    pub len: usize,
    /// What was wrong at `offset`.
    pub error: DecodeError,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Record(Span),
    File(Span),
    Damage(Damage),
}

/// The next offset at or after `from` where a whole record frames strictly.
pub fn resync(data: &[u8], from: usize) -> Option<usize> {
    resync_watched(data, from, None)
}

/// Bytes scanned between calls of a watch during a long resynchronisation.
const WATCH_STEP: usize = 16 << 20;

/// [`resync`], telling `watch` how far the scan has gone every [`WATCH_STEP`] bytes (a
/// mapped source releases the pages behind it: a damaged region can be gigabytes).
pub fn resync_watched(data: &[u8], from: usize, watch: Option<&dyn Fn(usize)>) -> Option<usize> {
    let mut pos = from;
    while pos < data.len() {
        let end = match watch {
            Some(_) => pos.saturating_add(WATCH_STEP).min(data.len()),
            None => data.len(),
        };
        // One pass over the bytes for the four header ids. (Chaining a memchr3 with a
        // separate memchr for the fourth id would rescan the whole tail per candidate:
        // quadratic on input that repeats one id.)
        let Some(i) = data[pos..end].iter().position(|&b| ids::is_header(b)) else {
            pos = end;
            if let Some(w) = watch {
                w(pos);
            }
            continue;
        };
        let cand = pos + i;
        if frame(data, cand, Check::Trailer).is_ok() {
            return Some(cand);
        }
        pos = cand + 1;
    }
    None
}

/// Iterates records, file tokens and damaged regions; never stops early.
pub struct Recover<'a> {
    data: &'a [u8],
    pos: usize,
    watch: Option<&'a dyn Fn(usize)>,
}

impl<'a> Recover<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Recover {
            data,
            pos: 0,
            watch: None,
        }
    }

    pub fn starting_at(data: &'a [u8], pos: usize) -> Self {
        Recover {
            data,
            pos,
            watch: None,
        }
    }

    /// Tell `watch` the position as the pass moves on, inside long damaged regions too.
    pub fn watched(mut self, watch: &'a dyn Fn(usize)) -> Self {
        self.watch = Some(watch);
        self
    }

    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for Recover<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        match frame(self.data, self.pos, Check::Trailer) {
            Ok(span) => {
                self.pos += span.len;
                Some(match span.kind {
                    SpanKind::Record => Item::Record(span),
                    SpanKind::File => Item::File(span),
                })
            }
            Err(error) => {
                let start = self.pos;
                let end =
                    resync_watched(self.data, start + 1, self.watch).unwrap_or(self.data.len());
                self.pos = end;
                Some(Item::Damage(Damage {
                    offset: start,
                    len: end - start,
                    error,
                }))
            }
        }
    }
}

/// Records, file tokens and damaged regions in order, whatever the mode: the one item loop
/// of every reader. A strict read is the framer's spans (framed with its own `check`)
/// and ends at its first error; a recovering read never stops.
pub struct Items<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Strict(Framer<'a>),
    Recover(Recover<'a>),
}

impl<'a> Items<'a> {
    /// Items from `pos`. `strict_check` is how a strict read frames (auditreduce and
    /// praudit frame on the header's count alone); recovering always checks trailers.
    pub fn new(data: &'a [u8], pos: usize, mode: Mode, strict_check: Check) -> Self {
        let inner = match mode {
            Mode::Strict => Inner::Strict(Framer::starting_at(data, pos, strict_check)),
            Mode::Recover => Inner::Recover(Recover::starting_at(data, pos)),
        };
        Items { inner }
    }

    /// Tell `watch` the position inside long damaged regions too (see [`Recover::watched`]).
    pub fn watched(mut self, watch: &'a dyn Fn(usize)) -> Self {
        if let Inner::Recover(r) = self.inner {
            self.inner = Inner::Recover(r.watched(watch));
        }
        self
    }

    /// Offset of the next item.
    pub fn position(&self) -> usize {
        match &self.inner {
            Inner::Strict(f) => f.position(),
            Inner::Recover(r) => r.position(),
        }
    }
}

impl Iterator for Items<'_> {
    type Item = Result<Item, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Recover(r) => r.next().map(Ok),
            Inner::Strict(f) => f.next().map(|r| {
                r.map(|s| match s.kind {
                    SpanKind::Record => Item::Record(s),
                    SpanKind::File => Item::File(s),
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn rec(event: u8) -> Vec<u8> {
        let mut r = vec![
            0x14, 0, 0, 0, 31, 11, 0, event, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6,
        ];
        r.extend_from_slice(&[0x28, 0, 3, b'h', b'i', 0]);
        r.extend_from_slice(&[0x13, 0xb1, 0x05, 0, 0, 0, 31]);
        r
    }

    fn items(data: &[u8]) -> Vec<Item> {
        Recover::new(data).collect()
    }

    fn events(data: &[u8], its: &[Item]) -> Vec<u8> {
        its.iter()
            .filter_map(|i| match i {
                Item::Record(s) => Some(data[s.offset + 7]),
                _ => None,
            })
            .collect()
    }

    fn damage(its: &[Item]) -> Vec<(usize, usize, &'static str)> {
        its.iter()
            .filter_map(|i| match i {
                Item::Damage(d) => Some((d.offset, d.len, d.error.kind.code())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn junk_between_records() {
        let mut t = rec(1);
        t.extend_from_slice(b"\x00junk\x14\x00\x00");
        t.extend(rec(2));
        let its = items(&t);
        assert_eq!(events(&t, &its), vec![1, 2]);
        assert_eq!(damage(&its), vec![(31, 8, "not_a_record")]);
    }

    #[test]
    fn flipped_count_and_zero_fill() {
        let mut t = rec(1);
        let mut bad = rec(2);
        bad[4] = 200; // lying count
        t.extend(bad);
        t.extend(vec![0u8; 100]); // zero-filled region
        t.extend(rec(3));
        let its = items(&t);
        assert_eq!(events(&t, &its), vec![1, 3]);
        let d = damage(&its);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].0, d[0].1), (31, 31 + 100));
    }

    #[test]
    fn truncated_tail() {
        let mut t = rec(1);
        t.extend(rec(2));
        t.extend(&rec(3)[..20]);
        let its = items(&t);
        assert_eq!(events(&t, &its), vec![1, 2]);
        assert_eq!(damage(&its), vec![(62, 20, "truncated")]);
    }

    #[test]
    fn damage_at_start_and_trailer_mismatch() {
        let mut t = b"\xff\xfe".to_vec();
        let mut bad = rec(1);
        bad[30] = 99;
        t.extend(bad);
        t.extend(rec(2));
        let its = items(&t);
        assert_eq!(events(&t, &its), vec![2]);
        assert_eq!(damage(&its), vec![(0, 33, "not_a_record")]);
        let e = match &its[0] {
            Item::Damage(d) => d.error.clone(),
            _ => unreachable!(),
        };
        assert_eq!(e.kind, ErrorKind::NotARecord(0xff));
    }

    #[test]
    fn adversarial_header_bytes_everywhere_stay_linear() {
        // 1 MiB of 0x14 bytes: every offset is a candidate whose count (0x14141414) is
        // above the maximum record size. Each check is O(1), so this finishes at once.
        let t = vec![0x14u8; 1 << 20];
        let its = items(&t);
        assert_eq!(damage(&its), vec![(0, 1 << 20, "record_too_large")]);
        // Counts within the maximum but past the end: truncations, as fast.
        let mut t = vec![0x14u8; 1 << 20];
        for c in t.chunks_mut(5) {
            if c.len() == 5 {
                c[1..5].copy_from_slice(&(2u32 << 20).to_be_bytes());
            }
        }
        let its = items(&t);
        assert_eq!(damage(&its), vec![(0, 1 << 20, "truncated")]);
    }

    #[test]
    fn regions_tile_the_input() {
        let mut t = rec(1);
        t.extend_from_slice(&[0x14, 0, 0, 0, 40, 1, 2, 3]);
        t.extend(rec(2));
        t.extend_from_slice(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'x']);
        t.extend(rec(3));
        t.push(0x74);
        let mut pos = 0;
        for it in Recover::new(&t) {
            let (o, l) = match it {
                Item::Record(s) | Item::File(s) => (s.offset, s.len),
                Item::Damage(d) => (d.offset, d.len),
            };
            assert_eq!(o, pos);
            pos += l;
        }
        assert_eq!(pos, t.len());
    }
}
