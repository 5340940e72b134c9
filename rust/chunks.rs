//! Byte-range chunks: splitting one trail into pieces that can be decoded in parallel
//! (threads, processes, Dask workers) with every record read exactly once.
//!
//! A file of `total` bytes is cut at split points `s_0 = 0 < s_1 < ... < s_n = total`
//! (`s_j = j * chunk_bytes`). Chunk `i` decodes the bytes `[B_i, B_{i+1})`, where the
//! boundary `B_i` is computed from the bytes near `s_i` only, so each worker finds its own
//! range without reading the file from the start.
//!
//! # The boundary of one split point
//!
//! `boundary(s)` is the first record at or after `s` of a recovering walk ([`Recover`](crate::recover::Recover))
//! started at an *anchor* before `s`:
//!
//! - `s == 0`: `0` exactly (a leading file token or damage belongs to chunk 0);
//! - `s <= lookback`: the anchor is offset 0, so the walk *is* the sequential walk;
//! - otherwise the anchor is `resync(s - lookback)`, the first offset at or after
//!   `s - lookback` where a record frames strictly.
//!
//! The walk runs over a window `[anchor, s + ahead)`; when it finds no record at or after
//! `s` inside the window, the window doubles (up to the end of the file, where the
//! boundary is `total`). The result depends only on the file's bytes, `s`, `lookback` and
//! `ahead`, never on how much of the file a caller happened to read, so two workers always
//! agree on the boundary between their chunks.
//!
//! A candidate from `resync(s)` alone can be a false positive: a well-formed record
//! embedded in the bytes of another record (a text, opaque or arg token holding a
//! record), which the sequential walk steps over. Every strictly framing offset that is
//! not a record of the sequential walk lies strictly *inside* a record or file token of
//! that walk: inside a damaged region `[p, q)` there is none, since `q` is by definition
//! the first strictly framing offset after `p`. Walking from an anchor `lookback` bytes
//! back therefore crosses the record straddling `s` as a whole when the anchor is a
//! record of the sequential walk, and when it is not (an embedded record), the walk frames
//! the embedded record(s), hits damage where the embedding record's own bytes resume, and
//! resynchronises on the next strictly framing offset: the record after the embedding
//! one. Walks that meet once agree from then on.
//!
//! # Guarantee
//!
//! 1. **Always** (any input, hostile included): `B_0 = 0`, `B_n = total`, the `B_i` never
//!    decrease (`B_i = min(boundary(s_j), j >= i)`; only the split points `s_j <=
//!    boundary(s_i)` are looked at, one in practice), so the chunks tile the file and
//!    every byte is decoded by exactly one chunk; no record is read twice.
//! 2. **Exactly the sequential output**: the records of all chunks, in chunk order, are
//!    the records of `Recover` over the whole file, when every boundary is a position of
//!    the sequential walk. The walk restricted to `[B_i, B_{i+1})` between two such
//!    positions frames the same items (a resync inside the range finds the same offset,
//!    since the range ends where the sequential walk lands). Damaged regions have the same
//!    extent; the reason of one cut by `B_{i+1}` may read `truncated` where the whole-file
//!    walk saw another fault.
//! 3. Every boundary is such a position when (a) every well-formed record embedded in
//!    another record's bytes lies wholly inside that record or file token (real trails:
//!    a record carried whole in a text, opaque or arg token), (b) a record or file token
//!    holding embedded records that spans a split point is shorter than `lookback` (1 MiB
//!    by default; real records are a few hundred bytes), and (c) no record or file token
//!    is longer than [`crate::framing::max_record`] (16 MiB by default; longer ones cut by a window's end are not
//!    waited for). Damaged regions may be any length: no strictly framing offset lies
//!    inside one, so an anchor never lands in damage.
//!
//! **Residual risk** (adversarial input only): an embedded record crafted to straddle the
//! end of the record holding it (its trailer planted in the next record), or embedded
//! records inside one record longer than `lookback`, can pull a boundary onto a record the
//! sequential walk never frames. Then, locally at that boundary, the embedding record is
//! cut (reported as damage by the chunk before), the embedded one is decoded as a record,
//! and a record its crafted count overlaps is lost; guarantee 1 still holds. `Recover` over the whole file (one sequential pass)
//! is the reference when this matters.

