//! Column builders that never panic on input-driven sizes.
//!
//! arrow-rs's byte builders panic when a batch's string data passes 2 GiB (i32 offsets).
//! These wrappers check first and record an overflow instead; `finish` then returns an
//! error for the batch. Batches are also cut by input bytes (see `parallel.rs`), so only a
//! single record of hundreds of megabytes of escaped text can get there.

use arrow_array::builder::{BinaryBuilder, PrimitiveBuilder, StringBuilder};
use arrow_array::types::{ArrowPrimitiveType, Int32Type};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, DictionaryArray, ListArray, PrimitiveArray, StringArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType};
use std::sync::Arc;

const MAX_OFFSET: usize = i32::MAX as usize;

pub(crate) fn overflow_error(what: &str) -> ArrowError {
    ArrowError::ComputeError(format!(
        "bsmtrail: {what} of one batch exceed 2 GiB (i32 offsets); use a smaller batch_size"
    ))
}

/// Text as bsmtrail writes it into Arrow strings: one trailing NUL (the C terminator)
/// dropped; valid UTF-8 as is; every byte of an invalid sequence as `\xNN` (lower-case hex),
/// exactly Python's `bytes.decode("utf-8", "backslashreplace")`.
pub fn text<'s>(b: &[u8], scratch: &'s mut String) -> &'s str {
    let b = b.strip_suffix(b"\0").unwrap_or(b);
    scratch.clear();
    match std::str::from_utf8(b) {
        Ok(s) => scratch.push_str(s),
        Err(_) => escape_into(b, scratch),
    }
    scratch
}

/// Like [`text`] without dropping a NUL (exec args and other NUL-separated strings).
pub fn escape_into(b: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for &x in chunk.invalid() {
            out.push('\\');
            out.push('x');
            out.push(char::from(HEX[usize::from(x >> 4)]));
            out.push(char::from(HEX[usize::from(x & 15)]));
        }
    }
}

/// A finished child of a list or struct.
pub(crate) trait Column {
    fn finish(&mut self) -> Result<ArrayRef, ArrowError>;
}

/// UTF-8 strings.
pub(crate) struct Str {
    b: StringBuilder,
    overflow: bool,
}

impl Str {
    pub fn new() -> Self {
        Str {
            b: StringBuilder::new(),
            overflow: false,
        }
    }

    pub fn push(&mut self, s: &str) {
        if self.b.values_slice().len().saturating_add(s.len()) > MAX_OFFSET {
            self.overflow = true;
            self.b.append_value("");
        } else {
            self.b.append_value(s);
        }
    }
}

impl Column for Str {
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        if std::mem::take(&mut self.overflow) {
            return Err(overflow_error("strings"));
        }
        Ok(Arc::new(self.b.finish()))
    }
}

/// Binary values.
pub(crate) struct Bin {
    b: BinaryBuilder,
    overflow: bool,
}

impl Bin {
    pub fn new() -> Self {
        Bin {
            b: BinaryBuilder::new(),
            overflow: false,
        }
    }

    pub fn push(&mut self, v: &[u8]) {
        if self.b.values_slice().len().saturating_add(v.len()) > MAX_OFFSET {
            self.overflow = true;
            self.b.append_value(b"");
        } else {
            self.b.append_value(v);
        }
    }
}

impl Column for Bin {
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        if std::mem::take(&mut self.overflow) {
            return Err(overflow_error("binary values"));
        }
        Ok(Arc::new(self.b.finish()))
    }
}

/// Integers (and timestamps).
pub(crate) struct Prim<T: ArrowPrimitiveType> {
    b: PrimitiveBuilder<T>,
    dt: Option<DataType>,
}

impl<T: ArrowPrimitiveType> Prim<T> {
    pub fn new() -> Self {
        Prim {
            b: PrimitiveBuilder::new(),
            dt: None,
        }
    }

    #[inline]
    pub fn push(&mut self, v: T::Native) {
        self.b.append_value(v);
    }

    #[inline]
    pub fn opt(&mut self, v: Option<T::Native>) {
        self.b.append_option(v);
    }
}

impl<T: ArrowPrimitiveType> Column for Prim<T> {
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let a = self.b.finish();
        Ok(match &self.dt {
            Some(dt) => Arc::new(a.with_data_type(dt.clone())),
            None => Arc::new(a),
        })
    }
}

/// Dictionary keys over a fixed dictionary (`dictionary<int32, utf8>`).
pub(crate) struct Dict {
    keys: Prim<Int32Type>,
    values: ArrayRef,
}

impl Dict {
    pub fn new(values: ArrayRef) -> Self {
        Dict {
            keys: Prim::new(),
            values,
        }
    }
    #[inline]
    pub fn push(&mut self, key: i32) {
        self.keys.push(key);
    }
}

impl Column for Dict {
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let keys = self.keys.b.finish();
        Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
            keys,
            self.values.clone(),
        )?))
    }
}

/// A dictionary of the given strings.
pub(crate) fn dictionary(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values.iter()))
}

