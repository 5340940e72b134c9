//! Many trails as one time-ordered sequence: a bounded-memory k-way merge.
//!
//! Each input is framed in file order (strictly or recovering, as every reader does) into
//! a *lane*. Records are stamped when their event began, not when they were written, so a
//! trail is only nearly in order: a lane holds its items in a small heap and lets one go
//! once a record at least `window_ms` newer has been framed behind it (or the input has
//! ended). Inversions within the window are therefore put right; what leaves a lane is in
//! (time, msec) order. The lanes' heads are merged by (time, msec, input index, position
//! in the input): exactly a full sort of every item by time with input order as the tie
//! break, whenever no lane is out of order by more than the window.
//!
//! A record further behind the newest one framed before it in its trail than the window
//! (the clock set back, a record inserted by hand) is never reordered silently: it is
//! reported ([`Late`]) and goes out right after the item framed before it in its input,
//! as if stamped with that one's time. The same holds when a lane's
//! queue reaches its bound (a hostile trail of identical times would otherwise be held
//! whole).
//!
//! Memory: one heap entry per item still in a lane's window (no record bytes: the inputs
//! are mapped or in memory), and the bytes of one gathered chunk. Standalone file tokens
//! are merged by their own time; a damaged region keeps its place after the item framed
//! before it in its input.

use crate::error::DecodeError;
use crate::framing::{Check, SpanKind};
use crate::mode::Mode;
use crate::recover::{Item, Items};
use crate::source::Source;
use crate::tally::Kept;
use crate::tokens::{self, DecodeOptions, Token};
use std::cmp::{Ordering, Reverse};
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, VecDeque};

/// A record's time as `Record.time` reads it: seconds (signed: 64-bit headers) and msec.
pub type Time = (i64, u64);

/// Default reordering window: records stamped up to this much earlier than one framed
/// before them in the same trail are put in their place.
pub const DEFAULT_WINDOW_MS: u64 = 30_000;

/// Items all lanes hold at most together, whatever the window (bounds a hostile trail of
/// equal times); each lane may hold `MAX_HELD / lanes`, and at least [`MIN_HELD`].
pub const MAX_HELD: usize = 1 << 20;
pub const MIN_HELD: usize = 1024;

/// Each input's pages are released behind the merge in steps of this many bytes: the
/// resident set stays near one step per input, however many inputs are interleaved.
const RELEASE_STEP: usize = 1 << 20;

#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    /// How a strict read frames (praudit's and auditreduce's count alone, or trailers).
    pub check: Check,
    pub window_ms: u64,
    /// Late records kept in full (all counted).
    pub keep: usize,
    /// Items held by all lanes together at most (see [`MAX_HELD`]).
    pub max_held: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Recover,
            check: Check::Trailer,
            window_ms: DEFAULT_WINDOW_MS,
            keep: crate::tally::DEFAULT_KEEP,
            max_held: MAX_HELD,
        }
    }
}

/// One input of the merge: its bytes, and where they start in its trail.
#[derive(Clone)]
pub struct Input {
    pub source: Source,
    pub base: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PieceKind {
    /// `index`: the record's number in its input (0 for the first).
    Record {
        index: u64,
    },
    File,
    /// Boxed: damage is rare, and a small held item keeps a lane's queue small.
    Damage {
        len: u64,
        error: Box<DecodeError>,
    },
}

/// One item of a gathered chunk: `len` bytes at `rel` in the chunk's buffer (none for
/// damage), `offset` in input `input`'s trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub input: u32,
    pub offset: u64,
    pub rel: usize,
    pub len: usize,
    pub time: Time,
    pub kind: PieceKind,
}

/// Merged items, their bytes copied one after another (a valid trail: whole records and
/// file tokens), and what framing counted in each input since the last chunk.
#[derive(Default)]
pub struct Gathered {
    pub bytes: Vec<u8>,
    pub pieces: Vec<Piece>,
    /// (input, records framed, their bytes), including records a filter dropped.
    pub framed: Vec<(u32, u64, u64)>,
    /// Late records found while this chunk was merged (see [`Merger::late`]).
    pub late: Vec<Late>,
}

