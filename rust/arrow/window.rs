//! Framing a trail file through a bounded window of read() bytes instead of a memory map,
//! with exactly the results of [`crate::recover::Recover`] (or the strict
//! [`crate::framing::Framer`]) over the whole file.
//!
//! Why: pages of a memory-mapped file count in the process's resident set as they are
//! touched, so converting a 100 GB trail through a map looks like a 100 GB process.
//! Reading windows keeps the resident set at a few windows.
//!
//! Exactness: `frame` at position p looks at the bytes from p to the end of the record
//! (and at how many bytes remain). When the window ends before the file and `frame` says
//! "truncated", the window is refilled from p with at least the bytes needed, so every
//! verdict is the one the whole file gives. A record reaching past the window is checked
//! first by reading its seven trailer bytes alone, so a lying count never makes us read
//! megabytes just to reject it, and resynchronising stays O(1) per candidate. Resynchronisation scans candidates in the window and
//! decides each one the same way; the window then slides on. `tests` compares the two on
//! random damaged input with tiny windows.

use crate::error::{DecodeError, ErrorKind};
use crate::framing::{check_trailer, frame, Check, Span, SpanKind, TRAILER_LEN};
use crate::tokens::ids;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// Default window: big enough that refills are rare, small enough to keep memory flat.
pub const DEFAULT_WINDOW: usize = 4 << 20;
/// Bytes past a header that decide every framing check but the trailer's (the longest
/// header is 38 bytes; a trailer is 7).
const HEAD: u64 = 64;

/// What framing found at one position.
#[derive(Debug)]
pub enum Found {
    Record(Span),
    File(Span),
    /// Bytes skipped (recover mode): `offset` and `len` absolute.
    Damage {
        offset: u64,
        len: u64,
        error: DecodeError,
    },
    /// The first framing error (strict mode); nothing follows.
    Error(DecodeError),
}

/// Random access to the bytes of a file of known length.
pub trait Reader {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

pub struct FileReader {
    file: File,
    len: u64,
    path: std::path::PathBuf,
}

impl FileReader {
    /// Only a regular file has a length to trust: a pipe or a device says 0 and would
    /// read as an empty trail, so it is refused (stream it, or pass its bytes).
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file: read it as a stream or pass its bytes",
            ));
        }
        Ok(FileReader {
            file,
            len: meta.len(),
            path: path.to_path_buf(),
        })
    }
}

impl Reader for FileReader {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.read_exact(buf).map_err(|e| {
            let why = if e.kind() == io::ErrorKind::UnexpectedEof {
                "the file changed while it was read: it is shorter than when it was opened"
                    .to_string()
            } else {
                e.to_string()
            };
            io::Error::new(
                e.kind(),
                format!(
                    "{}: cannot read {} bytes at offset {offset}: {why}",
                    self.path.display(),
                    buf.len()
                ),
            )
        })
    }
}

