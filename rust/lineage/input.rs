//! The records-view columns lineage reads, checked once per batch, and one row's facts.

use super::EventKinds;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int32Type, Int64Type, TimestampMillisecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, BinaryArray, BooleanArray, GenericListArray, PrimitiveArray, RecordBatch, StringArray,
    StructArray, UInt8Array,
};
use arrow_schema::{ArrowError, DataType};
use std::collections::HashMap;

/// The records-view columns each batch must have (`label` is read when present).
pub const COLUMNS: [&str; 14] = [
    "time",
    "event",
    "auid",
    "sid",
    "euid",
    "ruid",
    "pid",
    "tid_port",
    "tid_addr",
    "success",
    "return_value",
    "exec_args",
    "paths",
    "other_tokens",
];

/// The exit token's id (`au_to_exit`): status, then return value.
const EXIT_TOKEN: u8 = 0x52;

/// Host names (input labels), interned: rows carry an id.
#[derive(Default)]
pub struct Hosts {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Hosts {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        id
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// One record's facts, for a record with a subject.
pub struct Row<'a> {
    pub host: Option<u32>,
    pub time: Option<i64>,
    pub event: Option<u16>,
    pub kind: u8,
    pub auid: Option<u32>,
    pub asid: u32,
    pub euid: u32,
    pub ruid: u32,
    pub pid: u32,
    pub port: u64,
    pub addr: Option<&'a str>,
    pub success: Option<bool>,
    pub ret: Option<i64>,
    /// The exec_args token's strings, when the record has one: read only for the
    /// records that need them (execs), not for every row.
    args: Option<(&'a StringArray, std::ops::Range<usize>)>,
    pub first_path: Option<&'a str>,
    /// The record's other tokens (ids, bodies, this row's range): searched only for the
    /// records that need them (exits).
    other: (&'a UInt8Array, &'a BinaryArray, std::ops::Range<usize>),
}

impl<'a> Row<'a> {
    /// The exec_args token's strings (none without one).
    pub fn args(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.args
            .iter()
            .flat_map(|(values, range)| range.clone().map(|k| values.value(k)))
    }

    /// The command line: the arguments joined by spaces, else the image's path.
    pub fn command(&self) -> Option<String> {
        match &self.args {
            Some((_, range)) if !range.is_empty() => {
                Some(self.args().collect::<Vec<_>>().join(" "))
            }
            _ => self.first_path.map(str::to_string),
        }
    }

    /// The exit token's (status, return value), when the record has one.
    pub fn exit(&self) -> Option<(u32, u32)> {
        let (id, data, range) = &self.other;
        range
            .clone()
            .find(|&k| id.value(k) == EXIT_TOKEN)
            .and_then(|k| {
                let d = data.value(k);
                let be = |at: usize| {
                    d.get(at..at + 4)
                        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                };
                Some((be(1)?, be(5)?))
            })
    }

