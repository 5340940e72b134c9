//! Where a trail's bytes live: a memory-mapped file or an owned buffer. Readers borrow a
//! `&[u8]` from it; nothing is copied on the decode path.
//!
//! A mapped file is watched for faults (`crate::fault`): if it shrinks while it is read,
//! the process survives and [`Source::check`] reports the file and offset. Long sequential
//! passes call [`Source::release`] behind them so a large file's pages do not all stay in
//! the resident set.

use crate::fault::Guard;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A mapped file, watched for SIGBUS while it is mapped.
struct Mapped {
    // Field order matters: the guard unregisters before the mapping goes.
    guard: Guard,
    map: memmap2::Mmap,
    path: PathBuf,
    /// Pages before this were last released (`Source::release`).
    released: AtomicUsize,
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

/// An immutable byte buffer shared by a reader and every record view made from it.
#[derive(Clone)]
pub struct Source {
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    mapped: Option<Arc<Mapped>>,
    /// Positions in `bytes` are positions in the mapping (not a slice of it), so a pass
    /// over them may release the pages behind it.
    whole: bool,
}

/// `src[start..end]`, shared.
struct Slice {
    src: Source,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        self.src.bytes().get(self.start..self.end).unwrap_or(&[])
    }
}

/// Bytes released behind a sequential pass at a time.
const RELEASE_STEP: usize = 64 << 20;

