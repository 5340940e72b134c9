//! Records-view batches as OCSF events (`docs/ocsf.md`): one event per record, built in one
//! pass over the batch's rows, and the events of a batch split by class and UTC day for the
//! Security Lake layout.
//!
//! What an event number means (its class, activity and name, and whether it forks, spawns,
//! kills, connects or renames) is data handed over once by the Python layer (`Tables`),
//! which reads the mapping table and the event database; this module decides only how a
//! record's columns become the event's attributes. The events' schema depends on the
//! records' columns only: the input label adds `device.hostname`, the evidence's names add
//! the users' `name`.

use crate::render::time::civil_from_days;
use arrow_array::builder::{ArrayBuilder, BooleanBuilder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int32Type, Int64Type, TimestampMillisecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, GenericListArray, Int32Array, Int64Array,
    ListArray, RecordBatch, StringArray, StructArray, UInt32Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Schema};
use std::cell::OnceCell;
use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, ahash::RandomState>;
use std::sync::Arc;

/// An event's roles (bit flags of `Tables::roles`, by event number).
pub mod role {
    /// Makes a process by forking: the child's pid is the call's return value.
    pub const FORK: u8 = 1;
    /// Makes a process by spawning one (posix_spawn): the same.
    pub const SPAWN: u8 = 2;
    /// Acts on the process of its process token.
    pub const KILL: u8 = 4;
    /// Its sockinet token is the peer's address (connect), not the local end.
    pub const TO_PEER: u8 = 8;
    /// Its second path is the new name (rename, link, symlink).
    pub const RENAME: u8 = 16;
    /// The roles by the names the Python layer gives them.
    pub const NAMES: [(&str, u8); 5] = [
        ("fork", FORK),
        ("spawn", SPAWN),
        ("kill", KILL),
        ("to_peer", TO_PEER),
        ("rename", RENAME),
    ];
}

/// An OCSF class as the mapping knows it.
#[derive(Clone, Debug)]
pub struct Class {
    pub uid: i32,
    pub name: String,
    pub category_uid: i32,
    pub category_name: String,
    /// (activity_id, its name).
    pub activities: Vec<(i32, String)>,
    /// The attributes only this class's events carry (`file`, `process`, ...).
    pub attributes: Vec<String>,
}

/// What each event number means, handed over once.
#[derive(Debug)]
pub struct Tables {
    /// By event number (65,536 entries each).
    class: Vec<i32>,
    activity: Vec<i32>,
    roles: Vec<u8>,
    names: Vec<Option<Box<str>>>,
    classes: Vec<Class>,
    /// The OCSF release followed (`metadata.version`).
    version: String,
}

const EVENTS: usize = 1 << 16;

impl Tables {
    /// `class` and `activity`: each event number's class_uid and activity_id (65,536
    /// each); `names`: the event database's names; `roles`: role bits and their events;
    /// `classes`: every class `class` names.
    pub fn new(
        class: Vec<i32>,
        activity: Vec<i32>,
        names: Vec<(u16, String)>,
        roles: Vec<(u8, Vec<u16>)>,
        classes: Vec<Class>,
        version: String,
    ) -> Result<Tables, String> {
        if class.len() != EVENTS || activity.len() != EVENTS {
            return Err(format!(
                "class and activity tables need {EVENTS} entries, not {} and {}",
                class.len(),
                activity.len()
            ));
        }
        if let Some(c) = class.iter().find(|c| !classes.iter().any(|k| k.uid == **c)) {
            return Err(format!("class {c} is mapped but not described"));
        }
        let mut by_number = vec![None; EVENTS];
        for (n, name) in names {
            by_number[n as usize] = Some(name.into_boxed_str());
        }
        let mut bits = vec![0u8; EVENTS];
        for (bit, numbers) in roles {
            for n in numbers {
                bits[n as usize] |= bit;
            }
        }
        Ok(Tables {
            class,
            activity,
            roles: bits,
            names: by_number,
            classes,
            version,
        })
    }

    fn class_index(&self, uid: i32) -> Option<usize> {
        self.classes.iter().position(|c| c.uid == uid)
    }

    /// The described class `uid` (an error for a class the tables do not describe).
    fn described(&self, uid: i32) -> Result<&Class, ArrowError> {
        self.class_index(uid)
            .map(|k| &self.classes[k])
            .ok_or_else(|| ArrowError::InvalidArgumentError(format!("no class {uid}")))
    }
}

// -- reading the records' columns ---------------------------------------------------------

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("the records have no {name:?} column")))
}

fn typed<'a, T: arrow_array::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a arrow_array::PrimitiveArray<T>, ArrowError> {
    column(batch, name)?
        .as_primitive_opt::<T>()
        .ok_or_else(|| ArrowError::SchemaError(format!("column {name:?} is not {}", T::DATA_TYPE)))
}

/// A text column, plain or dictionary-encoded: each row's `&str`.
enum Text<'a> {
    Plain(&'a StringArray),
    Dict(&'a DictionaryArray<Int32Type>, &'a StringArray),
}

impl<'a> Text<'a> {
    fn of(array: &'a dyn Array, what: &str) -> Result<Text<'a>, ArrowError> {
        if let Some(s) = array.as_string_opt::<i32>() {
            return Ok(Text::Plain(s));
        }
        if let Some(d) = array.as_dictionary_opt::<Int32Type>() {
            if let Some(values) = d.values().as_string_opt::<i32>() {
                return Ok(Text::Dict(d, values));
            }
        }
        Err(ArrowError::SchemaError(format!(
            "column {what:?} is not text but {}",
            array.data_type()
        )))
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Text::Plain(s) => s.is_valid(i).then(|| s.value(i)),
            Text::Dict(d, values) => {
                let key = d.keys();
                // A key past the values (a batch handed in from Python) reads as null.
                let k = key.is_valid(i).then(|| key.value(i) as usize)?;
                (k < values.len()).then(|| values.value(k))
            }
        }
    }
}

