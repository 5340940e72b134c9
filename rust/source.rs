//! Where a trail's bytes live: a memory-mapped file or an owned buffer. Readers borrow a
//! `&[u8]` from it; nothing is copied on the decode path.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

/// An immutable byte buffer shared by a reader and every record view made from it.
#[derive(Clone)]
pub struct Source {
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
}

impl Source {
    pub fn from_owner<T: AsRef<[u8]> + Send + Sync + 'static>(owner: T) -> Self {
        Source {
            bytes: Arc::new(owner),
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
        // SAFETY: the mapping is read-only and private to this process. The one hazard is
        // another process truncating or rewriting the file while it is mapped, which can
        // raise SIGBUS or change bytes under a reader; every read is still bounds-checked
        // against the mapping's length fixed here. Evidence files are not expected to
        // change; callers that cannot rule it out pass the bytes instead of a path.
        // Tested by `tests::maps_a_file`.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Self::from_owner(map))
    }

    pub fn bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
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
}
