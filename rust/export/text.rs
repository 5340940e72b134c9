//! JSON Lines encoded on every core: each batch's text is built on a worker (arrow-json's
//! encoders) and written in the order the batches came, so the output is the same whatever
//! the thread count.
//!
//! One JSON object per row with every column, nulls included; dictionary columns as their
//! values, times as ISO 8601 UTC text to the millisecond (`2024-01-01T00:00:00.000Z`),
//! bytes as lower-case hex, lists and structs as JSON arrays and objects.

use crate::ordered::Ordered;
use crate::render::time::utc;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, PrimitiveArray, RecordBatch};
use arrow_json::writer::{Encoder, EncoderFactory, EncoderOptions, LineDelimited, NullableEncoder};
use arrow_json::WriterBuilder;
use arrow_schema::{ArrowError, DataType, FieldRef, SchemaRef, TimeUnit};
use std::io::Write;
use std::sync::Arc;

/// Millisecond times (the schema's are UTC) as ISO 8601 UTC text with milliseconds and
/// `Z`. (arrow-json would format them through a time zone database, which bsmtrail does
/// not build in for one zone.)
#[derive(Debug)]
struct UtcTimes;

impl EncoderFactory for UtcTimes {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        Ok(match array.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let times = array.as_primitive::<TimestampMillisecondType>();
                Some(NullableEncoder::new(
                    Box::new(Iso(times)),
                    times.nulls().cloned(),
                ))
            }
            _ => None,
        })
    }
}

struct Iso<'a>(&'a PrimitiveArray<TimestampMillisecondType>);

impl Encoder for Iso<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let ms = self.0.value(idx);
        let t = utc(ms.div_euclid(1000));
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
            t.year,
            t.mon + 1,
            t.mday,
            t.hour,
            t.min,
            t.sec,
            ms.rem_euclid(1000)
        );
    }
}

/// A JSON Lines output being written: `write` batches, then `finish`.
pub struct JsonlSink<W: Write> {
    out: W,
    schema: SchemaRef,
    encoding: Ordered<Result<Vec<u8>, ArrowError>>,
    rows: u64,
}

impl<W: Write> JsonlSink<W> {
    /// `threads`: encoding workers, 0 for every core.
    pub fn new(out: W, schema: SchemaRef, threads: usize) -> Result<Self, ArrowError> {
        let encoding =
            Ordered::new(threads, "jsonl").map_err(|e| ArrowError::IoError(e.to_string(), e))?;
        Ok(JsonlSink {
            out,
            schema,
            encoding,
            rows: 0,
        })
    }

    /// Encode `batch` on a worker; returns once the oldest batches in flight are written.
    pub fn write(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        if batch.schema().fields() != self.schema.fields() {
            return Err(ArrowError::SchemaError(
                "a batch's columns do not match the output's schema".into(),
            ));
        }
        while self.encoding.full() {
            self.write_next()?;
        }
        self.rows += batch.num_rows() as u64;
        self.encoding.submit(move || encode(&batch));
        Ok(())
    }

    fn write_next(&mut self) -> Result<(), ArrowError> {
        let Some(done) = self.encoding.take() else {
            return Ok(());
        };
        let text = done.map_err(|_| {
            ArrowError::ComputeError("internal error: a JSON encoding worker panicked".into())
        })??;
        self.out
            .write_all(&text)
            .map_err(|e| ArrowError::IoError(e.to_string(), e))
    }

    /// Write what is still encoding and flush; returns the rows written and the output.
    pub fn finish(mut self) -> Result<(u64, W), ArrowError> {
        while !self.encoding.is_empty() {
            self.write_next()?;
        }
        self.out
            .flush()
            .map_err(|e| ArrowError::IoError(e.to_string(), e))?;
        Ok((self.rows, self.out))
    }
}

fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    // About a hundred bytes of text per column and row is the common case.
    let guess = batch
        .num_rows()
        .saturating_mul(64 * batch.num_columns().max(1));
    let mut w = WriterBuilder::new()
        .with_explicit_nulls(true)
        .with_encoder_factory(Arc::new(UtcTimes))
        .build::<_, LineDelimited>(Vec::with_capacity(guess.min(1 << 28)));
    w.write(batch)?;
    w.finish()?;
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, BinaryArray, StringArray, TimestampMillisecondArray, UInt32Array};

    fn batch(from: u32, n: u32) -> RecordBatch {
        let ids: ArrayRef = Arc::new(UInt32Array::from_iter_values(from..from + n));
        let times: ArrayRef = Arc::new(
            TimestampMillisecondArray::from_iter(
                (from..from + n).map(|i| (i % 3 != 0).then_some(1_700_000_000_123 + i64::from(i))),
            )
            .with_timezone("UTC"),
        );
        let text: ArrayRef = Arc::new(StringArray::from_iter_values(
            (from..from + n).map(|i| format!("p\"{i}\n\u{e9}")),
        ));
        let raw: ArrayRef = Arc::new(BinaryArray::from_iter_values(
            (from..from + n).map(|i| [0u8, 0xff, i as u8]),
        ));
        RecordBatch::try_from_iter([("id", ids), ("time", times), ("text", text), ("raw", raw)])
            .unwrap()
    }

    fn write(batches: &[RecordBatch], threads: usize) -> Vec<u8> {
        let mut sink = JsonlSink::new(Vec::new(), batches[0].schema(), threads).unwrap();
        for b in batches {
            sink.write(b.clone()).unwrap();
        }
        let (rows, out) = sink.finish().unwrap();
        assert_eq!(
            rows,
            batches.iter().map(|b| b.num_rows() as u64).sum::<u64>()
        );
        out
    }

    #[test]
    fn lines_in_batch_order_whatever_the_threads() {
        let batches: Vec<_> = (0..40).map(|i| batch(i * 5, 5)).collect();
        let one = write(&batches, 1);
        for threads in [2, 4] {
            assert_eq!(write(&batches, threads), one, "threads={threads}");
        }
        let text = String::from_utf8(one).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 200);
        assert_eq!(
            lines[1],
            r#"{"id":1,"time":"2023-11-14T22:13:20.124Z","text":"p\"1\né","raw":"00ff01"}"#
        );
        assert_eq!(
            lines[0],
            r#"{"id":0,"time":null,"text":"p\"0\né","raw":"00ff00"}"#
        );
        for (i, line) in lines.iter().enumerate() {
            assert!(line.starts_with(&format!("{{\"id\":{i},")), "{line}");
        }
    }
}
