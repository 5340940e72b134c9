//! Parquet written on every core: each batch's row group is encoded on a worker (arrow-rs's
//! per-column Arrow writers), and the encoded row groups are appended to the file in the
//! order the batches came, so the file is the same whatever the thread count.
//!
//! The layout is chosen for the questions asked of audit tables: statistics and the page
//! index on every column, so DuckDB, polars and pyarrow skip row groups and pages on `time`,
//! `event` or `auid`; dictionary encoding for the repetitive columns (names, users, paths),
//! and delta encoding instead for the ones that only grow (offsets, times), where a
//! dictionary would hold every value once.

use super::{io_error, BatchSink, InOrder};
use crate::arrow::{unbox, Finish, Finished};
use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory, ArrowWriterOptions,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

/// Columns whose values mostly grow from row to row (an offset into the trail, a time, a
/// record number): delta-encoded, never dictionary-encoded.
const GROWING: &[&str] = &[
    "record_offset",
    "token_offset",
    "region_offset",
    "time",
    "record_index",
    "error_offset",
];
/// Columns whose values are rarely repeated (a token's bytes or fields): a dictionary would
/// cost its building and be dropped at the first page.
const UNIQUE: &[&str] = &["raw", "fields"];

/// A column chunk codec. `zstd` at level 1 by default: most of zstd's ratio at a fraction of
/// its higher levels' time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Zstd(i32),
    Lz4,
    Snappy,
    None,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::Zstd(1)
    }
}

impl FromStr for Codec {
    type Err = String;

    /// `zstd`, `zstd:LEVEL` (1-22), `lz4`, `snappy` or `none`.
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        let (name, level) = match lower.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (lower.as_str(), None),
        };
        let codec = match name {
            "zstd" => {
                let level = match level {
                    None => 1,
                    Some(l) => l
                        .parse::<i32>()
                        .ok()
                        .filter(|l| (1..=22).contains(l))
                        .ok_or_else(|| format!("zstd level must be 1-22, not {l:?}"))?,
                };
                return Ok(Codec::Zstd(level));
            }
            "lz4" => Codec::Lz4,
            "snappy" => Codec::Snappy,
            "none" | "uncompressed" => Codec::None,
            _ => {
                return Err(format!(
                    "unknown compression {s:?}: zstd, lz4, snappy or none"
                ))
            }
        };
        match level {
            Some(_) => Err(format!("only zstd takes a level, not {s:?}")),
            None => Ok(codec),
        }
    }
}

