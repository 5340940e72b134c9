//! JSON Lines and CSV encoded on every core: each batch's text is built on a worker
//! (arrow-json's encoders) and written in the order the batches came, so the output is the
//! same whatever the thread count.
//!
//! JSON Lines: one JSON object per row with every column, nulls included; dictionary
//! columns as their values, times as ISO 8601 UTC text to the millisecond
//! (`2024-01-01T00:00:00.000Z`), bytes as lower-case hex, lists and structs as JSON arrays
//! and objects.
//!
//! CSV, as pyarrow's writer lays it out (a header of quoted names; text quoted with `"`
//! doubled, numbers and times bare, null cells empty, `\n` line ends), with the cells a
//! spreadsheet cannot hold flattened: dictionary columns as text, bytes as hex, lists and
//! structs as their JSON text, times as `2024-01-01 00:00:00.000Z`. A text cell beginning
//! with `= + - @`, tab or CR gets a `'` in front unless `raw`: a spreadsheet would run it
//! as a formula, and the trail's strings are the attacker's.

use super::{io_error, BatchSink, InOrder};
use crate::arrow::{unbox, Finish, Finished};
use crate::render::fmt::hex_digits;
use crate::render::time::{push2, push_hms, utc};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMillisecondType,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, BinaryArray, Int32DictionaryArray, ListArray, PrimitiveArray, RecordBatch, StringArray,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_json::writer::{make_encoder, Encoder, EncoderFactory, EncoderOptions, NullableEncoder};
use arrow_schema::{ArrowError, DataType, FieldRef, Schema, SchemaRef, TimeUnit};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// bsmtrail's own encoders for the commonest JSON values, the same text as arrow-json's:
/// millisecond times (the schema's are UTC) as ISO 8601 UTC text with milliseconds and
/// `Z` (arrow-json would format them through a time zone database, which bsmtrail does not
/// build in for one zone); strings escaped in one pass without a serializer per value;
/// bytes as lower-case hex without the formatting machinery per byte.
///
/// `quote` is what a JSON string is put between: `"`, or `""` for JSON text inside a CSV
/// cell ([`Fast::CSV`]), where lists and structs get encoders of their own too (their keys
/// quoted the same way): the cell's JSON is then written already CSV-quoted, where
/// quoting it afterwards cost another pass over it and an eighth of a CSV conversion.
#[derive(Debug)]
struct Fast {
    quote: &'static [u8],
}

impl Fast {
    const JSON: Fast = Fast { quote: b"\"" };
    const CSV: Fast = Fast { quote: b"\"\"" };
}

impl EncoderFactory for Fast {
    fn make_default_encoder<'a>(
        &self,
        field: &'a FieldRef,
        array: &'a dyn Array,
        options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        let nulls = array.nulls().cloned();
        let quote = self.quote;
        let csv = quote.len() > 1;
        let encoder: Box<dyn Encoder + 'a> = match array.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, _) => Box::new(Iso {
                array: array.as_primitive::<TimestampMillisecondType>(),
                quote,
            }),
            DataType::Utf8 => Box::new(Text {
                array: array.as_string::<i32>(),
                quote,
            }),
            DataType::Binary => Box::new(Hex {
                array: array.as_binary::<i32>(),
                quote,
            }),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let dict = array.as_dictionary::<Int32Type>();
                let Some(texts) = ValueTexts::of(dict, |v, out| json_string(v, quote, out)) else {
                    return Ok(None);
                };
                Box::new(DictText {
                    keys: dict.keys(),
                    texts,
                })
            }
            DataType::List(_) if csv => {
                let list = array.as_list::<i32>();
                Box::new(List {
                    list,
                    items: make_encoder(field, list.values().as_ref(), options)?,
                })
            }
            DataType::Struct(fields) if csv => {
                let columns = array.as_struct().columns();
                let members = fields
                    .iter()
                    .zip(columns)
                    .map(|(f, c)| {
                        let mut key = Vec::new();
                        json_string(f.name().as_bytes(), quote, &mut key);
                        key.push(b':');
                        Ok((key, make_encoder(f, c.as_ref(), options)?))
                    })
                    .collect::<Result<_, ArrowError>>()?;
                Box::new(Object { members })
            }
            _ => return Ok(None),
        };
        Ok(Some(NullableEncoder::new(encoder, nulls)))
    }
}

/// Whether arrow-json (with [`Fast::CSV`]) writes `ty`'s values with no `"` of their own:
/// numbers, booleans and nulls, and what `Fast` encodes. A list or struct cell of other
/// types (dates, decimals: arrow-json puts them in quotes) is quoted after encoding.
fn csv_direct(ty: &DataType) -> bool {
    match ty {
        DataType::Null | DataType::Boolean | DataType::Utf8 | DataType::Binary => true,
        DataType::Timestamp(TimeUnit::Millisecond, _) => true,
        t if t.is_integer() => true,
        DataType::Dictionary(_, v) => **v == DataType::Utf8,
        DataType::List(f) => csv_direct(f.data_type()),
        DataType::Struct(fs) => fs.iter().all(|f| csv_direct(f.data_type())),
        _ => false,
    }
}