impl Source {
    pub fn from_owner<T: AsRef<[u8]> + Send + Sync + 'static>(owner: T) -> Self {
        Source {
            bytes: Arc::new(owner),
            mapped: None,
            whole: false,
        }
    }

    /// Map a file read-only. An empty file gets an empty buffer (mapping zero bytes fails
    /// on some systems). Anything but a regular file (a pipe, `/dev/stdin`, auditpipe(4))
    /// has no size to trust (`st_size` is 0), so it is read to its end instead: never
    /// taken for an empty trail.
    pub fn map_file(path: &Path) -> io::Result<Self> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            let mut v = Vec::new();
            file.read_to_end(&mut v)?;
            return Ok(Self::from_owner(v));
        }
        if meta.len() == 0 {
            return Ok(Self::from_owner(Vec::<u8>::new()));
        }
        // SAFETY: the mapping is read-only and private to this process. Another process
        // truncating the file while it is mapped makes reads past the new end fault:
        // `Guard` turns that fault into zeros plus a recorded offset that `check`
        // reports, so the process survives. Every read is still bounds-checked against
        // the mapping's length fixed here. Tested by `tests::a_file_truncated_while_mapped`.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        let Some(guard) = Guard::register(map.as_ptr(), map.len()) else {
            // No fault handler (or every slot taken): read the bytes instead, so a
            // truncation can never kill the process.
            drop(map);
            let mut v = Vec::with_capacity(meta.len() as usize);
            file.read_to_end(&mut v)?;
            return Ok(Self::from_owner(v));
        };
        let m = Arc::new(Mapped {
            guard,
            map,
            path: path.to_path_buf(),
            released: AtomicUsize::new(0),
        });
        Ok(Source {
            bytes: m.clone(),
            mapped: Some(m),
            whole: true,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// Bytes `[start, end)` (clamped) as a source of their own, sharing this one's buffer
    /// and its fault watch: nothing is copied. A slice releases no pages (its passes
    /// cover part of the mapping, beside other slices').
    pub fn slice(&self, start: usize, end: usize) -> Source {
        Source {
            bytes: Arc::new(Slice {
                src: self.clone(),
                start,
                end,
            }),
            mapped: self.mapped.clone(),
            whole: false,
        }
    }

    /// An error naming the file and offset if the mapped file shrank while it was read
    /// (the bytes read from there are zeros, not the trail's).
    pub fn check(&self) -> io::Result<()> {
        match &self.mapped {
            Some(m) => match m.guard.fault() {
                Some(at) => Err(io::Error::other(format!(
                    "{}: the file changed while it was read: no bytes at offset {at} \
                     (truncated, or an I/O error)",
                    m.path.display()
                ))),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Tell the system that a sequential pass is done with the bytes before `pos` (acted
    /// on every [`RELEASE_STEP`]). Their pages leave the resident set and are read again
    /// from the page cache if touched, so one pass over a large mapped file costs little
    /// memory. Passes over the same source at other positions only re-read pages. A
    /// no-op for owned bytes and slices; called per record, so the common case is one
    /// relaxed load.
    pub fn release(&self, pos: usize) {
        self.release_every(pos, RELEASE_STEP);
    }

    /// [`Source::release`], acted on every `step` bytes (at least one page): a merge of
    /// many inputs releases each in smaller steps, so its resident set stays near one
    /// step per input.
    pub fn release_every(&self, pos: usize, step: usize) {
        let Some(m) = self.mapped.as_ref().filter(|_| self.whole) else {
            return;
        };
        let step = step.max(4096);
        let end = (pos - pos % step).min(m.map.len());
        if end <= m.released.load(Ordering::Relaxed) {
            return;
        }
        let from = m.released.fetch_max(end, Ordering::Relaxed);
        if from >= end {
            return;
        }
        // SAFETY: MADV_DONTNEED on a read-only file mapping only drops this process's
        // page table entries; the next access reads the same file pages back from the
        // page cache. Nothing is written through the mapping, so nothing is lost.
        #[allow(unsafe_code)]
        let _ = unsafe {
            m.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, end - from)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn maps_a_file() {
        let dir = std::env::temp_dir().join(format!("bsmtrail-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.bsm");
        std::fs::File::create(&p)
            .unwrap()
            .write_all(b"\x14abc")
            .unwrap();
        let s = Source::map_file(&p).unwrap();
        assert_eq!(s.bytes(), b"\x14abc");
        let e = dir.join("empty");
        std::fs::File::create(&e).unwrap();
        assert_eq!(Source::map_file(&e).unwrap().bytes(), b"");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_truncated_while_mapped() {
        let dir = std::env::temp_dir().join(format!("bsmtrail-trunc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.bsm");
        std::fs::write(&p, vec![0x5au8; 1 << 20]).unwrap();
        let s = Source::map_file(&p).unwrap();
        assert!(s.check().is_ok());
        s.release(1 << 20); // below the step: nothing released
        assert_eq!(s.bytes()[4096], 0x5a);
        // Cut the file under the mapping: reading past the new end would be SIGBUS.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(8192)
            .unwrap();
        assert_eq!(s.bytes()[100], 0x5a);
        let far = std::hint::black_box(s.bytes()[700_000]);
        assert_eq!(far, 0, "the faulting page reads as zeros");
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("t.bsm") && e.contains("offset 700000"), "{e}");
        // Another mapping of the same file is watched on its own.
        let again = Source::map_file(&p).unwrap();
        assert!(again.check().is_ok());
        drop(s);
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn releasing_pages_keeps_the_bytes() {
        let dir = std::env::temp_dir().join(format!("bsmtrail-rel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.bsm");
        let data: Vec<u8> = (0..(130u32 << 20) / 4)
            .flat_map(|i| i.to_le_bytes())
            .collect();
        std::fs::write(&p, &data).unwrap();
        let s = Source::map_file(&p).unwrap();
        let sum: u64 = s.bytes().iter().step_by(4096).map(|&b| u64::from(b)).sum();
        let released = |s: &Source| s.mapped.as_ref().unwrap().released.load(Ordering::Relaxed);
        s.slice(1 << 20, 130 << 20).release(129 << 20); // a slice's positions are its own
        assert_eq!(released(&s), 0);
        s.release(129 << 20);
        assert_eq!(released(&s), 128 << 20);
        assert_eq!(s.bytes(), &data[..]);
        let again: u64 = s.bytes().iter().step_by(4096).map(|&b| u64::from(b)).sum();
        assert_eq!(sum, again);
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