/// A list column's rows as ranges of its values.
struct Lists<'a> {
    list: &'a ListArray,
}

impl<'a> Lists<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Result<Lists<'a>, ArrowError> {
        let list = column(batch, name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| ArrowError::SchemaError(format!("column {name:?} is not a list")))?;
        Ok(Lists { list })
    }

    /// Row `i`'s element `k`'s index in the values (None: a null or shorter list).
    fn nth(&self, i: usize, k: usize) -> Option<usize> {
        if self.list.is_null(i) {
            return None;
        }
        let offsets = self.list.value_offsets();
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        (start + k < end).then_some(start + k)
    }

    fn range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        if self.list.is_null(i) {
            return None;
        }
        let offsets = self.list.value_offsets();
        Some(offsets[i] as usize..offsets[i + 1] as usize)
    }

    fn strings(&self, name: &str) -> Result<&'a StringArray, ArrowError> {
        self.list
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| ArrowError::SchemaError(format!("{name:?} does not hold text")))
    }

    fn structs(&self, name: &str) -> Result<&'a StructArray, ArrowError> {
        self.list
            .values()
            .as_struct_opt()
            .ok_or_else(|| ArrowError::SchemaError(format!("{name:?} does not hold structs")))
    }
}

fn member<'a>(s: &'a StructArray, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    s.column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("no struct member {name:?}")))
}

fn member_u32<'a>(s: &'a StructArray, name: &str) -> Result<&'a UInt32Array, ArrowError> {
    member(s, name)?
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| ArrowError::SchemaError(format!("struct member {name:?} is not uint32")))
}

fn member_u16<'a>(
    s: &'a StructArray,
    name: &str,
) -> Result<&'a arrow_array::UInt16Array, ArrowError> {
    member(s, name)?
        .as_primitive_opt::<UInt16Type>()
        .ok_or_else(|| ArrowError::SchemaError(format!("struct member {name:?} is not uint16")))
}

/// A struct member's row `i`, null where the member or the struct is.
fn valid_at(s: &StructArray, child: &dyn Array, i: usize) -> bool {
    s.is_valid(i) && child.is_valid(i)
}

// -- building the events' columns -----------------------------------------------------------

/// Whether each row of a struct is present.
enum Valid {
    /// On every row (the event's own objects).
    Always,
    /// Where any member is.
    Any,
    /// Where the mask is true.
    Mask(Vec<bool>),
}

/// A struct's members, in order; a member given None is left out (as OCSF leaves out an
/// attribute it has no value for).
#[derive(Default)]
struct Object {
    fields: Vec<FieldRef>,
    arrays: Vec<ArrayRef>,
}

impl Object {
    fn with(mut self, name: &str, array: ArrayRef) -> Self {
        self.fields
            .push(Arc::new(Field::new(name, array.data_type().clone(), true)));
        self.arrays.push(array);
        self
    }

    fn maybe(self, name: &str, array: Option<ArrayRef>) -> Self {
        match array {
            Some(a) => self.with(name, a),
            None => self,
        }
    }

    fn build(self, valid: Valid) -> Result<ArrayRef, ArrowError> {
        let nulls = match valid {
            Valid::Always => None,
            Valid::Mask(mask) => Some(NullBuffer::from(mask)),
            Valid::Any => {
                let mut union: Option<NullBuffer> = None;
                let mut always = false;
                for a in &self.arrays {
                    match a.logical_nulls() {
                        None => always = true,
                        Some(n) => {
                            union = Some(match union {
                                None => n,
                                Some(u) => NullBuffer::new(u.inner() | n.inner()),
                            })
                        }
                    }
                }
                if always {
                    None
                } else {
                    union
                }
            }
        };
        let nulls = nulls.filter(|n| n.null_count() > 0);
        Ok(Arc::new(StructArray::try_new(
            self.fields.into(),
            self.arrays,
            nulls,
        )?))
    }
}

/// Text dictionary-encoded over `values` (a key out of range is an error).
fn dictionary(keys: Int32Array, values: &[&str]) -> Result<ArrayRef, ArrowError> {
    let values: ArrayRef = Arc::new(StringArray::from_iter_values(values));
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys, values,
    )?))
}

/// `value` on every row: a one-word dictionary.
fn constant(n: usize, value: &str) -> Result<ArrayRef, ArrowError> {
    dictionary(Int32Array::from(vec![0; n]), &[value])
}

fn ints(n: usize, value: i32) -> ArrayRef {
    Arc::new(Int32Array::from(vec![value; n]))
}

/// Ids as text, each distinct id formatted once (a dictionary in order of appearance).
fn id_text(ids: &UInt32Array) -> Result<ArrayRef, ArrowError> {
    let mut seen: Map<u32, i32> = Map::default();
    let mut values = StringBuilder::new();
    let mut buf = itoa::Buffer::new();
    let keys: Int32Array = ids
        .iter()
        .map(|id| {
            id.map(|id| {
                *seen.entry(id).or_insert_with(|| {
                    values.append_value(buf.format(id));
                    (values.len() - 1) as i32
                })
            })
        })
        .collect();
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys,
        Arc::new(values.finish()),
    )?))
}

/// Numbers as decimal text (null stays null).
fn decimal<T>(values: impl Iterator<Item = Option<T>>, n: usize) -> ArrayRef
where
    T: itoa::Integer,
{
    let mut out = StringBuilder::with_capacity(n, n * 6);
    let mut buf = itoa::Buffer::new();
    for v in values {
        match v {
            Some(v) => out.append_value(buf.format(v)),
            None => out.append_null(),
        }
    }
    Arc::new(out.finish())
}

/// A text column decoded to plain text.
fn plain(text: &Text<'_>, n: usize) -> ArrayRef {
    match text {
        Text::Plain(s) => Arc::new((*s).clone()),
        _ => Arc::new((0..n).map(|i| text.get(i)).collect::<StringArray>()),
    }
}