/// Each value of a dictionary's text, made once: for a dictionary whose rows outnumber its
/// values (a batch's event names, or its one trail name), where escaping (and quoting)
/// the value on every row cost more than copying it.
struct ValueTexts {
    texts: Vec<u8>,
    /// Value `i`'s text is `texts[ends[i]..ends[i + 1]]`.
    ends: Vec<usize>,
}

impl ValueTexts {
    /// `dict`'s (string) values written by `write`; None when they outnumber its rows. A
    /// null value's text is its slot's (empty) string, as arrow-json writes it.
    fn of(dict: &Int32DictionaryArray, write: impl Fn(&[u8], &mut Vec<u8>)) -> Option<Self> {
        let values = dict.values().as_string_opt::<i32>()?;
        if values.len() > dict.len() {
            return None;
        }
        let mut texts = Vec::new();
        let mut ends = Vec::with_capacity(values.len() + 1);
        ends.push(0);
        for i in 0..values.len() {
            write(values.value(i).as_bytes(), &mut texts);
            ends.push(texts.len());
        }
        Some(ValueTexts { texts, ends })
    }

    /// Row `row`'s text (`keys` were checked against the values when the array was
    /// built: an unknown key has none).
    fn row(&self, keys: &PrimitiveArray<Int32Type>, row: usize) -> &[u8] {
        let key = usize::try_from(keys.value(row)).unwrap_or(usize::MAX);
        match (self.ends.get(key), self.ends.get(key.wrapping_add(1))) {
            (Some(&from), Some(&to)) => &self.texts[from..to],
            _ => b"",
        }
    }
}

/// A dictionary column's rows as JSON, each value's text made once.
struct DictText<'a> {
    keys: &'a PrimitiveArray<Int32Type>,
    texts: ValueTexts,
}

impl Encoder for DictText<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(self.texts.row(self.keys, idx));
    }
}

/// A list as a JSON array (the CSV cell's own encoder: see [`Fast`]).
struct List<'a> {
    list: &'a ListArray,
    items: NullableEncoder<'a>,
}

impl Encoder for List<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let offsets = self.list.value_offsets();
        let (start, end) = (offsets[idx] as usize, offsets[idx + 1] as usize);
        out.push(b'[');
        for i in start..end {
            if i > start {
                out.push(b',');
            }
            if self.items.is_null(i) {
                out.extend_from_slice(b"null");
            } else {
                self.items.encode(i, out);
            }
        }
        out.push(b']');
    }
}

/// A struct as a JSON object, every member written (null ones as `null`, as the CSV
/// options ask of arrow-json), each key already quoted.
struct Object<'a> {
    members: Vec<(Vec<u8>, NullableEncoder<'a>)>,
}

impl Encoder for Object<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, value)) in self.members.iter_mut().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            if value.is_null(idx) {
                out.extend_from_slice(b"null");
            } else {
                value.encode(idx, out);
            }
        }
        out.push(b'}');
    }
}

struct Iso<'a> {
    array: &'a PrimitiveArray<TimestampMillisecondType>,
    quote: &'static [u8],
}

impl Encoder for Iso<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(self.quote);
        utc_text(self.array.value(idx), b'T', out);
        out.extend_from_slice(self.quote);
    }
}

struct Text<'a> {
    array: &'a StringArray,
    quote: &'static [u8],
}

impl Encoder for Text<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        json_string(self.array.value(idx).as_bytes(), self.quote, out);
    }
}

struct Hex<'a> {
    array: &'a BinaryArray,
    quote: &'static [u8],
}

impl Encoder for Hex<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(self.quote);
        hex_digits(out, self.array.value(idx));
        out.extend_from_slice(self.quote);
    }
}

/// UTF-8 text as a JSON string, escaped as serde_json (and so arrow-json) escapes it:
/// `"` and `\` with a backslash, the control characters below 0x20 as `\b \t \n \f \r`
/// or `\u00XX`, everything else as it is; put between `quote` (`"`, or `""` inside a CSV
/// cell, where the escaped `"` is doubled too).
fn json_string(s: &[u8], quote: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2 * quote.len());
    out.extend_from_slice(quote);
    let mut from = 0;
    for (i, &b) in s.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&s[from..i]);
        match b {
            b'"' => {
                out.push(b'\\');
                out.extend_from_slice(quote);
            }
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                out.extend_from_slice(b"\\u00");
                hex_digits(out, &[b]);
            }
        }
        from = i + 1;
    }
    out.extend_from_slice(&s[from..]);
    out.extend_from_slice(quote);
}