/// A record older than one its input had already given out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Late {
    pub input: u32,
    pub offset: u64,
    pub time: Time,
    /// The time it goes out as: that of the item framed before it in its input.
    pub after: Time,
}

/// An item held in a lane. Ordered by (key, position in the input): the key is its time,
/// or for a late record the time of the item given out before it.
struct Held {
    key: Time,
    time: Time,
    seq: u64,
    offset: usize,
    len: usize,
    kind: PieceKind,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.key, self.seq).cmp(&(o.key, o.seq))
    }
}

/// Milliseconds of a time, widened so hostile fields cannot overflow.
fn millis(t: Time) -> i128 {
    i128::from(t.0) * 1000 + i128::from(t.1)
}

/// The time of a record (its first header) or standalone file token.
pub fn item_time(bytes: &[u8]) -> Option<Time> {
    let id = *bytes.first()?;
    match tokens::decode(bytes, 0, DecodeOptions::PRAUDIT).ok()?.token {
        Token::Header(h) => Some((tokens::header_seconds(id, h.seconds), h.msec)),
        Token::File { seconds, msec, .. } => Some((i64::from(seconds), u64::from(msec))),
        _ => None,
    }
}

struct Lane {
    input: Input,
    pos: usize,
    /// Framing found the end (or, strictly, its first error).
    ended: bool,
    /// Held items in (key, seq) order: a trail is nearly in order, so most items go on
    /// the back, and the few out of order are inserted by binary search.
    held: VecDeque<Held>,
    seq: u64,
    records: u64,
    /// The newest time framed so far.
    newest: Option<i128>,
    /// The time of the last item given out (nothing older may follow it).
    released: Option<Time>,
    /// The time of the last item framed (a damaged region is placed after it).
    previous: Time,
    /// Framed since the last chunk: records and their bytes.
    framed: (u64, u64),
}

type Filter = Box<dyn Fn(&[u8]) -> bool + Send>;

/// A lane's earliest item's place in the merge: (its key, lane, its position in the lane).
type Head = (Time, u32, u64);

/// The k-way merge (see the module).
pub struct Merger {
    lanes: Vec<Lane>,
    /// Lanes with an item ready, earliest first.
    heads: BinaryHeap<Reverse<Head>>,
    opts: Options,
    filter: Option<Filter>,
    late: Kept<Late>,
    /// Late records not yet handed out with a chunk.
    new_late: Vec<Late>,
    /// A strict read's first error, and its input (that input ends there; the others go
    /// on: the caller decides whether the merge does).
    fatal: Option<(u32, DecodeError)>,
    started: bool,
    /// Items one lane holds at most.
    held_per_lane: usize,
    /// A mapped input that changed while it was read (its check, before it was let go).
    io_error: Option<String>,
}

impl Merger {
    pub fn new(inputs: Vec<Input>, opts: Options) -> Self {
        let late = Kept::new(opts.keep);
        let held_per_lane = (opts.max_held / inputs.len().max(1)).max(MIN_HELD.min(opts.max_held));
        Merger {
            held_per_lane,
            io_error: None,
            lanes: inputs
                .into_iter()
                .map(|input| Lane {
                    input,
                    pos: 0,
                    ended: false,
                    held: VecDeque::new(),
                    seq: 0,
                    records: 0,
                    newest: None,
                    released: None,
                    previous: (i64::MIN, 0),
                    framed: (0, 0),
                })
                .collect(),
            heads: BinaryHeap::new(),
            opts,
            filter: None,
            late,
            new_late: Vec::new(),
            fatal: None,
            started: false,
        }
    }

    /// Drop records `keep` rejects as they are framed (a selection's header check):
    /// they are counted as framed and never gathered.
    pub fn with_filter(mut self, keep: impl Fn(&[u8]) -> bool + Send + 'static) -> Self {
        self.filter = Some(Box::new(keep));
        self
    }

    /// Records older than one their input had already given out (beyond the window).
    pub fn late(&self) -> &Kept<Late> {
        &self.late
    }

    /// A strict read's first error (input index and error), once met.
    pub fn fatal(&self) -> Option<&(u32, DecodeError)> {
        self.fatal.as_ref()
    }