/// The part of a path after its last `/` (the whole path without one).
fn basename(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// `lists` with a null in place of each empty list.
fn non_empty(lists: &ListArray) -> Result<ArrayRef, ArrowError> {
    let offsets = lists.value_offsets();
    let keep: Vec<bool> = (0..lists.len())
        .map(|i| lists.is_valid(i) && offsets[i + 1] > offsets[i])
        .collect();
    let (field, offsets, values, _) = lists.clone().into_parts();
    Ok(Arc::new(GenericListArray::try_new(
        field,
        offsets,
        values,
        Some(NullBuffer::from(keep)).filter(|n| n.null_count() > 0),
    )?))
}

/// File type (the attr token mode's S_IFMT bits) -> OCSF's file type_id; anything else 0.
const FILE_TYPES: [(u32, i32); 7] = [
    (0o100000, 1),
    (0o040000, 2),
    (0o020000, 3),
    (0o060000, 4),
    (0o140000, 5),
    (0o010000, 6),
    (0o120000, 7),
];
const FILE_TYPE_NAMES: [&str; 8] = [
    "Unknown",
    "Regular File",
    "Folder",
    "Character Device",
    "Block Device",
    "Local Socket",
    "Named Pipe",
    "Symbolic Link",
];
/// Terminal addresses that are not another machine.
const LOCAL: [&str; 4] = ["0.0.0.0", "::", "127.0.0.1", "::1"];
const DAY_MS: i64 = 86_400_000;

/// The columns every event has, then the class-only ones, in the events' order.
const SHARED_BEFORE: usize = 18; // class_uid .. actor

/// One records-view batch as OCSF events, row for row; with `only_class`, only the
/// columns that class's events carry.
pub fn events(
    batch: &RecordBatch,
    tables: &Tables,
    only_class: Option<i32>,
) -> Result<RecordBatch, ArrowError> {
    let wanted: Option<&[String]> = match only_class {
        None => None,
        Some(c) => Some(&tables.described(c)?.attributes),
    };
    let wants = |name: &str| wanted.map_or(true, |w| w.iter().any(|a| a == name));
    let builder = Builder::new(batch, tables)?;
    // The facts do without process and socket tokens; an event would say there were none.
    column(batch, "processes")?;
    column(batch, "sockets")?;
    builder.build(&wants)
}

/// A batch's records, read once, and what is derived from them row by row.
struct Builder<'a> {
    tables: &'a Tables,
    batch: &'a RecordBatch,
    n: usize,
    /// Each row's event number (None: no number), class_uid and activity_id.
    numbers: Vec<Option<u16>>,
    class: Vec<i32>,
    activity: Vec<i32>,
    auid: &'a UInt32Array,
    euid: &'a UInt32Array,
    pid: &'a UInt32Array,
    paths: Lists<'a>,
    path_values: &'a StringArray,
    /// Whether the subject's terminal is another machine (None: no address).
    remote: Vec<Option<bool>>,
    /// The evidence's names of the audit and effective users (when given).
    auid_name: Option<ArrayRef>,
    euid_name: Option<ArrayRef>,
    euid_text: OnceCell<ArrayRef>,
    /// The columns the shared facts read.
    src: Sources<'a>,
}

/// The records' columns the per-row facts read (`Builder::child_pid` and the others),
/// typed once. The process and socket tokens are optional for the facts (a batch without
/// them has no kill targets and no socket ends); the events need them.
struct Sources<'a> {
    exec_args: Lists<'a>,
    arg_values: &'a StringArray,
    ret: &'a Int64Array,
    processes: Option<Processes<'a>>,
    sockets: Option<Sockets<'a>>,
}

struct Processes<'a> {
    lists: Lists<'a>,
    procs: &'a StructArray,
    pid: &'a UInt32Array,
}

struct Sockets<'a> {
    lists: Lists<'a>,
    sock: &'a StructArray,
    kind: Text<'a>,
    laddr: Text<'a>,
    raddr: Text<'a>,
    lport: &'a arrow_array::UInt16Array,
    rport: &'a arrow_array::UInt16Array,
}

impl<'a> Sources<'a> {
    fn new(batch: &'a RecordBatch) -> Result<Sources<'a>, ArrowError> {
        let exec_args = Lists::of(batch, "exec_args")?;
        let processes = match batch.column_by_name("processes") {
            None => None,
            Some(_) => {
                let lists = Lists::of(batch, "processes")?;
                let procs = lists.structs("processes")?;
                Some(Processes {
                    pid: member_u32(procs, "pid")?,
                    procs,
                    lists,
                })
            }
        };
        let sockets = match batch.column_by_name("sockets") {
            None => None,
            Some(_) => {
                let lists = Lists::of(batch, "sockets")?;
                let sock = lists.structs("sockets")?;
                Some(Sockets {
                    kind: Text::of(member(sock, "kind")?.as_ref(), "sockets.kind")?,
                    laddr: Text::of(member(sock, "laddr")?.as_ref(), "sockets.laddr")?,
                    raddr: Text::of(member(sock, "raddr")?.as_ref(), "sockets.raddr")?,
                    lport: member_u16(sock, "lport")?,
                    rport: member_u16(sock, "rport")?,
                    sock,
                    lists,
                })
            }
        };
        Ok(Sources {
            arg_values: exec_args.strings("exec_args")?,
            exec_args,
            ret: typed::<Int64Type>(batch, "return_value")?,
            processes,
            sockets,
        })
    }
}

/// The first socket token's ends: (source ip, source port, destination ip, destination
/// port).
type Ends<'a> = (Option<&'a str>, Option<i32>, Option<&'a str>, Option<i32>);

impl<'a> Builder<'a> {
    fn new(batch: &'a RecordBatch, tables: &'a Tables) -> Result<Builder<'a>, ArrowError> {
        let n = batch.num_rows();
        let event = typed::<UInt16Type>(batch, "event")?;
        let numbers: Vec<Option<u16>> = event.iter().collect();
        let class = numbers
            .iter()
            .map(|e| tables.class[e.unwrap_or(0) as usize])
            .collect();
        let activity = numbers
            .iter()
            .map(|e| tables.activity[e.unwrap_or(0) as usize])
            .collect();
        let tid_addr = Text::of(column(batch, "tid_addr")?.as_ref(), "tid_addr")?;
        let remote = (0..n)
            .map(|i| tid_addr.get(i).map(|a| !LOCAL.contains(&a)))
            .collect();
        let paths = Lists::of(batch, "paths")?;
        let names = |col: &str| -> Result<Option<ArrayRef>, ArrowError> {
            match batch.column_by_name(col) {
                None => Ok(None),
                Some(c) => Ok(Some(plain(&Text::of(c.as_ref(), col)?, n))),
            }
        };
        Ok(Builder {
            tables,
            batch,
            n,
            class,
            activity,
            auid: typed::<UInt32Type>(batch, "auid")?,
            euid: typed::<UInt32Type>(batch, "euid")?,
            pid: typed::<UInt32Type>(batch, "pid")?,
            path_values: paths.strings("paths")?,
            paths,
            remote,
            auid_name: names("auid_name")?,
            euid_name: names("euid_name")?,
            euid_text: OnceCell::new(),
            src: Sources::new(batch)?,
            numbers,
        })
    }

