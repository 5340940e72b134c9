//! Byte-range chunks (`chunks::boundaries`, how threads, processes and Dask workers split
//! one trail) against recover iteration over the whole input.
//!
//! - Always: boundaries start at 0, end at the input's length and never decrease, so the
//!   chunks tile the input and no byte is read twice.
//! - Recovering each chunk `[B_i, B_i+1)` on its own finds records inside it only, and
//!   when every boundary is an offset the sequential walk reaches (guarantee 2 of
//!   `rust/chunks.rs`), the chunks' records in order are exactly the whole input's.
//! - Each boundary is the same whether a worker sees the whole input or only the window
//!   `boundary` asks for (`boundaries_at` at one split point agrees with `boundaries`).
#![no_main]

use bsmtrail::chunks::{boundaries, chunk_start, Need, Params, Window};
use bsmtrail::recover::{Item, Recover};
use bsmtrail_fuzz::Picker;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fn records(data: &[u8], base: usize) -> Vec<(usize, usize)> {
    Recover::new(data)
        .filter_map(|i| match i {
            Item::Record(s) => Some((base + s.offset, s.len)),
            _ => None,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut p = Picker::new(data);
    let chunk = 16 + usize::from(p.byte()) * 8;
    let params = Params {
        lookback: 16 + usize::from(p.byte()) * 8,
        ahead: 1 + usize::from(p.byte()) * 8,
    };
    let trail = p.rest();
    let b = boundaries(trail, chunk, params);
    assert_eq!(b.first(), Some(&0));
    assert_eq!(b.last(), Some(&trail.len()));
    assert!(b.windows(2).all(|w| w[0] <= w[1]), "{b:?}");
    let mut chunked = Vec::new();
    for w in b.windows(2) {
        let got = records(&trail[w[0]..w[1]], w[0]);
        assert!(got.iter().all(|&(o, n)| o >= w[0] && o + n <= w[1]));
        chunked.extend(got);
    }
    // Offsets the sequential walk lands on.
    let mut walk = BTreeSet::new();
    for i in Recover::new(trail) {
        walk.insert(match i {
            Item::Record(s) | Item::File(s) => s.offset,
            Item::Damage(d) => d.offset,
        });
    }
    walk.insert(trail.len());
    if b.iter().all(|x| walk.contains(x)) {
        assert_eq!(chunked, records(trail, 0), "boundaries {b:?}");
    }
    // A worker holding only the bytes `chunk_start` asks for (growing on `Need`) finds
    // the boundary the whole input gives (the first chunks and every seventh: a worker
    // per chunk would make each input quadratic to check).
    for (i, &expected) in b.iter().enumerate().filter(|(i, _)| *i < 8 || i % 7 == 0) {
        let (mut lo, mut hi) = (0usize, 0usize);
        let got = loop {
            let w = Window {
                bytes: &trail[lo..hi],
                base: lo,
                total: trail.len(),
            };
            match chunk_start(&w, i, chunk, params) {
                Ok(x) => break x,
                Err(Need { lo: l, hi: h }) => {
                    assert!(l <= h && h <= trail.len(), "need [{l}, {h})");
                    assert!(
                        lo == hi || l < lo || h > hi,
                        "asked again for what it holds"
                    );
                    (lo, hi) = if lo == hi {
                        (l, h)
                    } else {
                        (l.min(lo), h.max(hi))
                    };
                }
            }
        };
        assert_eq!(got, expected, "chunk {i}");
    }
});