// -- Lean columns for the records view -------------------------------------------------
//
// The records view pushes about forty values per record, so per-value cost decides its
// speed: plain `Vec` pushes into pre-sized vectors, and one validity bitmap per group of
// columns that are null together (the subject's ten, the return's two), shared by every
// column of the group when the batch closes.

/// A primitive array from its values and validity.
pub(crate) fn prim<T: ArrowPrimitiveType>(
    values: &mut Vec<T::Native>,
    nulls: Option<NullBuffer>,
) -> ArrayRef {
    let v = std::mem::take(values);
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), nulls))
}

/// Dictionary keys over a fixed dictionary.
pub(crate) fn dict_array(
    keys: &mut Vec<i32>,
    nulls: Option<NullBuffer>,
    values: &ArrayRef,
) -> Result<ArrayRef, ArrowError> {
    let keys = PrimitiveArray::<Int32Type>::new(ScalarBuffer::from(std::mem::take(keys)), nulls);
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys,
        values.clone(),
    )?))
}

/// Variable-length values (UTF-8 text or binary): offsets and bytes.
pub(crate) struct Var {
    offsets: Vec<i32>,
    data: Vec<u8>,
    overflow: bool,
}

impl Var {
    pub fn new() -> Self {
        Var {
            offsets: vec![0],
            data: Vec::new(),
            overflow: false,
        }
    }

    /// `n` empty values in zeroed memory (see `records::zeroed`).
    pub fn zeroed(n: usize) -> Self {
        Var {
            offsets: vec![0; n + 1],
            data: Vec::new(),
            overflow: false,
        }
    }

    pub fn with_capacity(items: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(items + 1);
        offsets.push(0);
        Var {
            offsets,
            data: Vec::with_capacity(bytes),
            overflow: false,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    #[inline]
    fn end(&mut self) {
        match i32::try_from(self.data.len()) {
            Ok(n) => self.offsets.push(n),
            Err(_) => {
                self.overflow = true;
                self.data.clear();
                self.offsets.push(0);
            }
        }
    }

    /// A value of raw bytes (binary columns, or text: [`Var::utf8`] checks it).
    #[inline]
    pub fn push(&mut self, v: &[u8]) {
        self.data.extend_from_slice(v);
        self.end();
    }

    /// An empty value (under a null, or really empty).
    #[inline]
    pub fn push_empty(&mut self) {
        self.end();
    }

    /// `n` empty values at once.
    pub fn fill_empty(&mut self, n: usize) {
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.resize(self.offsets.len() + n, last);
    }

    /// Stored bytes as text (see [`text`]), one trailing NUL dropped. The bytes go in as
    /// they are: [`Var::utf8`] checks the whole column in one pass and escapes only when
    /// some value is not UTF-8 (rare), instead of every value being checked on its own
    /// here and the column again by arrow.
    #[inline]
    pub fn push_text(&mut self, b: &[u8]) {
        self.push(b.strip_suffix(b"\0").unwrap_or(b));
    }

    /// A value escaped at once if it is not UTF-8 (the rebuild in [`Var::utf8`]).
    fn push_escaped(&mut self, b: &[u8]) {
        if std::str::from_utf8(b).is_ok() {
            self.data.extend_from_slice(b);
        } else {
            escape_bytes(b, &mut self.data);
        }
        self.end();
    }

    /// An IPv4 address as dotted-quad text.
    #[inline]
    pub fn push_v4(&mut self, a: &[u8; 4]) {
        // Writing to a Vec cannot fail.
        let _ = crate::inet::write_v4(&mut self.data, a);
        self.end();
    }

    /// An address as glibc `inet_ntop` writes it.
    #[inline]
    pub fn push_addr(&mut self, a: &crate::tokens::Addr) {
        // Writing to a Vec cannot fail.
        let _ = crate::inet::write_addr(&mut self.data, a);
        self.end();
    }

    fn parts(&mut self, what: &str) -> Result<(OffsetBuffer<i32>, Buffer), ArrowError> {
        if std::mem::take(&mut self.overflow) {
            return Err(overflow_error(what));
        }
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let data = std::mem::take(&mut self.data);
        Ok((
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(data),
        ))
    }

    /// As a UTF-8 array: each value that is not UTF-8 is written as [`text`] does, with
    /// its invalid bytes as `\xNN` (values never merge, even when one ends inside a
    /// character that the next one completes).
    pub fn utf8(&mut self, nulls: Option<NullBuffer>) -> Result<ArrayRef, ArrowError> {
        let (o, d) = self.parts("strings")?;
        // `try_new` checks the whole buffer and that every offset is a character boundary:
        // exactly "every value is UTF-8".
        if let Ok(a) = StringArray::try_new(o.clone(), d.clone(), nulls.clone()) {
            return Ok(Arc::new(a));
        }
        let mut fixed = Var::with_capacity(o.len() - 1, d.len() + d.len() / 2);
        for w in o.windows(2) {
            let (lo, hi) = (w[0] as usize, w[1] as usize);
            fixed.push_escaped(d.get(lo..hi).unwrap_or(&[]));
        }
        let (o, d) = fixed.parts("strings")?;
        Ok(Arc::new(StringArray::try_new(o, d, nulls)?))
    }

    pub fn binary(&mut self, nulls: Option<NullBuffer>) -> Result<ArrayRef, ArrowError> {
        let (o, d) = self.parts("binary values")?;
        Ok(Arc::new(BinaryArray::try_new(o, d, nulls)?))
    }
}

/// [`escape_into`] for a byte buffer.
pub(crate) fn escape_bytes(b: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in b.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        for &x in chunk.invalid() {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(x >> 4)],
                HEX[usize::from(x & 15)],
            ]);
        }
    }
}