    fn roles(&self, i: usize) -> u8 {
        self.numbers[i].map_or(0, |e| self.tables.roles[e as usize])
    }

    fn is(&self, i: usize, role: u8) -> bool {
        self.roles(i) & role != 0
    }

    fn mask(&self, f: impl Fn(usize) -> bool) -> Vec<bool> {
        (0..self.n).map(f).collect()
    }

    fn path(&self, i: usize, k: usize) -> Option<&'a str> {
        self.paths.nth(i, k).map(|j| self.path_values.value(j))
    }

    // -- the facts every event shape derives alike (`facts`) -----------------------------

    /// Fork-like and posix_spawn records: they make a process.
    fn makes_process(&self, i: usize) -> bool {
        self.is(i, role::FORK | role::SPAWN)
    }

    /// The pid a fork or posix_spawn made: its return value, when positive.
    fn child_pid(&self, i: usize) -> Option<i64> {
        let ret = self.src.ret;
        (self.makes_process(i) && ret.is_valid(i) && ret.value(i) > 0).then(|| ret.value(i))
    }

    /// A kill's target: its first process token's pid.
    fn target_pid(&self, i: usize) -> Option<i64> {
        let p = self.src.processes.as_ref()?;
        if !self.is(i, role::KILL) {
            return None;
        }
        p.lists
            .nth(i, 0)
            .filter(|&j| valid_at(p.procs, p.pid, j))
            .map(|j| i64::from(p.pid.value(j)))
    }

    /// Records that load an image: exec args present, not a fork or a kill.
    fn execs(&self, i: usize) -> bool {
        self.src.exec_args.list.is_valid(i) && !self.is(i, role::FORK | role::KILL)
    }

    /// The exec args joined by spaces into `line` (false: the record has none).
    fn command_line(&self, i: usize, line: &mut String) -> bool {
        let Some(r) = self.src.exec_args.range(i) else {
            return false;
        };
        line.clear();
        for (k, j) in r.enumerate() {
            if k > 0 {
                line.push(' ');
            }
            line.push_str(self.src.arg_values.value(j));
        }
        true
    }

    /// The first socket token's ends. A `socket_ex` token has both sides (local: the
    /// source); a `sockinet` token has the call's address: the peer of a connect (the
    /// destination), else the local end of a bind or listen, or the peer an accept took
    /// (the source). A port only with its address.
    fn ends(&self, i: usize) -> Ends<'a> {
        let Some(s) = self.src.sockets.as_ref() else {
            return (None, None, None, None);
        };
        let Some(j) = s.lists.nth(i, 0).filter(|&j| s.sock.is_valid(j)) else {
            return (None, None, None, None);
        };
        let kind = s.kind.get(j).unwrap_or("");
        let both = kind == "socket_ex";
        let inet = kind.starts_with("sockinet");
        let to_peer = self.is(i, role::TO_PEER);
        let port = |p: &arrow_array::UInt16Array| p.is_valid(j).then(|| i32::from(p.value(j)));
        let (mut src_ip, mut src_port, mut dst_ip, mut dst_port) = (None, None, None, None);
        if both || (inet && !to_peer) {
            src_ip = s.laddr.get(j);
            src_port = src_ip.and(port(s.lport));
        }
        if both || (inet && to_peer) {
            (dst_ip, dst_port) = if both {
                (s.raddr.get(j), port(s.rport))
            } else {
                (s.laddr.get(j), port(s.lport))
            };
            dst_port = dst_ip.and(dst_port);
        }
        (src_ip, src_port, dst_ip, dst_port)
    }

    fn build(&self, wants: &dyn Fn(&str) -> bool) -> Result<RecordBatch, ArrowError> {
        let n = self.n;
        let t = self.tables;
        let mut cols: Vec<(&str, ArrayRef)> = Vec::with_capacity(26);
        let class_index: Vec<Option<i32>> = self
            .class
            .iter()
            .map(|c| t.class_index(*c).map(|k| k as i32))
            .collect();
        let class_names: Vec<&str> = t.classes.iter().map(|c| c.name.as_str()).collect();
        let category_names: Vec<&str> =
            t.classes.iter().map(|c| c.category_name.as_str()).collect();
        // Every (class, activity) the mapping describes, as `activity_name` and
        // `type_name` keys.
        let mut pairs: Vec<(i32, i32)> = Vec::new();
        let mut activity_names = Vec::new();
        let mut type_names = Vec::new();
        for c in &t.classes {
            for (a, name) in &c.activities {
                pairs.push((c.uid, *a));
                activity_names.push(name.as_str());
                type_names.push(format!("{}: {name}", c.name));
            }
        }
        let index: Map<(i32, i32), i32> = pairs
            .iter()
            .enumerate()
            .map(|(k, p)| (*p, k as i32))
            .collect();
        let pair_index: Int32Array = (0..n)
            .map(|i| index.get(&(self.class[i], self.activity[i])).copied())
            .collect();
        let type_names: Vec<&str> = type_names.iter().map(String::as_str).collect();
        cols.push(("class_uid", Arc::new(Int32Array::from(self.class.clone()))));
        cols.push((
            "class_name",
            dictionary(Int32Array::from(class_index.clone()), &class_names)?,
        ));
        let category: Int32Array = class_index
            .iter()
            .map(|k| k.map(|k| t.classes[k as usize].category_uid))
            .collect();
        cols.push(("category_uid", Arc::new(category)));
        cols.push((
            "category_name",
            dictionary(Int32Array::from(class_index), &category_names)?,
        ));
        cols.push((
            "activity_id",
            Arc::new(Int32Array::from(self.activity.clone())),
        ));
        cols.push((
            "activity_name",
            dictionary(pair_index.clone(), &activity_names)?,
        ));
        let type_uid: Int64Array = (0..n)
            .map(|i| Some(self.class[i] as i64 * 100 + self.activity[i] as i64))
            .collect();
        cols.push(("type_uid", Arc::new(type_uid)));
        cols.push(("type_name", dictionary(pair_index, &type_names)?));
        cols.push(("severity_id", ints(n, 1)));
        cols.push(("severity", constant(n, "Informational")?));
        let time = typed::<TimestampMillisecondType>(self.batch, "time")?;
        // Required: 0 for an invalid time (and unmapped.bsm.time_invalid).
        let millis: Int64Array = time.iter().map(|t| Some(t.unwrap_or(0))).collect();
        cols.push(("time", Arc::new(millis)));
        let success = column(self.batch, "success")?
            .as_boolean_opt()
            .ok_or_else(|| ArrowError::SchemaError("success is not boolean".into()))?;
        let status: Int32Array = success
            .iter()
            .map(|s| Some(s.map_or(0, |ok| if ok { 1 } else { 2 })))
            .collect();
        cols.push(("status_id", Arc::new(status.clone())));
        cols.push((
            "status",
            dictionary(status, &["Unknown", "Success", "Failure"])?,
        ));
        let errno = Text::of(column(self.batch, "return_errno")?.as_ref(), "return_errno")?;
        let code: StringArray = (0..n)
            .map(|i| {
                (success.is_valid(i) && !success.value(i))
                    .then(|| errno.get(i))
                    .flatten()
            })
            .collect();
        cols.push(("status_code", Arc::new(code)));
        let mut message = StringBuilder::with_capacity(n, n * 12);
        let mut buf = itoa::Buffer::new();
        for e in &self.numbers {
            match e {
                None => message.append_null(),
                Some(e) => match &t.names[*e as usize] {
                    Some(name) => message.append_value(name),
                    None => message.append_value(buf.format(*e)),
                },
            }
        }
        let message: ArrayRef = Arc::new(message.finish());
        cols.push(("message", message.clone()));
        cols.push(("metadata", self.metadata(message)?));
        cols.push(("device", self.device()?));
        let auid_text = id_text(self.auid)?;
        cols.push(("actor", self.actor(&auid_text)?));
        debug_assert_eq!(cols.len(), SHARED_BEFORE);
        if wants("process") {
            cols.push(("process", self.process()?));
        }
        if wants("file") || wants("file_result") {
            let (file, result) = self.file()?;
            if wants("file") {
                cols.push(("file", file));
            }
            if wants("file_result") {
                cols.push(("file_result", result));
            }
        }
        if wants("user") {
            let mine = self.mask(|i| self.class[i] == 3002);
            let user = Object::default()
                .with("uid", auid_text.clone())
                .maybe("name", self.auid_name.clone())
                .build(Valid::Mask(mine))?;
            cols.push(("user", user));
        }
        if wants("is_remote") {
            let remote: BooleanArray = (0..n)
                .map(|i| (self.class[i] == 3002).then_some(self.remote[i]).flatten())
                .collect();
            cols.push(("is_remote", Arc::new(remote)));
        }
        if wants("src_endpoint") || wants("dst_endpoint") {
            let (src, dst) = self.endpoints()?;
            if wants("src_endpoint") {
                cols.push(("src_endpoint", src));
            }
            if wants("dst_endpoint") {
                cols.push(("dst_endpoint", dst));
            }
        }
        cols.push(("unmapped", self.unmapped()?));
        let fields: Vec<Field> = cols
            .iter()
            .map(|(name, a)| {
                // Columns that are never null are declared so (pyarrow's own arrays say
                // nullable either way; the type is what readers check).
                Field::new(*name, a.data_type().clone(), true)
            })
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            cols.into_iter().map(|(_, a)| a).collect(),
        )
    }

    fn metadata(&self, message: ArrayRef) -> Result<ArrayRef, ArrowError> {
        let n = self.n;
        let product = Object::default()
            .with("name", constant(n, "bsmtrail")?)
            .with("vendor_name", constant(n, "bsmtrail")?)
            .with("version", constant(n, env!("CARGO_PKG_VERSION"))?)
            .build(Valid::Any)?;
        // The Host profile's device and actor are on every event (the Base Event has
        // them through the profile only).
        let host: ArrayRef = Arc::new(StringArray::from_iter_values(
            std::iter::repeat("host").take(n),
        ));
        let profiles = ListArray::try_new(
            Arc::new(Field::new("item", DataType::Utf8, true)),
            OffsetBuffer::from_lengths(std::iter::repeat(1).take(n)),
            host,
            None,
        )?;
        Object::default()
            .with("version", constant(n, &self.tables.version)?)
            .with("product", product)
            .with("log_name", column(self.batch, "source")?.clone())
            .with("log_provider", constant(n, "audit(4) BSM")?)
            .with("profiles", Arc::new(profiles))
            .with("event_code", message)
            .build(Valid::Always)
    }

    fn device(&self) -> Result<ArrayRef, ArrowError> {
        let hostname = match self.batch.column_by_name("label") {
            Some(label) => Some(plain(&Text::of(label.as_ref(), "label")?, self.n)),
            None => None,
        };
        Object::default()
            .with("type_id", ints(self.n, 0))
            .with("type", constant(self.n, "Unknown")?)
            .maybe("hostname", hostname)
            .with("ip", column(self.batch, "host")?.clone())
            .build(Valid::Always)
    }

    fn user(&self, ids: ArrayRef, names: Option<ArrayRef>) -> Result<ArrayRef, ArrowError> {
        Object::default()
            .with("uid", ids)
            .maybe("name", names)
            .build(Valid::Any)
    }

    /// The effective uids as text (the actor's process and the process acted on).
    fn euid_text(&self) -> Result<ArrayRef, ArrowError> {
        if let Some(t) = self.euid_text.get() {
            return Ok(t.clone());
        }
        let t = id_text(self.euid)?;
        Ok(self.euid_text.get_or_init(|| t).clone())
    }

    fn subject_pids(&self) -> Int64Array {
        self.pid.iter().map(|p| p.map(i64::from)).collect()
    }

    fn actor(&self, auid_text: &ArrayRef) -> Result<ArrayRef, ArrowError> {
        let n = self.n;
        let has_subject = self.mask(|i| self.euid.is_valid(i));
        let sid = typed::<UInt32Type>(self.batch, "sid")?;
        let port = typed::<UInt64Type>(self.batch, "tid_port")?;
        let addr = Text::of(column(self.batch, "tid_addr")?.as_ref(), "tid_addr")?;
        let mut terminal = StringBuilder::with_capacity(n, n * 16);
        let mut buf = itoa::Buffer::new();
        let mut text = String::new();
        for i in 0..n {
            match (port.is_valid(i), addr.get(i)) {
                (true, Some(a)) => {
                    text.clear();
                    text.push_str(buf.format(port.value(i)));
                    text.push(' ');
                    text.push_str(a);
                    terminal.append_value(&text);
                }
                _ => terminal.append_null(),
            }
        }
        let session = Object::default()
            .with("uid", decimal(sid.iter(), n))
            .with("terminal", Arc::new(terminal.finish()))
            .with(
                "is_remote",
                Arc::new(self.remote.iter().copied().collect::<BooleanArray>()),
            )
            .build(Valid::Mask(has_subject.clone()))?;
        let euid_text = self.euid_text()?;
        let process = Object::default()
            .with("pid", Arc::new(self.subject_pids()))
            .with("user", self.user(euid_text, self.euid_name.clone())?)
            .build(Valid::Mask(has_subject))?;
        Object::default()
            .with(
                "user",
                self.user(auid_text.clone(), self.auid_name.clone())?,
            )
            .with("session", session)
            .with("process", process)
            .build(Valid::Always)
    }

    /// Process Activity: `process` is the process acted on: the new image for an exec,
    /// the child for a fork (its pid the call's return value), the subject for an exit
    /// or a setuid, the target of a kill (its process token, else the subject).
    fn process(&self) -> Result<ArrayRef, ArrowError> {
        let n = self.n;
        let mine = self.mask(|i| self.class[i] == 1007);
        let subject = self.subject_pids();
        let mut pid = Int64Builder::with_capacity(n);
        let mut cmd = StringBuilder::new();
        let mut name = StringBuilder::new();
        let mut path = StringBuilder::new();
        let mut image = Vec::with_capacity(n);
        let mut line = String::new();
        for (i, &mine) in mine.iter().enumerate() {
            if !mine {
                pid.append_null();
                cmd.append_null();
                name.append_null();
                path.append_null();
                image.push(false);
                continue;
            }
            let own = subject.is_valid(i).then(|| subject.value(i));
            pid.append_option(self.target_pid(i).or(self.child_pid(i)).or(own));
            let exec = self.execs(i);
            if exec && self.command_line(i, &mut line) {
                cmd.append_value(&line);
            } else {
                cmd.append_null();
            }
            let p = self.path(i, 0);
            image.push(exec && p.is_some());
            name.append_option(p.map(basename));
            path.append_option(p);
        }
        let file = Object::default()
            .with("name", Arc::new(name.finish()))
            .with("path", Arc::new(path.finish()))
            .with("type_id", ints(n, 1))
            .with("type", constant(n, "Regular File")?)
            .build(Valid::Mask(image))?;
        let parent = Object::default()
            .with("pid", Arc::new(subject))
            .build(Valid::Mask(self.mask(|i| mine[i] && self.makes_process(i))))?;
        Object::default()
            .with("pid", Arc::new(pid.finish()))
            .with("cmd_line", Arc::new(cmd.finish()))
            .with("file", file)
            .with(
                "user",
                self.user(self.euid_text()?, self.euid_name.clone())?,
            )
            .with("parent_process", parent)
            .build(Valid::Mask(mine))
    }

    /// File System Activity: `file` is the first path (name required: empty when the
    /// record has no path, as for an fd-only call), typed by the first attr token;
    /// `file_result` is the second path of a rename or link (the new name).
    fn file(&self) -> Result<(ArrayRef, ArrayRef), ArrowError> {
        let n = self.n;
        let mine = self.mask(|i| self.class[i] == 1001);
        let attrs = Lists::of(self.batch, "attrs")?;
        let attr = attrs.structs("attrs")?;
        let (mode, uid) = (member_u32(attr, "mode")?, member_u32(attr, "uid")?);
        let mut name = StringBuilder::new();
        let mut path = StringBuilder::new();
        let mut type_id = Vec::with_capacity(n);
        let mut owner = StringBuilder::new();
        let mut has_owner = Vec::with_capacity(n);
        let mut new_name = StringBuilder::new();
        let mut new_path = StringBuilder::new();
        let mut renamed = Vec::with_capacity(n);
        let mut buf = itoa::Buffer::new();
        for (i, &mine) in mine.iter().enumerate() {
            if !mine {
                name.append_null();
                path.append_null();
                type_id.push(0);
                owner.append_null();
                has_owner.push(false);
                new_name.append_null();
                new_path.append_null();
                renamed.push(false);
                continue;
            }
            let p = self.path(i, 0);
            name.append_value(p.map_or("", basename));
            path.append_option(p);
            let first = attrs.nth(i, 0).filter(|&j| attr.is_valid(j));
            let kind = first
                .filter(|&j| mode.is_valid(j))
                .and_then(|j| {
                    let fmt = mode.value(j) & 0o170000;
                    FILE_TYPES.iter().find(|(m, _)| *m == fmt).map(|(_, t)| *t)
                })
                .unwrap_or(0);
            type_id.push(kind);
            match first.filter(|&j| uid.is_valid(j)) {
                Some(j) => owner.append_value(buf.format(uid.value(j))),
                None => owner.append_null(),
            }
            has_owner.push(first.is_some());
            let second = self.path(i, 1).filter(|_| self.is(i, role::RENAME));
            renamed.push(second.is_some());
            new_name.append_value(second.map_or("", basename));
            new_path.append_option(second);
        }
        let types = Int32Array::from(type_id);
        let file = Object::default()
            .with("name", Arc::new(name.finish()))
            .with("path", Arc::new(path.finish()))
            .with("type_id", Arc::new(types.clone()))
            .with("type", dictionary(types, &FILE_TYPE_NAMES)?)
            .with(
                "owner",
                Object::default()
                    .with("uid", Arc::new(owner.finish()))
                    .build(Valid::Mask(has_owner))?,
            )
            .build(Valid::Mask(mine))?;
        let result = Object::default()
            .with("name", Arc::new(new_name.finish()))
            .with("path", Arc::new(new_path.finish()))
            .with("type_id", ints(n, 0))
            .with("type", constant(n, "Unknown")?)
            .build(Valid::Mask(renamed))?;
        Ok((file, result))
    }

    /// `src_endpoint` and `dst_endpoint`. Authentication: the subject's terminal address,
    /// when remote, is the source. Network Activity: the first socket token's ends
    /// (`ends`).
    fn endpoints(&self) -> Result<(ArrayRef, ArrayRef), ArrowError> {
        let n = self.n;
        let tid_addr = Text::of(column(self.batch, "tid_addr")?.as_ref(), "tid_addr")?;
        let mut src_ip = StringBuilder::new();
        let mut src_port = Vec::with_capacity(n);
        let mut src_valid = Vec::with_capacity(n);
        let mut dst_ip = StringBuilder::new();
        let mut dst_port = Vec::with_capacity(n);
        let mut dst_valid = Vec::with_capacity(n);
        for i in 0..n {
            let remote = self.class[i] == 3002 && self.remote[i] == Some(true);
            let (s_ip, s_port, d_ip, d_port) = match self.class[i] {
                4001 => self.ends(i),
                _ => (None, None, None, None),
            };
            if remote {
                src_ip.append_option(tid_addr.get(i));
                src_port.push(None);
                src_valid.push(true);
            } else {
                src_ip.append_option(s_ip);
                src_port.push(s_port);
                src_valid.push(s_ip.is_some());
            }
            dst_ip.append_option(d_ip);
            dst_port.push(d_port);
            dst_valid.push(d_ip.is_some());
        }
        let src = Object::default()
            .with("ip", Arc::new(src_ip.finish()))
            .with("port", Arc::new(Int32Array::from(src_port)))
            .build(Valid::Mask(src_valid))?;
        let dst = Object::default()
            .with("ip", Arc::new(dst_ip.finish()))
            .with("port", Arc::new(Int32Array::from(dst_port)))
            .build(Valid::Mask(dst_valid))?;
        Ok((src, dst))
    }

    /// What OCSF has no attribute for: the record's place and header, the ids OCSF's
    /// objects do not carry, the return token as BSM wrote it, every path and text.
    fn unmapped(&self) -> Result<ArrayRef, ArrowError> {
        let n = self.n;
        let b = self.batch;
        let col = |name: &str| column(b, name).cloned();
        let text = |name: &str| -> Result<ArrayRef, ArrowError> {
            Ok(plain(&Text::of(column(b, name)?.as_ref(), name)?, n))
        };
        let time = typed::<TimestampMillisecondType>(b, "time")?;
        let flag = |set: &dyn Fn(usize) -> bool| -> ArrayRef {
            let mut out = BooleanBuilder::with_capacity(n);
            for i in 0..n {
                out.append_option(set(i).then_some(true));
            }
            Arc::new(out.finish())
        };
        let list =
            |name: &str| -> Result<ArrayRef, ArrowError> { non_empty(Lists::of(b, name)?.list) };
        let identity = column(b, "identity")?
            .as_struct_opt()
            .ok_or_else(|| ArrowError::SchemaError("identity is not a struct".into()))?;
        let of_identity = |name: &str| -> Result<ArrayRef, ArrowError> {
            let member = Text::of(member(identity, name)?.as_ref(), name)?;
            Ok(Arc::new(
                (0..n)
                    .map(|i| identity.is_valid(i).then(|| member.get(i)).flatten())
                    .collect::<StringArray>(),
            ))
        };
        let bsm = Object::default()
            .with("offset", col("record_offset")?)
            .with("size", col("size")?)
            .with("event", col("event")?)
            .with("modifier", col("modifier")?)
            .with("version", col("version")?)
            .with("header_type", text("header_type")?)
            .with("time_invalid", flag(&|i| time.is_null(i)))
            .with("subject_type", text("subject_type")?)
            .with(
                "auid_unset",
                flag(&|i| self.auid.is_null(i) && self.euid.is_valid(i)),
            )
            .with("ruid", col("ruid")?)
            .with("rgid", col("rgid")?)
            .with("egid", col("egid")?)
            .with("return_status", col("return_status")?)
            .with("return_value", col("return_value")?)
            .with("paths", list("paths")?)
            .with("texts", list("texts")?)
            .with("exec_args", col("exec_args")?)
            .with("seq", col("seq")?)
            .with("zone", col("zone")?)
            .with("signing_id", of_identity("signing_id")?)
            .with("team_id", of_identity("team_id")?)
            .build(Valid::Always)?;
        Object::default().with("bsm", bsm).build(Valid::Always)
    }
}

