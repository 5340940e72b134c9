//! `ParquetWriter` and `JsonlWriter`: Python names the file and the options;
//! `crate::export` encodes on every core and lays the output out.

use crate::export::{Codec, ParquetOptions, ParquetSink, TextFormat, TextSink};
use arrow_schema::ArrowError;
use parquet::errors::ParquetError;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3_arrow::{PyRecordBatch, PySchema};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

type Sink = ParquetSink<BufWriter<File>>;

fn to_pyerr(e: ParquetError) -> PyErr {
    match e {
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => PyErr::from(*io),
            Err(other) => PyOSError::new_err(other.to_string()),
        },
        ParquetError::ArrowError(m) => PyValueError::new_err(m),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// A Parquet file written batch by batch: each batch is one row group, encoded on a worker
/// while the next batches come, appended in the order written.
#[pyclass(module = "bsmtrail._native", name = "ParquetWriter", frozen)]
pub struct ParquetWriter {
    sink: Mutex<Option<Sink>>,
}

impl ParquetWriter {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Option<Sink>>> {
        self.sink
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the Parquet writer failed in another thread"))
    }
}

#[pymethods]
impl ParquetWriter {
    #[new]
    #[pyo3(signature = (path, schema, *, compression = "zstd", threads = 0))]
    fn new(path: PathBuf, schema: PySchema, compression: &str, threads: usize) -> PyResult<Self> {
        let codec: Codec = compression.parse().map_err(PyValueError::new_err)?;
        let file = File::create(&path)?;
        let opts = ParquetOptions { codec, threads };
        let sink = ParquetSink::new(
            BufWriter::with_capacity(1 << 20, file),
            schema.into_inner(),
            &opts,
        )
        .map_err(to_pyerr)?;
        Ok(ParquetWriter {
            sink: Mutex::new(Some(sink)),
        })
    }

    /// Write one batch (any object with `__arrow_c_array__`, of the file's schema).
    fn write(&self, py: Python<'_>, batch: PyRecordBatch) -> PyResult<()> {
        let batch = batch.into_inner();
        let mut guard = self.lock()?;
        let sink = guard
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("the Parquet writer is closed"))?;
        py.detach(|| sink.write(batch)).map_err(to_pyerr)
    }

    /// Write the rest and the footer; returns the rows written. A second call does nothing
    /// and returns 0.
    fn close(&self, py: Python<'_>) -> PyResult<u64> {
        let Some(sink) = self.lock()?.take() else {
            return Ok(0);
        };
        let (rows, out) = py.detach(|| sink.finish()).map_err(to_pyerr)?;
        // Flushed and closed here; the caller renames it into place.
        out.into_inner().map_err(|e| PyErr::from(e.into_error()))?;
        Ok(rows)
    }
}

/// JSON Lines or CSV written batch by batch, each batch's text built on a worker, written
/// in order; `-` is standard output (flush Python's first).
#[pyclass(module = "bsmtrail._native", name = "TextWriter", frozen)]
pub struct TextWriter {
    sink: Mutex<Option<TextSink<Box<dyn Write + Send>>>>,
}

fn arrow_pyerr(e: ArrowError) -> PyErr {
    match e {
        ArrowError::IoError(_, io) => PyErr::from(io),
        ArrowError::SchemaError(m) => PyValueError::new_err(m),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

#[pymethods]
impl TextWriter {
    /// `format`: `jsonl` or `csv`; `csv_raw`: CSV cells exactly as decoded.
    #[new]
    #[pyo3(signature = (path, schema, *, format, csv_raw = false, threads = 0))]
    fn new(
        path: PathBuf,
        schema: PySchema,
        format: &str,
        csv_raw: bool,
        threads: usize,
    ) -> PyResult<Self> {
        let format = match format {
            "jsonl" => TextFormat::Jsonl,
            "csv" => TextFormat::Csv { raw: csv_raw },
            other => {
                return Err(PyValueError::new_err(format!(
                    "format must be jsonl or csv, not {other:?}"
                )))
            }
        };
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(File::create(&path)?)
        };
        let sink = TextSink::new(out, schema.into_inner(), format, threads).map_err(arrow_pyerr)?;
        Ok(TextWriter {
            sink: Mutex::new(Some(sink)),
        })
    }

    /// Write one batch (any object with `__arrow_c_array__`, of the output's schema).
    fn write(&self, py: Python<'_>, batch: PyRecordBatch) -> PyResult<()> {
        let batch = batch.into_inner();
        let mut guard = self
            .sink
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the text writer failed in another thread"))?;
        let sink = guard
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("the text writer is closed"))?;
        py.detach(|| sink.write(batch)).map_err(arrow_pyerr)
    }

    /// Write the rest and flush; returns the rows written (0 on a second call).
    fn close(&self, py: Python<'_>) -> PyResult<u64> {
        let taken = self
            .sink
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the text writer failed in another thread"))?
            .take();
        let Some(sink) = taken else {
            return Ok(0);
        };
        let (rows, _out) = py.detach(|| sink.finish()).map_err(arrow_pyerr)?;
        Ok(rows)
    }
}

/// Raise ValueError unless `compression` names a Parquet codec (`ParquetWriter`'s rule),
/// so a command refuses it before reading anything.
#[pyfunction]
fn check_compression(compression: &str) -> PyResult<()> {
    compression
        .parse::<Codec>()
        .map(|_| ())
        .map_err(PyValueError::new_err)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ParquetWriter>()?;
    m.add_class::<TextWriter>()?;
    m.add_function(wrap_pyfunction!(check_compression, m)?)?;
    Ok(())
}
