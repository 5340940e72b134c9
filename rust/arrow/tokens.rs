//! The tokens view: one row per token, lossless.
//!
//! Each row carries the token's exact bytes (`raw`) and its decoded fields as a JSON object
//! (`fields`) with the field names of the Python token dicts (both written by
//! `tokens::fields::visit`).
//! One text column keeps the schema fixed for 48 token types (typed sparse columns would
//! need a hundred mostly-null columns); DuckDB (`json_extract`), polars
//! (`str.json_decode`) and pandas (`json.loads`) all read it, and `raw` is the ground
//! truth. In JSON, text follows the Arrow string rule (invalid UTF-8 as `\xNN`, which JSON
//! shows as `\\xNN`) and binary values (opaque, arbitrary data, cdhash) are lower-case hex.

use super::builders::{dictionary, Bin, Column, Dict, Prim, Str};
use super::schema;
use super::walk::walk;
use crate::error::DecodeError;
use crate::inet;
use crate::tokens::fields::{self, FieldSink};
use crate::tokens::{canonical_name, ids, Addr, StrList, Tok};
use arrow_array::types::{UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// Key of the `type` dictionary for token id `id`.
fn type_key(id: u8) -> i32 {
    static KEYS: OnceLock<[i32; 256]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut k = [ids::DECODED.len() as i32; 256];
        for (i, &d) in ids::DECODED.iter().enumerate() {
            k[usize::from(d)] = i as i32;
        }
        k
    });
    keys[usize::from(id)]
}

/// Key of the `invalid` type (a record's undecodable rest).
const INVALID_KEY: i32 = ids::DECODED.len() as i32 + 1;

fn type_dictionary() -> ArrayRef {
    static D: OnceLock<ArrayRef> = OnceLock::new();
    D.get_or_init(|| {
        let mut names: Vec<&str> = ids::DECODED.iter().map(|&i| canonical_name(i)).collect();
        names.push("unknown");
        names.push("invalid");
        dictionary(&names)
    })
    .clone()
}

/// A JSON object written field by field.
pub(crate) struct Json<'s> {
    out: &'s mut String,
    first: bool,
}

impl<'s> Json<'s> {
    pub fn new(out: &'s mut String) -> Self {
        out.clear();
        out.push('{');
        Json { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }

    pub fn num(&mut self, k: &str, v: impl itoa::Integer) {
        self.key(k);
        self.out.push_str(itoa::Buffer::new().format(v));
    }

    pub fn boolean(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
    }

    pub fn null(&mut self, k: &str) {
        self.key(k);
        self.out.push_str("null");
    }

    /// A JSON string of `s` (already text).
    pub fn string(&mut self, k: &str, s: &str) {
        self.key(k);
        quote(self.out, s);
    }

    /// Stored bytes as text (one trailing NUL dropped; invalid UTF-8 as `\xNN`).
    pub fn text(&mut self, k: &str, b: &[u8], scratch: &mut String) {
        let s = super::builders::text(b, scratch);
        self.key(k);
        quote(self.out, s);
    }

    pub fn hex(&mut self, k: &str, b: &[u8]) {
        self.key(k);
        self.out.push('"');
        for x in b {
            let _ = write!(self.out, "{x:02x}");
        }
        self.out.push('"');
    }

    pub fn addr(&mut self, k: &str, a: &Addr, buf: &mut Vec<u8>) {
        buf.clear();
        let _ = inet::write_addr(buf, a);
        self.key(k);
        self.out.push('"');
        self.out
            .push_str(std::str::from_utf8(buf).unwrap_or("invalid"));
        self.out.push('"');
    }

    pub fn list(&mut self, k: &str, l: &StrList<'_>, scratch: &mut String) {
        self.key(k);
        self.out.push('[');
        for (i, s) in l.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let s = super::builders::text(s, scratch);
            quote(self.out, s);
        }
        self.out.push(']');
    }