/// Milliseconds since the epoch as `YYYY-MM-DD<sep>HH:MM:SS.mmmZ` (digits written
/// directly: one time per row, formatting machinery would cost more than the row).
fn utc_text(ms: i64, sep: u8, out: &mut Vec<u8>) {
    let t = utc(ms.div_euclid(1000));
    if !(0..=9999).contains(&t.year) {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{:04}-", t.year);
    } else {
        let y = t.year as u32;
        push2(out, y / 100);
        push2(out, y % 100);
        out.push(b'-');
    }
    push2(out, t.mon + 1);
    out.push(b'-');
    push2(out, t.mday);
    out.push(sep);
    push_hms(out, &t);
    out.push(b'.');
    let milli = ms.rem_euclid(1000) as u32;
    out.push(b'0' + (milli / 100) as u8);
    push2(out, milli % 100);
    out.push(b'Z');
}

/// `s` as a CSV text cell: quoted, quotes doubled.
fn quoted(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut from = 0;
    for quote in memchr::memchr_iter(b'"', s) {
        out.extend_from_slice(&s[from..=quote]);
        out.push(b'"');
        from = quote + 1;
    }
    out.extend_from_slice(&s[from..]);
    out.push(b'"');
}

/// A text cell, with a `'` in front of what a spreadsheet would take for a formula
/// (OWASP's list of first characters) unless `raw`.
fn text_cell(s: &[u8], raw: bool, out: &mut Vec<u8>) {
    if !raw && matches!(s.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')) {
        let mut guarded = Vec::with_capacity(s.len() + 1);
        guarded.push(b'\'');
        guarded.extend_from_slice(s);
        quoted(&guarded, out);
    } else {
        quoted(s, out);
    }
}

