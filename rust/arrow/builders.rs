//! Column builders that never panic on input-driven sizes.
//!
//! arrow-rs's byte builders panic when a batch's string data passes 2 GiB (i32 offsets).
//! These wrappers check first and record an overflow instead; `finish` then returns an
//! error for the batch. Batches are also cut by input bytes (see `parallel.rs`), so only a
//! single record of hundreds of megabytes of escaped text can get there.

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, PrimitiveBuilder, StringBuilder,
};
use arrow_array::types::{ArrowPrimitiveType, Int32Type};
use arrow_array::{ArrayRef, DictionaryArray, ListArray, StringArray, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Fields};
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
    fn len(&self) -> usize;
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

    /// Push stored bytes as text (see [`text`]).
    pub fn push_bytes(&mut self, b: &[u8], scratch: &mut String) {
        let b = b.strip_suffix(b"\0").unwrap_or(b);
        match std::str::from_utf8(b) {
            Ok(s) => self.push(s),
            Err(_) => {
                scratch.clear();
                escape_into(b, scratch);
                let s = std::mem::take(scratch);
                self.push(&s);
                *scratch = s;
            }
        }
    }

    pub fn null(&mut self) {
        self.b.append_null();
    }
}

impl Column for Str {
    fn len(&self) -> usize {
        self.b.len()
    }
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
    fn len(&self) -> usize {
        self.b.len()
    }
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

    /// With a specific data type (a timestamp with its time zone).
    pub fn typed(dt: DataType) -> Self {
        Prim {
            b: PrimitiveBuilder::new(),
            dt: Some(dt),
        }
    }

    #[inline]
    pub fn push(&mut self, v: T::Native) {
        self.b.append_value(v);
    }

    #[inline]
    pub fn null(&mut self) {
        self.b.append_null();
    }

    #[inline]
    pub fn opt(&mut self, v: Option<T::Native>) {
        self.b.append_option(v);
    }
}

impl<T: ArrowPrimitiveType> Column for Prim<T> {
    fn len(&self) -> usize {
        self.b.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let a = self.b.finish();
        Ok(match &self.dt {
            Some(dt) => Arc::new(a.with_data_type(dt.clone())),
            None => Arc::new(a),
        })
    }
}

pub(crate) struct Bool(BooleanBuilder);

impl Bool {
    pub fn new() -> Self {
        Bool(BooleanBuilder::new())
    }
    pub fn push(&mut self, v: bool) {
        self.0.append_value(v);
    }
}

impl Column for Bool {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(Arc::new(self.0.finish()))
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
    #[inline]
    pub fn null(&mut self) {
        self.keys.null();
    }
}

impl Column for Dict {
    fn len(&self) -> usize {
        self.keys.len()
    }
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

/// Offsets and validity of a list column; the caller pushes children, then closes the row.
pub(crate) struct ListCol<C: Column> {
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
    pub child: C,
    item: Arc<arrow_schema::Field>,
    overflow: bool,
}

impl<C: Column> ListCol<C> {
    pub fn new(child: C, item: Arc<arrow_schema::Field>) -> Self {
        ListCol {
            offsets: vec![0],
            nulls: NullBufferBuilder::new(0),
            child,
            item,
            overflow: false,
        }
    }

    /// End the current row: its elements are the children pushed since the last close.
    #[inline]
    pub fn close(&mut self, valid: bool) {
        match i32::try_from(self.child.len()) {
            Ok(n) => self.offsets.push(n),
            Err(_) => {
                self.overflow = true;
                let last = self.offsets.last().copied().unwrap_or(0);
                self.offsets.push(last);
            }
        }
        self.nulls.append(valid);
    }
}

impl<C: Column> Column for ListCol<C> {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }
    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        if std::mem::take(&mut self.overflow) {
            return Err(overflow_error("list elements"));
        }
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let values = self.child.finish()?;
        let a = ListArray::try_new(
            self.item.clone(),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            self.nulls.finish(),
        )?;
        Ok(Arc::new(a))
    }
}

/// A struct whose children are pushed in step (one value each per element).
pub(crate) fn finish_struct(
    fields: Fields,
    children: Vec<&mut dyn Column>,
    nulls: Option<arrow_buffer::NullBuffer>,
) -> Result<ArrayRef, ArrowError> {
    let arrays = children
        .into_iter()
        .map(|c| c.finish())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(StructArray::try_new(fields, arrays, nulls)?))
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
        let mut l = ListCol::new(
            Str::new(),
            crate::arrow::schema::item(DataType::Utf8, false),
        );
        l.child.push("a");
        l.child.push("b");
        l.close(true);
        l.close(false);
        l.child.push("c");
        l.close(true);
        let a = l.finish().unwrap();
        let a = a.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.value_offsets(), &[0, 2, 2, 3]);
        assert!(a.is_null(1));
    }
}