/// The facts every event shape derives alike from a records-view batch, one column each,
/// row for row, so that OCSF (built here), ECS and Timesketch (`bsmtrail.derive`) say the
/// same: `class_uid` and `activity_id` by the mapping; `remote` (the subject's terminal is
/// another machine; null without an address); `execs` (the record loads an image);
/// `child_pid` (a fork's or spawn's new process); `target_pid` (a kill's); `command_line`
/// (the exec args joined by spaces); `path_name` (the first path's last component); and
/// the first socket token's ends, `src_ip`, `src_port`, `dst_ip`, `dst_port`. A batch
/// without `processes` or `sockets` columns has no kill targets or socket ends.
pub fn facts(batch: &RecordBatch, tables: &Tables) -> Result<RecordBatch, ArrowError> {
    let b = Builder::new(batch, tables)?;
    let n = b.n;
    let mut child = Int64Builder::with_capacity(n);
    let mut target = Int64Builder::with_capacity(n);
    let mut command = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut src_ip = StringBuilder::new();
    let mut src_port = Vec::with_capacity(n);
    let mut dst_ip = StringBuilder::new();
    let mut dst_port = Vec::with_capacity(n);
    let mut line = String::new();
    for i in 0..n {
        child.append_option(b.child_pid(i));
        target.append_option(b.target_pid(i));
        if b.command_line(i, &mut line) {
            command.append_value(&line);
        } else {
            command.append_null();
        }
        name.append_option(b.path(i, 0).map(basename));
        let (s_ip, s_port, d_ip, d_port) = b.ends(i);
        src_ip.append_option(s_ip);
        src_port.push(s_port);
        dst_ip.append_option(d_ip);
        dst_port.push(d_port);
    }
    let execs: BooleanArray = (0..n).map(|i| Some(b.execs(i))).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("class_uid", Arc::new(Int32Array::from(b.class.clone()))),
        (
            "activity_id",
            Arc::new(Int32Array::from(b.activity.clone())),
        ),
        (
            "remote",
            Arc::new(b.remote.iter().copied().collect::<BooleanArray>()),
        ),
        ("execs", Arc::new(execs)),
        ("child_pid", Arc::new(child.finish())),
        ("target_pid", Arc::new(target.finish())),
        ("command_line", Arc::new(command.finish())),
        ("path_name", Arc::new(name.finish())),
        ("src_ip", Arc::new(src_ip.finish())),
        ("src_port", Arc::new(Int32Array::from(src_port))),
        ("dst_ip", Arc::new(dst_ip.finish())),
        ("dst_port", Arc::new(Int32Array::from(dst_port))),
    ];
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(name, a)| (name, a, true)))
}