/// How one column's cells are written.
enum Cell<'a> {
    Text(&'a StringArray),
    Dict(&'a Int32DictionaryArray, &'a StringArray),
    /// A dictionary column's keys, and each value's cell text.
    DictCells(&'a PrimitiveArray<Int32Type>, ValueTexts),
    Bytes(&'a BinaryArray),
    Time(&'a PrimitiveArray<TimestampMillisecondType>),
    /// A list or struct as JSON text, quoted once encoded.
    Json(NullableEncoder<'a>),
    /// A list or struct as JSON text written already CSV-quoted (see [`Fast`]).
    CsvJson(NullableEncoder<'a>),
    /// Integers and booleans, written directly (a dozen a row: the formatting machinery
    /// cost more than the rest of the row).
    Digits(WriteCell<'a>),
    Plain(ArrayFormatter<'a>),
}

/// Writes row `row`'s cell of a column to the output.
type WriteCell<'a> = Box<dyn Fn(usize, &mut Vec<u8>) + 'a>;

/// An integer column's cells.
fn integers<'a, T: ArrowPrimitiveType>(col: &'a dyn Array) -> Cell<'a>
where
    T::Native: itoa::Integer,
{
    let a = col.as_primitive::<T>();
    Cell::Digits(Box::new(move |row, out| {
        out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes())
    }))
}

/// `batch`'s CSV rows (the rules above) appended to `out`.
fn csv_into(batch: &RecordBatch, raw: bool, out: &mut Vec<u8>) -> Result<(), ArrowError> {
    let options = |fast: Fast| {
        EncoderOptions::default()
            .with_explicit_nulls(true)
            .with_encoder_factory(Arc::new(fast))
    };
    let (direct, quoted_after) = (options(Fast::CSV), options(Fast::JSON));
    let plain = FormatOptions::default();
    let schema = batch.schema();
    let mut cells = Vec::with_capacity(batch.num_columns());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        let col = col.as_ref();
        cells.push(match col.data_type() {
            DataType::Utf8 => Cell::Text(col.as_string::<i32>()),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = col.as_dictionary::<Int32Type>();
                match ValueTexts::of(d, |v, out| text_cell(v, raw, out)) {
                    Some(texts) => Cell::DictCells(d.keys(), texts),
                    None => Cell::Dict(d, d.values().as_string::<i32>()),
                }
            }
            DataType::Binary => Cell::Bytes(col.as_binary::<i32>()),
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                Cell::Time(col.as_primitive::<TimestampMillisecondType>())
            }
            t @ (DataType::List(_) | DataType::Struct(_)) if csv_direct(t) => {
                Cell::CsvJson(make_encoder(field, col, &direct)?)
            }
            DataType::List(_) | DataType::Struct(_) => {
                Cell::Json(make_encoder(field, col, &quoted_after)?)
            }
            DataType::Int8 => integers::<Int8Type>(col),
            DataType::Int16 => integers::<Int16Type>(col),
            DataType::Int32 => integers::<Int32Type>(col),
            DataType::Int64 => integers::<Int64Type>(col),
            DataType::UInt8 => integers::<UInt8Type>(col),
            DataType::UInt16 => integers::<UInt16Type>(col),
            DataType::UInt32 => integers::<UInt32Type>(col),
            DataType::UInt64 => integers::<UInt64Type>(col),
            DataType::Boolean => {
                let a = col.as_boolean();
                Cell::Digits(Box::new(move |row, out| {
                    out.extend_from_slice(if a.value(row) { b"true" } else { b"false" })
                }))
            }
            _ => Cell::Plain(ArrayFormatter::try_new(col, &plain)?),
        });
    }
    // Each column's validity, read once (a virtual `is_null` per cell cost more than
    // many of the cells).
    let mut json = Vec::new();
    let nulls: Vec<_> = batch.columns().iter().map(|c| c.nulls().cloned()).collect();
    for row in 0..batch.num_rows() {
        for (i, (cell, nulls)) in cells.iter_mut().zip(&nulls).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                continue;
            }
            match cell {
                Cell::Text(a) => text_cell(a.value(row).as_bytes(), raw, out),
                Cell::Dict(d, values) => {
                    let key = d.keys().value(row);
                    let s = usize::try_from(key)
                        .ok()
                        .filter(|&k| k < values.len())
                        .map_or("", |k| values.value(k));
                    text_cell(s.as_bytes(), raw, out);
                }
                Cell::DictCells(keys, texts) => out.extend_from_slice(texts.row(keys, row)),
                Cell::Bytes(a) => {
                    out.push(b'"');
                    hex_digits(out, a.value(row));
                    out.push(b'"');
                }
                Cell::Time(a) => utc_text(a.value(row), b' ', out),
                Cell::CsvJson(enc) => {
                    out.push(b'"');
                    enc.encode(row, out);
                    out.push(b'"');
                }
                Cell::Json(enc) => {
                    json.clear();
                    enc.encode(row, &mut json);
                    quoted(&json, out);
                }
                Cell::Digits(write) => write(row, out),
                Cell::Plain(f) => {
                    let _ = write!(out, "{}", f.value(row));
                }
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

/// The text formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    /// `nulls`: null members written (`"a":null`), else left out.
    Jsonl { nulls: bool },
    /// `raw`: cells exactly as decoded (no `'` before formula-like text).
    Csv { raw: bool },
}

/// A JSON Lines or CSV output being written: `write` batches, then `finish`.
pub struct TextSink<W: Write> {
    format: TextFormat,
    out: W,
    /// Each batch's text in pieces of at most [`ROWS_PER_PART`] rows (see [`pieces`]).
    encoding: InOrder<Vec<Vec<u8>>>,
    spare: Spare,
    rows: u64,
}

/// Text buffers already written out, handed back for the next pieces to be encoded into.
/// A buffer reused keeps its pages: text built in fresh memory paid a page fault (the
/// kernel mapping and zeroing a page) for every 4 KiB, a page for every four or five
/// rows. At most [`Spare::KEEP`] are kept: memory the allocator no longer has for the
/// decoding, so few.
#[derive(Clone, Default)]
struct Spare(Arc<Mutex<Vec<Vec<u8>>>>);

impl Spare {
    /// Two default batches' pieces (65,536 rows in pieces of 16,384): one being written
    /// while the next is encoded. With more workers than two some pieces are still built
    /// in fresh memory; the kept ones are not more. (Keeping every piece that can be in
    /// flight made no fewer page faults on two cores and added 40-80 MB to the peak RSS of
    /// `--format ecs`.)
    const KEEP: usize = 8;

    /// An empty buffer, a reused one if there is one.
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut spare| spare.pop())
            .unwrap_or_default()
    }

    /// `pieces`, written out: kept for reuse.
    fn give(&self, pieces: Vec<Vec<u8>>) {
        if let Ok(mut spare) = self.0.lock() {
            for mut piece in pieces {
                if spare.len() == Self::KEEP {
                    break;
                }
                piece.clear();
                spare.push(piece);
            }
        }
    }
}

impl<W: Write> TextSink<W> {
    /// `threads`: encoding workers, 0 for every core. A CSV output gets its header line at
    /// once (so an output with no rows still names its columns).
    pub fn new(
        mut out: W,
        schema: SchemaRef,
        format: TextFormat,
        threads: usize,
    ) -> Result<Self, ArrowError> {
        if let TextFormat::Csv { .. } = format {
            let mut header = Vec::new();
            for (i, f) in schema.fields().iter().enumerate() {
                if i > 0 {
                    header.push(b',');
                }
                quoted(f.name().as_bytes(), &mut header);
            }
            header.push(b'\n');
            out.write_all(&header).map_err(io_error)?;
        }
        Ok(TextSink {
            format,
            out,
            encoding: InOrder::new(schema, threads, "text")?,
            spare: Spare::default(),
            rows: 0,
        })
    }

    /// Encode `batch` on a worker; returns once the oldest batches in flight are written.
    pub fn write(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        let n = batch.num_rows() as u64;
        let (format, buffers) = (self.format, self.spare.clone());
        let (out, spare) = (&mut self.out, &self.spare);
        self.encoding.push(
            batch,
            move |_, batch| encode_text(format, &buffers, batch),
            &mut |text| write_pieces(out, spare, text),
        )?;
        self.rows += n;
        Ok(())
    }

    /// Write what is still encoding and flush; returns the rows written and the output.
    pub fn finish(mut self) -> Result<(u64, W), ArrowError> {
        let (out, spare) = (&mut self.out, &self.spare);
        self.encoding
            .drain(&mut |text| write_pieces(out, spare, text))?;
        self.out.flush().map_err(io_error)?;
        Ok((self.rows, self.out))
    }
}

impl<W: Write + Send> BatchSink for TextSink<W> {
    fn write(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        TextSink::write(self, batch)
    }

    fn encoder(&self) -> Finish {
        let (format, buffers) = (self.format, self.spare.clone());
        Arc::new(move |_, batch| {
            let text = encode_text(format, &buffers, &batch)?;
            Ok(Box::new((batch.num_rows() as u64, text)) as Finished)
        })
    }

    fn append(&mut self, done: Finished) -> Result<(), ArrowError> {
        let (n, text): (u64, Vec<Vec<u8>>) = unbox(done)?;
        write_pieces(&mut self.out, &self.spare, text)?;
        self.rows += n;
        Ok(())
    }

    fn check(&self, schema: &Schema) -> Result<(), ArrowError> {
        self.encoding.check_schema(schema)
    }

    fn finish(self: Box<Self>) -> Result<u64, ArrowError> {
        Ok((*self).finish()?.0)
    }
}

/// A batch's text in pieces, built in `buffers`' spare buffers.
fn encode_text(
    format: TextFormat,
    buffers: &Spare,
    batch: &RecordBatch,
) -> Result<Vec<Vec<u8>>, ArrowError> {
    pieces(batch, |b| {
        let mut text = buffers.take();
        match format {
            TextFormat::Jsonl { nulls } => json_lines_into(b, nulls, &mut text)?,
            TextFormat::Csv { raw } => csv_into(b, raw, &mut text)?,
        }
        Ok(text)
    })
}

/// Rows in one part of a batch's JSON Lines encoded at once (at most).
const ROWS_PER_PART: usize = 16384;

/// Write a batch's `text` and hand its buffers back to `spare`.
fn write_pieces<W: Write>(
    out: &mut W,
    spare: &Spare,
    text: Vec<Vec<u8>>,
) -> Result<(), ArrowError> {
    text.iter()
        .try_for_each(|piece| out.write_all(piece))
        .map_err(io_error)?;
    spare.give(text);
    Ok(())
}

/// `batch` in slices of at most [`ROWS_PER_PART`] rows, in order (see [`jsonl_pieces`]
/// for why text is built in pieces).
fn slices(batch: &RecordBatch) -> Vec<RecordBatch> {
    let rows = batch.num_rows();
    let parts = rows.div_ceil(ROWS_PER_PART).max(1);
    let step = rows.div_ceil(parts).max(1);
    (0..parts)
        .map(|i| {
            let start = i * step;
            batch.slice(start, step.min(rows - start))
        })
        .collect()
}

/// `encode` over each of `batch`'s [`slices`], in order.
fn pieces(
    batch: &RecordBatch,
    encode: impl Fn(&RecordBatch) -> Result<Vec<u8>, ArrowError>,
) -> Result<Vec<Vec<u8>>, ArrowError> {
    slices(batch).iter().map(encode).collect()
}

/// One batch as JSON Lines ([`jsonl`]'s bytes when joined), in pieces of at most
/// [`ROWS_PER_PART`] rows, in order: encoded on the calling thread for `threads` 1, else on
/// rayon's pool (every core). For a caller with one large batch that needs its text before
/// going on (`follow`). Pieces rather than one buffer: each stays under glibc's largest
/// mmap threshold (32 MB), so its memory is reused from one batch to the next instead of
/// mapped fresh and faulted in each time (kernel work that does not run in parallel, and
/// was half the time of one 48 MB buffer).
pub fn jsonl_pieces(batch: &RecordBatch, threads: usize) -> Result<Vec<Vec<u8>>, ArrowError> {
    use rayon::prelude::*;
    if threads == 1 {
        return pieces(batch, jsonl);
    }
    slices(batch).par_iter().map(jsonl).collect()
}

/// One batch as JSON Lines (the rules above), one line per row, each ending in `\n`.
pub fn jsonl(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    json_lines(batch, true)
}

/// [`jsonl`], with null members written or left out.
fn json_lines(batch: &RecordBatch, nulls: bool) -> Result<Vec<u8>, ArrowError> {
    // About 20 bytes of text per column and row is the common case (a records-view row
    // is 700-800 bytes); a guess far above it costs a fresh mapping per batch.
    let guess = batch
        .num_rows()
        .saturating_mul(20 * batch.num_columns().max(1));
    let mut out = Vec::with_capacity(guess.min(1 << 28));
    json_lines_into(batch, nulls, &mut out)?;
    Ok(out)
}

/// [`json_lines`] appended to `out`. The rows are encoded straight into `out` with
/// arrow-json's encoders (its `Writer` stages every 8 KiB in a buffer of its own and
/// copies it out: a second pass over all of the text).
fn json_lines_into(batch: &RecordBatch, nulls: bool, out: &mut Vec<u8>) -> Result<(), ArrowError> {
    let options = EncoderOptions::default()
        .with_explicit_nulls(nulls)
        .with_encoder_factory(Arc::new(Fast::JSON));
    let rows = arrow_array::StructArray::from(batch.clone());
    let field: FieldRef = Arc::new(arrow_schema::Field::new_struct(
        "",
        batch.schema().fields().clone(),
        false,
    ));
    let mut encoder = make_encoder(&field, &rows, &options)?;
    for row in 0..batch.num_rows() {
        encoder.encode(row, out);
        out.push(b'\n');
    }
    Ok(())
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
        let mut sink = TextSink::new(
            Vec::new(),
            batches[0].schema(),
            TextFormat::Jsonl { nulls: true },
            threads,
        )
        .unwrap();
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
    fn times_as_iso_text_at_the_edges() {
        let text = |ms: i64| {
            let mut out = Vec::new();
            utc_text(ms, b'T', &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(text(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(text(951_782_400_007), "2000-02-29T00:00:00.007Z");
        // 2^32 - 1 seconds (the largest 32-bit header time) and beyond year 9999.
        assert_eq!(text(4_294_967_295_000), "2106-02-07T06:28:15.000Z");
        assert_eq!(text(253_402_300_800_000), "10000-01-01T00:00:00.000Z");
    }

    #[test]
    fn sparse_lines_leave_null_members_out_at_every_depth() {
        use arrow_array::{Int64Array, StructArray};
        use arrow_schema::{DataType, Field};
        let inner = StructArray::from(vec![(
            Arc::new(Field::new("uid", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("501"), None])) as ArrayRef,
        )]);
        let b = RecordBatch::try_from_iter(vec![
            (
                "time",
                Arc::new(Int64Array::from(vec![Some(5), None])) as ArrayRef,
            ),
            ("user", Arc::new(inner) as ArrayRef),
        ])
        .unwrap();
        let text = |nulls| String::from_utf8(json_lines(&b, nulls).unwrap()).unwrap();
        assert_eq!(
            text(false),
            "{\"time\":5,\"user\":{\"uid\":\"501\"}}\n{\"user\":{}}\n"
        );
        assert_eq!(
            text(true),
            "{\"time\":5,\"user\":{\"uid\":\"501\"}}\n{\"time\":null,\"user\":{\"uid\":null}}\n"
        );
    }

    #[test]
    fn one_batch_in_pieces_is_the_same_text() {
        let b = batch(0, 3 * ROWS_PER_PART as u32 + 17);
        let one = jsonl(&b).unwrap();
        for threads in [0, 1, 2, 4] {
            let pieces = jsonl_pieces(&b, threads).unwrap();
            assert_eq!(pieces.len(), 4);
            assert_eq!(pieces.concat(), one, "{threads} threads");
        }
        let empty = b.slice(0, 0);
        assert!(jsonl_pieces(&empty, 4).unwrap().concat().is_empty());
        // The sinks write a large batch in pieces too: the same text as one buffer.
        for (format, whole) in [
            (TextFormat::Jsonl { nulls: true }, one.clone()),
            (TextFormat::Csv { raw: false }, {
                let mut text = Vec::new();
                csv_into(&b, false, &mut text).unwrap();
                text
            }),
        ] {
            let mut sink = TextSink::new(Vec::new(), b.schema(), format, 2).unwrap();
            sink.write(b.clone()).unwrap();
            let (rows, out) = sink.finish().unwrap();
            assert_eq!(rows, b.num_rows() as u64);
            assert!(out.ends_with(&whole), "{format:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn quoted_cells_double_every_quote(s in proptest::collection::vec(
            proptest::sample::select(vec![b'"', b'a', b',', b'\n', 0xe9]), 0..40,
        )) {
            let mut out = Vec::new();
            quoted(&s, &mut out);
            let mut expected = vec![b'"'];
            for &b in &s {
                expected.push(b);
                if b == b'"' {
                    expected.push(b'"');
                }
            }
            expected.push(b'"');
            proptest::prop_assert_eq!(out, expected);
        }
    }

    proptest::proptest! {
        #[test]
        fn strings_and_bytes_as_arrow_json_writes_them(
            texts in proptest::collection::vec(
                proptest::option::of(proptest::string::string_regex(
                    "[\\x00-\\x21\"\\\\a\\x7f\u{e9}\u{2028}\u{1f600}]{0,12}",
                ).unwrap()),
                1..20,
            ),
            bytes in proptest::collection::vec(proptest::collection::vec(0u8..=255, 0..8), 20),
        ) {
            use arrow_array::{DictionaryArray, ListArray};
            use arrow_array::types::Int32Type;
            let n = texts.len();
            let text = StringArray::from(texts.clone());
            let dict: DictionaryArray<Int32Type> = texts.iter().map(|t| t.as_deref()).collect();
            let list = ListArray::from_iter_primitive::<Int32Type, _, _>(
                (0..n).map(|i| Some(vec![Some(i as i32)])),
            );
            let b = RecordBatch::try_from_iter([
                ("text", Arc::new(text) as ArrayRef),
                ("dict", Arc::new(dict) as ArrayRef),
                ("raw", Arc::new(BinaryArray::from_iter_values(bytes.iter().take(n))) as ArrayRef),
                ("list", Arc::new(list) as ArrayRef),
            ])
            .unwrap();
            for nulls in [true, false] {
                let mut theirs = arrow_json::WriterBuilder::new()
                    .with_explicit_nulls(nulls)
                    .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
                theirs.write(&b).unwrap();
                theirs.finish().unwrap();
                let ours = json_lines(&b, nulls).unwrap();
                proptest::prop_assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(theirs.into_inner()).unwrap()
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn list_and_struct_cells_are_their_json_quoted(
            rows in proptest::collection::vec(proptest::option::of(proptest::collection::vec(
                (
                    proptest::prelude::any::<u8>(),
                    proptest::option::of(proptest::prelude::any::<u64>()),
                    proptest::option::of(proptest::string::string_regex(
                        "[\x00-\x21\"\\\\a,=\n\u{e9}]{0,8}",
                    ).unwrap()),
                    proptest::collection::vec(0u8..=255, 0..4),
                ),
                0..4,
            )), 1..12),
        ) {
            use arrow_array::{StructArray, UInt64Array, UInt8Array};
            use arrow_buffer::{NullBuffer, OffsetBuffer};
            use arrow_schema::Field;
            // args-like: list<struct<num, value, desc, raw>>, some lists null; and the same
            // struct's members as a struct column of their own, with a list of the descs.
            let items: Vec<_> = rows.iter().flatten().flatten().cloned().collect();
            type Item = (u8, Option<u64>, Option<String>, Vec<u8>);
            let member = |v: Vec<Item>| {
                let descs = StringArray::from(v.iter().map(|i| i.2.clone()).collect::<Vec<_>>());
                StructArray::from(vec![
                    (
                        Arc::new(Field::new("num", DataType::UInt8, false)),
                        Arc::new(UInt8Array::from(v.iter().map(|i| i.0).collect::<Vec<_>>()))
                            as ArrayRef,
                    ),
                    (
                        Arc::new(Field::new("value", DataType::UInt64, true)),
                        Arc::new(UInt64Array::from(v.iter().map(|i| i.1).collect::<Vec<_>>())),
                    ),
                    (Arc::new(Field::new("d\"esc", DataType::Utf8, true)), Arc::new(descs)),
                    (
                        Arc::new(Field::new("raw", DataType::Binary, false)),
                        Arc::new(BinaryArray::from_iter_values(v.iter().map(|i| i.3.clone()))),
                    ),
                ])
            };
            let values = member(items);
            let offsets = OffsetBuffer::from_lengths(rows.iter().map(|r| r.as_ref().map_or(0, Vec::len)));
            let valid = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
            let item = Arc::new(Field::new("item", values.data_type().clone(), false));
            let list = ListArray::new(item, offsets, Arc::new(values), Some(valid));
            let firsts = member(
                rows.iter()
                    .map(|r| r.as_ref().and_then(|r| r.first().cloned()).unwrap_or_default())
                    .collect(),
            );
            let b = RecordBatch::try_from_iter([
                ("args", Arc::new(list) as ArrayRef),
                ("first", Arc::new(firsts) as ArrayRef),
            ])
            .unwrap();
            let mut ours = Vec::new();
            csv_into(&b, true, &mut ours).unwrap();
            // Each cell: arrow-json's own text of it (no bsmtrail encoder), quoted.
            let options = EncoderOptions::default().with_explicit_nulls(true);
            let schema = b.schema();
            let mut theirs: Vec<_> = schema
                .fields()
                .iter()
                .zip(b.columns())
                .map(|(f, c)| make_encoder(f, c.as_ref(), &options).unwrap())
                .collect();
            let mut want = Vec::new();
            for row in 0..b.num_rows() {
                for (i, (enc, col)) in theirs.iter_mut().zip(b.columns()).enumerate() {
                    if i > 0 {
                        want.push(b',');
                    }
                    if col.is_valid(row) {
                        let mut json = Vec::new();
                        enc.encode(row, &mut json);
                        quoted(&json, &mut want);
                    }
                }
                want.push(b'\n');
            }
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(want).unwrap());
        }
    }

    proptest::proptest! {
        #[test]
        fn dictionary_cells_are_their_values_cells(
            texts in proptest::collection::vec(
                proptest::option::of(proptest::string::string_regex("[=+@a\"\t,-]{0,4}").unwrap()),
                1..24,
            ),
            take in 1usize..24,
        ) {
            use arrow_array::DictionaryArray;
            let dict: DictionaryArray<Int32Type> = texts.iter().map(|t| t.as_deref()).collect();
            let plain = StringArray::from(texts.clone());
            // A short slice keeps every value: more values than rows (no cells made ahead).
            let n = take.min(texts.len());
            for (d, p) in [(dict.clone(), plain.clone()), (dict.slice(0, n), plain.slice(0, n))] {
                let csv = |col: ArrayRef, raw| {
                    let mut out = Vec::new();
                    csv_into(&RecordBatch::try_from_iter([("c", col)]).unwrap(), raw, &mut out).unwrap();
                    out
                };
                for raw in [false, true] {
                    proptest::prop_assert_eq!(
                        csv(Arc::new(d.clone()), raw),
                        csv(Arc::new(p.clone()), raw)
                    );
                }
            }
        }
    }

    #[test]
    fn numbers_and_booleans_as_arrow_formats_them() {
        use arrow_array::*;
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "i8",
                Arc::new(Int8Array::from(vec![
                    Some(i8::MIN),
                    None,
                    Some(-1),
                    Some(i8::MAX),
                ])),
            ),
            (
                "i16",
                Arc::new(Int16Array::from(vec![
                    Some(i16::MIN),
                    Some(0),
                    None,
                    Some(i16::MAX),
                ])),
            ),
            (
                "i32",
                Arc::new(Int32Array::from(vec![
                    Some(i32::MIN),
                    Some(7),
                    Some(-1),
                    None,
                ])),
            ),
            (
                "i64",
                Arc::new(Int64Array::from(vec![
                    None,
                    Some(i64::MIN),
                    Some(i64::MAX),
                    Some(0),
                ])),
            ),
            (
                "u8",
                Arc::new(UInt8Array::from(vec![
                    Some(0),
                    Some(u8::MAX),
                    None,
                    Some(9),
                ])),
            ),
            (
                "u16",
                Arc::new(UInt16Array::from(vec![
                    Some(0),
                    Some(u16::MAX),
                    Some(10),
                    None,
                ])),
            ),
            (
                "u32",
                Arc::new(UInt32Array::from(vec![
                    Some(u32::MAX),
                    None,
                    Some(0),
                    Some(4),
                ])),
            ),
            (
                "u64",
                Arc::new(UInt64Array::from(vec![
                    Some(u64::MAX),
                    Some(0),
                    None,
                    Some(1),
                ])),
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                ])),
            ),
        ];
        let b = RecordBatch::try_from_iter(columns.clone()).unwrap();
        let mut out = Vec::new();
        csv_into(&b, false, &mut out).unwrap();
        let plain = FormatOptions::default();
        let mut expected = String::new();
        for row in 0..4 {
            let cells: Vec<String> = columns
                .iter()
                .map(|(_, c)| match c.is_null(row) {
                    true => String::new(),
                    false => ArrayFormatter::try_new(c.as_ref(), &plain)
                        .unwrap()
                        .value(row)
                        .to_string(),
                })
                .collect();
            expected.push_str(&cells.join(","));
            expected.push('\n');
        }
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn buffers_written_out_are_reused_and_the_text_stays_the_same() {
        let batches: Vec<_> = (0..12).map(|i| batch(i * 7, 7)).collect();
        for format in [
            TextFormat::Jsonl { nulls: true },
            TextFormat::Csv { raw: false },
        ] {
            let mut texts = Vec::new();
            for threads in [1, 2, 4] {
                let mut sink =
                    TextSink::new(Vec::new(), batches[0].schema(), format, threads).unwrap();
                for b in &batches {
                    sink.write(b.clone()).unwrap();
                }
                let spare = sink.spare.clone();
                let (_, out) = sink.finish().unwrap();
                let kept = spare.0.lock().unwrap();
                // Every buffer made is back, empty, and no more were made than could be
                // in flight at once.
                assert!(!kept.is_empty() && kept.len() <= Spare::KEEP, "{format:?}");
                assert!(kept.iter().all(|b| b.is_empty() && b.capacity() > 0));
                texts.push(out);
            }
            assert!(texts.iter().all(|t| t == &texts[0]), "{format:?}");
        }
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
