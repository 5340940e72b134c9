//! Arrow export to Python: `arrow_stream(...)` returns an `ArrowStream`, a one-shot
//! stream of record batches that implements the Arrow PyCapsule interface
//! (`__arrow_c_stream__`, `__arrow_c_schema__`) and Python iteration.
//!
//! The batches cross zero-copy through the C stream interface (pyo3-arrow's capsule
//! helpers). The reader behind the stream is `Send` and never needs the GIL: a consumer may
//! pull batches from any thread. Iteration and `read_all` release the GIL while Rust
//! frames and decodes.

use super::errors::to_pyerr;
use super::mode::PyMode;
use super::report::InputReport;
use super::select::Selection;
use super::source::{source_from, TrailSlice};
use crate::arrow::derived::plan;
use crate::arrow::schema::Col;
use crate::arrow::{
    BatchReader, Batches, Derived, Input, Options, Order, Prefetch, SharedReport, View,
    SCHEMA_VERSION,
};
use crate::error::DecodeError;
use arrow_array::{ArrayRef, RecordBatchReader, StructArray};
use arrow_schema::{ArrowError, Field, SchemaRef};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyCapsule, PyMemoryView};
use pyo3_arrow::ffi::{to_schema_pycapsule, to_stream_pycapsule, ArrayIterator};
use pyo3_arrow::{PyArray, PySchema, PyTable};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

enum State {
    Ready(Box<dyn Batches>),
    /// Another thread is pulling a batch.
    Busy,
    /// Exported through `__arrow_c_stream__`, read to the end, or failed.
    Done(&'static str),
}

/// A stream of Arrow record batches over one or more trails. It can be consumed once.
#[pyclass(module = "bsmtrail._native", name = "ArrowStream", frozen)]
pub struct ArrowStream {
    state: Mutex<State>,
    schema: SchemaRef,
    report: SharedReport,
}

/// `pyarrow.RecordBatchReader.from_stream(table).<method>()`: a pyarrow table or batch
/// through the C stream interface. (pyo3-arrow's `into_pyarrow` calls `pyarrow.table()`,
/// whose check for a pandas DataFrame imports pandas: a quarter of a second on a
/// command's first batch.)
fn read_into_pyarrow<'py>(
    py: Python<'py>,
    table: PyTable,
    method: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let reader = py
        .import(intern!(py, "pyarrow"))?
        .getattr(intern!(py, "RecordBatchReader"))?
        .call_method1(intern!(py, "from_stream"), (table.into_pyobject(py)?,))?;
    reader.call_method0(method)
}

