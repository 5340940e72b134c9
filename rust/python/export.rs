//! `BatchWriter`: Python names the file, the format and the options; `crate::export`
//! encodes on every core and lays the output out.

use super::arrow::ArrowStream;
use super::errors::arrow_to_pyerr as to_pyerr;
use super::progress::Progress;
use crate::export::{self, BatchSink, Codec, Format};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_arrow::PySchema;
use std::path::PathBuf;
use std::sync::Mutex;

/// Parquet, JSON Lines or CSV written batch by batch: each batch is encoded on a worker
/// while the next ones come, and written in the order given. `-` is standard output for
/// the text formats (flush Python's first).
#[pyclass(module = "bsmtrail._native", name = "BatchWriter", frozen)]
pub struct BatchWriter {
    sink: Mutex<Option<Box<dyn BatchSink>>>,
}

impl BatchWriter {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Option<Box<dyn BatchSink>>>> {
        self.sink
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the writer failed in another thread"))
    }
}

#[pymethods]
impl BatchWriter {
    /// `format`: `parquet`, `jsonl` or `csv`; `compression`: Parquet's codec; `csv_raw`:
    /// CSV cells exactly as decoded; `threads`: encoding workers (0: every core).
    #[new]
    #[pyo3(signature = (path, schema, *, format, compression = "zstd", csv_raw = false, threads = 0))]
    fn new(
        path: PathBuf,
        schema: PySchema,
        format: &str,
        compression: &str,
        csv_raw: bool,
        threads: usize,
    ) -> PyResult<Self> {
        let format = Format::parse(format, compression, csv_raw).map_err(PyValueError::new_err)?;
        let sink = export::create(&path, schema.into_inner(), format, threads).map_err(to_pyerr)?;
        Ok(BatchWriter {
            sink: Mutex::new(Some(sink)),
        })
    }

    /// Write one batch (any object with `__arrow_c_array__`, of the output's schema).
    fn write(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<()> {
        let batch = super::batch::import(batch)?;
        let mut guard = self.lock()?;
        let sink = guard
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("the writer is closed"))?;
        py.detach(|| sink.write(batch)).map_err(to_pyerr)
    }

    /// Write every batch of `stream` (an `ArrowStream` of the output's schema, consumed)
    /// and the output's end; returns the rows written and closes the writer. Each batch
    /// is encoded on the worker that decoded it when the stream allows
    /// (`crate::export::write_stream`). `progress()` is called after each batch written.
    #[pyo3(signature = (stream, progress = None))]
    fn consume(
        &self,
        py: Python<'_>,
        stream: &ArrowStream,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let Some(sink) = self.lock()?.take() else {
            return Err(PyValueError::new_err("the writer is closed"));
        };
        let batches = stream.take("written by a writer")?;
        let mut tick = Progress::new(progress);
        let rows = py.detach(|| export::write_stream(batches, sink, &mut || tick.call()));
        tick.result(rows)
    }

    /// Write the rest and the output's end, flushed; returns the rows written. A second
    /// call does nothing and returns 0.
    fn close(&self, py: Python<'_>) -> PyResult<u64> {
        let Some(sink) = self.lock()?.take() else {
            return Ok(0);
        };
        py.detach(|| sink.finish()).map_err(to_pyerr)
    }
}

/// Raise ValueError unless `compression` names a Parquet codec (`BatchWriter`'s rule),
/// so a command refuses it before reading anything.
#[pyfunction]
fn check_compression(compression: &str) -> PyResult<()> {
    compression
        .parse::<Codec>()
        .map(|_| ())
        .map_err(PyValueError::new_err)
}

/// One batch as JSON Lines, returned once encoded, in pieces to be written in order (for
/// a writer that needs each batch's text before it goes on, as `follow` does before its
/// checkpoint); a large batch's pieces are encoded on every core unless `threads` is 1.
#[pyfunction]
#[pyo3(signature = (batch, *, threads = 0))]
fn jsonl_pieces<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let batch = super::batch::import(batch)?;
    let pieces = py
        .detach(|| export::text::jsonl_pieces(&batch, threads))
        .map_err(to_pyerr)?;
    Ok(pieces.iter().map(|p| PyBytes::new(py, p)).collect())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BatchWriter>()?;
    m.add_function(wrap_pyfunction!(check_compression, m)?)?;
    m.add_function(wrap_pyfunction!(jsonl_pieces, m)?)?;
    Ok(())
}
