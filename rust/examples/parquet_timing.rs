//! Parquet encoding timing without Python: the records view of TRAIL decoded once, then
//! written to memory with one and two encoding threads (figures for BENCHMARKS.md come
//! from whole commands):
//!
//!     cargo run --release --example parquet_timing -- TRAIL [CODEC]

use _native::arrow::{BatchReader, Col, Input, Options, View};
use _native::export::{ParquetOptions, ParquetSink};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: parquet_timing TRAIL [CODEC]")?;
    let codec = args.next().unwrap_or_else(|| "zstd".into()).parse()?;
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
        let t0 = std::time::Instant::now();
        let mut sink = ParquetSink::new(
            Vec::new(),
            batches[0].schema(),
            &ParquetOptions { codec, threads },
        )?;
        for b in &batches {
            sink.write(b.clone())?;
        }
        let (rows, out) = sink.finish()?;
        println!(
            "threads={threads} rows={rows} bytes={} {:.3} s",
            out.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
