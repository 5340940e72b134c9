//! Writing tables out: Parquet (`parquet`), JSON Lines and CSV (`text`), encoded on every
//! core. Python names the file and the options; the encoding, the order of what is
//! written and the file's layout are decided here.
//!
//! Every format shares one shape ([`InOrder`]): a batch is checked against the output's
//! schema, encoded on a worker, and the encoded batches are appended in the order they
//! came, so an output is the same bytes whatever the thread count.

pub mod parquet;
pub mod text;

use crate::arrow::{Batches, Finish, Finished};
use crate::ordered::Ordered;
use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub use self::parquet::{Codec, ParquetOptions, ParquetSink};
pub use self::text::{TextFormat, TextSink};

/// An output being written: `write` batches (or `append` what `encoder` made of them),
/// then `finish`.
pub trait BatchSink: Send {
    /// Encode `batch` on a worker; returns once the oldest batches in flight are written.
    fn write(&mut self, batch: RecordBatch) -> Result<(), ArrowError>;
    /// The encoding of a batch as work for whichever worker holds it (the one that
    /// decoded it, [`crate::arrow::BatchReader::fuse`]); [`append`](Self::append) writes its results,
    /// in order.
    fn encoder(&self) -> Finish;
    /// Write what [`encoder`](Self::encoder) made of the next batch.
    fn append(&mut self, encoded: Finished) -> Result<(), ArrowError>;
    /// An error unless batches of `schema` have the output's columns.
    fn check(&self, schema: &Schema) -> Result<(), ArrowError>;
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

/// Write every batch of `batches` to `sink` and finish it; returns the rows written.
/// When the stream is a plain reader with one batch per chunk, each batch is encoded on
/// the worker that decoded it ([`crate::arrow::BatchReader::fuse`]): no decoded batch waits in a queue
/// for an encoder, so the memory in flight is one chunk per worker and one more. Else
/// batch by batch through [`BatchSink::write`]. `progress` runs after each batch is
/// written.
pub fn write_stream(
    batches: Box<dyn Batches>,
    mut sink: Box<dyn BatchSink>,
    progress: &mut dyn FnMut() -> Result<(), ArrowError>,
) -> Result<u64, ArrowError> {
    sink.check(&batches.schema())?;
    match batches.into_reader().map(|r| r.fuse(sink.encoder())) {
        Ok(Ok(fused)) => {
            for encoded in fused {
                sink.append(encoded?)?;
                progress()?;
            }
        }
        Ok(Err(reader)) => write_each(reader, sink.as_mut(), progress)?,
        Err(batches) => write_each(batches, sink.as_mut(), progress)?,
    }
    sink.finish()
}

fn write_each(
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    sink: &mut dyn BatchSink,
    progress: &mut dyn FnMut() -> Result<(), ArrowError>,
) -> Result<(), ArrowError> {
    for batch in batches {
        sink.write(batch?)?;
        progress()?;
    }
    Ok(())
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
        self.check_schema(&batch.schema())
    }

    pub(crate) fn check_schema(&self, got: &Schema) -> Result<(), ArrowError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::tests::{demo_with_damage, reader};
    use crate::arrow::{Options, View};
    use crate::mode::Mode;
    use crate::select::{AllOf, Selection};
    use arrow_array::RecordBatchReader;
    use std::sync::Arc;

