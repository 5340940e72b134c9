//! Export encoding timing without Python: the records view of TRAIL decoded once, then
//! written to memory as FORMAT (parquet, jsonl, csv) with one and two encoding threads
//! (figures for BENCHMARKS.md come from whole commands):
//!
//!     cargo run --release --example export_timing -- TRAIL [FORMAT] [CODEC]
//!
//! FORMAT `parquet-settings` instead writes the batches on one thread with arrow-rs's
//! `ArrowWriter` under each writer setting that could make encoding cheaper (no
//! dictionary, chunk or no statistics, no compression, lz4, format v2, large pages), and
//! then each column alone: where a Parquet conversion's CPU goes, and how far the
//! settings move it.

use _native::arrow::{BatchReader, Col, Input, Options, View};
use _native::export::{ParquetOptions, ParquetSink, TextFormat, TextSink};
use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use std::time::Instant;

/// Writer properties near the sink's (zstd 1, dictionaries, page statistics, delta
/// encoding for offsets and times) with `variant` changed.
fn settings(variant: &str) -> Result<WriterProperties, Box<dyn std::error::Error>> {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true);
    b = match variant {
        "as written" => b,
        "no dictionary" => b.set_dictionary_enabled(false),
        "chunk statistics" => b.set_statistics_enabled(EnabledStatistics::Chunk),
        "no statistics" => b.set_statistics_enabled(EnabledStatistics::None),
        "uncompressed" => b.set_compression(Compression::UNCOMPRESSED),
        "lz4" => b.set_compression(Compression::LZ4_RAW),
        "format v2" => b.set_writer_version(WriterVersion::PARQUET_2_0),
        "8 MiB pages" => b
            .set_data_page_size_limit(8 << 20)
            .set_dictionary_page_size_limit(8 << 20),
        other => return Err(format!("unknown setting {other}").into()),
    };
    for name in ["record_offset", "time", "error_offset"] {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(name), false)
            .set_column_encoding(ColumnPath::from(name), Encoding::DELTA_BINARY_PACKED);
    }
    Ok(b.build())
}

/// `batches` written with `props` on this thread, a row group each: (seconds, bytes).
fn timed(
    batches: &[RecordBatch],
    props: WriterProperties,
) -> Result<(f64, usize), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let mut w = ArrowWriter::try_new(Vec::new(), batches[0].schema(), Some(props))?;
    for b in batches {
        w.write(b)?;
        w.flush()?;
    }
    let bytes = w.into_inner()?.len();
    Ok((t0.elapsed().as_secs_f64(), bytes))
}

fn parquet_settings(batches: &[RecordBatch]) -> Result<(), Box<dyn std::error::Error>> {
    for variant in [
        "as written",
        "no dictionary",
        "chunk statistics",
        "no statistics",
        "uncompressed",
        "lz4",
        "format v2",
        "8 MiB pages",
        "as written",
    ] {
        let (secs, bytes) = timed(batches, settings(variant)?)?;
        println!("{variant:18} {secs:.3} s {bytes} bytes");
    }
    let schema = batches[0].schema();
    let mut columns = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        let alone: Vec<RecordBatch> = batches
            .iter()
            .map(|b| b.project(&[i]))
            .collect::<Result<_, _>>()?;
        let (secs, bytes) = timed(&alone, settings("as written")?)?;
        columns.push((secs, field.name().clone(), bytes));
    }
    columns.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total: f64 = columns.iter().map(|c| c.0).sum();
    println!("each column alone: {total:.3} s in all");
    for (secs, name, bytes) in columns {
        println!("  {name:16} {secs:.3} s {bytes} bytes");
    }
    Ok(())
}

fn write(
    batches: &[RecordBatch],
    format: &str,
    codec: &str,
    threads: usize,
) -> Result<(u64, usize), Box<dyn std::error::Error>> {
    let schema = batches[0].schema();
    Ok(match format {
        "parquet" => {
            let opts = ParquetOptions {
                codec: codec.parse()?,
                threads,
            };
            let mut sink = ParquetSink::new(Vec::new(), schema, &opts)?;
            for b in batches {
                sink.write(b.clone())?;
            }
            let (rows, out) = sink.finish()?;
            (rows, out.len())
        }
        text => {
            let format = match text {
                "jsonl" => TextFormat::Jsonl { nulls: true },
                "csv" => TextFormat::Csv { raw: false },
                other => return Err(format!("unknown format {other}").into()),
            };
            let mut sink = TextSink::new(std::io::sink(), schema, format, threads)?;
            for b in batches {
                sink.write(b.clone())?;
            }
            (sink.finish()?.0, 0)
        }
    })
}

/// The process's minor page faults so far (fresh memory touched: kernel time that a
/// writer reusing its buffers does not pay).
fn minor_faults() -> i64 {
    // /proc/self/stat: "pid (comm) state ppid ... minflt" (minflt the 10th field; comm
    // may hold spaces, so count from its closing parenthesis).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: export_timing TRAIL [FORMAT] [CODEC]")?;
    let format = args.next().unwrap_or_else(|| "parquet".into());
    let codec = args.next().unwrap_or_else(|| "zstd".into());
    let input = Input::File {
        name: "t".into(),
        path: path.into(),
    };
    let opts = Options {
        view: View::Records(Col::ALL.to_vec()),
        ..Options::default()
    };
    let batches: Vec<_> = BatchReader::new(vec![input], opts)?.collect::<Result<_, _>>()?;
    if format == "parquet-settings" {
        return parquet_settings(&batches);
    }
    for threads in [1, 2] {
        let (t0, faults0) = (std::time::Instant::now(), minor_faults());
        let (rows, bytes) = write(&batches, &format, &codec, threads)?;
        println!(
            "{format} threads={threads} rows={rows} bytes={bytes} {:.3} s, {} page faults",
            t0.elapsed().as_secs_f64(),
            minor_faults() - faults0
        );
    }
    Ok(())
}
