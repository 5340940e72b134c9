//! The windowed reader (`arrow::window::WindowFramer`, how Parquet export and streaming
//! read files) against recover iteration over the whole input: the same records, file
//! tokens and damaged regions (offsets, lengths, errors) in recover mode, and the same
//! spans and first error in strict mode, for windows of 64 bytes to 4 KiB.
#![no_main]

use bsmtrail::arrow::window::{Found, WindowFramer};
use bsmtrail::framing::{Check, Framer, SpanKind};
use bsmtrail::recover::{Item, Recover};
use bsmtrail_fuzz::Picker;
use libfuzzer_sys::fuzz_target;

fn windowed(data: &[u8], window: usize, recover: bool) -> Vec<String> {
    let mut w = WindowFramer::new(data.to_vec(), window, recover);
    let mut out = Vec::new();
    while let Some(f) = w.next().expect("reading a Vec cannot fail") {
        assert!(out.len() <= data.len(), "more items than input bytes");
        let base = w.window().1;
        out.push(match f {
            Found::Record(s) => format!("R {} {}", base + s.offset as u64, s.len),
            Found::File(s) => format!("F {} {}", base + s.offset as u64, s.len),
            Found::Damage { offset, len, error } => format!("D {offset} {len} {error:?}"),
            Found::Error(e) => format!("E {e:?}"),
        });
    }
    out
}

fn whole(data: &[u8], recover: bool) -> Vec<String> {
    if recover {
        Recover::new(data)
            .map(|i| match i {
                Item::Record(s) => format!("R {} {}", s.offset, s.len),
                Item::File(s) => format!("F {} {}", s.offset, s.len),
                Item::Damage(d) => format!("D {} {} {:?}", d.offset, d.len, d.error),
            })
            .collect()
    } else {
        Framer::new(data, Check::Trailer)
            .map(|i| match i {
                Ok(s) if s.kind == SpanKind::Record => format!("R {} {}", s.offset, s.len),
                Ok(s) => format!("F {} {}", s.offset, s.len),
                Err(e) => format!("E {e:?}"),
            })
            .collect()
    }
}

fuzz_target!(|data: &[u8]| {
    let mut p = Picker::new(data);
    let window = 64 + usize::from(p.byte()) * 16;
    let trail = p.rest();
    for recover in [true, false] {
        assert_eq!(
            windowed(trail, window, recover),
            whole(trail, recover),
            "window {window}, recover {recover}"
        );
    }
});