    /// A file name of its own under the temporary directory.
    fn scratch(name: &str) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        std::env::temp_dir().join(format!("bsmtrail-export-{pid}-{n}-{name}"))
    }

    /// `data` written in `format` by `write_stream` (fused when it can be), and batch by
    /// batch; the two outputs' bytes and the reports of the two reads.
    fn both(data: &[u8], opts: impl Fn() -> Options, format: Format) -> (Vec<u8>, Vec<u8>) {
        let (a, b) = (scratch("fused"), scratch("each"));
        let stream = reader(data, opts());
        let report = stream.report();
        let sink = create(&a, stream.schema(), format, opts().threads).unwrap();
        let mut ticks = 0;
        let rows = write_stream(Box::new(stream), sink, &mut || {
            ticks += 1;
            Ok(())
        })
        .unwrap();
        assert!(report.lock().unwrap().finished);
        let each = reader(data, opts());
        let mut sink = create(&b, each.schema(), format, opts().threads).unwrap();
        let mut batches = 0;
        for batch in each {
            sink.write(batch.unwrap()).unwrap();
            batches += 1;
        }
        assert_eq!(sink.finish().unwrap(), rows);
        assert_eq!(ticks, batches, "a tick per batch");
        let out = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let _ = (std::fs::remove_file(a), std::fs::remove_file(b));
        out
    }

    #[test]
    fn a_stream_encoded_where_it_was_decoded_is_the_batch_by_batch_output() {
        let t = demo_with_damage(40, &[0x14, 0xff, 0, 0, 9, 9, 9]);
        let formats = [
            Format::Parquet(Codec::default()),
            Format::Text(TextFormat::Jsonl { nulls: true }),
            Format::Text(TextFormat::Csv { raw: false }),
        ];
        let mut first: Vec<Option<Vec<u8>>> = vec![None; formats.len()];
        for threads in [1, 2, 4] {
            for batch_size in [7, 500] {
                for (i, &format) in formats.iter().enumerate() {
                    let opts = || Options {
                        threads,
                        batch_size,
                        mode: Mode::Recover,
                        ..Options::default()
                    };
                    assert!(reader(&t, opts()).fusable());
                    let (fused, each) = both(&t, opts, format);
                    assert!(
                        fused == each,
                        "{format:?} threads={threads} batch={batch_size}"
                    );
                    assert!(fused.len() > 1000);
                    if batch_size == 500 {
                        // The same bytes whatever the thread count.
                        let seen = first[i].get_or_insert_with(|| fused.clone());
                        assert!(*seen == fused, "{format:?} threads={threads}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_selective_or_a_tokens_stream_is_written_whole_too() {
        let t = demo_with_damage(30, &[1, 2, 3]);
        // Every record but AUE_EXIT's (1): a selection joins its chunks' rows.
        let sel = Arc::new(AllOf::new(vec![Selection {
            events: Some(vec![1]),
            invert: true,
            ..Selection::default()
        }]));
        for view in [View::Tokens, View::Errors] {
            let opts = || Options {
                view: view.clone(),
                threads: 2,
                batch_size: 11,
                ..Options::default()
            };
            let (fused, each) = both(&t, opts, Format::Parquet(Codec::default()));
            assert!(fused == each, "{view:?}");
        }
        let opts = || Options {
            threads: 2,
            batch_size: 11,
            selection: Some(sel.clone()),
            ..Options::default()
        };
        assert!(!reader(&t, opts()).fusable(), "a selection joins chunks");
        let (joined, each) = both(&t, opts, Format::Text(TextFormat::Jsonl { nulls: true }));
        assert!(joined == each);
        assert!(!joined.is_empty());
    }

    #[test]
    fn a_strict_stream_stops_the_output_at_its_first_error() {
        let t = demo_with_damage(30, &[0x14, 0xff, 0, 0, 9, 9, 9]);
        for threads in [1, 2, 4] {
            let opts = Options {
                threads,
                batch_size: 5,
                mode: Mode::Strict,
                ..Options::default()
            };
            let stream = reader(&t, opts);
            let path = scratch(&format!("strict-{threads}"));
            let sink = create(
                &path,
                stream.schema(),
                Format::Parquet(Codec::default()),
                threads,
            )
            .unwrap();
            let got = write_stream(Box::new(stream), sink, &mut || Ok(()));
            let _ = std::fs::remove_file(path);
            assert!(matches!(got, Err(ArrowError::ExternalError(_))), "{got:?}");
        }
    }
}
