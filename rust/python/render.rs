//! `Renderer`: praudit-compatible text/XML rendering of whole trails, in one piece, in
//! chunks, or incrementally from a stream. The event, user and group tables are received
//! once, when the renderer is made; rendering itself runs with the GIL released and makes
//! no Python object per record.

use super::source::source_from;
use crate::lookup::Lookup;
use crate::render::{self, Options, Stream, XML_FOOTER, XML_HEADER};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while rendering is a bug, but the state is still usable for later calls.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A render configuration: options plus lookup tables.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct Renderer {
    inner: Mutex<render::Renderer>,
}

impl Renderer {
    fn snapshot(&self) -> render::Renderer {
        lock(&self.inner).clone()
    }
}

#[pymethods]
impl Renderer {
    #[new]
    #[pyo3(signature = (
        *,
        raw = false,
        short = false,
        numeric = false,
        xml = false,
        oneline = false,
        delimiter = b",".to_vec(),
        apple = false,
        apple_truncated_word = b"truncated".to_vec(),
        apple_empty_cdhash = Vec::new(),
        xml_strict = false,
        utc = false,
        events = Vec::new(),
        users = Vec::new(),
        groups = Vec::new(),
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        raw: bool,
        short: bool,
        numeric: bool,
        xml: bool,
        oneline: bool,
        delimiter: Vec<u8>,
        apple: bool,
        apple_truncated_word: Vec<u8>,
        apple_empty_cdhash: Vec<u8>,
        xml_strict: bool,
        utc: bool,
        events: Vec<(i64, Vec<u8>, Vec<u8>)>,
        users: Vec<(i64, Vec<u8>)>,
        groups: Vec<(i64, Vec<u8>)>,
    ) -> PyResult<Self> {
        if raw && short {
            return Err(PyValueError::new_err(
                "raw and short are mutually exclusive",
            ));
        }
        let mut lookup = Lookup::new();
        // Numbers are truncated like C: events to 16 bits (§6.1), ids to uid_t/gid_t.
        for (n, name, desc) in &events {
            lookup.add_event(*n as u16, name, desc);
        }
        for (id, name) in &users {
            lookup.add_user(*id as u32, name);
        }
        for (id, name) in &groups {
            lookup.add_group(*id as u32, name);
        }
        let opts = Options {
            raw,
            short,
            numeric,
            xml,
            oneline,
            delim: delimiter,
            apple,
            apple_truncated_word,
            apple_empty_cdhash,
            xml_strict,
            utc,
        };
        Ok(Renderer {
            inner: Mutex::new(render::Renderer::new(opts, Arc::new(lookup))),
        })
    }

    /// Render a whole trail (bytes-like or path) to bytes. No XML prologue/epilogue.
    #[pyo3(signature = (source, *, resync = false))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        source: &Bound<'py, PyAny>,
        resync: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let src = source_from(source)?;
        let mut r = self.snapshot();
        let out = py.detach(move || r.trail_to_vec(src.bytes(), resync));
        Ok(PyBytes::new(py, &out))
    }

    /// Render one record (a header-framed record or a standalone file token) exactly as
    /// given: its tokens are walked to the end of `data`.
    fn render_record<'py>(&self, py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
        let mut out = Vec::new();
        lock(&self.inner).record(data, &mut out);
        PyBytes::new(py, &out)
    }

    /// Render a trail in pieces (an iterator of bytes), runs of about `chunk_size` input
    /// bytes rendered on `threads` workers (0: every core) and given back in order.
    #[pyo3(signature = (source, *, resync = false, chunk_size = 1048576, threads = 0))]
    fn chunks(
        &self,
        source: &Bound<'_, PyAny>,
        resync: bool,
        chunk_size: usize,
        threads: usize,
    ) -> PyResult<RenderChunks> {
        let src = source_from(source)?;
        let chunked = render::Chunked::new(self.snapshot(), src, resync, chunk_size, threads)?;
        Ok(RenderChunks {
            state: Mutex::new(chunked),
        })
    }

    /// An incremental renderer for a byte stream (`feed` bytes as they arrive).
    #[pyo3(signature = (*, resync = false))]
    fn stream(&self, resync: bool) -> RenderStream {
        RenderStream {
            state: Mutex::new((self.snapshot(), Stream::new(resync))),
        }
    }

    #[getter]
    fn xml(&self) -> bool {
        lock(&self.inner).options().xml
    }

    #[getter]
    fn xml_strict(&self) -> bool {
        lock(&self.inner).options().xml_strict
    }
}

/// Iterator of rendered chunks over one trail.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct RenderChunks {
    state: Mutex<render::Chunked>,
}

#[pymethods]
impl RenderChunks {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next chunk; an error if the mapped file shrank while it was read.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let mut guard = lock(&self.state);
        let chunked = &mut *guard;
        match py.detach(|| chunked.next_piece()) {
            Some(piece) => {
                let piece = piece?;
                let bytes = PyBytes::new(py, &piece);
                chunked.recycle(piece);
                Ok(Some(bytes))
            }
            None => Ok(None),
        }
    }

    /// Write every remaining chunk to the process's standard output (file descriptor 1;
    /// flush Python's buffer first), without a copy into Python; returns the bytes
    /// written. Ctrl-C is checked between chunks.
    fn write_stdout(&self, py: Python<'_>) -> PyResult<u64> {
        let mut guard = lock(&self.state);
        let chunked = &mut *guard;
        let mut stdout = std::io::stdout();
        let mut total = 0u64;
        loop {
            let step = py.detach(|| {
                let Some(piece) = chunked.next_piece() else {
                    return Ok(None);
                };
                let piece = piece?;
                stdout.write_all(&piece)?;
                stdout.flush()?;
                let n = piece.len() as u64;
                chunked.recycle(piece);
                Ok::<_, std::io::Error>(Some(n))
            })?;
            match step {
                Some(n) => total += n,
                None => return Ok(total),
            }
            py.check_signals()?;
        }
    }
}

/// Incremental rendering: every complete record fed so far is rendered at once.
#[pyclass(module = "bsmtrail._native", frozen)]
pub struct RenderStream {
    state: Mutex<(render::Renderer, Stream)>,
}

#[pymethods]
impl RenderStream {
    /// Feed bytes; return the rendering of every record they complete.
    fn feed<'py>(&self, py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
        let out = py.detach(|| {
            let mut st = lock(&self.state);
            let (r, s) = &mut *st;
            let mut out = Vec::new();
            s.feed(r, data, &mut out);
            out
        });
        PyBytes::new(py, &out)
    }

    /// True once a framing problem ended the input (later bytes are ignored).
    #[getter]
    fn done(&self) -> bool {
        lock(&self.state).1.is_done()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Renderer>()?;
    m.add_class::<RenderChunks>()?;
    m.add_class::<RenderStream>()?;
    m.add("XML_HEADER", PyBytes::new(m.py(), XML_HEADER))?;
    m.add("XML_FOOTER", PyBytes::new(m.py(), XML_FOOTER))?;
    Ok(())
}
