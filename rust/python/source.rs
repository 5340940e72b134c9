//! A trail's bytes from Python: `bytes` (shared), `bytearray`/`memoryview` (copied), a path
//! (memory-mapped), or a `TrailSlice`, a zero-copy view of a byte range of one of those
//! that every function taking a trail's bytes accepts (`arrow_stream`, `reduce`, `Reader`,
//! the chunk functions).

use crate::source::Source;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};
use std::path::PathBuf;

/// Bytes from `bytes` (shared, no copy), `bytearray`/`memoryview` (copied: they can change
/// under us), or a path (memory-mapped).
pub(crate) fn source_from(obj: &Bound<'_, PyAny>) -> PyResult<Source> {
    if let Ok(slice) = obj.cast::<TrailSlice>() {
        return Ok(slice.get().source());
    }
    if obj.is_instance_of::<PyBytes>() {
        let b: PyBackedBytes = obj.extract()?;
        return Ok(Source::from_owner(b));
    }
    if obj.is_instance_of::<PyByteArray>() || obj.is_instance_of::<PyMemoryView>() {
        let copy = obj
            .py()
            .import("builtins")?
            .getattr("bytes")?
            .call1((obj,))?;
        let b: PyBackedBytes = copy.extract()?;
        return Ok(Source::from_owner(b));
    }
    match obj.extract::<PathBuf>() {
        // Without the GIL: opening a FIFO waits for its writer, which may be a Python
        // thread of this process.
        Ok(p) => Ok(obj.py().detach(|| Source::map_file(&p))?),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected a path, bytes, bytearray or memoryview, not {}",
            obj.get_type().name()?
        ))),
    }
}

/// `TrailSlice(source, start, end)`: bytes `[start, end)` of a trail (a path, memory
/// mapped, or bytes), shared without copying. Offsets decoded from it are relative to
/// `start`.
#[pyclass(module = "bsmtrail._native", name = "TrailSlice", frozen)]
pub struct TrailSlice {
    source: Source,
    #[pyo3(get)]
    start: usize,
    #[pyo3(get)]
    end: usize,
    /// Where the slice's first byte is in its trail file.
    #[pyo3(get)]
    pub(crate) offset: u64,
}

impl TrailSlice {
    pub(crate) fn source(&self) -> Source {
        self.source.clone()
    }

    /// All `len` bytes of `source`, a buffer of its own (offsets relative to its start).
    pub(crate) fn whole(source: Source, len: usize) -> Self {
        TrailSlice {
            source,
            start: 0,
            end: len,
            offset: 0,
        }
    }
}

#[pymethods]
impl TrailSlice {
    /// `offset` is where byte `start` of `source` is in its trail file (default `start`,
    /// for a source that is the whole file): the Arrow export reports rows at file
    /// offsets. Other readers report offsets within the slice.
    #[new]
    #[pyo3(signature = (source, start, end, *, offset = None))]
    fn new(
        source: &Bound<'_, PyAny>,
        start: usize,
        end: usize,
        offset: Option<u64>,
    ) -> PyResult<Self> {
        let src = source_from(source)?;
        let len = src.bytes().len();
        if start > end || end > len {
            return Err(PyValueError::new_err(format!(
                "slice [{start}, {end}) is outside the {len}-byte input"
            )));
        }
        Ok(TrailSlice {
            source: src.slice(start, end),
            start,
            end,
            offset: offset.unwrap_or(start as u64),
        })
    }

    fn __len__(&self) -> usize {
        self.end - self.start
    }

    fn __repr__(&self) -> String {
        format!("<bsmtrail TrailSlice [{}, {})>", self.start, self.end)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TrailSlice>()?;
    Ok(())
}