impl Reader for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = self
            .get(start..start + buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

pub struct WindowFramer<R: Reader> {
    reader: R,
    window: usize,
    buf: Arc<Vec<u8>>,
    /// File offset of `buf[0]`.
    base: u64,
    /// Changes whenever `buf` is replaced.
    generation: u64,
    /// Next position to frame (absolute).
    pos: u64,
    recover: bool,
    done: bool,
    /// Replaced windows, reused once no chunk points into them any more (fresh pages
    /// cost a page fault each).
    retired: Vec<Arc<Vec<u8>>>,
    reads: u64,
}

/// Windows kept for reuse.
const RETIRED: usize = 4;

fn rebase(mut e: DecodeError, base: u64) -> DecodeError {
    e.offset += base;
    e.record_offset += base;
    e
}

enum Verdict {
    Ok(Span),
    /// Framing fails here (absolute offsets).
    Err(DecodeError),
}

impl<R: Reader> WindowFramer<R> {
    pub fn new(reader: R, window: usize, recover: bool) -> Self {
        WindowFramer {
            reader,
            window: window.max(64),
            buf: Arc::new(Vec::new()),
            base: 0,
            generation: 0,
            pos: 0,
            recover,
            done: false,
            retired: Vec::new(),
            reads: 0,
        }
    }

    /// Read `buf.len()` bytes at `offset`, counted (see [`Self::reads`]).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.reads += 1;
        self.reader.read_at(offset, buf)
    }

    /// How many reads so far: a handful per window of input, whatever the input holds.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// A buffer of `n` bytes (contents unspecified): a retired window nobody shares any
    /// more, or a new one.
    fn buffer(&mut self, n: usize) -> Vec<u8> {
        // Only this thread makes new references to a window, so a count of one stays one.
        if let Some(i) = self.retired.iter().position(|a| Arc::strong_count(a) == 1) {
            if let Ok(mut v) = Arc::try_unwrap(self.retired.swap_remove(i)) {
                v.resize(n, 0);
                return v;
            }
        }
        vec![0u8; n]
    }

    /// The current window and its file offset; spans returned by [`Self::next`] are
    /// relative to it. Its generation changes when it is replaced.
    pub fn window(&self) -> (&Arc<Vec<u8>>, u64, u64) {
        (&self.buf, self.base, self.generation)
    }

    fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    fn at_eof(&self) -> bool {
        self.end() >= self.reader.len()
    }

    /// Make the window start at `at` and hold at least `need` bytes (or up to the end).
    fn refill(&mut self, at: u64, need: usize) -> io::Result<()> {
        let left = self.reader.len().saturating_sub(at);
        let want = (need.max(self.window) as u64).min(left);
        if at == self.base && want <= self.buf.len() as u64 {
            return Ok(());
        }
        let n = usize::try_from(want).map_err(|_| io::ErrorKind::OutOfMemory)?;
        let mut v = self.buffer(n);
        // Reuse what the old window already holds.
        let (old_start, old_end) = (self.base, self.end());
        if at >= old_start && at < old_end {
            let from = (at - old_start) as usize;
            let keep = (self.buf.len() - from).min(n);
            v[..keep].copy_from_slice(&self.buf[from..from + keep]);
            if keep < n {
                self.read_at(at + keep as u64, &mut v[keep..])?;
            }
        } else {
            self.read_at(at, &mut v)?;
        }
        let old = std::mem::replace(&mut self.buf, Arc::new(v));
        if self.retired.len() < RETIRED && old.capacity() <= 2 * self.window {
            self.retired.push(old);
        }
        self.base = at;
        self.generation += 1;
        Ok(())
    }

    /// Frame at absolute `p` (inside the file), with the whole file's verdict.
    fn frame_at(&mut self, p: u64) -> io::Result<Verdict> {
        loop {
            if p < self.base || p >= self.end() {
                self.refill(p, 0)?;
            }
            if self.end() - p < HEAD && !self.at_eof() {
                // Framing reads header fields past the count (an `_ex` header's address
                // type decides its length, so the minimum count): they must be the file's,
                // not cut off by the window's end.
                self.refill(p, HEAD as usize)?;
            }
            let rel = (p - self.base) as usize;
            let e = match frame(&self.buf, rel, Check::Trailer) {
                Ok(span) => return Ok(Verdict::Ok(span)),
                Err(e) => e,
            };
            let needed = match e.kind {
                ErrorKind::Truncated { needed, .. } if !self.at_eof() => needed,
                _ => return Ok(Verdict::Err(rebase(e, self.base))),
            };
            let left = self.reader.len() - p;
            if needed > left {
                // Truncated in the file too, by the same check (it asked for more than
                // the file holds): the same error with the file's count of bytes.
                let mut e = rebase(e, self.base);
                e.kind = ErrorKind::Truncated {
                    needed,
                    available: left,
                };
                return Ok(Verdict::Err(e));
            }
            let is_header = self.buf.get(rel).is_some_and(|&id| ids::is_header(id));
            if is_header && self.end() - p >= HEAD {
                // A record longer than what the window holds past its header. It is longer
                // than any header plus trailer, so its trailer alone decides: read those
                // seven bytes, and the whole record only when they match.
                if let Some(v) = self.check_far_trailer(p, needed)? {
                    return Ok(v);
                }
            }
            let need = usize::try_from(needed).map_err(|_| io::ErrorKind::OutOfMemory)?;
            let had = (self.base, self.buf.len());
            self.refill(p, need)?;
            if (self.base, self.buf.len()) == had {
                // Cannot happen (the window now holds what frame asked for); never loop.
                return Ok(Verdict::Err(rebase(e, self.base)));
            }
        }
    }

    /// A record at `p` claiming `len` bytes, more than the window holds: check its trailer
    /// by reading those seven bytes alone. The verdict when they rule the record out, None
    /// when it must be read whole.
    fn check_far_trailer(&mut self, p: u64, len: u64) -> io::Result<Option<Verdict>> {
        let rel = (p - self.base) as usize;
        let count = match self.buf.get(rel + 1..rel + 5) {
            Some(c) => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            None => return Ok(None),
        };
        let mut t = [0u8; TRAILER_LEN];
        self.read_at(p + len - TRAILER_LEN as u64, &mut t)?;
        Ok(check_trailer(&t, count).err().map(|mut f| {
            f.pos += (len - TRAILER_LEN as u64) as usize;
            Verdict::Err(f.at(p))
        }))
    }

    /// The next position after `from` where a record frames strictly, or the file's end.
    ///
    /// While resynchronising, the window reaches the maximum record size past every
    /// candidate, so each candidate is decided in memory: hostile input can plant a header
    /// claiming a far trailer every five bytes, and a read per candidate made this path
    /// forty times slower than the mapped one.
    fn resync(&mut self, from: u64) -> io::Result<u64> {
        let mut p = from;
        let len = self.reader.len();
        let reach = crate::framing::max_record() + HEAD as usize;
        while p < len {
            if p < self.base || p >= self.end() {
                self.refill(p, 0)?;
            }
            let rel = (p - self.base) as usize;
            let rest = self.buf.get(rel..).unwrap_or(&[]);
            let Some(i) = rest.iter().position(|&b| ids::is_header(b)) else {
                p = self.end();
                continue;
            };
            let cand = p + i as u64;
            if cand + reach as u64 > self.end() && !self.at_eof() {
                // Slide: this candidate and a window's worth after it, each with its
                // longest possible record. Memory stays bounded by window + maximum.
                self.refill(cand, self.window.saturating_add(reach))?;
            }
            if let Verdict::Ok(_) = self.frame_at(cand)? {
                return Ok(cand);
            }
            p = cand + 1;
        }
        Ok(len)
    }

    /// The next item, with spans relative to [`Self::window`].
    // Not an Iterator: an I/O error is not an item, and spans point into the window of
    // the moment, which `window` must be asked for before the next call.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> io::Result<Option<Found>> {
        if self.done || self.pos >= self.reader.len() {
            return Ok(None);
        }
        let p = self.pos;
        match self.frame_at(p)? {
            Verdict::Ok(span) => {
                self.pos += span.len as u64;
                Ok(Some(match span.kind {
                    SpanKind::Record => Found::Record(span),
                    SpanKind::File => Found::File(span),
                }))
            }
            Verdict::Err(error) if !self.recover => {
                self.done = true;
                Ok(Some(Found::Error(error)))
            }
            Verdict::Err(error) => {
                let q = self.resync(p + 1)?;
                self.pos = q;
                Ok(Some(Found::Damage {
                    offset: p,
                    len: q - p,
                    error,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::Framer;
    use crate::recover::{Item, Recover};
    use proptest::prelude::*;

    fn rec(event: u8, text: &[u8]) -> Vec<u8> {
        let count = (18 + 3 + text.len() + 7) as u32;
        let mut r = vec![0x14];
        r.extend_from_slice(&count.to_be_bytes());
        r.extend_from_slice(&[11, 0, event, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6]);
        r.push(0x28);
        r.extend_from_slice(&(text.len() as u16).to_be_bytes());
        r.extend_from_slice(text);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    /// (offset, len, kind, error) of every item, absolute.
    fn windowed(data: &[u8], window: usize, recover: bool) -> Vec<String> {
        let mut w = WindowFramer::new(data.to_vec(), window, recover);
        let mut out = Vec::new();
        while let Some(f) = w.next().unwrap() {
            let base = w.window().1;
            out.push(match f {
                Found::Record(s) => format!("R {} {}", base + s.offset as u64, s.len),
                Found::File(s) => format!("F {} {}", base + s.offset as u64, s.len),
                Found::Damage { offset, len, error } => format!("D {offset} {len} {error:?}"),
                Found::Error(e) => format!("E {e:?}"),
            });
        }
        out
    }

    fn whole(data: &[u8], recover: bool) -> Vec<String> {
        if recover {
            Recover::new(data)
                .map(|i| match i {
                    Item::Record(s) => format!("R {} {}", s.offset, s.len),
                    Item::File(s) => format!("F {} {}", s.offset, s.len),
                    Item::Damage(d) => format!("D {} {} {:?}", d.offset, d.len, d.error),
                })
                .collect()
        } else {
            Framer::new(data, Check::Trailer)
                .map(|i| match i {
                    Ok(s) if s.kind == SpanKind::Record => format!("R {} {}", s.offset, s.len),
                    Ok(s) => format!("F {} {}", s.offset, s.len),
                    Err(e) => format!("E {e:?}"),
                })
                .collect()
        }
    }

    fn trail(pieces: &[(u8, u8, u8)]) -> Vec<u8> {
        let mut t = Vec::new();
        for &(kind, a, b) in pieces {
            match kind % 6 {
                0 | 1 => t.extend(rec(a, &vec![b'x'; usize::from(b) % 90])),
                2 => t.extend(std::iter::repeat(a).take(usize::from(b) % 40)),
                3 => {
                    let mut r = rec(a, b"damaged");
                    let i = usize::from(b) % r.len();
                    r[i] ^= 0x5a;
                    t.extend(r);
                }
                4 => t.extend_from_slice(&[0x11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 2, b'f', 0]),
                _ => {
                    // A header with a lying count, or a cut record.
                    let r = rec(a, b"cut here");
                    t.extend_from_slice(&r[..usize::from(b) % r.len()]);
                }
            }
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]
        #[test]
        fn same_items_as_whole_input(
            pieces in proptest::collection::vec(any::<(u8, u8, u8)>(), 0..30),
            window in 64usize..300,
        ) {
            let t = trail(&pieces);
            for recover in [true, false] {
                prop_assert_eq!(windowed(&t, window, recover), whole(&t, recover));
            }
        }

        #[test]
        fn same_items_on_random_bytes(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            window in 64usize..200,
        ) {
            for recover in [true, false] {
                prop_assert_eq!(windowed(&data, window, recover), whole(&data, recover));
            }
        }
    }

    #[test]
    fn lying_count_far_beyond_the_window_reads_only_the_trailer() {
        // A header claiming 300 MB inside a 1 MB file, then valid records.
        let mut t = vec![0x14, 0x11, 0xe1, 0xa3, 0x00];
        t.extend(std::iter::repeat(0u8).take(100));
        for i in 0..10_000u32 {
            t.extend(rec((i % 200) as u8, b"abc"));
        }
        assert_eq!(windowed(&t, 4096, true), whole(&t, true));
    }

    #[test]
    fn liars_everywhere_cost_a_few_reads_per_window() {
        // A header claiming 8 MiB every five bytes: each candidate's trailer lies past a
        // 1 MiB window. Deciding them by reading each trailer took a read per candidate
        // (40 s for 100 MB); now the window reaches every candidate's end.
        let mut unit = vec![0x14];
        unit.extend_from_slice(&(8u32 << 20).to_be_bytes());
        let data: Vec<u8> = unit.iter().copied().cycle().take(24 << 20).collect();
        let mut w = WindowFramer::new(data.clone(), 1 << 20, true);
        let mut items = Vec::new();
        while let Some(f) = w.next().unwrap() {
            items.push(match f {
                Found::Damage { offset, len, .. } => (offset, len),
                other => panic!("{other:?}"),
            });
        }
        assert_eq!(items, [(0, data.len() as u64)]);
        assert!(w.reads() <= 30, "{} reads", w.reads());
        assert_eq!(whole(&data, true).len(), 1);
    }

    #[test]
    fn header_fields_past_a_window_end_are_the_files() {
        // Found by the `window` fuzz target: a header32_ex whose count (0) is too small,
        // 9 bytes before a 64-byte window's end. Its minimum count depends on its address
        // type, 9 bytes further on: read past the window's end, the error said 29 where
        // the whole file says 33.
        let mut t = rec(1, &[b'a'; 27]);
        assert_eq!(t.len(), 55);
        t.extend_from_slice(&[0x15, 0, 0, 0, 0, 11, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, 1]);
        t.extend_from_slice(&[0u8; 20]);
        t.extend(rec(2, b"next"));
        assert_eq!(windowed(&t, 64, true), whole(&t, true));
        assert_eq!(windowed(&t, 64, false), whole(&t, false));
        assert!(
            whole(&t, true)[1].contains("minimum: 33"),
            "{:?}",
            whole(&t, true)
        );
    }
}
