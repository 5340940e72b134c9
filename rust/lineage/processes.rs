//! The processes view: one row per process lifetime (host, pid, start to end).

use super::input::Row;
use super::{EXEC, EXIT, FILE, FORK, NETWORK, SPAWN};
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, ListBuilder, StringBuilder, StructBuilder,
    TimestampMillisecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, TimeUnit};
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
use std::sync::Arc;

#[derive(Clone, Copy)]
enum Origin {
    Fork,
    Spawn,
    /// First seen in a record of its own (started before the trail, or its fork was not
    /// audited).
    Seen,
}

#[derive(Clone, Copy)]
enum End {
    Exit,
    /// Its pid was handed to a new process by a fork: it had ended unaudited.
    Reused,
}

struct Exec {
    time: Option<i64>,
    path: Option<String>,
    args: Vec<String>,
    auid: Option<u32>,
    asid: u32,
    euid: u32,
}

struct Proc {
    id: u64,
    parent: Option<(u64, u32)>,
    host: Option<u32>,
    pid: u32,
    start: Option<i64>,
    last: Option<i64>,
    end: Option<(End, Option<i64>)>,
    origin: Origin,
    exit: Option<(u32, u32)>,
    asid: u32,
    auid: Option<u32>,
    euid: u32,
    execs: Vec<Exec>,
    records: u64,
    file: u64,
    network: u64,
    failures: u64,
}

impl Proc {
    fn new(id: u64, r: &Row<'_>, pid: u32, origin: Origin, parent: Option<(u64, u32)>) -> Self {
        Proc {
            id,
            parent,
            host: r.host,
            pid,
            start: r.time,
            last: r.time,
            end: None,
            origin,
            exit: None,
            asid: r.asid,
            auid: r.auid,
            euid: r.euid,
            execs: Vec::new(),
            records: 0,
            file: 0,
            network: 0,
            failures: 0,
        }
    }
}

/// Open processes by (host, pid), and the finished ones.
#[derive(Default)]
pub struct Processes {
    open: HashMap<(Option<u32>, u32), Proc>,
    done: Vec<Proc>,
    next: u64,
}

fn exec(r: &Row<'_>) -> Exec {
    Exec {
        time: r.time,
        path: r.first_path.map(str::to_string),
        args: r.args().map(str::to_string).collect(),
        auid: r.auid,
        asid: r.asid,
        euid: r.euid,
    }
}

impl Processes {
    fn start(&mut self, r: &Row<'_>, pid: u32, origin: Origin, parent: Option<(u64, u32)>) {
        self.next += 1;
        let p = Proc::new(self.next, r, pid, origin, parent);
        if let Some(mut old) = self.open.insert((r.host, pid), p) {
            old.end = Some((End::Reused, old.last));
            self.done.push(old);
        }
    }

    pub fn add(&mut self, r: &Row<'_>) {
        let key = (r.host, r.pid);
        let next = &mut self.next;
        let p = self.open.entry(key).or_insert_with(|| {
            *next += 1;
            Proc::new(*next, r, r.pid, Origin::Seen, None)
        });
        p.last = r.time.or(p.last);
        p.records += 1;
        p.failures += u64::from(r.success == Some(false));
        p.file += u64::from(r.kind & FILE != 0);
        p.network += u64::from(r.kind & NETWORK != 0);
        let parent = (p.id, p.pid);
        if r.kind & (FORK | SPAWN) != 0 {
            // The child's pid is the call's return value.
            let child = r
                .ret
                .filter(|_| r.done())
                .and_then(|v| u32::try_from(v).ok())
                .filter(|&v| v > 0);
            if let Some(child) = child {
                let spawn = r.kind & SPAWN != 0;
                let origin = if spawn { Origin::Spawn } else { Origin::Fork };
                self.start(r, child, origin, Some(parent));
                if spawn {
                    if let Some(c) = self.open.get_mut(&(r.host, child)) {
                        c.execs.push(exec(r));
                    }
                }
            }
        } else if r.kind & EXEC != 0 && r.done() {
            p.execs.push(exec(r));
        }
        if r.kind & EXIT != 0 {
            if let Some(mut p) = self.open.remove(&key) {
                p.end = Some((End::Exit, r.time));
                p.exit = r.exit;
                self.done.push(p);
            }
        }
    }

    fn exec_fields() -> Fields {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        Fields::from(vec![
            Field::new("time", ts, true),
            Field::new("path", DataType::Utf8, true),
            Field::new(
                "args",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
                false,
            ),
            Field::new("auid", DataType::UInt32, true),
            Field::new("asid", DataType::UInt32, false),
            Field::new("euid", DataType::UInt32, false),
        ])
    }

    pub fn schema() -> Arc<Schema> {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let f = |n: &str, t: DataType, null: bool| Field::new(n, t, null);
        let execs = DataType::List(Arc::new(Field::new(
            "item",
            DataType::Struct(Self::exec_fields()),
            false,
        )));
        Arc::new(Schema::new(vec![
            f("id", DataType::UInt64, false),
            f("parent_id", DataType::UInt64, true),
            f("host", DataType::Utf8, true),
            f("pid", DataType::UInt32, false),
            f("ppid", DataType::UInt32, true),
            f("start", ts.clone(), true),
            f("end", ts, true),
            f("open", DataType::Boolean, false),
            f("origin", DataType::Utf8, false),
            f("end_reason", DataType::Utf8, true),
            f("exit_status", DataType::UInt32, true),
            f("exit_value", DataType::UInt32, true),
            f("asid", DataType::UInt32, false),
            f("auid", DataType::UInt32, true),
            f("euid", DataType::UInt32, false),
            f("execs", execs, false),
            f("records", DataType::UInt64, false),
            f("file_records", DataType::UInt64, false),
            f("network_records", DataType::UInt64, false),
            f("failures", DataType::UInt64, false),
        ]))
    }

