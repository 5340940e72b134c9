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

/// Open processes by (host, pid); finished ones go straight into the row builders, so
/// memory holds the open processes and one batch of rows, whatever the input's length.
pub struct Processes {
    open: HashMap<(Option<u32>, u32), Proc>,
    rows: Rows,
    /// Full batches of finished processes, waiting to be taken.
    ready: Vec<RecordBatch>,
    batch_rows: usize,
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
    /// Finished processes are handed out in batches of `batch_rows` rows (at least 1).
    pub fn new(batch_rows: usize) -> Self {
        Processes {
            open: HashMap::default(),
            rows: Rows::new(),
            ready: Vec::new(),
            batch_rows: batch_rows.max(1),
            next: 0,
        }
    }

    /// A finished process, into the rows (a full batch to `ready`).
    fn close(&mut self, p: Proc, hosts: &[String]) -> Result<(), ArrowError> {
        self.rows.push(p, hosts)?;
        if self.rows.len() >= self.batch_rows {
            self.ready.push(self.rows.finish()?);
        }
        Ok(())
    }

    fn start(
        &mut self,
        r: &Row<'_>,
        pid: u32,
        origin: Origin,
        parent: Option<(u64, u32)>,
        hosts: &[String],
    ) -> Result<(), ArrowError> {
        self.next += 1;
        let p = Proc::new(self.next, r, pid, origin, parent);
        if let Some(mut old) = self.open.insert((r.host, pid), p) {
            old.end = Some((End::Reused, old.last));
            self.close(old, hosts)?;
        }
        Ok(())
    }

    /// One record of a subject, in input order; `hosts` names the rows' host ids.
    pub fn add(&mut self, r: &Row<'_>, hosts: &[String]) -> Result<(), ArrowError> {
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
                self.start(r, child, origin, Some(parent), hosts)?;
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
                p.exit = r.exit();
                self.close(p, hosts)?;
            }
        }
        Ok(())
    }

    /// The full batches of processes that ended since the last call, in the order they
    /// ended.
    pub fn take(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ready)
    }

    /// The end of the input: what `take` has not handed out, then the processes still
    /// open, in order of appearance (`id`); the last batch may be empty, never missing.
    pub fn finish(&mut self, hosts: &[String]) -> Result<Vec<RecordBatch>, ArrowError> {
        let mut open: Vec<Proc> = self.open.drain().map(|(_, p)| p).collect();
        open.sort_by_key(|p| p.id);
        for p in open {
            self.close(p, hosts)?;
        }
        let mut out = self.take();
        if self.rows.len() > 0 || out.is_empty() {
            out.push(self.rows.finish()?);
        }
        Ok(out)
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
}

/// The column builders of the processes view; `finish` empties them for the next batch.
struct Rows {
    n: usize,
    id: UInt64Builder,
    parent_id: UInt64Builder,
    host: StringBuilder,
    pid: UInt32Builder,
    ppid: UInt32Builder,
    start: TimestampMillisecondBuilder,
    end: TimestampMillisecondBuilder,
    open: BooleanBuilder,
    origin: StringBuilder,
    end_reason: StringBuilder,
    exit_status: UInt32Builder,
    exit_value: UInt32Builder,
    asid: UInt32Builder,
    auid: UInt32Builder,
    euid: UInt32Builder,
    execs: ListBuilder<StructBuilder>,
    records: UInt64Builder,
    file: UInt64Builder,
    network: UInt64Builder,
    failures: UInt64Builder,
}

impl Rows {
    fn new() -> Self {
        let ts = || TimestampMillisecondBuilder::new().with_timezone("UTC");
        let fields = Processes::exec_fields();
        let members: Vec<Box<dyn ArrayBuilder>> = vec![
            Box::new(ts()),
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
        let execs = ListBuilder::new(StructBuilder::new(fields.clone(), members)).with_field(
            Arc::new(Field::new("item", DataType::Struct(fields), false)),
        );
        Rows {
            n: 0,
            id: UInt64Builder::new(),
            parent_id: UInt64Builder::new(),
            host: StringBuilder::new(),
            pid: UInt32Builder::new(),
            ppid: UInt32Builder::new(),
            start: ts(),
            end: ts(),
            open: BooleanBuilder::new(),
            origin: StringBuilder::new(),
            end_reason: StringBuilder::new(),
            exit_status: UInt32Builder::new(),
            exit_value: UInt32Builder::new(),
            asid: UInt32Builder::new(),
            auid: UInt32Builder::new(),
            euid: UInt32Builder::new(),
            execs,
            records: UInt64Builder::new(),
            file: UInt64Builder::new(),
            network: UInt64Builder::new(),
            failures: UInt64Builder::new(),
        }
    }

    fn len(&self) -> usize {
        self.n
    }

    fn push(&mut self, p: Proc, hosts: &[String]) -> Result<(), ArrowError> {
        self.n += 1;
        self.id.append_value(p.id);
        self.parent_id.append_option(p.parent.map(|x| x.0));
        self.host
            .append_option(p.host.and_then(|h| hosts.get(h as usize)));
        self.pid.append_value(p.pid);
        self.ppid.append_option(p.parent.map(|x| x.1));
        self.start.append_option(p.start);
        self.end.append_option(p.end.and_then(|e| e.1));
        self.open.append_value(p.end.is_none());
        self.origin.append_value(match p.origin {
            Origin::Fork => "fork",
            Origin::Spawn => "spawn",
            Origin::Seen => "seen",
        });
        self.end_reason.append_option(p.end.map(|e| match e.0 {
            End::Exit => "exit",
            End::Reused => "reused",
        }));
        self.exit_status.append_option(p.exit.map(|e| e.0));
        self.exit_value.append_option(p.exit.map(|e| e.1));
        self.asid.append_value(p.asid);
        self.auid.append_option(p.auid);
        self.euid.append_value(p.euid);
        let s = self.execs.values();
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
        self.execs.append(true);
        self.records.append_value(p.records);
        self.file.append_value(p.file);
        self.network.append_value(p.network);
        self.failures.append_value(p.failures);
        Ok(())
    }

    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.n = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.parent_id.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.pid.finish()),
            Arc::new(self.ppid.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            Arc::new(self.open.finish()),
            Arc::new(self.origin.finish()),
            Arc::new(self.end_reason.finish()),
            Arc::new(self.exit_status.finish()),
            Arc::new(self.exit_value.finish()),
            Arc::new(self.asid.finish()),
            Arc::new(self.auid.finish()),
            Arc::new(self.euid.finish()),
            Arc::new(self.execs.finish()),
            Arc::new(self.records.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.network.finish()),
            Arc::new(self.failures.finish()),
        ];
        RecordBatch::try_new(Processes::schema(), cols)
    }
}

fn member<T: ArrayBuilder>(s: &mut StructBuilder, i: usize) -> Result<&mut T, ArrowError> {
    s.field_builder::<T>(i)
        .ok_or_else(|| ArrowError::SchemaError(format!("lineage: exec field {i}")))
}