use crate::error::{DecodeError, ErrorKind};
use crate::framing::{frame, Check, SpanKind};
use crate::tokens::ids;

/// Default bytes walked before a split point.
pub const DEFAULT_LOOKBACK: usize = 1 << 20;
/// Default bytes looked at after a split point (doubled until a record is found).
pub const DEFAULT_AHEAD: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub lookback: usize,
    pub ahead: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            lookback: DEFAULT_LOOKBACK,
            ahead: DEFAULT_AHEAD,
        }
    }
}

/// Bytes of an in-memory trail one worker frames by itself ([`range_end`]).
pub const RANGE_BYTES: usize = 4 << 20;

/// How a worker's range end is found near its split point ([`range_end`]). Callers
/// check that each range's walk lands on its end and frame serially from where it landed
/// when it does not, so these only decide how often a hostile trail sends framing back
/// to one thread.
pub const RANGE_PARAMS: Params = Params {
    lookback: 64 << 10,
    ahead: 64 << 10,
};

/// How far past a split point [`range_end`] looks for a boundary.
pub const RANGE_REACH: usize = 1 << 20;

/// Where the range of `data` that starts at `start` (a position of the sequential
/// walk) and is about `bytes` long ends: the boundary near `start + bytes`
/// ([`RANGE_PARAMS`]), or the end of `data`. A worker walks from `start` while its
/// position is before the end; when the walk lands exactly on it, the end is a position
/// of the sequential walk too and the next range starts there. None when no boundary is
/// found within [`RANGE_REACH`] bytes of the split point (a damaged region, or a hole of
/// a sparse file claiming a huge record): the caller frames serially from `start`
/// instead, watching as it goes, rather than this scan touching every page of the hole.
pub fn range_end(data: &[u8], start: usize, bytes: usize) -> Option<usize> {
    let split = start.saturating_add(bytes.max(1));
    if split >= data.len() {
        return Some(data.len());
    }
    let reach = split.saturating_add(RANGE_REACH).min(data.len());
    let w = Window {
        bytes: &data[..reach],
        base: 0,
        total: data.len(),
    };
    boundary(&w, split, RANGE_PARAMS).ok()
}

/// Bytes of a file held in memory: `bytes` is `file[base..base + bytes.len()]` of a file
/// `total` bytes long (the whole file when `base == 0 && bytes.len() == total`).
#[derive(Clone, Copy, Debug)]
pub struct Window<'a> {
    pub bytes: &'a [u8],
    pub base: usize,
    pub total: usize,
}

impl<'a> Window<'a> {
    pub fn whole(data: &'a [u8]) -> Self {
        Window {
            bytes: data,
            base: 0,
            total: data.len(),
        }
    }

    fn end(&self) -> usize {
        self.base + self.bytes.len()
    }
}

/// The answer needs the file bytes `[lo, hi)`, which the window does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub lo: usize,
    pub hi: usize,
}

/// The boundary of split point `split` (see the module doc).
pub fn boundary(w: &Window<'_>, split: usize, p: Params) -> Result<usize, Need> {
    boundary_clear(w, split, p).map(|(b, _)| b)
}

