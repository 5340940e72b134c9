//! The sessions view: one row per (host, audit session id, audit user).

use super::input::Row;
use super::{EXEC, LOGIN, LOGOUT, SPAWN};
use arrow_array::builder::{
    BooleanBuilder, ListBuilder, StringBuilder, TimestampMillisecondBuilder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};
use std::collections::BTreeSet;

type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
type HashSet<K> = std::collections::HashSet<K, ahash::RandomState>;
use std::sync::Arc;

/// (host, asid, auid): a session's key. An unset auid (null) is its own row per asid.
type Key = (Option<u32>, u32, Option<u32>);

struct Session {
    start: Option<i64>,
    end: Option<i64>,
    records: u64,
    failures: u64,
    login: Option<(u16, Option<i64>)>,
    logout: Option<(u16, Option<i64>)>,
    port: u64,
    addr: Option<String>,
    pids: HashSet<u32>,
    commands: u64,
    first_commands: Vec<String>,
    euids: BTreeSet<u32>,
    ruids: BTreeSet<u32>,
    /// The last record's pid and (euid, ruid): consecutive records of a session mostly
    /// repeat them, and a compare is cheaper than a set insert.
    last_pid: Option<u32>,
    last_ids: Option<(u32, u32)>,
}

impl Session {
    fn new(r: &Row<'_>) -> Self {
        Session {
            start: None,
            end: None,
            records: 0,
            failures: 0,
            login: None,
            logout: None,
            port: r.port,
            addr: r.addr.map(str::to_string),
            pids: HashSet::default(),
            commands: 0,
            first_commands: Vec::new(),
            euids: BTreeSet::new(),
            ruids: BTreeSet::new(),
            last_pid: None,
            last_ids: None,
        }
    }
}

pub struct Sessions {
    /// Sessions in order of first appearance, found by key.
    rows: Vec<(Key, Session)>,
    index: HashMap<Key, usize>,
    /// The last record's session: most records follow one of the same session.
    last: Option<(Key, usize)>,
    first_commands: usize,
}