    pub fn nums(&mut self, k: &str, v: impl Iterator<Item = u64>) {
        self.key(k);
        self.out.push('[');
        for (i, x) in v.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(itoa::Buffer::new().format(x));
        }
        self.out.push(']');
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(esc);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The JSON of one token's fields, with the scratch space its values need.
struct JsonSink<'j, 's> {
    j: Json<'s>,
    scratch: &'j mut String,
    buf: &'j mut Vec<u8>,
}

impl FieldSink for JsonSink<'_, '_> {
    fn num(&mut self, key: &'static str, v: u64) {
        self.j.num(key, v);
    }
    fn boolean(&mut self, key: &'static str, v: bool) {
        self.j.boolean(key, v);
    }
    fn null(&mut self, key: &'static str) {
        self.j.null(key);
    }
    fn text(&mut self, key: &'static str, b: &[u8]) {
        self.j.text(key, b, self.scratch);
    }
    fn string(&mut self, key: &'static str, s: &str) {
        self.j.string(key, s);
    }
    fn bytes(&mut self, key: &'static str, b: &[u8]) {
        self.j.hex(key, b);
    }
    fn addr(&mut self, key: &'static str, a: &Addr) {
        self.j.addr(key, a, self.buf);
    }
    fn texts(&mut self, key: &'static str, l: &StrList<'_>) {
        self.j.list(key, l, self.scratch);
    }
    fn nums(&mut self, key: &'static str, v: &mut dyn Iterator<Item = u64>) {
        self.j.nums(key, v);
    }
}

/// The token's fields as a JSON object (the names of the Python token dicts: both come
/// from `tokens::fields::visit`).
pub fn fields_json(t: &Tok<'_>, out: &mut String, scratch: &mut String, buf: &mut Vec<u8>) {
    let mut sink = JsonSink {
        j: Json::new(out),
        scratch,
        buf,
    };
    fields::visit(&t.token, &mut sink);
    sink.j.end();
}

/// Builds batches of the tokens view.
pub struct TokensBuilder {
    schema: SchemaRef,
    source: Dict,
    record_index: Prim<UInt64Type>,
    record_offset: Prim<UInt64Type>,
    token_index: Prim<UInt32Type>,
    offset: Prim<UInt64Type>,
    id: Prim<UInt8Type>,
    ty: Dict,
    length: Prim<UInt32Type>,
    fields: Str,
    raw: Bin,
    json: String,
    scratch: String,
    buf: Vec<u8>,
}

impl TokensBuilder {
    pub fn new(sources: ArrayRef, schema: SchemaRef) -> Self {
        TokensBuilder {
            schema,
            source: Dict::new(sources),
            record_index: Prim::new(),
            record_offset: Prim::new(),
            token_index: Prim::new(),
            offset: Prim::new(),
            id: Prim::new(),
            ty: Dict::new(type_dictionary()),
            length: Prim::new(),
            fields: Str::new(),
            raw: Bin::new(),
            json: String::new(),
            scratch: String::new(),
            buf: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        source: i32,
        record_index: Option<u64>,
        record_offset: u64,
        index: u32,
        offset: u64,
        id: u8,
        key: i32,
        raw: &[u8],
    ) {
        self.source.push(source);
        self.record_index.opt(record_index);
        self.record_offset.push(record_offset);
        self.token_index.push(index);
        self.offset.push(offset);
        self.id.push(id);
        self.ty.push(key);
        self.length
            .push(u32::try_from(raw.len()).unwrap_or(u32::MAX));
        self.fields.push(&self.json);
        self.raw.push(raw);
    }

    /// Every token of the record `rec` at `offset`; a failing record ends with one
    /// `invalid` row holding its undecoded rest. Returns the validation error.
    pub fn append_record(
        &mut self,
        rec: &[u8],
        offset: u64,
        source: i32,
        record_index: u64,
    ) -> Option<DecodeError> {
        let mut index = 0u32;
        let w = walk(rec, |t| {
            fields_json(t, &mut self.json, &mut self.scratch, &mut self.buf);
            let raw = rec.get(t.offset..t.offset + t.len).unwrap_or(&[]);
            self.row(
                source,
                Some(record_index),
                offset,
                index,
                offset + t.offset as u64,
                t.id,
                type_key(t.id),
                raw,
            );
            index = index.saturating_add(1);
        });
        let fault = w.error?;
        let error = fault.at(offset);
        let rest = rec.get(w.end..).unwrap_or(&[]);
        if let Some(&id) = rest.first() {
            let mut j = Json::new(&mut self.json);
            j.string("error", error.kind.code());
            j.string("message", &error.to_string());
            j.end();
            self.row(
                source,
                Some(record_index),
                offset,
                index,
                offset + w.end as u64,
                id,
                INVALID_KEY,
                rest,
            );
        }
        Some(error)
    }

    /// A standalone file token between records (no record: `record_index` is null).
    pub fn append_file(&mut self, tok: Option<Tok<'_>>, bytes: &[u8], offset: u64, source: i32) {
        match tok {
            Some(t) => fields_json(&t, &mut self.json, &mut self.scratch, &mut self.buf),
            None => Json::new(&mut self.json).end(),
        }
        self.row(
            source,
            None,
            offset,
            0,
            offset,
            ids::OTHER_FILE32,
            type_key(ids::OTHER_FILE32),
            bytes,
        );
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let arrays = vec![
            self.source.finish()?,
            self.record_index.finish()?,
            self.record_offset.finish()?,
            self.token_index.finish()?,
            self.offset.finish()?,
            self.id.finish()?,
            self.ty.finish()?,
            self.length.finish()?,
            self.fields.finish()?,
            self.raw.finish()?,
        ];
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}

pub fn tokens_schema(sources: &[String]) -> SchemaRef {
    schema::with_metadata(schema::tokens_fields(), schema::ViewKind::Tokens, sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{decode, DecodeOptions};

    fn json_of(bytes: &[u8]) -> String {
        let t = decode(bytes, 0, DecodeOptions::FULL).unwrap();
        let (mut out, mut s, mut b) = (String::new(), String::new(), Vec::new());
        fields_json(&t, &mut out, &mut s, &mut b);
        out
    }

    #[test]
    fn json_fields() {
        assert_eq!(
            json_of(&[0x28, 0, 6, b'a', b'"', b'\n', 0xff, b'\\', 0]),
            r#"{"text":"a\"\n\\xff\\"}"#
        );
        assert_eq!(
            json_of(&[0x2e, 0, 2, 0, 80, 192, 168, 1, 2, 0x01, 0xbb, 8, 8, 8, 8]),
            r#"{"sock_type":2,"lport":80,"laddr":"192.168.1.2","rport":443,"raddr":"8.8.8.8"}"#
        );
        assert_eq!(json_of(&[0x29, 0, 2, 0xab, 0x01]), r#"{"data":"ab01"}"#);
        assert_eq!(
            json_of(&[0x3c, 0, 0, 0, 2, b'l', b's', 0, 1, 0]),
            r#"{"args":["ls","\u0001"]}"#
        );
        assert_eq!(
            json_of(&[0x21, 2, 1, 2, 1, 0, 0, 1]),
            r#"{"print_format":2,"unit":1,"count":2,"data":"01000001","values":[1,256]}"#
        );
    }

    #[test]
    fn type_keys() {
        let d = type_dictionary();
        let d = d
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(d.value(type_key(0x14) as usize), "header32");
        assert_eq!(d.value(type_key(0x00) as usize), "unknown");
        assert_eq!(d.value(INVALID_KEY as usize), "invalid");
    }
}