/// [`boundary`], and when known an offset `c` such that no offset in `[c, boundary)`
/// frames strictly (the walk reached the boundary by resynchronising from before `c`).
/// Every later split point `s` with `c <= s - lookback` and `s <= boundary` then has the
/// same boundary without a walk: its anchor, `resync(s - lookback)`, is the boundary
/// itself. That keeps `chunk_start` linear over a damaged region spanning many split
/// points, which otherwise walked to the region's end once per split point.
fn boundary_clear(w: &Window<'_>, split: usize, p: Params) -> Result<(usize, Option<usize>), Need> {
    #[cfg(test)]
    tests::EVALS.with(|n| n.set(n.get() + 1));
    if split == 0 {
        return Ok((0, None));
    }
    if split >= w.total {
        return Ok((w.total, None));
    }
    let lo = split.saturating_sub(p.lookback);
    let mut hi = split.saturating_add(p.ahead.max(1)).min(w.total);
    loop {
        if w.base > lo || w.end() < hi {
            return Err(Need { lo, hi });
        }
        let win = &w.bytes[lo - w.base..hi - w.base];
        let more = w.total - hi;
        let grow_to = match walk(win, more, lo == 0, split - lo) {
            Walk::Found(at, clear) => return Ok((lo + at, clear.map(|c| lo + c))),
            Walk::Grow(end) => lo + end,
            Walk::End if hi == w.total => return Ok((w.total, None)),
            Walk::End => hi,
        };
        // At least double the part after the split point: O(log) rounds.
        let doubled = split.saturating_add((hi - split).saturating_mul(2));
        hi = grow_to.max(doubled).min(w.total);
    }
}

enum Walk {
    /// The first record at or after the split point (window-relative), and where the
    /// stretch without strictly framing offsets that the walk crossed to reach it
    /// started, when it got there by resynchronising.
    Found(usize, Option<usize>),
    /// An item cut by the window's end: the window must reach this (relative) end.
    Grow(usize),
    /// No record at or after the split point in the window.
    End,
}

/// Where an item that failed to frame at `pos` with `e` would end, when the window's end
/// is what cut it (and the file holds the rest).
fn cut_by_window(e: &DecodeError, pos: usize, win_len: usize, more: usize) -> Option<usize> {
    let ErrorKind::Truncated { needed, .. } = e.kind else {
        return None;
    };
    let needed = usize::try_from(needed).ok()?;
    let end = pos.checked_add(needed)?;
    (needed <= crate::framing::max_record() && end > win_len && end <= win_len + more)
        .then_some(end)
}

/// `resync` over a window: the next strictly framing offset at or after `from`, or the end
/// of an item the window's end cut.
fn resync_in(win: &[u8], from: usize, more: usize) -> Result<Option<usize>, usize> {
    let mut pos = from;
    while let Some(rest) = win.get(pos..) {
        let Some(i) = rest.iter().position(|&b| ids::is_header(b)) else {
            return Ok(None);
        };
        let cand = pos + i;
        match frame(win, cand, Check::Trailer) {
            Ok(_) => return Ok(Some(cand)),
            Err(e) => {
                if let Some(end) = cut_by_window(&e, cand, win.len(), more) {
                    return Err(end);
                }
            }
        }
        pos = cand + 1;
    }
    Ok(None)
}

/// The recovering walk ([`Recover`](crate::recover::Recover)) over `win` (file bytes, `more` of them after it),
/// started at 0 when `from_start`, else at the first strictly framing offset, up to its
/// first record at or after `at`. An item the window's end cuts asks for a bigger window
/// instead of being called damage.
fn walk(win: &[u8], more: usize, from_start: bool, at: usize) -> Walk {
    // Where the offsets up to `pos` stopped framing strictly, when `pos` was reached by a
    // resync (none frames in `[clear, pos)`); None after a framed item.
    let mut clear = None;
    let mut pos = if from_start {
        0
    } else {
        match resync_in(win, 0, more) {
            Ok(Some(p)) => {
                clear = Some(0);
                p
            }
            Ok(None) => return Walk::End,
            Err(end) => return Walk::Grow(end),
        }
    };
    while pos < win.len() {
        match frame(win, pos, Check::Trailer) {
            Ok(span) => {
                if span.kind == SpanKind::Record && pos >= at {
                    return Walk::Found(pos, clear);
                }
                pos += span.len;
                clear = None;
            }
            Err(e) => {
                if let Some(end) = cut_by_window(&e, pos, win.len(), more) {
                    return Walk::Grow(end);
                }
                pos = match resync_in(win, pos + 1, more) {
                    Ok(Some(p)) => {
                        clear = Some(pos + 1);
                        p
                    }
                    Ok(None) => return Walk::End,
                    Err(end) => return Walk::Grow(end),
                };
            }
        }
    }
    Walk::End
}