fn arrow_err(py: Python<'_>, e: ArrowError) -> PyErr {
    match e {
        ArrowError::ExternalError(b) => match b.downcast::<DecodeError>() {
            Ok(d) => to_pyerr(py, &d),
            Err(b) => PyRuntimeError::new_err(b.to_string()),
        },
        ArrowError::IoError(msg, _) => PyOSError::new_err(msg),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

impl ArrowStream {
    fn new(reader: Box<dyn Batches>, report: SharedReport) -> Self {
        ArrowStream {
            schema: reader.schema(),
            state: Mutex::new(State::Ready(reader)),
            report,
        }
    }

    /// The reader, once: the stream is `next` after this ("read to its end", ...).
    pub(crate) fn take(&self, next: &'static str) -> PyResult<Box<dyn Batches>> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| PyRuntimeError::new_err("bsmtrail: stream lock poisoned"))?;
        match std::mem::replace(&mut *st, State::Done(next)) {
            State::Ready(r) => Ok(r),
            State::Busy => {
                *st = State::Busy;
                Err(PyRuntimeError::new_err(
                    "this bsmtrail Arrow stream is being read by another thread",
                ))
            }
            State::Done(why) => {
                *st = State::Done(why);
                Err(PyOSError::new_err(format!(
                    "this bsmtrail Arrow stream was already {why}: a stream can be read \
                     once; make a new one (Trail.iter_batches() or read_trails())"
                )))
            }
        }
    }

    fn put(&self, state: State) {
        if let Ok(mut st) = self.state.lock() {
            *st = state;
        }
    }
}

#[pymethods]
impl ArrowStream {
    /// The stream's schema (a `pyarrow.Schema`), available before and after reading.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PySchema::new(self.schema.clone()).into_pyarrow(py)
    }

    /// True once the stream has been exported, read to its end, or has failed.
    #[getter]
    fn closed(&self) -> bool {
        matches!(self.state.lock().as_deref(), Ok(State::Done(_)))
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        Ok(to_schema_pycapsule(py, self.schema.as_ref())?)
    }

    /// Export the stream (once) through the Arrow C stream interface. A requested schema
    /// is honoured when arrow-rs can cast to it (e.g. `utf8` to `large_utf8`).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let reader = self.take("exported through __arrow_c_stream__")?;
        let schema = self.schema.clone();
        let arrays = reader.map(|b| b.map(|b| Arc::new(StructArray::from(b)) as ArrayRef));
        let field = Field::new_struct("", schema.fields().clone(), false)
            .with_metadata(schema.metadata().clone());
        let iter = ArrayIterator::new(arrays, Arc::new(field));
        Ok(to_stream_pycapsule(py, Box::new(iter), requested_schema)?)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next batch as a `pyarrow.RecordBatch` (decoded without the GIL). In strict mode
    /// the first problem raises its `BSMError`.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut reader = self.take("read to its end")?;
        self.put(State::Busy);
        let item = py.detach(|| reader.next());
        match item {
            None => {
                self.put(State::Done("read to its end"));
                Ok(None)
            }
            Some(Ok(batch)) => {
                self.put(State::Ready(reader));
                let table = PyTable::try_new(vec![batch], self.schema.clone())?;
                read_into_pyarrow(py, table, "read_next_batch").map(Some)
            }
            Some(Err(e)) => {
                self.put(State::Done("stopped by an error"));
                Err(arrow_err(py, e))
            }
        }
    }

    /// Every remaining batch as one `pyarrow.Table` (decoded without the GIL).
    fn read_all<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let reader = self.take("read with read_all()")?;
        let batches = py.detach(move || reader.read_all());
        let batches = batches.map_err(|e| arrow_err(py, e))?;
        read_into_pyarrow(
            py,
            PyTable::try_new(batches, self.schema.clone())?,
            "read_all",
        )
    }

    /// What the stream has found in each input so far, in input order: complete once the
    /// stream has been read to its end (`report_finished`), however it was read.
    fn report(&self) -> PyResult<Vec<InputReport>> {
        let r = self
            .report
            .lock()
            .map_err(|_| PyRuntimeError::new_err("bsmtrail: stream report lock poisoned"))?;
        Ok(r.inputs.iter().cloned().map(InputReport::new).collect())
    }

    /// True once the report covers every input (the stream was read to its end).
    #[getter]
    fn report_finished(&self) -> bool {
        self.report.lock().map(|r| r.finished).unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        let state = match self.state.lock().as_deref() {
            Ok(State::Ready(_)) => "ready",
            Ok(State::Busy) => "busy",
            _ => "closed",
        };
        let view = self
            .schema
            .metadata()
            .get("bsmtrail.view")
            .cloned()
            .unwrap_or_default();
        format!(
            "<bsmtrail ArrowStream {view}, {} columns, {state}>",
            self.schema.fields().len()
        )
    }
}

fn input(name: String, obj: &Bound<'_, PyAny>, map_files: bool) -> PyResult<Input> {
    if let Ok(slice) = obj.cast::<TrailSlice>() {
        let slice = slice.get();
        return Ok(Input::Bytes {
            name,
            source: slice.source(),
            base: slice.offset,
        });
    }
    if obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
        || obj.is_instance_of::<PyMemoryView>()
    {
        return Ok(Input::Bytes {
            name,
            source: source_from(obj)?,
            base: 0,
        });
    }
    let path: PathBuf = obj.extract()?;
    Ok(if map_files {
        Input::Mapped { name, path }
    } else {
        Input::File { name, path }
    })
}

