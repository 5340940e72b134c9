//! The errors view: one row per damaged region (bytes skipped by recovering framing) and
//! per record that framed but failed validation.

use super::builders::{dictionary, Column, Dict, Prim, Str};
use super::schema;
use super::{reason_dictionary, reason_key};
use crate::error::DecodeError;
use arrow_array::types::{UInt64Type, UInt8Type};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};
use std::sync::OnceLock;

/// `kind` values.
pub const DAMAGE: i32 = 0;
pub const RECORD: i32 = 1;

fn kind_dictionary() -> ArrayRef {
    static D: OnceLock<ArrayRef> = OnceLock::new();
    D.get_or_init(|| dictionary(&["damage", "record"])).clone()
}

pub struct ErrorsBuilder {
    schema: SchemaRef,
    source: Dict,
    offset: Prim<UInt64Type>,
    length: Prim<UInt64Type>,
    kind: Dict,
    reason: Dict,
    message: Str,
    error_offset: Prim<UInt64Type>,
    token_id: Prim<UInt8Type>,
}

impl ErrorsBuilder {
    pub fn new(sources: ArrayRef, schema: SchemaRef) -> Self {
        ErrorsBuilder {
            schema,
            source: Dict::new(sources),
            offset: Prim::new(),
            length: Prim::new(),
            kind: Dict::new(kind_dictionary()),
            reason: Dict::new(reason_dictionary()),
            message: Str::new(),
            error_offset: Prim::new(),
            token_id: Prim::new(),
        }
    }

    pub fn push(&mut self, source: i32, offset: u64, length: u64, kind: i32, e: &DecodeError) {
        self.source.push(source);
        self.offset.push(offset);
        self.length.push(length);
        self.kind.push(kind);
        self.reason.push(reason_key(&e.kind));
        self.message.push(&e.to_string());
        self.error_offset.push(e.offset);
        self.token_id.opt(e.token_id);
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let arrays = vec![
            self.source.finish()?,
            self.offset.finish()?,
            self.length.finish()?,
            self.kind.finish()?,
            self.reason.finish()?,
            self.message.finish()?,
            self.error_offset.finish()?,
            self.token_id.finish()?,
        ];
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}

pub fn errors_schema(sources: &[String]) -> SchemaRef {
    schema::with_metadata(schema::errors_fields(), schema::ViewKind::Errors, sources)
}
