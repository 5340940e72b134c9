//! Export encoding timing without Python: the records view of TRAIL decoded once, then
//! written to memory as FORMAT (parquet, jsonl, csv) with one and two encoding threads
//! (figures for BENCHMARKS.md come from whole commands):
//!
//!     cargo run --release --example export_timing -- TRAIL [FORMAT] [CODEC]

use _native::arrow::{BatchReader, Col, Input, Options, View};
use _native::export::{ParquetOptions, ParquetSink, TextFormat, TextSink};
use arrow_array::RecordBatch;

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