    /// The call did not fail (a record without a return token counts as done).
    pub fn done(&self) -> bool {
        self.success != Some(false)
    }
}

pub struct Cols<'a> {
    host: Option<(&'a PrimitiveArray<Int32Type>, Vec<u32>)>,
    time: &'a PrimitiveArray<TimestampMillisecondType>,
    event: &'a PrimitiveArray<UInt16Type>,
    auid: &'a PrimitiveArray<UInt32Type>,
    sid: &'a PrimitiveArray<UInt32Type>,
    euid: &'a PrimitiveArray<UInt32Type>,
    ruid: &'a PrimitiveArray<UInt32Type>,
    pid: &'a PrimitiveArray<UInt32Type>,
    port: &'a PrimitiveArray<UInt64Type>,
    addr: &'a StringArray,
    success: &'a BooleanArray,
    ret: &'a PrimitiveArray<Int64Type>,
    exec_args: (&'a GenericListArray<i32>, &'a StringArray),
    paths: (&'a GenericListArray<i32>, &'a StringArray),
    other: (&'a GenericListArray<i32>, &'a UInt8Array, &'a BinaryArray),
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, ArrowError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| ArrowError::SchemaError(format!("lineage: the batch has no {name} column")))
}

fn typed<'a, T: 'static>(
    batch: &'a RecordBatch,
    name: &str,
    want: &DataType,
    cast: impl Fn(&'a dyn Array) -> Option<&'a T>,
) -> Result<&'a T, ArrowError> {
    let c = column(batch, name)?;
    let ok = match want {
        DataType::Timestamp(unit, _) => {
            matches!(c.data_type(), DataType::Timestamp(u, _) if u == unit)
        }
        _ => c.data_type() == want,
    };
    if !ok {
        return Err(ArrowError::SchemaError(format!(
            "lineage: column {name} is {}, not {want}",
            c.data_type()
        )));
    }
    cast(c).ok_or_else(|| ArrowError::SchemaError(format!("lineage: column {name}")))
}

fn text_list<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<(&'a GenericListArray<i32>, &'a StringArray), ArrowError> {
    let c = column(batch, name)?;
    match c.data_type() {
        DataType::List(f) if f.data_type() == &DataType::Utf8 => {
            let l = c.as_list::<i32>();
            Ok((l, l.values().as_string::<i32>()))
        }
        other => Err(ArrowError::SchemaError(format!(
            "lineage: column {name} is {other}, not a list of strings"
        ))),
    }
}

impl<'a> Cols<'a> {
    pub fn of(batch: &'a RecordBatch, hosts: &mut Hosts) -> Result<Self, ArrowError> {
        use DataType as D;
        let host = match batch.column_by_name("label") {
            None => None,
            Some(c) => match c.data_type() {
                D::Dictionary(k, v) if **k == D::Int32 && **v == D::Utf8 => {
                    let d = c.as_dictionary::<Int32Type>();
                    let names = d.values().as_string::<i32>();
                    let ids = (0..names.len()).map(|i| hosts.id(names.value(i))).collect();
                    Some((d.keys(), ids))
                }
                other => {
                    return Err(ArrowError::SchemaError(format!(
                        "lineage: column label is {other}, not a dictionary of strings"
                    )))
                }
            },
        };
        let other = column(batch, "other_tokens")?;
        let other = match other.data_type() {
            D::List(_) => {
                let l = other.as_list::<i32>();
                let s: &StructArray = l.values().as_struct_opt().ok_or_else(|| {
                    ArrowError::SchemaError("lineage: other_tokens is not a list of structs".into())
                })?;
                let id = s
                    .column_by_name("id")
                    .and_then(|c| c.as_primitive_opt::<arrow_array::types::UInt8Type>());
                let data = s
                    .column_by_name("data")
                    .and_then(|c| c.as_binary_opt::<i32>());
                match (id, data) {
                    (Some(id), Some(data)) => (l, id, data),
                    _ => {
                        return Err(ArrowError::SchemaError(
                            "lineage: other_tokens lacks id or data".into(),
                        ))
                    }
                }
            }
            t => {
                return Err(ArrowError::SchemaError(format!(
                    "lineage: column other_tokens is {t}"
                )))
            }
        };
        let ts = D::Timestamp(arrow_schema::TimeUnit::Millisecond, None);
        Ok(Cols {
            host,
            time: typed(batch, "time", &ts, |c| {
                c.as_primitive_opt::<TimestampMillisecondType>()
            })?,
            event: typed(batch, "event", &D::UInt16, |c| c.as_primitive_opt())?,
            auid: typed(batch, "auid", &D::UInt32, |c| c.as_primitive_opt())?,
            sid: typed(batch, "sid", &D::UInt32, |c| c.as_primitive_opt())?,
            euid: typed(batch, "euid", &D::UInt32, |c| c.as_primitive_opt())?,
            ruid: typed(batch, "ruid", &D::UInt32, |c| c.as_primitive_opt())?,
            pid: typed(batch, "pid", &D::UInt32, |c| c.as_primitive_opt())?,
            port: typed(batch, "tid_port", &D::UInt64, |c| c.as_primitive_opt())?,
            addr: typed(batch, "tid_addr", &D::Utf8, |c| c.as_string_opt::<i32>())?,
            success: typed(batch, "success", &D::Boolean, |c| c.as_boolean_opt())?,
            ret: typed(batch, "return_value", &D::Int64, |c| c.as_primitive_opt())?,
            exec_args: text_list(batch, "exec_args")?,
            paths: text_list(batch, "paths")?,
            other,
        })
    }

    /// Row `i`'s facts; None without a subject (the subject's ids are null together,
    /// except `auid`, which is also null when unset).
    pub fn row(&self, i: usize, kinds: &EventKinds) -> Option<Row<'a>> {
        if self.euid.is_null(i) {
            return None;
        }
        let opt = |a: &PrimitiveArray<UInt32Type>| a.is_valid(i).then(|| a.value(i));
        let event = self.event.is_valid(i).then(|| self.event.value(i));
        let (al, av) = self.exec_args;
        let args = al.is_valid(i).then(|| {
            let o = al.value_offsets();
            (av, o[i] as usize..o[i + 1] as usize)
        });
        let (pl, pv) = self.paths;
        let po = pl.value_offsets();
        let first_path = (pl.is_valid(i) && po[i + 1] > po[i]).then(|| pv.value(po[i] as usize));
        let (ol, oid, odata) = self.other;
        let oo = ol.value_offsets();
        Some(Row {
            host: self.host.as_ref().and_then(|(keys, ids)| {
                let k = keys.is_valid(i).then(|| keys.value(i))?;
                ids.get(usize::try_from(k).ok()?).copied()
            }),
            time: self.time.is_valid(i).then(|| self.time.value(i)),
            event,
            kind: kinds.of(event),
            auid: opt(self.auid),
            asid: self.sid.value(i),
            euid: self.euid.value(i),
            ruid: self.ruid.value(i),
            pid: self.pid.value(i),
            port: self.port.value(i),
            addr: self.addr.is_valid(i).then(|| self.addr.value(i)),
            success: self.success.is_valid(i).then(|| self.success.value(i)),
            ret: self.ret.is_valid(i).then(|| self.ret.value(i)),
            args,
            first_path,
            other: (oid, odata, oo[i] as usize..oo[i + 1] as usize),
        })
    }
}