    /// The rows in order of appearance (`id`), still-open processes included.
    pub fn finish(&mut self, hosts: &[String]) -> Result<RecordBatch, ArrowError> {
        let mut rows: Vec<Proc> = std::mem::take(&mut self.done);
        rows.extend(self.open.drain().map(|(_, p)| p));
        rows.sort_by_key(|p| p.id);
        let n = rows.len();
        let mut id = UInt64Builder::with_capacity(n);
        let mut parent_id = UInt64Builder::with_capacity(n);
        let mut host = StringBuilder::new();
        let mut pid = UInt32Builder::with_capacity(n);
        let mut ppid = UInt32Builder::with_capacity(n);
        let ts = || TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let (mut start, mut end) = (ts(), ts());
        let mut open = BooleanBuilder::with_capacity(n);
        let mut origin = StringBuilder::new();
        let mut end_reason = StringBuilder::new();
        let mut exit_status = UInt32Builder::with_capacity(n);
        let mut exit_value = UInt32Builder::with_capacity(n);
        let mut asid = UInt32Builder::with_capacity(n);
        let mut auid = UInt32Builder::with_capacity(n);
        let mut euid = UInt32Builder::with_capacity(n);
        let fields = Self::exec_fields();
        let members: Vec<Box<dyn ArrayBuilder>> = vec![
            Box::new(TimestampMillisecondBuilder::new().with_timezone("UTC")),
            Box::new(StringBuilder::new()),
            Box::new(
                ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
                    "item",
                    DataType::Utf8,
                    false,
                ))),
            ),
            Box::new(UInt32Builder::new()),
            Box::new(UInt32Builder::new()),
            Box::new(UInt32Builder::new()),
        ];
        let mut execs = ListBuilder::new(StructBuilder::new(fields.clone(), members)).with_field(
            Arc::new(Field::new("item", DataType::Struct(fields), false)),
        );
        let mut records = UInt64Builder::with_capacity(n);
        let mut file = UInt64Builder::with_capacity(n);
        let mut network = UInt64Builder::with_capacity(n);
        let mut failures = UInt64Builder::with_capacity(n);
        for p in rows {
            id.append_value(p.id);
            parent_id.append_option(p.parent.map(|x| x.0));
            host.append_option(p.host.and_then(|h| hosts.get(h as usize)));
            pid.append_value(p.pid);
            ppid.append_option(p.parent.map(|x| x.1));
            start.append_option(p.start);
            end.append_option(p.end.and_then(|e| e.1));
            open.append_value(p.end.is_none());
            origin.append_value(match p.origin {
                Origin::Fork => "fork",
                Origin::Spawn => "spawn",
                Origin::Seen => "seen",
            });
            end_reason.append_option(p.end.map(|e| match e.0 {
                End::Exit => "exit",
                End::Reused => "reused",
            }));
            exit_status.append_option(p.exit.map(|e| e.0));
            exit_value.append_option(p.exit.map(|e| e.1));
            asid.append_value(p.asid);
            auid.append_option(p.auid);
            euid.append_value(p.euid);
            let s = execs.values();
            for e in p.execs {
                member::<TimestampMillisecondBuilder>(s, 0)?.append_option(e.time);
                member::<StringBuilder>(s, 1)?.append_option(e.path);
                let args = member::<ListBuilder<StringBuilder>>(s, 2)?;
                for a in &e.args {
                    args.values().append_value(a);
                }
                args.append(true);
                member::<UInt32Builder>(s, 3)?.append_option(e.auid);
                member::<UInt32Builder>(s, 4)?.append_value(e.asid);
                member::<UInt32Builder>(s, 5)?.append_value(e.euid);
                s.append(true);
            }
            execs.append(true);
            records.append_value(p.records);
            file.append_value(p.file);
            network.append_value(p.network);
            failures.append_value(p.failures);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(parent_id.finish()),
            Arc::new(host.finish()),
            Arc::new(pid.finish()),
            Arc::new(ppid.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(open.finish()),
            Arc::new(origin.finish()),
            Arc::new(end_reason.finish()),
            Arc::new(exit_status.finish()),
            Arc::new(exit_value.finish()),
            Arc::new(asid.finish()),
            Arc::new(auid.finish()),
            Arc::new(euid.finish()),
            Arc::new(execs.finish()),
            Arc::new(records.finish()),
            Arc::new(file.finish()),
            Arc::new(network.finish()),
            Arc::new(failures.finish()),
        ];
        RecordBatch::try_new(Self::schema(), cols)
    }
}

fn member<T: ArrayBuilder>(s: &mut StructBuilder, i: usize) -> Result<&mut T, ArrowError> {
    s.field_builder::<T>(i)
        .ok_or_else(|| ArrowError::SchemaError(format!("lineage: exec field {i}")))
}