    pub fn inputs(&self) -> usize {
        self.lanes.len()
    }

    /// An error if a mapped input changed while it was read (it shrank: the bytes read
    /// there were zeros, not the trail's). Callers check after each chunk.
    pub fn check(&self) -> std::io::Result<()> {
        if let Some(e) = &self.io_error {
            return Err(std::io::Error::other(e.clone()));
        }
        self.lanes.iter().try_for_each(|l| l.input.source.check())
    }

    /// Frame lane `i` until its earliest held item may go (or it is empty and ended);
    /// that item's place in the merge, if any.
    fn fill(&mut self, i: usize) -> Option<Head> {
        let window = i128::from(self.opts.window_ms);
        loop {
            let lane = &self.lanes[i];
            if let Some(top) = lane.held.front() {
                let ready = lane.ended
                    || lane.held.len() >= self.held_per_lane
                    || lane.newest.is_some_and(|n| millis(top.key) + window <= n);
                if ready {
                    return Some((top.key, i as u32, top.seq));
                }
            } else if lane.ended {
                // Done with this input: unmap it now (a set of many rotated trails is
                // read one after another), after checking its bytes were all there.
                if !lane.input.source.bytes().is_empty() {
                    if let Err(e) = lane.input.source.check() {
                        self.io_error.get_or_insert(e.to_string());
                    }
                    self.lanes[i].input.source = Source::from_owner(Vec::<u8>::new());
                }
                return None;
            }
            self.pull(i);
        }
    }

    /// Frame one item of lane `i` into its heap.
    fn pull(&mut self, i: usize) {
        let (mode, check) = (self.opts.mode, self.opts.check);
        let lane = &mut self.lanes[i];
        let data = lane.input.source.bytes();
        if lane.pos >= data.len() {
            lane.ended = true;
            return;
        }
        let mut items = Items::new(data, lane.pos, mode, check);
        let next = items.next();
        lane.pos = items.position();
        let base = lane.input.base;
        let (offset, len, kind, time) = match next {
            None => {
                lane.ended = true;
                return;
            }
            Some(Err(e)) => {
                lane.ended = true;
                if self.fatal.is_none() {
                    self.fatal = Some((i as u32, e.shifted(base)));
                }
                return;
            }
            Some(Ok(Item::Damage(d))) => (
                d.offset,
                0,
                PieceKind::Damage {
                    len: d.len as u64,
                    error: Box::new(d.error.shifted(base)),
                },
                lane.previous,
            ),
            Some(Ok(Item::Record(s) | Item::File(s))) => {
                let bytes = &data[s.offset..s.offset + s.len];
                let kind = if s.kind == SpanKind::Record {
                    lane.framed.0 += 1;
                    lane.framed.1 += s.len as u64;
                    let index = lane.records;
                    lane.records += 1;
                    if self.filter.as_ref().is_some_and(|keep| !keep(bytes)) {
                        return;
                    }
                    PieceKind::Record { index }
                } else {
                    PieceKind::File
                };
                let time = item_time(bytes).unwrap_or(lane.previous);
                (s.offset, s.len, kind, time)
            }
        };
        // Further behind the newest record framed before it than the window (or behind
        // what this input already gave out): reported, and kept right after the item
        // framed before it, never moved back past the records between.
        let window = i128::from(self.opts.window_ms);
        let behind = lane.newest.is_some_and(|n| millis(time) + window < n)
            || lane.released.is_some_and(|r| time < r);
        let key = if behind && !matches!(kind, PieceKind::Damage { .. }) {
            let after = lane.previous;
            let late = Late {
                input: i as u32,
                offset: base + offset as u64,
                time,
                after,
            };
            self.late.push(late.clone());
            self.new_late.push(late);
            after
        } else {
            time.max(lane.released.unwrap_or(time))
        };
        let m = millis(key);
        lane.newest = Some(lane.newest.map_or(m, |n| n.max(m)));
        lane.previous = key;
        lane.seq += 1;
        let held = Held {
            key,
            time,
            seq: lane.seq,
            offset,
            len,
            kind,
        };
        if lane.held.back().map_or(true, |b| *b <= held) {
            lane.held.push_back(held);
        } else {
            let at = lane.held.partition_point(|h| *h <= held);
            lane.held.insert(at, held);
        }
    }

