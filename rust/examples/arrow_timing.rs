//! Arrow-pipeline timing without Python, for profiling the Rust side alone (figures for
//! BENCHMARKS.md come from `benches/bench_arrow.py`):
//!
//!     cargo run --release --example arrow_timing -- TRAIL
//!
//! Environment: `BSMTRAIL_BENCH_COLS` (comma-separated records columns), `BSMTRAIL_BENCH_ONLY`
//! (`view:threads`, e.g. `records:1`), `BSMTRAIL_BENCH_MMAP` (read through a memory map).

use _native::arrow::{BatchReader, Col, Input, Options, View};
use _native::source::Source;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: arrow_timing TRAIL")?;
    let len = std::fs::metadata(&path)?.len() as f64;
    let cols = match std::env::var("BSMTRAIL_BENCH_COLS") {
        Ok(c) => c.split(',').filter_map(Col::from_name).collect(),
        Err(_) => Col::ALL.to_vec(),
    };
    let views = [
        ("errors", View::Errors),
        ("records", View::Records(cols)),
        ("tokens", View::Tokens),
    ];
    let only = std::env::var("BSMTRAIL_BENCH_ONLY").unwrap_or_default();
    for (name, view) in views {
        for threads in [1, 2] {
            if !only.is_empty() && only != format!("{name}:{threads}") {
                continue;
            }
            let t0 = std::time::Instant::now();
            let input = if std::env::var("BSMTRAIL_BENCH_MMAP").is_ok() {
                Input::Bytes {
                    name: "t".into(),
                    source: Source::map_file(std::path::Path::new(&path))?,
                    base: 0,
                }
            } else {
                Input::File {
                    name: "t".into(),
                    path: path.clone().into(),
                }
            };
            let opts = Options {
                view: view.clone(),
                threads,
                ..Options::default()
            };
            let mut rows = 0;
            for b in BatchReader::new(vec![input], opts)? {
                rows += b?.num_rows();
            }
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "{name:8} threads={threads} rows={rows} {:.0} MB/s",
                len / dt / 1e6
            );
        }
    }
    Ok(())
}