impl Codec {
    fn parquet(self) -> Result<Compression, ParquetError> {
        Ok(match self {
            Codec::Zstd(level) => Compression::ZSTD(ZstdLevel::try_new(level)?),
            // LZ4_RAW: the LZ4 codec every current reader agrees on (the older LZ4 is
            // framed differently by different writers).
            Codec::Lz4 => Compression::LZ4_RAW,
            Codec::Snappy => Compression::SNAPPY,
            Codec::None => Compression::UNCOMPRESSED,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct ParquetOptions {
    pub codec: Codec,
    /// Encoding workers; 0: every core.
    pub threads: usize,
}

/// The writer properties for `schema`: see the module's comment for the choices.
fn properties(schema: &SchemaRef, codec: Codec) -> Result<WriterProperties, ParquetError> {
    let mut b = WriterProperties::builder()
        .set_compression(codec.parquet()?)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_created_by(format!("bsmtrail {}", env!("CARGO_PKG_VERSION")))
        // The schema's metadata (view, sources, schema version) as the file's key-value
        // metadata too, where every reader looks, as pyarrow writes it; sorted, so that
        // the same table gives the same bytes.
        .set_key_value_metadata(Some(
            schema
                .metadata()
                .iter()
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect(),
        ));
    for field in schema.fields() {
        let name = field.name().as_str();
        let path = ColumnPath::from(name);
        let integer =
            field.data_type().is_integer() || matches!(field.data_type(), DataType::Timestamp(..));
        if GROWING.contains(&name) && integer {
            b = b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        } else if UNIQUE.contains(&name) {
            b = b.set_column_dictionary_enabled(path, false);
        }
    }
    Ok(b.build())
}

/// A Parquet file being written: `write` batches, then `finish`.
pub struct ParquetSink<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    factory: Arc<ArrowRowGroupWriterFactory>,
    /// Each batch's row group's column chunks.
    encoding: InOrder<Vec<ArrowColumnChunk>>,
    rows: u64,
}

/// A Parquet error as an Arrow one, an I/O error kept as one (its kind reaches Python).
fn arrow(e: ParquetError) -> ArrowError {
    match e {
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => io_error(*io),
            Err(other) => ArrowError::ExternalError(other),
        },
        other => other.into(),
    }
}

impl<W: Write + Send> ParquetSink<W> {
    pub fn new(out: W, schema: SchemaRef, opts: &ParquetOptions) -> Result<Self, ArrowError> {
        let props = properties(&schema, opts.codec).map_err(arrow)?;
        // ArrowWriter builds the Parquet schema and stores the Arrow one in the footer (so
        // readers get dictionary types, the time zone and the schema metadata back); its
        // low-level halves then write row groups encoded elsewhere.
        let options = ArrowWriterOptions::new().with_properties(props);
        let (writer, factory) = ArrowWriter::try_new_with_options(out, schema.clone(), options)
            .and_then(|w| w.into_serialized_writer())
            .map_err(arrow)?;
        Ok(ParquetSink {
            writer,
            factory: Arc::new(factory),
            encoding: InOrder::new(schema, opts.threads, "parquet")?,
            rows: 0,
        })
    }

    /// Encode `batch` as the next row group (on a worker; this returns once the oldest
    /// row groups in flight are written, so at most a bounded number are held). An empty
    /// batch makes no row group.
    pub fn write(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        if batch.num_rows() == 0 {
            return self.encoding.check(&batch);
        }
        let factory = Arc::clone(&self.factory);
        let (writer, rows) = (&mut self.writer, &mut self.rows);
        self.encoding.push(
            batch,
            move |index, batch| encode(&factory, index, batch).map_err(arrow),
            &mut |chunks| append(writer, rows, chunks),
        )
    }

    /// Write what is still encoding and the footer; returns the rows written and the
    /// output.
    pub fn finish(mut self) -> Result<(u64, W), ArrowError> {
        let (writer, rows) = (&mut self.writer, &mut self.rows);
        self.encoding
            .drain(&mut |chunks| append(writer, rows, chunks))?;
        let out = self.writer.into_inner().map_err(arrow)?;
        Ok((self.rows, out))
    }
}

impl<W: Write + Send> BatchSink for ParquetSink<W> {
    fn write(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        ParquetSink::write(self, batch)
    }

    fn encoder(&self) -> Finish {
        let factory = Arc::clone(&self.factory);
        Arc::new(move |index, batch| {
            // An empty batch makes no row group, as in `write`.
            let chunks = match batch.num_rows() {
                0 => Vec::new(),
                _ => encode(&factory, index, &batch).map_err(arrow)?,
            };
            Ok(Box::new(chunks) as Finished)
        })
    }

    fn append(&mut self, done: Finished) -> Result<(), ArrowError> {
        let chunks: Vec<ArrowColumnChunk> = unbox(done)?;
        if chunks.is_empty() {
            return Ok(());
        }
        append(&mut self.writer, &mut self.rows, chunks)
    }

    fn check(&self, schema: &Schema) -> Result<(), ArrowError> {
        self.encoding.check_schema(schema)
    }

    fn finish(self: Box<Self>) -> Result<u64, ArrowError> {
        let (rows, mut out) = (*self).finish()?;
        out.flush().map_err(io_error)?;
        Ok(rows)
    }
}

/// Append one encoded row group to the file.
fn append<W: Write + Send>(
    writer: &mut SerializedFileWriter<W>,
    rows: &mut u64,
    chunks: Vec<ArrowColumnChunk>,
) -> Result<(), ArrowError> {
    let mut group = writer.next_row_group().map_err(arrow)?;
    for chunk in chunks {
        chunk.append_to_row_group(&mut group).map_err(arrow)?;
    }
    let meta = group.close().map_err(arrow)?;
    *rows += meta.num_rows() as u64;
    Ok(())
}

/// One row group's column chunks (on a worker).
fn encode(
    factory: &ArrowRowGroupWriterFactory,
    index: usize,
    batch: &RecordBatch,
) -> Result<Vec<ArrowColumnChunk>, ParquetError> {
    let mut writers = factory.create_column_writers(index)?.into_iter();
    let mut chunks = Vec::with_capacity(writers.len());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        // A nested column has a writer per leaf, in the same order as compute_leaves.
        let leaves = compute_leaves(field, column)?;
        for leaf in leaves {
            let mut w = writers
                .next()
                .ok_or_else(|| ParquetError::General("more leaves than column writers".into()))?;
            w.write(&leaf)?;
            chunks.push(w.close()?);
        }
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::schema::Col;
    use crate::arrow::{Options, View};
    use crate::writer::demo_trail;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn batches(view: View, batch_size: usize) -> Vec<RecordBatch> {
        let opts = Options {
            view,
            batch_size,
            ..Options::default()
        };
        crate::arrow::tests::read(&demo_trail(), opts)
    }

    fn write(batches: &[RecordBatch], opts: &ParquetOptions) -> Vec<u8> {
        let mut sink = ParquetSink::new(Vec::new(), batches[0].schema(), opts).unwrap();
        for b in batches {
            sink.write(b.clone()).unwrap();
        }
        let (rows, out) = sink.finish().unwrap();
        assert_eq!(
            rows as usize,
            batches.iter().map(|b| b.num_rows()).sum::<usize>()
        );
        out
    }

    #[test]
    fn row_groups_read_back_as_the_batches_in_order_whatever_the_threads() {
        for view in [View::Records(Col::ALL.to_vec()), View::Tokens, View::Errors] {
            let input = batches(view, 7);
            let first = write(&input, &ParquetOptions::default());
            for threads in [1, 2, 4] {
                let opts = ParquetOptions {
                    threads,
                    ..ParquetOptions::default()
                };
                let file = write(&input, &opts);
                // The same bytes: the layout does not depend on who encoded what.
                assert_eq!(file, first, "threads={threads}");
            }
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(first.clone()))
                    .unwrap();
            // The footer gives the schema back whole, metadata included.
            assert_eq!(builder.schema(), &input[0].schema());
            let back: Vec<RecordBatch> = builder
                .with_batch_size(7)
                .build()
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let rows = |bs: &[RecordBatch]| {
                arrow_select::concat::concat_batches(&bs[0].schema(), bs).unwrap()
            };
            if input.iter().all(|b| b.num_rows() == 0) {
                assert!(back.is_empty());
                continue;
            }
            let (all_back, all_in) = (rows(&back), rows(&input));
            assert_eq!(all_back.columns(), all_in.columns());
            let reader = SerializedFileReader::new(bytes::Bytes::from(first)).unwrap();
            let groups = input.iter().filter(|b| b.num_rows() > 0).count();
            assert_eq!(reader.metadata().num_row_groups(), groups);
        }
    }

    #[test]
    fn growing_columns_are_delta_encoded_and_every_column_has_a_page_index() {
        let input = batches(View::Records(Col::ALL.to_vec()), 1000);
        let file = write(&input, &ParquetOptions::default());
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        let group = reader.metadata().row_group(0);
        for col in group.columns() {
            let name = col.column_path().string();
            assert!(
                col.column_index_offset().is_some(),
                "{name}: no column index"
            );
            assert!(
                col.offset_index_offset().is_some(),
                "{name}: no offset index"
            );
            assert!(col.statistics().is_some(), "{name}: no statistics");
            let encodings: Vec<Encoding> = col.encodings().collect();
            if name == "record_offset" || name == "time" {
                assert!(encodings.contains(&Encoding::DELTA_BINARY_PACKED), "{name}");
                assert!(col.dictionary_page_offset().is_none(), "{name}");
            }
            if name == "event" {
                assert!(col.dictionary_page_offset().is_some(), "{name}");
            }
        }
    }

    #[test]
    fn codecs_parse_and_each_writes_a_readable_file() {
        let input = batches(View::Records(Col::ALL.to_vec()), 100);
        for (text, codec) in [
            ("zstd", Codec::Zstd(1)),
            ("ZSTD:9", Codec::Zstd(9)),
            ("lz4", Codec::Lz4),
            ("snappy", Codec::Snappy),
            ("none", Codec::None),
        ] {
            assert_eq!(text.parse::<Codec>(), Ok(codec));
            let file = write(&input, &ParquetOptions { codec, threads: 2 });
            let n: usize = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
            assert_eq!(
                n,
                input.iter().map(|b| b.num_rows()).sum::<usize>(),
                "{text}"
            );
        }
        for bad in ["zstd:0", "zstd:23", "zstd:x", "lz4:3", "gzip", ""] {
            assert!(bad.parse::<Codec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_batch_of_another_shape_is_refused() {
        let records = batches(View::Records(Col::ALL.to_vec()), 100);
        let tokens = batches(View::Tokens, 100);
        let mut sink =
            ParquetSink::new(Vec::new(), records[0].schema(), &ParquetOptions::default()).unwrap();
        assert!(sink.write(tokens[0].clone()).is_err());
    }
}