fn span(a: Option<i64>, b: Option<i64>, pick: fn(i64, i64) -> i64) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(pick(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Sessions {
    pub fn new(first_commands: usize) -> Self {
        Sessions {
            rows: Vec::new(),
            index: HashMap::default(),
            last: None,
            first_commands,
        }
    }

    fn slot(&mut self, r: &Row<'_>) -> usize {
        let key = (r.host, r.asid, r.auid);
        if let Some((k, i)) = self.last {
            if k == key {
                return i;
            }
        }
        let rows = &mut self.rows;
        let i = *self.index.entry(key).or_insert_with(|| {
            rows.push((key, Session::new(r)));
            rows.len() - 1
        });
        self.last = Some((key, i));
        i
    }

    pub fn add(&mut self, r: &Row<'_>) {
        let i = self.slot(r);
        let s = &mut self.rows[i].1;
        s.start = span(s.start, r.time, i64::min);
        s.end = span(s.end, r.time, i64::max);
        s.records += 1;
        s.failures += u64::from(r.success == Some(false));
        if s.last_pid != Some(r.pid) {
            s.pids.insert(r.pid);
            s.last_pid = Some(r.pid);
        }
        if s.last_ids != Some((r.euid, r.ruid)) {
            s.euids.insert(r.euid);
            s.ruids.insert(r.ruid);
            s.last_ids = Some((r.euid, r.ruid));
        }
        if let Some(e) = r.event {
            if r.kind & LOGIN != 0 && s.login.is_none() {
                s.login = Some((e, r.time));
            }
            if r.kind & LOGOUT != 0 {
                s.logout = Some((e, r.time));
            }
        }
        if r.kind & (EXEC | SPAWN) != 0 && r.done() {
            s.commands += 1;
            if s.first_commands.len() < self.first_commands {
                if let Some(c) = r.command() {
                    s.first_commands.push(c);
                }
            }
        }
    }

    pub fn schema() -> Arc<Schema> {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, false)));
        let f = |n: &str, t: DataType, null: bool| Field::new(n, t, null);
        Arc::new(Schema::new(vec![
            f("host", DataType::Utf8, true),
            f("asid", DataType::UInt32, false),
            f("auid", DataType::UInt32, true),
            f("start", ts.clone(), true),
            f("end", ts.clone(), true),
            f("open", DataType::Boolean, false),
            f("records", DataType::UInt64, false),
            f("failures", DataType::UInt64, false),
            f("login_event", DataType::UInt16, true),
            f("login_time", ts.clone(), true),
            f("logout_event", DataType::UInt16, true),
            f("logout_time", ts, true),
            f("tid_port", DataType::UInt64, false),
            f("tid_addr", DataType::Utf8, true),
            f("processes", DataType::UInt64, false),
            f("commands", DataType::UInt64, false),
            f("first_commands", list(DataType::Utf8), false),
            f("euids", list(DataType::UInt32), false),
            f("ruids", list(DataType::UInt32), false),
        ]))
    }

    /// The rows, in order of each session's first record; `hosts` names host ids.
    pub fn finish(&mut self, hosts: &[String]) -> Result<RecordBatch, ArrowError> {
        let rows = std::mem::take(&mut self.rows);
        self.index.clear();
        self.last = None;
        let n = rows.len();
        let mut host = StringBuilder::new();
        let mut asid = UInt32Builder::with_capacity(n);
        let mut auid = UInt32Builder::with_capacity(n);
        let ts = || TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let (mut start, mut end, mut login_time, mut logout_time) = (ts(), ts(), ts(), ts());
        let mut open = BooleanBuilder::with_capacity(n);
        let mut records = UInt64Builder::with_capacity(n);
        let mut failures = UInt64Builder::with_capacity(n);
        let mut login_event = UInt16Builder::with_capacity(n);
        let mut logout_event = UInt16Builder::with_capacity(n);
        let mut port = UInt64Builder::with_capacity(n);
        let mut addr = StringBuilder::new();
        let mut processes = UInt64Builder::with_capacity(n);
        let mut commands = UInt64Builder::with_capacity(n);
        let item = |t: DataType| Arc::new(Field::new("item", t, false));
        let mut first = ListBuilder::new(StringBuilder::new()).with_field(item(DataType::Utf8));
        let mut euids = ListBuilder::new(UInt32Builder::new()).with_field(item(DataType::UInt32));
        let mut ruids = ListBuilder::new(UInt32Builder::new()).with_field(item(DataType::UInt32));
        for ((h, a, u), s) in rows {
            host.append_option(h.and_then(|h| hosts.get(h as usize)));
            asid.append_value(a);
            auid.append_option(u);
            start.append_option(s.start);
            end.append_option(s.end);
            open.append_value(s.logout.is_none());
            records.append_value(s.records);
            failures.append_value(s.failures);
            login_event.append_option(s.login.map(|l| l.0));
            login_time.append_option(s.login.and_then(|l| l.1));
            logout_event.append_option(s.logout.map(|l| l.0));
            logout_time.append_option(s.logout.and_then(|l| l.1));
            port.append_value(s.port);
            addr.append_option(s.addr);
            processes.append_value(s.pids.len() as u64);
            commands.append_value(s.commands);
            for c in &s.first_commands {
                first.values().append_value(c);
            }
            first.append(true);
            euids
                .values()
                .append_slice(&s.euids.into_iter().collect::<Vec<_>>());
            euids.append(true);
            ruids
                .values()
                .append_slice(&s.ruids.into_iter().collect::<Vec<_>>());
            ruids.append(true);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(host.finish()),
            Arc::new(asid.finish()),
            Arc::new(auid.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(open.finish()),
            Arc::new(records.finish()),
            Arc::new(failures.finish()),
            Arc::new(login_event.finish()),
            Arc::new(login_time.finish()),
            Arc::new(logout_event.finish()),
            Arc::new(logout_time.finish()),
            Arc::new(port.finish()),
            Arc::new(addr.finish()),
            Arc::new(processes.finish()),
            Arc::new(commands.finish()),
            Arc::new(first.finish()),
            Arc::new(euids.finish()),
            Arc::new(ruids.finish()),
        ];
        RecordBatch::try_new(Self::schema(), cols)
    }
}