/// A derived column's table as Python hands it over: `(name, from, keys, runs, values,
/// list)` (see `crate::arrow::Derived::new`).
type DerivedSpec = (String, String, Vec<u64>, Vec<Vec<i32>>, PyArray, bool);

fn derived(spec: DerivedSpec) -> PyResult<Derived> {
    let (name, from, keys, runs, values, list) = spec;
    let (values, _) = values.into_inner();
    Derived::new(&name, &from, &keys, &runs, values, list).map_err(PyValueError::new_err)
}

/// A stream of record batches over `inputs`, a list of `(name, path or bytes)`. Paths are
/// read through a bounded window (flat memory), or memory-mapped one at a time with
/// `map_files` (faster, for callers that keep every batch); bytes are shared without
/// copying. With
/// `prefetch` > 0 a thread decodes up to that many batches ahead of the consumer. With
/// `merge_window_ms`, rows come merged in time order (`crate::merge`), every input open.
/// `columns` may name the `derived` columns too (tables of `DerivedSpec`).
#[pyfunction]
#[pyo3(signature = (
    inputs, *, view = "records", columns = None, derived = Vec::new(), mode, batch_size = 65536,
    threads = 0, validate = true, max_batch_bytes = 33554432, window = 4194304, prefetch = 0,
    map_files = false, selection = None, merge_window_ms = None
))]
#[allow(clippy::too_many_arguments)]
fn arrow_stream(
    inputs: Vec<(String, Bound<'_, PyAny>)>,
    view: &str,
    columns: Option<Vec<String>>,
    derived: Vec<DerivedSpec>,
    mode: PyMode,
    batch_size: usize,
    threads: usize,
    validate: bool,
    max_batch_bytes: usize,
    window: usize,
    prefetch: usize,
    map_files: bool,
    selection: Option<PyRef<'_, Selection>>,
    merge_window_ms: Option<u64>,
) -> PyResult<ArrowStream> {
    let mut shape = None;
    let view = match view {
        "records" => match columns {
            None => View::Records(Col::ALL.to_vec()),
            Some(names) => {
                let derived = derived
                    .into_iter()
                    .map(self::derived)
                    .collect::<PyResult<Vec<_>>>()?;
                let (decode, made) = plan(&names, derived).map_err(PyValueError::new_err)?;
                shape = made;
                View::Records(decode)
            }
        },
        "tokens" => View::Tokens,
        "errors" => View::Errors,
        v => {
            return Err(PyValueError::new_err(format!(
                "view must be 'records', 'tokens' or 'errors', not {v:?}"
            )))
        }
    };
    if batch_size == 0 {
        return Err(PyValueError::new_err("batch_size must be at least 1"));
    }
    let inputs = inputs
        .into_iter()
        .map(|(name, obj)| input(name, &obj, map_files))
        .collect::<PyResult<Vec<_>>>()?;
    let opts = Options {
        view,
        mode: mode.0,
        batch_size,
        max_batch_bytes,
        threads,
        validate,
        window,
        selection: selection.map(|s| Arc::clone(&s.core)),
        order: merge_window_ms.map_or(Order::Input, |window_ms| Order::Time { window_ms }),
        shape,
    };
    let err = |e: ArrowError| PyRuntimeError::new_err(e.to_string());
    let reader = BatchReader::new(inputs, opts).map_err(err)?;
    let report = reader.report();
    let reader: Box<dyn Batches> = if prefetch > 0 {
        Box::new(Prefetch::new(reader, prefetch).map_err(err)?)
    } else {
        Box::new(reader)
    };
    Ok(ArrowStream::new(reader, report))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowStream>()?;
    m.add_function(wrap_pyfunction!(arrow_stream, m)?)?;
    m.add("ARROW_SCHEMA_VERSION", SCHEMA_VERSION)?;
    m.add("MERGE_WINDOW_MS", crate::merge::DEFAULT_WINDOW_MS)?;
    m.add(
        "ARROW_COLUMNS",
        Col::ALL.iter().map(|c| c.name()).collect::<Vec<_>>(),
    )?;
    Ok(())
}