/// Split point `j` of a file of `total` bytes cut every `chunk_bytes`.
pub fn split_point(j: usize, chunk_bytes: usize, total: usize) -> usize {
    j.saturating_mul(chunk_bytes.max(1)).min(total)
}

/// Number of chunks of a file of `total` bytes cut every `chunk_bytes` (at least 1).
pub fn chunk_count(total: usize, chunk_bytes: usize) -> usize {
    total.div_ceil(chunk_bytes.max(1)).max(1)
}

/// `chunk_bytes` giving `n_chunks` chunks (or fewer, for tiny files).
pub fn chunk_bytes_for(total: usize, n_chunks: usize) -> usize {
    total.div_ceil(n_chunks.max(1)).max(1)
}

/// `B_i`: the start of chunk `i` (the end of chunk `i - 1`), for a file cut every
/// `chunk_bytes`. `i` may be the chunk count, giving `total`.
pub fn chunk_start(w: &Window<'_>, i: usize, chunk_bytes: usize, p: Params) -> Result<usize, Need> {
    let n = chunk_count(w.total, chunk_bytes);
    if i == 0 {
        return Ok(0);
    }
    if i >= n {
        return Ok(w.total);
    }
    let (mut best, mut clear) = boundary_clear(w, split_point(i, chunk_bytes, w.total), p)?;
    let mut j = i + 1;
    // B_i = min(boundary(s_j), j >= i); boundary(s_j) >= s_j, so later split points
    // matter only while s_j <= the best so far (non-adversarial input: never). Inside a
    // stretch without strictly framing offsets that ends at the best, they all have the
    // best as their boundary (see `boundary_clear`): no walk needed.
    while j < n && split_point(j, chunk_bytes, w.total) <= best {
        let s = split_point(j, chunk_bytes, w.total);
        if s > p.lookback && clear.is_some_and(|c| s - p.lookback >= c) {
            break;
        }
        let (b, c) = boundary_clear(w, s, p)?;
        if b < best {
            (best, clear) = (b, c);
        } else if b == best {
            // Both stretches end at the best: together they reach back to the earlier.
            clear = match (clear, c) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        j += 1;
    }
    Ok(best)
}

/// `(B_i, B_{i+1})`: the bytes chunk `i` decodes.
pub fn chunk_span(
    w: &Window<'_>,
    i: usize,
    chunk_bytes: usize,
    p: Params,
) -> Result<(usize, usize), Need> {
    Ok((
        chunk_start(w, i, chunk_bytes, p)?,
        chunk_start(w, i + 1, chunk_bytes, p)?,
    ))
}

/// Every `B_i` of a whole file, `B_0 = 0` to `B_n = total` (`n + 1` offsets; a chunk
/// owning no record is empty: `B_i == B_{i+1}`).
pub fn boundaries(data: &[u8], chunk_bytes: usize, p: Params) -> Vec<usize> {
    let n = chunk_count(data.len(), chunk_bytes);
    let splits: Vec<usize> = (1..n)
        .map(|j| split_point(j, chunk_bytes, data.len()))
        .collect();
    boundaries_at(data, &splits, p)
}

/// The boundaries for arbitrary split points (sorted here; 0 and the end are implied):
/// `B_0 = 0`, one `B` per split point, then `total`.
pub fn boundaries_at(data: &[u8], splits: &[usize], p: Params) -> Vec<usize> {
    let w = Window::whole(data);
    let mut s: Vec<usize> = splits.iter().map(|&x| x.min(data.len())).collect();
    s.sort_unstable();
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(0);
    // A whole-file window never needs more bytes.
    out.extend(s.iter().map(|&x| boundary(&w, x, p).unwrap_or(data.len())));
    out.push(data.len());
    for j in (0..out.len() - 1).rev() {
        out[j] = out[j].min(out[j + 1]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::{Item, Recover};
    use std::cell::Cell;

    thread_local! {
        /// Boundary walks made on this thread (`boundary_clear` calls).
        pub(super) static EVALS: Cell<usize> = const { Cell::new(0) };
    }

    #[test]
    fn chunk_starts_stay_linear_across_a_long_damaged_region() {
        // A record, 1 MiB of junk, a record: 1,025 split points inside the damage. Each
        // chunk_start walked to the region's end for every later split point inside it
        // (quadratic walks, each over the region); now the walks stop once a split
        // point's anchor is known to be the boundary.
        let mut t = rec(1, b"before");
        t.extend(std::iter::repeat(0u8).take(1 << 20));
        let after = t.len();
        t.extend(rec(2, b"after"));
        let w = Window::whole(&t);
        let p = Params {
            lookback: 4096,
            ahead: 4096,
        };
        let chunk = 1024;
        let n = chunk_count(t.len(), chunk);
        EVALS.with(|e| e.set(0));
        let starts: Vec<usize> = (0..=n)
            .map(|i| chunk_start(&w, i, chunk, p).unwrap())
            .collect();
        let evals = EVALS.with(|e| e.get());
        assert!(evals <= 8 * n, "{evals} walks for {n} chunks");
        assert_eq!(starts, boundaries(&t, chunk, p));
        assert!(starts[1..n].iter().all(|&b| b == after));
    }

    fn rec(event: u8, text: &[u8]) -> Vec<u8> {
        let len = 18 + 3 + text.len() + 7;
        let c = (len as u32).to_be_bytes();
        let mut r = vec![
            0x14, c[0], c[1], c[2], c[3], 11, 0, event, 0, 0, 0, 0, 0, 5, 0, 0,
        ];
        r.extend_from_slice(&[0, 6]);
        let t = (text.len() as u16).to_be_bytes();
        r.extend_from_slice(&[0x28, t[0], t[1]]);
        r.extend_from_slice(text);
        r.extend_from_slice(&[0x13, 0xb1, 0x05, c[0], c[1], c[2], c[3]]);
        r
    }

    fn records(data: &[u8]) -> Vec<(usize, usize)> {
        Recover::new(data)
            .filter_map(|i| match i {
                Item::Record(s) => Some((s.offset, s.len)),
                _ => None,
            })
            .collect()
    }

    fn chunked(data: &[u8], chunk_bytes: usize, p: Params) -> Vec<(usize, usize)> {
        let b = boundaries(data, chunk_bytes, p);
        let mut out = Vec::new();
        for w in b.windows(2) {
            for (o, l) in records(&data[w[0]..w[1]]) {
                out.push((w[0] + o, l));
            }
        }
        out
    }

    fn trail() -> Vec<u8> {
        let mut t = vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, b'f', 0];
        for i in 0..200u8 {
            t.extend(rec(i, b"plain text\0"));
            if i % 7 == 0 {
                // A record carrying a whole record in its text token.
                let mut inner = rec(200, b"inner\0");
                inner.push(0);
                t.extend(rec(i, &inner));
            }
            if i % 11 == 0 {
                t.extend_from_slice(b"\x00junk\x14\x00\x00\x00\x40");
            }
        }
        t
    }

    #[test]
    fn every_split_gives_the_sequential_records() {
        let t = trail();
        let whole = records(&t);
        let p = Params {
            lookback: 128,
            ahead: 64,
        };
        for cb in 1..=97 {
            assert_eq!(chunked(&t, cb, p), whole, "chunk_bytes {cb}");
        }
        for cb in [128, 1000, 4096, t.len(), t.len() + 5] {
            assert_eq!(chunked(&t, cb, Params::default()), whole);
        }
    }

    #[test]
    fn windows_agree_with_the_whole_file() {
        let t = trail();
        let p = Params {
            lookback: 100,
            ahead: 50,
        };
        let whole = Window::whole(&t);
        let n = chunk_count(t.len(), 300);
        for i in 0..n {
            let want = chunk_span(&whole, i, 300, p).unwrap();
            // Start with a small window and grow it as asked.
            let (mut lo, mut hi) = (i * 300, i * 300 + 10);
            let got = loop {
                let w = Window {
                    bytes: &t[lo..hi.min(t.len())],
                    base: lo,
                    total: t.len(),
                };
                match chunk_span(&w, i, 300, p) {
                    Ok(s) => break s,
                    Err(need) => {
                        lo = lo.min(need.lo);
                        hi = hi.max(need.hi);
                    }
                }
            };
            assert_eq!(got, want);
        }
    }

    #[test]
    fn empty_tiny_and_hostile_inputs() {
        assert_eq!(boundaries(&[], 10, Params::default()), vec![0, 0]);
        assert_eq!(boundaries(&[0x14], 10, Params::default()), vec![0, 1]);
        let junk = vec![0x14u8; 5000];
        let p = Params {
            lookback: 64,
            ahead: 64,
        };
        let b = boundaries(&junk, 100, p);
        assert_eq!(b[0], 0);
        assert!(b[1..].iter().all(|&x| x == 5000));
        assert_eq!(boundaries(&junk, 0, p).len(), 5001);
    }

    /// Pseudo-random hostile bytes (records, header ids with random counts, trailers,
    /// file tokens, junk): boundaries tile, windowed spans equal whole-file ones, and
    /// nothing panics, for tiny and zero windows too.
    #[test]
    fn random_hostile_bytes() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..60 {
            let mut t = Vec::new();
            while t.len() < 3000 {
                match next() % 6 {
                    0 | 1 => t.extend(rec((next() % 250) as u8, b"t\0")),
                    2 => {
                        let mut inner = rec(7, b"i\0");
                        inner.push(0);
                        t.extend(rec(3, &inner));
                    }
                    3 => {
                        let c = (next() % 400) as u32;
                        t.push([0x14, 0x15, 0x74, 0x79][(next() % 4) as usize]);
                        t.extend_from_slice(&c.to_be_bytes());
                    }
                    4 => {
                        let c = (next() % 400) as u32;
                        t.extend_from_slice(&[0x13, 0xb1, 0x05]);
                        t.extend_from_slice(&c.to_be_bytes());
                    }
                    _ => {
                        let n = (next() % 16) as usize;
                        t.push(if next() % 2 == 0 { 0x11 } else { 0 });
                        t.extend((0..n).map(|_| next() as u8));
                    }
                }
            }
            let p = Params {
                lookback: (next() % 300) as usize,
                ahead: 1 + (next() % 100) as usize,
            };
            let cb = 1 + (next() % 700) as usize;
            let b = boundaries(&t, cb, p);
            assert_eq!((b[0], *b.last().unwrap()), (0, t.len()), "round {round}");
            assert!(b.windows(2).all(|w| w[0] <= w[1]), "round {round}");
            let whole = Window::whole(&t);
            for i in 0..chunk_count(t.len(), cb) {
                let want = chunk_span(&whole, i, cb, p).unwrap();
                assert_eq!(want, (b[i], b[i + 1]), "round {round} chunk {i}");
                let (mut lo, mut hi) = (i * cb, (i * cb + 1).min(t.len()));
                let got = loop {
                    let w = Window {
                        bytes: &t[lo..hi],
                        base: lo,
                        total: t.len(),
                    };
                    match chunk_span(&w, i, cb, p) {
                        Ok(s) => break s,
                        Err(need) => {
                            assert!(need.lo < lo || need.hi > hi, "no progress");
                            lo = lo.min(need.lo);
                            hi = hi.max(need.hi).min(t.len());
                        }
                    }
                };
                assert_eq!(got, want, "round {round} chunk {i} windowed");
            }
        }
    }

    #[test]
    fn adversarial_straddling_embedding_still_tiles() {
        // A record longer than the lookback, full of embedded records: the boundary may
        // land on an embedded one, but the chunks still tile the file.
        let mut inner = Vec::new();
        for _ in 0..50 {
            inner.extend(rec(9, b"x\0"));
        }
        let mut t = rec(1, b"a\0");
        t.extend(rec(2, &inner));
        t.extend(rec(3, b"b\0"));
        let p = Params {
            lookback: 64,
            ahead: 64,
        };
        let b = boundaries(&t, 500, p);
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((b[0], *b.last().unwrap()), (0, t.len()));
        // With a lookback covering the big record, the result is exact again.
        assert_eq!(chunked(&t, 500, Params::default()), records(&t));
    }
}