/// List offsets: `close` ends a row with the children pushed since the last close.
pub(crate) struct Offsets {
    v: Vec<i32>,
    overflow: bool,
    /// Children at the last row written (see `close_at`).
    children: usize,
}

impl Offsets {
    pub fn with_capacity(rows: usize) -> Self {
        let mut v = Vec::with_capacity(rows + 1);
        v.push(0);
        Offsets {
            v,
            overflow: false,
            children: 0,
        }
    }

    /// Ends row `row` (0-based, rows in order) with `children` children in all. A row that
    /// added none writes nothing now: it is written with the next row that adds some, or
    /// by `fill_to` (most rows have no socket, process, argument...).
    #[inline]
    pub fn close_at(&mut self, row: usize, children: usize) {
        if children != self.children {
            self.fill_to(row);
            self.close(children);
            self.children = children;
        }
    }

    /// Writes the rows before `rows` that `close_at` left out.
    pub fn fill_to(&mut self, rows: usize) {
        self.fill((rows + 1).saturating_sub(self.v.len()));
    }

    #[inline]
    pub fn close(&mut self, children: usize) {
        match i32::try_from(children) {
            Ok(n) => self.v.push(n),
            Err(_) => {
                self.overflow = true;
                self.v.push(0);
            }
        }
    }

    /// `n` empty rows at once.
    pub fn fill(&mut self, n: usize) {
        let last = self.v.last().copied().unwrap_or(0);
        self.v.resize(self.v.len() + n, last);
    }

    /// A list array over `values`.
    pub fn list(
        &mut self,
        item: Arc<arrow_schema::Field>,
        values: ArrayRef,
        nulls: Option<NullBuffer>,
    ) -> Result<ArrayRef, ArrowError> {
        if std::mem::take(&mut self.overflow) {
            return Err(overflow_error("list elements"));
        }
        let offsets = std::mem::replace(&mut self.v, vec![0]);
        self.children = 0;
        Ok(Arc::new(ListArray::try_new(
            item,
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            nulls,
        )?))
    }
}

/// A boolean array from values.
pub(crate) fn bools(v: &mut Vec<bool>) -> ArrayRef {
    let v = std::mem::take(v);
    Arc::new(BooleanArray::new(BooleanBuffer::from(v), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn text_is_python_backslashreplace() {
        let mut s = String::new();
        assert_eq!(text(b"abc\0", &mut s), "abc");
        assert_eq!(text(b"a\0b\0\0", &mut s), "a\0b\0");
        assert_eq!(text(b"caf\xc3\xa9", &mut s), "café");
        assert_eq!(text(b"a\xffb\xc3", &mut s), "a\\xffb\\xc3");
        assert_eq!(text(b"\xed\xa0\x80x", &mut s), "\\xed\\xa0\\x80x");
        assert_eq!(text(b"", &mut s), "");
    }

    #[test]
    fn list_offsets() {
        let mut v = Var::new();
        let mut o = Offsets::with_capacity(3);
        v.push_text(b"a\0");
        v.push_text(b"b\xff");
        o.close(v.len());
        o.close(v.len());
        v.push_v4(&[10, 0, 200, 1]);
        o.close(v.len());
        let a = o
            .list(
                crate::arrow::schema::item(DataType::Utf8, false),
                v.utf8(None).unwrap(),
                None,
            )
            .unwrap();
        let a = a.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(a.value_offsets(), &[0, 2, 2, 3]);
        let s = a.values().as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(s.value(1), "b\\xff");
        assert_eq!(s.value(2), "10.0.200.1");
    }

    #[test]
    fn invalid_values_are_escaped_one_by_one() {
        let mut v = Var::new();
        v.push_text(b"ok");
        // Together these two would be the valid "\u{e9}"; apart, each is invalid.
        v.push(b"caf\xc3");
        v.push(b"\xa9x");
        v.push_empty();
        v.push_text(b"caf\xc3\xa9\0");
        let a = v.utf8(None).unwrap();
        let s = a.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<&str> = s.iter().map(|x| x.unwrap()).collect();
        assert_eq!(got, ["ok", "caf\\xc3", "\\xa9x", "", "caf\u{e9}"]);
        let mut w = Var::new();
        w.push_text(b"plain");
        let a = w.utf8(None).unwrap();
        assert_eq!(
            a.as_any().downcast_ref::<StringArray>().unwrap().value(0),
            "plain"
        );
    }
}