/// One records-view batch's events for the lake: a `(class_uid, day, events)` for each
/// class and UTC day (`YYYYMMDD`; `unknown` without a time) in it, each with its class's
/// columns only and its rows in input order, sorted by class and day.
pub fn lake_parts(
    batch: &RecordBatch,
    tables: &Tables,
) -> Result<Vec<(i32, String, RecordBatch)>, ArrowError> {
    // Every event built once, then each group's rows of its class's columns taken.
    let all = events(batch, tables, None)?;
    let class = all.column(0).as_primitive::<Int32Type>();
    let time = typed::<TimestampMillisecondType>(batch, "time")?;
    let mut groups: Map<(i32, Option<i64>), Vec<u32>> = Map::default();
    for i in 0..batch.num_rows() {
        let day = time.is_valid(i).then(|| time.value(i).div_euclid(DAY_MS));
        groups
            .entry((class.value(i), day))
            .or_default()
            .push(i as u32);
    }
    let mut named: Vec<(i32, String, Vec<u32>)> = groups
        .into_iter()
        .map(|((class, day), rows)| {
            let day = day.map_or_else(
                || "unknown".to_string(),
                |d| {
                    let (y, m, d) = civil_from_days(d);
                    format!("{y:04}{m:02}{d:02}")
                },
            );
            (class, day, rows)
        })
        .collect();
    named.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let whole = named.len() == 1;
    named
        .into_iter()
        .map(|(class, day, rows)| {
            let columns = class_columns(&all.schema(), tables, class)?;
            let mine = all.project(&columns)?;
            let part = if whole {
                mine
            } else {
                arrow_select::take::take_record_batch(&mine, &UInt32Array::from(rows))?
            };
            Ok((class, day, part))
        })
        .collect()
}

/// The indexes of the columns of `schema` (an events schema) that events of `class`
/// carry: every column but the class-only ones of other classes.
fn class_columns(schema: &Schema, tables: &Tables, class: i32) -> Result<Vec<usize>, ArrowError> {
    let mine = &tables.described(class)?.attributes;
    let only: Vec<&String> = tables.classes.iter().flat_map(|c| &c.attributes).collect();
    Ok(schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !only.contains(&f.name()) || mine.contains(f.name()))
        .map(|(k, _)| k)
        .collect())
}

#[cfg(test)]
mod tests;
