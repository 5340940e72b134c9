//! `ParquetWriter`: Python names the file and the options; `crate::export` encodes the
//! row groups on every core and lays the file out.

use crate::export::{Codec, ParquetOptions, ParquetSink};
use parquet::errors::ParquetError;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3_arrow::{PyRecordBatch, PySchema};
use std::fs::File;
use std::io::BufWriter;
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
    m.add_function(wrap_pyfunction!(check_compression, m)?)?;
    Ok(())
}