    /// The next chunk of merged items (about `max_items` items or `max_bytes` bytes), or
    /// None when every input is exhausted.
    pub fn next_chunk(&mut self, max_items: usize, max_bytes: usize) -> Option<Gathered> {
        if !self.started {
            self.started = true;
            for i in 0..self.lanes.len() {
                if let Some(h) = self.fill(i) {
                    self.heads.push(Reverse(h));
                }
            }
        }
        let mut g = Gathered::default();
        // The lane just given from stays out of the heap while its next item is still the
        // earliest (a run of one trail: a rotated set is read one trail after another).
        let mut current: Option<Head> = None;
        while g.pieces.len() < max_items && g.bytes.len() < max_bytes {
            let next = match (current.take(), self.heads.peek_mut()) {
                // The earlier of the current lane and the heap's top goes; the other
                // takes the top's place (one sift instead of a push and a pop).
                (Some(c), Some(mut top)) if top.0 < c => std::mem::replace(&mut *top, Reverse(c)).0,
                (Some(c), _) => c,
                (None, Some(top)) => PeekMut::pop(top).0,
                (None, None) => break,
            };
            let lane = next.1;
            let i = lane as usize;
            let l = &mut self.lanes[i];
            let Some(h) = l.held.pop_front() else {
                continue;
            };
            l.released = Some(h.key);
            let data = l.input.source.bytes();
            let rel = g.bytes.len();
            if h.len > 0 {
                g.bytes.extend_from_slice(&data[h.offset..h.offset + h.len]);
            }
            g.pieces.push(Piece {
                input: lane,
                offset: l.input.base + h.offset as u64,
                rel,
                len: h.len,
                time: h.time,
                kind: h.kind,
            });
            // Pages this input has given out can go (a held item behind them is read
            // again from the page cache).
            l.input.source.release_every(h.offset, RELEASE_STEP);
            current = self.fill(i);
        }
        if let Some(c) = current {
            self.heads.push(Reverse(c));
        }
        for (i, l) in self.lanes.iter_mut().enumerate() {
            if l.framed.0 > 0 {
                g.framed.push((i as u32, l.framed.0, l.framed.1));
                l.framed = (0, 0);
            }
        }
        g.late = std::mem::take(&mut self.new_late);
        (!g.pieces.is_empty() || !g.framed.is_empty()).then_some(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header32 record of event `ev` at (`secs`, `ms`), with one text token.
    fn rec(secs: u32, ms: u32, ev: u16) -> Vec<u8> {
        let count: u32 = 18 + 4 + 7;
        let mut r = vec![0x14];
        r.extend_from_slice(&count.to_be_bytes());
        r.push(11);
        r.extend_from_slice(&ev.to_be_bytes());
        r.extend_from_slice(&[0, 0]);
        r.extend_from_slice(&secs.to_be_bytes());
        r.extend_from_slice(&ms.to_be_bytes());
        r.extend_from_slice(&[0x28, 0, 1, b'x']);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    fn trail(times: &[(u32, u32)], ev: u16) -> Vec<u8> {
        times.iter().flat_map(|&(s, m)| rec(s, m, ev)).collect()
    }

    fn merger(trails: Vec<Vec<u8>>, opts: Options) -> Merger {
        let inputs = trails
            .into_iter()
            .map(|t| Input {
                source: Source::from_owner(t),
                base: 0,
            })
            .collect();
        Merger::new(inputs, opts)
    }

    fn merge(trails: Vec<Vec<u8>>, window_ms: u64) -> (Vec<(u32, u64, Time)>, Vec<Late>) {
        let mut m = merger(
            trails,
            Options {
                window_ms,
                ..Options::default()
            },
        );
        let mut out = Vec::new();
        while let Some(g) = m.next_chunk(3, 1 << 20) {
            for p in g.pieces {
                assert_eq!(item_time(&g.bytes[p.rel..p.rel + p.len]), Some(p.time));
                out.push((p.input, p.offset, p.time));
            }
        }
        (out, m.late().items().to_vec())
    }

    #[test]
    fn merges_by_time_then_input_order() {
        let a = trail(&[(10, 0), (12, 0), (12, 0)], 1);
        let b = trail(&[(11, 0), (12, 0), (13, 5)], 2);
        let (out, late) = merge(vec![a, b], 1000);
        let times: Vec<_> = out.iter().map(|o| (o.2, o.0)).collect();
        assert_eq!(
            times,
            vec![
                ((10, 0), 0),
                ((11, 0), 1),
                ((12, 0), 0),
                ((12, 0), 0),
                ((12, 0), 1),
                ((13, 5), 1)
            ]
        );
        assert!(late.is_empty());
    }

    #[test]
    fn inversions_within_the_window_are_put_right_larger_ones_reported() {
        let r = rec(0, 0, 1).len() as u64;
        // 103 is 3 s behind 106: within a 5 s window. 90 is 16 s behind: late.
        let a = trail(
            &[(100, 0), (106, 0), (103, 0), (120, 0), (90, 0), (121, 0)],
            1,
        );
        let (out, late) = merge(vec![a], 5000);
        let secs: Vec<i64> = out.iter().map(|o| o.2 .0).collect();
        assert_eq!(secs, vec![100, 103, 106, 120, 90, 121]);
        assert_eq!(
            out[4].1,
            4 * r,
            "the late record goes next, at its own offset"
        );
        assert_eq!(
            late,
            vec![Late {
                input: 0,
                offset: 4 * r,
                time: (90, 0),
                after: (120, 0)
            }]
        );
    }

    #[test]
    fn a_held_bound_keeps_memory_flat_and_reports_what_it_cannot_order() {
        let a = trail(&[(5, 0), (5, 0), (5, 0), (4, 0)], 1);
        let mut m = merger(
            vec![a],
            Options {
                max_held: 2,
                ..Options::default()
            },
        );
        let mut n = 0;
        while let Some(g) = m.next_chunk(100, 1 << 20) {
            n += g.pieces.len();
        }
        assert_eq!(n, 4);
        assert_eq!(m.late().total(), 1);
    }

    #[test]
    fn damage_keeps_its_place_and_offsets_are_the_trails() {
        let mut a = rec(10, 0, 1);
        a.extend_from_slice(&[0xee; 7]);
        a.extend(rec(30, 0, 1));
        let b = trail(&[(20, 0)], 2);
        let inputs = vec![
            Input {
                source: Source::from_owner(a),
                base: 100,
            },
            Input {
                source: Source::from_owner(b),
                base: 0,
            },
        ];
        let mut m = Merger::new(inputs, Options::default());
        let g = m.next_chunk(100, 1 << 20).expect("a chunk");
        let kinds: Vec<_> = g
            .pieces
            .iter()
            .map(|p| {
                (
                    p.input,
                    p.offset,
                    matches!(p.kind, PieceKind::Damage { .. }),
                )
            })
            .collect();
        let r = rec(0, 0, 1).len() as u64;
        assert_eq!(
            kinds,
            vec![
                (0, 100, false),
                (0, 100 + r, true),
                (1, 0, false),
                (0, 100 + r + 7, false)
            ]
        );
        assert_eq!(g.framed, vec![(0, 2, 2 * r), (1, 1, r)]);
    }

    #[test]
    fn a_strict_error_ends_its_input_only() {
        let mut a = rec(10, 0, 1);
        a.extend_from_slice(&[0xee; 7]);
        let b = trail(&[(5, 0), (20, 0)], 2);
        let mut m = merger(
            vec![a, b],
            Options {
                mode: Mode::Strict,
                ..Options::default()
            },
        );
        let mut out = Vec::new();
        while let Some(g) = m.next_chunk(100, 1 << 20) {
            out.extend(g.pieces.iter().map(|p| p.time.0));
        }
        assert_eq!(m.fatal().map(|f| f.0), Some(0));
        assert_eq!(out, vec![5, 10, 20]);
    }
}
