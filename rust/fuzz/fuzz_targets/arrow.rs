//! The Arrow pipeline (`arrow::BatchReader`: framing, chunking into batches, parallel
//! decoding) against recover iteration over the whole input, in recover mode:
//!
//! - records view: one row per record `Recover` frames, at its offset, in input order,
//!   with `error` set exactly for the records whose tokens do not all decode;
//! - errors view: exactly `Recover`'s damaged regions (offset, length, reason) and the
//!   failing records (their whole span), in input order;
//! - the same rows with 1 and 2 worker threads and any batch size, and through a fused
//!   read (`BatchReader::fuse`: the rows taken out on the decoding worker).
#![no_main]

use arrow_array::cast::AsArray;
use arrow_array::types::{UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use bsmtrail::arrow::{unbox, BatchReader, Col, Finish, Input, Options, View};
use bsmtrail::mode::Mode;
use bsmtrail::recover::{Item, Recover};
use bsmtrail::source::Source;
use bsmtrail::tokens::{walk_valid, DecodeOptions};
use bsmtrail_fuzz::Picker;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fn reader(trail: &[u8], view: View, batch_size: usize, threads: usize) -> BatchReader {
    let input = Input::Bytes {
        name: "t".into(),
        source: Source::from_owner(trail.to_vec()),
        base: 0,
    };
    let opts = Options {
        view,
        mode: Mode::Recover,
        batch_size,
        threads,
        ..Options::default()
    };
    BatchReader::new(vec![input], opts).expect("a reader over bytes")
}

fn batches(trail: &[u8], view: View, batch_size: usize, threads: usize) -> Vec<RecordBatch> {
    reader(trail, view, batch_size, threads)
        .map(|b| b.expect("recover mode never fails"))
        .collect()
}

/// The records view's rows, each batch's taken out on the worker that decoded it.
fn fused_rows(trail: &[u8], batch_size: usize, threads: usize) -> Vec<(u64, bool)> {
    let cols = View::Records(vec![Col::RecordOffset, Col::Error]);
    let rows: Finish = Arc::new(|_, b| Ok(Box::new(record_rows(&[b]))));
    let fused = Box::new(reader(trail, cols, batch_size, threads))
        .fuse(rows)
        .unwrap_or_else(|_| panic!("a plain reader fuses"));
    let mut out = Vec::new();
    for part in fused {
        out.extend(unbox::<Vec<(u64, bool)>>(part.expect("recover mode never fails")).unwrap());
    }
    out
}

fn u64s(b: &RecordBatch, name: &str) -> Vec<u64> {
    let c = b.column_by_name(name).expect(name);
    match c.data_type() {
        arrow_schema::DataType::UInt32 => c
            .as_primitive::<UInt32Type>()
            .values()
            .iter()
            .map(|&v| u64::from(v))
            .collect(),
        _ => c.as_primitive::<UInt64Type>().values().to_vec(),
    }
}

/// (offset, has an error) per row of the records view.
fn record_rows(bs: &[RecordBatch]) -> Vec<(u64, bool)> {
    let mut out = Vec::new();
    for b in bs {
        let err = b.column_by_name("error").expect("error");
        for (i, o) in u64s(b, "record_offset").into_iter().enumerate() {
            out.push((o, err.is_valid(i)));
        }
    }
    out
}

/// (offset, length) per row of the errors view.
fn error_rows(bs: &[RecordBatch]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for b in bs {
        out.extend(u64s(b, "region_offset").into_iter().zip(u64s(b, "length")));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut p = Picker::new(data);
    let batch_size = 1 + usize::from(p.byte() % 16);
    let trail = p.rest();
    let mut want_records = Vec::new();
    let mut want_errors = Vec::new();
    for item in Recover::new(trail) {
        match item {
            Item::Record(s) => {
                let bad = walk_valid(
                    &trail[s.offset..s.offset + s.len],
                    DecodeOptions::FULL,
                    |_| {},
                )
                .is_err();
                want_records.push((s.offset as u64, bad));
                if bad {
                    want_errors.push((s.offset as u64, s.len as u64));
                }
            }
            Item::Damage(d) => want_errors.push((d.offset as u64, d.len as u64)),
            Item::File(_) => {}
        }
    }
    for threads in [1, 2] {
        let cols = View::Records(vec![Col::RecordOffset, Col::Error]);
        assert_eq!(
            record_rows(&batches(trail, cols, batch_size, threads)),
            want_records
        );
        assert_eq!(
            error_rows(&batches(trail, View::Errors, batch_size, threads)),
            want_errors
        );
        assert_eq!(fused_rows(trail, batch_size, threads), want_records);
    }
});
