//! Writing tables out: Parquet (`parquet`), JSON Lines and CSV (`text`), encoded on every
//! core. Python names the file and the options; the encoding, the order of what is
//! written and the file's layout are decided here.
//!
//! Every format shares one shape ([`InOrder`]): a batch is checked against the output's
//! schema, encoded on a worker, and the encoded batches are appended in the order they
//! came, so an output is the same bytes whatever the thread count.

pub mod parquet;
pub mod text;

use crate::ordered::Ordered;
use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub use self::parquet::{Codec, ParquetOptions, ParquetSink};
pub use self::text::{TextFormat, TextSink};

/// An output being written: `write` batches, then `finish`.
pub trait BatchSink: Send {
    /// Encode `batch` on a worker; returns once the oldest batches in flight are written.
    fn write(&mut self, batch: RecordBatch) -> Result<(), ArrowError>;
    /// Write what is still encoding and the end of the output, flush it; returns the
    /// rows written.
    fn finish(self: Box<Self>) -> Result<u64, ArrowError>;
}

/// The formats written here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Parquet(Codec),
    Text(TextFormat),
}

impl Format {
    /// `parquet` (with `compression`, see [`Codec`]), `jsonl`, `jsonl_sparse` (null
    /// members left out, as event schemas such as OCSF's want) or `csv` (`csv_raw`:
    /// cells exactly as decoded).
    pub fn parse(format: &str, compression: &str, csv_raw: bool) -> Result<Format, String> {
        Ok(match format {
            "parquet" => Format::Parquet(compression.parse()?),
            "jsonl" => Format::Text(TextFormat::Jsonl { nulls: true }),
            "jsonl_sparse" => Format::Text(TextFormat::Jsonl { nulls: false }),
            "csv" => Format::Text(TextFormat::Csv { raw: csv_raw }),
            other => {
                return Err(format!(
                    "format must be parquet, jsonl, jsonl_sparse or csv, not {other:?}"
                ))
            }
        })
    }
}

/// Create `path` (`-`: standard output, for the text formats) and a sink writing `format`
/// to it on `threads` workers (0: every core).
pub fn create(
    path: &Path,
    schema: SchemaRef,
    format: Format,
    threads: usize,
) -> Result<Box<dyn BatchSink>, ArrowError> {
    let stdout = path.as_os_str() == "-";
    let open = || {
        File::create(path).map_err(|e| ArrowError::IoError(format!("{}: {e}", path.display()), e))
    };
    Ok(match format {
        Format::Parquet(_) if stdout => {
            return Err(ArrowError::InvalidArgumentError(
                "Parquet cannot go to standard output".into(),
            ))
        }
        Format::Parquet(codec) => {
            let out = BufWriter::with_capacity(1 << 20, open()?);
            Box::new(ParquetSink::new(
                out,
                schema,
                &ParquetOptions { codec, threads },
            )?)
        }
        Format::Text(text) => {
            let out: Box<dyn Write + Send> = if stdout {
                Box::new(std::io::stdout())
            } else {
                Box::new(open()?)
            };
            Box::new(TextSink::new(out, schema, text, threads)?)
        }
    })
}

pub(crate) fn io_error(e: std::io::Error) -> ArrowError {
    ArrowError::IoError(e.to_string(), e)
}

/// Batches encoded on workers and appended in input order, a bounded number in flight.
pub(crate) struct InOrder<E> {
    schema: SchemaRef,
    encoding: Ordered<Result<E, ArrowError>>,
    /// Batches handed to the workers so far (the next one's index).
    submitted: usize,
}

impl<E: Send + 'static> InOrder<E> {
    pub(crate) fn new(
        schema: SchemaRef,
        threads: usize,
        name: &'static str,
    ) -> Result<Self, ArrowError> {
        Ok(InOrder {
            schema,
            encoding: Ordered::lean(threads, name).map_err(io_error)?,
            submitted: 0,
        })
    }

    /// Check that `batch` has the output's columns, append the oldest encoded batches
    /// until there is room, and encode `batch` on a worker: `encode(index, batch)`.
    pub(crate) fn push(
        &mut self,
        batch: RecordBatch,
        encode: impl FnOnce(usize, &RecordBatch) -> Result<E, ArrowError> + Send + 'static,
        append: &mut dyn FnMut(E) -> Result<(), ArrowError>,
    ) -> Result<(), ArrowError> {
        self.check(&batch)?;
        while self.encoding.full() {
            self.append_next(append)?;
        }
        let index = self.submitted;
        self.submitted += 1;
        self.encoding.submit(move || encode(index, &batch));
        Ok(())
    }

    /// Append everything still encoding.
    pub(crate) fn drain(
        &mut self,
        append: &mut dyn FnMut(E) -> Result<(), ArrowError>,
    ) -> Result<(), ArrowError> {
        while !self.encoding.is_empty() {
            self.append_next(append)?;
        }
        Ok(())
    }

    fn append_next(
        &mut self,
        append: &mut dyn FnMut(E) -> Result<(), ArrowError>,
    ) -> Result<(), ArrowError> {
        match self.encoding.take() {
            Some(done) => append(done.map_err(|_| {
                ArrowError::ComputeError("internal error: an encoding worker panicked".into())
            })??),
            None => Ok(()),
        }
    }

    /// A batch of another shape would write an output its own header or footer
    /// contradicts.
    pub(crate) fn check(&self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let got = batch.schema();
        let same = got.fields().len() == self.schema.fields().len()
            && got
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if same {
            return Ok(());
        }
        Err(ArrowError::SchemaError(format!(
            "a batch's columns do not match the output's schema: {:?} against {:?}",
            got.fields().iter().map(|f| f.name()).collect::<Vec<_>>(),
            self.schema
                .fields()
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>(),
        )))
    }
}
