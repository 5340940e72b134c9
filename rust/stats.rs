//! What `bsmtrail stats` counts, read from records-view batches: totals, the time span,
//! outcomes, and counts by event, user, path, process and minute.
//!
//! A batch is counted in two steps so that the per-record work runs on the workers and
//! the result is the same whatever the thread count: [`Counter::count`] (any thread)
//! reduces one batch to its keys with their counts and hashes, reading the columns in
//! place (a path is an index into the batch's own text, never copied); and
//! [`StatsTally::merge`], in batch order, adds those to the tally, copying only a text
//! key the tally has not held. [`InOrder`] runs the two on a pool. Memory is bounded by the number of distinct keys: every
//! table keeps at most about `cap` of them ([`Capped`]). Event names and classes are not
//! counted here: a count by event number is mapped to them once, from the event
//! database, by whoever reports.

use crate::arrow::{unbox, Batches, Finish};
use crate::ordered::Ordered;
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt16Type, UInt32Type, UInt8Type};
use arrow_array::{Array, ArrayRef, GenericListArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use hashbrown::hash_table::{Entry, HashTable};
use std::hash::Hash;
use std::sync::Arc;

/// The tables' hasher. Their keys come from the evidence, so it is keyed at random per
/// process (aHash with `runtime-rng`: crafted paths cannot be made to collide), and
/// several times faster than the standard SipHash for the few keys hashed per record.
/// One hasher (cloned, same keys) serves the workers' counts and the tally, so a key is
/// hashed once, on a worker.
type Hasher = ahash::RandomState;

/// The records-view columns a tally reads.
pub const COLUMNS: [&str; 9] = [
    "size",
    "event",
    "time",
    "auid",
    "euid",
    "return_status",
    "paths",
    "exec_args",
    "error",
];

/// How many distinct keys a table keeps by default.
pub const DEFAULT_CAP: usize = 100_000;

/// A user id as the user tables key it: ids in order, then "no subject" (`NO_ID`), the
/// order the report lists them in (most records first, ties by id, no subject last).
type Uid = u64;
const NO_ID: Uid = u64::MAX;

/// A key with its hash and count.
#[derive(Clone, Debug)]
struct Slot<K> {
    hash: u64,
    key: K,
    n: u64,
}

/// Add `n` to the slot whose key `is`, hashed `hash`; a new slot's key is made by `own`.
fn add_slot<K>(
    table: &mut HashTable<Slot<K>>,
    hash: u64,
    is: impl Fn(&K) -> bool,
    own: impl FnOnce() -> K,
    n: u64,
) {
    match table.entry(hash, |s| is(&s.key), |s| s.hash) {
        Entry::Occupied(mut e) => e.get_mut().n += n,
        Entry::Vacant(e) => {
            e.insert(Slot {
                hash,
                key: own(),
                n,
            });
        }
    }
}

/// A batch's counts by key: each distinct key once, with its hash and count.
type Local<K> = HashTable<Slot<K>>;

fn add_local<K: Hash + Eq + Copy>(t: &mut Local<K>, hasher: &Hasher, key: K) {
    add_slot(t, hasher.hash_one(key), |k| *k == key, || key, 1);
}

/// Counts by key, keeping about `cap` distinct keys: once twice that many are held, only
/// the `cap` most frequent stay (ties: smallest key) and what was dropped is counted. The
/// counts are then approximate (a key dropped and seen again starts from zero, so a count
/// may be low by up to `dropped_records`), and [`Capped::approximate`] says so.
#[derive(Clone, Debug)]
pub struct Capped<K> {
    table: HashTable<Slot<K>>,
    cap: usize,
    /// Distinct keys dropped (a key dropped twice counts twice) and their records.
    pub dropped_keys: u64,
    pub dropped_records: u64,
}

impl<K> Capped<K> {
    pub fn new(cap: usize) -> Self {
        Capped {
            table: HashTable::new(),
            cap: cap.max(1),
            dropped_keys: 0,
            dropped_records: 0,
        }
    }

    pub fn approximate(&self) -> bool {
        self.dropped_keys > 0
    }

    /// Add a batch's counts of these keys.
    fn add_local(&mut self, local: &Local<K>)
    where
        K: Eq + Copy,
    {
        for s in local {
            add_slot(&mut self.table, s.hash, |&k| k == s.key, || s.key, s.n);
        }
    }

    /// Whether the table holds more than twice its cap: time to [`Capped::keep_by`].
    fn over(&self) -> bool {
        self.table.len() > 2 * self.cap
    }

    /// Keep the `cap` first keys by `order` (most frequent first), counting the others
    /// as dropped; whether any was.
    fn keep_by(&mut self, order: impl Fn(&Slot<K>, &Slot<K>) -> std::cmp::Ordering) -> bool {
        let n = self.cap;
        if self.table.len() <= n {
            return false;
        }
        let mut all: Vec<Slot<K>> = self.table.drain().collect();
        all.select_nth_unstable_by(n, &order);
        for s in all.drain(n..) {
            self.dropped_keys += 1;
            self.dropped_records += s.n;
        }
        for s in all {
            self.table.insert_unique(s.hash, s, |s| s.hash);
        }
        true
    }

    /// The first `top` keys by `order` (every key when None), in that order.
    fn first_by(
        &self,
        top: Option<usize>,
        order: impl Fn(&Slot<K>, &Slot<K>) -> std::cmp::Ordering,
    ) -> Vec<&Slot<K>> {
        let mut all: Vec<&Slot<K>> = self.table.iter().collect();
        let n = top.unwrap_or(usize::MAX).min(all.len());
        if n < all.len() {
            all.select_nth_unstable_by(n, |a, b| order(a, b));
            all.truncate(n);
        }
        all.sort_unstable_by(|a, b| order(a, b));
        all
    }
}

impl<K: Ord + Clone> Capped<K> {
    /// Drop all but the `cap` most frequent keys once there are twice that many (checked
    /// after each batch, so a batch of distinct keys is held whole for a moment).
    fn bound(&mut self) {
        if self.over() {
            self.keep_by(most_first);
        }
    }

    /// Keep at most `cap` keys (the final cut; what it drops is counted).
    pub fn settle(&mut self) {
        self.keep_by(most_first);
    }

    /// The keys and counts, most frequent first (ties: smallest key), at most `cap`, or
    /// at most `top` when that is fewer.
    pub fn sorted(&mut self, top: Option<usize>) -> Vec<(K, u64)> {
        self.settle();
        let first = self.first_by(top, most_first);
        first.into_iter().map(|s| (s.key.clone(), s.n)).collect()
    }
}

fn most_first<K: Ord>(a: &Slot<K>, b: &Slot<K>) -> std::cmp::Ordering {
    b.n.cmp(&a.n).then_with(|| a.key.cmp(&b.key))
}

/// Where a text key is in a [`Texts`] table's arena, and when it was first seen.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    len: usize,
    seq: u64,
}

impl Span {
    fn of(self, arena: &str) -> &str {
        &arena[self.start..self.start + self.len]
    }
}

/// A [`Capped`] table of texts, held in one arena instead of an allocation each: most
/// keys of a large trail are seen once and dropped again (a path per temporary file),
/// and an allocation and a free apiece was a tenth of the count's time. The arena is
/// compacted whenever keys are dropped. Unlike [`Capped`], a cut keeps among equal
/// counts the keys seen first; the rows still come most frequent first, ties by text.
#[derive(Clone, Debug)]
pub struct Texts {
    keys: Capped<Span>,
    arena: String,
    /// Keys added so far (the next one's `seq`).
    seen: u64,
}

impl Texts {
    pub fn new(cap: usize) -> Self {
        Texts {
            keys: Capped::new(cap),
            arena: String::new(),
            seen: 0,
        }
    }

    pub fn approximate(&self) -> bool {
        self.keys.approximate()
    }

    /// (keys, records) dropped.
    pub fn dropped(&self) -> (u64, u64) {
        (self.keys.dropped_keys, self.keys.dropped_records)
    }

    /// Add `n` to `text`, whose hash (by the tally's hasher) is `hash`.
    fn add(&mut self, hash: u64, text: &str, n: u64) {
        let arena = &self.arena;
        match self
            .keys
            .table
            .entry(hash, |s| s.key.of(arena) == text, |s| s.hash)
        {
            Entry::Occupied(mut e) => e.get_mut().n += n,
            Entry::Vacant(e) => {
                let key = Span {
                    start: self.arena.len(),
                    len: text.len(),
                    seq: self.seen,
                };
                self.seen += 1;
                self.arena.push_str(text);
                e.insert(Slot { hash, key, n });
            }
        }
    }

    fn keep(&mut self) {
        // Ties are broken by the key seen first, not by text: a large trail's keys are
        // mostly seen once, and comparing their texts (long shared prefixes) was most of
        // this cut's time.
        let order = |a: &Slot<Span>, b: &Slot<Span>| b.n.cmp(&a.n).then(a.key.seq.cmp(&b.key.seq));
        if self.keys.keep_by(order) {
            let mut kept = String::with_capacity(self.keys.table.iter().map(|s| s.key.len).sum());
            for s in self.keys.table.iter_mut() {
                let text = s.key.of(&self.arena);
                s.key.start = kept.len();
                kept.push_str(text);
            }
            self.arena = kept;
        }
    }

    fn bound(&mut self) {
        if self.keys.over() {
            self.keep();
        }
    }

    /// The texts and counts, most frequent first (ties: smallest text), at most `cap`,
    /// or at most `top` when that is fewer.
    pub fn sorted(&mut self, top: Option<usize>) -> Vec<(&str, u64)> {
        self.keep();
        let arena = &self.arena;
        let order = |a: &Slot<Span>, b: &Slot<Span>| {
            b.n.cmp(&a.n)
                .then_with(|| a.key.of(arena).cmp(b.key.of(arena)))
        };
        let first = self.keys.first_by(top, order);
        first.into_iter().map(|s| (s.key.of(arena), s.n)).collect()
    }
}

/// Where a process name is in a batch: the `i`th text of its exec arguments or paths.
#[derive(Clone, Copy, Debug)]
enum Text {
    Arg(usize),
    Path(usize),
}

/// The totals of a batch or of a tally.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub records: u64,
    /// Sum of the records' sizes.
    pub bytes: u64,
    /// Earliest and latest record time (ms since the epoch, UTC).
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Records without a valid time.
    pub untimed: u64,
    /// Return token status zero, non-zero, and records without a return token.
    pub success: u64,
    pub failure: u64,
    pub no_return: u64,
    /// Records that failed validation (their `error` is set).
    pub record_errors: u64,
}

impl Totals {
    fn add(&mut self, b: &Totals) {
        self.records += b.records;
        self.bytes += b.bytes;
        self.first = min_opt(self.first, b.first);
        self.last = max_opt(self.last, b.last);
        self.untimed += b.untimed;
        self.success += b.success;
        self.failure += b.failure;
        self.no_return += b.no_return;
        self.record_errors += b.record_errors;
    }
}

/// One batch reduced to what the tally adds: totals, and each table's distinct keys.
pub struct BatchCounts {
    totals: Totals,
    /// Records by (event slot, failed).
    events: Local<(usize, bool)>,
    auid: Local<Uid>,
    euid: Local<Uid>,
    minutes: Local<(i64, Option<u16>, bool)>,
    /// Each path of each record: its hash and its index in `path_values` (not gathered
    /// by text here: most paths of a large trail are distinct, and the tally's probe
    /// would repeat the work).
    paths: Vec<(u64, usize)>,
    processes: Vec<(u64, Text)>,
    path_values: StringArray,
    arg_values: StringArray,
}

impl BatchCounts {
    fn text(&self, t: Text) -> &str {
        match t {
            Text::Arg(i) => self.arg_values.value(i),
            Text::Path(i) => self.path_values.value(i),
        }
    }
}

/// Records by event number (null: no header decoded), and how many of them failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCount {
    pub records: u64,
    pub failures: u64,
}

/// What a tally's workers share: the hasher and which events are exec events.
#[derive(Clone, Debug)]
pub struct Counter {
    hasher: Hasher,
    /// Event numbers whose records are exec events (their first path names the process
    /// when they carry no arguments).
    exec_events: Arc<[bool]>,
}

/// Everything `stats` reports, counted batch by batch.
#[derive(Clone, Debug)]
pub struct StatsTally {
    pub totals: Totals,
    /// Records and failures by event number, read by index; the last slot holds records
    /// without an event.
    events: Box<[EventCount]>,
    auid: Capped<Uid>,
    euid: Capped<Uid>,
    /// Every path of every record.
    pub paths: Texts,
    /// A process: an exec record's first argument, else the first path of an exec event.
    pub processes: Texts,
    /// Records by (minute, event, failed), for a chart by class over time.
    pub minutes: Capped<(i64, Option<u16>, bool)>,
    counter: Counter,
}

/// One batch's columns, checked and cast.
struct Cols<'a> {
    size: &'a arrow_array::UInt32Array,
    event: &'a arrow_array::UInt16Array,
    time: &'a arrow_array::TimestampMillisecondArray,
    auid: &'a arrow_array::UInt32Array,
    euid: &'a arrow_array::UInt32Array,
    status: &'a arrow_array::UInt8Array,
    paths: &'a GenericListArray<i32>,
    exec_args: &'a GenericListArray<i32>,
    error: &'a ArrayRef,
}

fn column<'a>(
    batch: &'a RecordBatch,
    name: &str,
    want: &DataType,
) -> Result<&'a ArrayRef, ArrowError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("stats: the batch has no {name} column")))?;
    if !matches!(want, DataType::Null) && col.data_type() != want {
        return Err(ArrowError::SchemaError(format!(
            "stats: column {name} is {}, not {want}",
            col.data_type()
        )));
    }
    Ok(col)
}

fn text_list<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a GenericListArray<i32>, ArrowError> {
    let col = column(batch, name, &DataType::Null)?;
    match col.data_type() {
        DataType::List(f) if f.data_type() == &DataType::Utf8 => Ok(col.as_list::<i32>()),
        other => Err(ArrowError::SchemaError(format!(
            "stats: column {name} is {other}, not a list of strings"
        ))),
    }
}

impl<'a> Cols<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self, ArrowError> {
        let ms = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let time = column(batch, "time", &DataType::Null)?;
        if !matches!(
            time.data_type(),
            DataType::Timestamp(TimeUnit::Millisecond, _)
        ) {
            return Err(ArrowError::SchemaError(format!(
                "stats: column time is {}, not {ms}",
                time.data_type()
            )));
        }
        Ok(Cols {
            size: column(batch, "size", &DataType::UInt32)?.as_primitive::<UInt32Type>(),
            event: column(batch, "event", &DataType::UInt16)?.as_primitive::<UInt16Type>(),
            time: time.as_primitive::<TimestampMillisecondType>(),
            auid: column(batch, "auid", &DataType::UInt32)?.as_primitive::<UInt32Type>(),
            euid: column(batch, "euid", &DataType::UInt32)?.as_primitive::<UInt32Type>(),
            status: column(batch, "return_status", &DataType::UInt8)?.as_primitive::<UInt8Type>(),
            paths: text_list(batch, "paths")?,
            exec_args: text_list(batch, "exec_args")?,
            error: column(batch, "error", &DataType::Null)?,
        })
    }
}

/// Where row `i`'s first text is in `list`'s values, if the row is valid and not empty.
fn first_text(list: &GenericListArray<i32>, i: usize) -> Option<usize> {
    if list.is_null(i) {
        return None;
    }
    let offsets = list.value_offsets();
    let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
    (start < end).then_some(start)
}

fn opt<T: arrow_array::types::ArrowPrimitiveType>(
    a: &arrow_array::PrimitiveArray<T>,
    i: usize,
) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

/// The events table's slot for records without an event.
const NO_EVENT: usize = 1 << 16;

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// A user table's key as the report gives it (None: no subject).
fn uid(k: Uid) -> Option<u32> {
    (k != NO_ID).then_some(k as u32)
}

impl Counter {
    /// One batch reduced to its totals and each table's keys (on any thread).
    pub fn count(&self, batch: &RecordBatch) -> Result<BatchCounts, ArrowError> {
        let c = Cols::of(batch)?;
        let h = &self.hasher;
        let n = batch.num_rows();
        let path_values = c.paths.values().as_string::<i32>().clone();
        let arg_values = c.exec_args.values().as_string::<i32>().clone();
        let mut totals = Totals {
            records: n as u64,
            bytes: c.size.values().iter().map(|&s| u64::from(s)).sum::<u64>(),
            record_errors: (n - c.error.null_count()) as u64,
            ..Totals::default()
        };
        let mut events = Local::new();
        let (mut auid_counts, mut euid_counts, mut minutes) =
            (Local::new(), Local::new(), Local::new());
        let (mut paths, mut processes) = (Vec::new(), Vec::new());
        let path_offsets = c.paths.value_offsets();
        for i in 0..n {
            let event = opt(c.event, i);
            let failed = match opt(c.status, i) {
                None => {
                    totals.no_return += 1;
                    false
                }
                Some(0) => {
                    totals.success += 1;
                    false
                }
                Some(_) => {
                    totals.failure += 1;
                    true
                }
            };
            add_local(
                &mut events,
                h,
                (event.map_or(NO_EVENT, usize::from), failed),
            );
            match opt(c.time, i) {
                None => totals.untimed += 1,
                Some(t) => {
                    totals.first = min_opt(totals.first, Some(t));
                    totals.last = max_opt(totals.last, Some(t));
                    let minute = t.div_euclid(60_000) * 60_000;
                    add_local(&mut minutes, h, (minute, event, failed));
                }
            }
            // An unset auid is null in the column (schema 2) but a subject is there (its
            // euid is not null): the table keeps it apart from records with no subject.
            let auid = match opt(c.auid, i) {
                Some(a) => Uid::from(a),
                None if c.euid.is_valid(i) => Uid::from(u32::MAX),
                None => NO_ID,
            };
            add_local(&mut auid_counts, h, auid);
            add_local(&mut euid_counts, h, opt(c.euid, i).map_or(NO_ID, Uid::from));
            if c.paths.is_valid(i) {
                let (start, end) = (path_offsets[i] as usize, path_offsets[i + 1] as usize);
                for p in start..end {
                    paths.push((h.hash_one(path_values.value(p)), p));
                }
            }
            let exec = event.is_some_and(|e| self.exec_events[usize::from(e)]);
            let process = first_text(c.exec_args, i).map(Text::Arg).or_else(|| {
                exec.then(|| first_text(c.paths, i).map(Text::Path))
                    .flatten()
            });
            if let Some(t) = process {
                let text = match t {
                    Text::Arg(k) => arg_values.value(k),
                    Text::Path(k) => path_values.value(k),
                };
                processes.push((h.hash_one(text), t));
            }
        }
        Ok(BatchCounts {
            totals,
            events,
            auid: auid_counts,
            euid: euid_counts,
            minutes,
            paths,
            processes,
            path_values,
            arg_values,
        })
    }
}

impl StatsTally {
    /// Records and failures by event number (None: no event), most records first (ties:
    /// by event, None first).
    pub fn events(&self) -> Vec<(Option<u16>, EventCount)> {
        let mut all: Vec<(Option<u16>, EventCount)> = self
            .events
            .iter()
            .enumerate()
            .filter(|(_, c)| c.records > 0)
            .map(|(i, c)| ((i != NO_EVENT).then_some(i as u16), *c))
            .collect();
        all.sort_unstable_by(|a, b| b.1.records.cmp(&a.1.records).then(a.0.cmp(&b.0)));
        all
    }

    /// `exec_events`: the event numbers of exec events (named in the event database).
    pub fn new(exec_events: &[u16], cap: usize) -> Self {
        let mut exec = vec![false; 1 << 16];
        for &e in exec_events {
            exec[usize::from(e)] = true;
        }
        StatsTally {
            totals: Totals::default(),
            events: vec![EventCount::default(); NO_EVENT + 1].into_boxed_slice(),
            auid: Capped::new(cap),
            euid: Capped::new(cap),
            paths: Texts::new(cap),
            processes: Texts::new(cap),
            minutes: Capped::new(cap),
            counter: Counter {
                hasher: Hasher::new(),
                exec_events: exec.into(),
            },
        }
    }

    /// What counts a batch for this tally, on any thread ([`Counter::count`]); its
    /// results go to [`StatsTally::merge`] in batch order.
    pub fn counter(&self) -> Counter {
        self.counter.clone()
    }

    /// Count one batch of the records view (it must have the [`COLUMNS`]).
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let counts = self.counter.count(batch)?;
        self.merge(counts);
        Ok(())
    }

    /// Add one batch's counts (made by this tally's [`Counter`]); batches merged in the
    /// same order give the same tally, whichever threads counted them.
    pub fn merge(&mut self, b: BatchCounts) {
        if b.totals.records == 0 {
            return;
        }
        self.totals.add(&b.totals);
        for s in &b.events {
            let (slot, failed) = s.key;
            let e = &mut self.events[slot];
            e.records += s.n;
            e.failures += if failed { s.n } else { 0 };
        }
        self.auid.add_local(&b.auid);
        self.euid.add_local(&b.euid);
        self.minutes.add_local(&b.minutes);
        for &(hash, i) in &b.paths {
            self.paths.add(hash, b.path_values.value(i), 1);
        }
        for &(hash, t) in &b.processes {
            self.processes.add(hash, b.text(t), 1);
        }
        self.auid.bound();
        self.euid.bound();
        self.paths.bound();
        self.processes.bound();
        self.minutes.bound();
    }

    /// The user tables (by auid and by euid; None: no subject), most records first, ties
    /// by id and no subject last; at most `top` rows.
    pub fn users(&mut self, top: Option<usize>) -> [Vec<(Option<u32>, u64)>; 2] {
        let rows = |c: &mut Capped<Uid>| {
            c.sorted(top)
                .into_iter()
                .map(|(k, n)| (uid(k), n))
                .collect()
        };
        [rows(&mut self.auid), rows(&mut self.euid)]
    }

    /// Keys dropped from the user tables (auid, euid): (keys, records), None when exact.
    pub fn users_dropped(&self) -> [Option<(u64, u64)>; 2] {
        let d = |c: &Capped<Uid>| {
            c.approximate()
                .then_some((c.dropped_keys, c.dropped_records))
        };
        [d(&self.auid), d(&self.euid)]
    }
}

/// A tally fed batch by batch: each batch's columns are checked at once, it is counted
/// on one of `threads` workers (0: every core, 1: the caller's thread) while the next
/// ones come, and the counts are merged in the order the batches were added, so the
/// tally does not depend on the thread count. With workers, the merge runs on a thread
/// of its own (`bsmtrail-stats-merge`): it is the one step that cannot be split, and on
/// the caller's thread it waited for the caller's framing and the framing for it. At
/// most two batches per worker wait to be counted and [`MERGE_QUEUE`] to be merged.
pub struct InOrder {
    counting: Ordered<Result<BatchCounts, ArrowError>>,
    merging: Merging,
    /// What counts a batch (a copy of the tally's, wherever the tally is).
    counter: Counter,
}

/// Counted batches waiting for the merge thread.
pub const MERGE_QUEUE: usize = 2;

/// Where the tally is: here (no workers, or between a [`InOrder::tally`] and the next
/// batch), or owned by the merge thread, which hands it back when its queue closes.
enum Merging {
    Here(Box<StatsTally>),
    Thread {
        queue: std::sync::mpsc::SyncSender<BatchCounts>,
        done: std::thread::JoinHandle<StatsTally>,
    },
    /// The merge thread died (a bug): nothing more can be counted.
    Lost,
}

fn lost() -> ArrowError {
    ArrowError::ComputeError("merging counts failed (a bug): the tally is lost".into())
}

impl InOrder {
    pub fn new(tally: StatsTally, threads: usize) -> std::io::Result<Self> {
        Ok(InOrder {
            counting: Ordered::new(threads, "stats")?,
            counter: tally.counter(),
            merging: Merging::Here(Box::new(tally)),
        })
    }

    /// Hand the oldest batch's counts to the merge; false when none is in flight.
    fn merge_one(&mut self) -> Result<bool, ArrowError> {
        let counts = match self.counting.take() {
            None => return Ok(false),
            Some(Ok(counts)) => counts?,
            Some(Err(_)) => {
                return Err(ArrowError::ComputeError(
                    "counting a batch failed (a bug)".into(),
                ))
            }
        };
        self.merge(counts)?;
        Ok(true)
    }

    /// Merge one batch's counts: here with no workers, else on the merge thread.
    fn merge(&mut self, counts: BatchCounts) -> Result<(), ArrowError> {
        if let Merging::Here(t) = &mut self.merging {
            if self.counting.on_caller() {
                t.merge(counts);
                return Ok(());
            }
            self.start_thread()?;
        }
        match &self.merging {
            Merging::Thread { queue, .. } => match queue.send(counts) {
                Ok(()) => Ok(()),
                Err(_) => {
                    self.stop_thread()?; // it died: says so
                    Err(lost())
                }
            },
            Merging::Here(_) | Merging::Lost => Err(lost()),
        }
    }

    /// Move the tally to a merge thread.
    fn start_thread(&mut self) -> Result<(), ArrowError> {
        let Merging::Here(tally) = std::mem::replace(&mut self.merging, Merging::Lost) else {
            return Err(lost());
        };
        let (queue, incoming) = std::sync::mpsc::sync_channel::<BatchCounts>(MERGE_QUEUE);
        let mut tally = *tally;
        let done = std::thread::Builder::new()
            .name("bsmtrail-stats-merge".into())
            .spawn(move || {
                for counts in incoming {
                    tally.merge(counts);
                }
                tally
            })
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
        self.merging = Merging::Thread { queue, done };
        Ok(())
    }

    /// Close the merge thread's queue and take the tally back once it has merged it.
    fn stop_thread(&mut self) -> Result<(), ArrowError> {
        match std::mem::replace(&mut self.merging, Merging::Lost) {
            Merging::Thread { queue, done } => {
                drop(queue);
                let tally = done.join().map_err(|_| lost())?;
                self.merging = Merging::Here(Box::new(tally));
                Ok(())
            }
            Merging::Here(t) => {
                self.merging = Merging::Here(t);
                Ok(())
            }
            Merging::Lost => Err(lost()),
        }
    }

    /// Count `batch` (it must have the [`COLUMNS`]: a batch without them is refused
    /// here, before anything is counted).
    pub fn add(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        Cols::of(&batch)?;
        while self.counting.full() {
            self.merge_one()?;
        }
        if let Merging::Lost = self.merging {
            return Err(lost());
        }
        let counter = self.counter.clone();
        self.counting.submit(move || counter.count(&batch));
        Ok(())
    }

    /// Count every batch of `batches` (records-view batches with the [`COLUMNS`]), after
    /// the batches added before. When the stream is a plain reader with one batch per
    /// chunk, each batch is counted on the worker that decoded it
    /// ([`crate::arrow::BatchReader::fuse`]): no batch waits in a queue to be counted.
    /// `progress` runs after each batch is handed to the merge.
    pub fn add_stream(
        &mut self,
        batches: Box<dyn Batches>,
        progress: &mut dyn FnMut() -> Result<(), ArrowError>,
    ) -> Result<(), ArrowError> {
        Cols::of(&RecordBatch::new_empty(batches.schema()))?;
        let counter = self.counter.clone();
        let count: Finish = Arc::new(move |_, batch| Ok(Box::new(counter.count(&batch)?)));
        let reader = match batches.into_reader().map(|r| r.fuse(count)) {
            Ok(Ok(fused)) => {
                // Whatever was added batch by batch is merged first: the order holds.
                while self.merge_one()? {}
                for counts in fused {
                    self.merge(unbox(counts?)?)?;
                    progress()?;
                }
                return Ok(());
            }
            Ok(Err(reader)) => reader as Box<dyn Batches>,
            Err(batches) => batches,
        };
        for batch in reader {
            self.add(batch?)?;
            progress()?;
        }
        Ok(())
    }

    /// The tally with every batch added so far merged (batches added later go on
    /// from there).
    pub fn tally(&mut self) -> Result<&mut StatsTally, ArrowError> {
        while self.merge_one()? {}
        self.stop_thread()?;
        match &mut self.merging {
            Merging::Here(t) => Ok(t),
            _ => Err(lost()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{
        DictionaryArray, TimestampMillisecondArray, UInt16Array, UInt32Array, UInt8Array,
    };
    use arrow_schema::{Field, Schema};
    use std::collections::HashMap;

    #[test]
    fn capped_keeps_the_most_frequent_and_counts_what_it_drops() {
        let h = Hasher::new();
        let mut c = Texts::new(2);
        for (k, n) in [("a", 5), ("bb", 3), ("c", 1), ("d", 1), ("e", 2)] {
            for _ in 0..n {
                c.add(h.hash_one(k), k, 1);
            }
        }
        c.bound(); // 5 keys > 2 * 2: keep a, bb
        assert_eq!(c.arena.len(), 3, "the arena holds only the kept texts");
        assert_eq!(c.sorted(None), vec![("a", 5), ("bb", 3)]);
        assert_eq!(c.dropped(), (3, 4));
        assert!(c.approximate());
        c.add(h.hash_one("bb"), "bb", 3);
        c.add(h.hash_one("z"), "z", 1);
        assert_eq!(c.sorted(None), vec![("bb", 6), ("a", 5)]);
        assert_eq!(c.dropped(), (4, 5));
        // Among equal counts a cut keeps the keys seen first, whatever the hasher; the
        // rows then come by text.
        for _ in 0..3 {
            let h = Hasher::new();
            let mut c = Texts::new(2);
            for k in ["q", "", "b", "a", "c"] {
                c.add(h.hash_one(k), k, 1);
            }
            assert_eq!(c.sorted(None), vec![("", 1), ("q", 1)]);
            assert_eq!(c.arena.len(), 1);
        }
        let mut exact: Capped<u32> = Capped::new(10);
        for (k, n) in [(7, 2), (3, 2), (9, 5)] {
            add_slot(&mut exact.table, h.hash_one(k), |&x| x == k, || k, n);
        }
        assert_eq!(exact.sorted(None), vec![(9, 5), (3, 2), (7, 2)]);
        assert_eq!(exact.sorted(Some(2)), vec![(9, 5), (3, 2)]);
        assert!(!exact.approximate());
    }

    /// One record of a hand-built batch.
    #[derive(Clone, Debug)]
    struct Row {
        event: Option<u16>,
        time: Option<i64>,
        auid: Option<u32>,
        euid: Option<u32>,
        status: Option<u8>,
        paths: Option<Vec<String>>,
        args: Option<Vec<String>>,
        error: bool,
    }

    fn texts(rows: &[Row], f: impl Fn(&Row) -> &Option<Vec<String>>) -> ArrayRef {
        let item = Field::new("item", DataType::Utf8, false);
        let mut b = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(item));
        for r in rows {
            match f(r) {
                Some(v) => {
                    for p in v {
                        b.values().append_value(p);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    fn batch(rows: &[Row]) -> RecordBatch {
        let size: UInt32Array = rows
            .iter()
            .map(|r| Some(100 + r.paths.iter().count() as u32))
            .collect();
        let event: UInt16Array = rows.iter().map(|r| r.event).collect();
        let time: TimestampMillisecondArray = rows.iter().map(|r| r.time).collect();
        let auid: UInt32Array = rows.iter().map(|r| r.auid).collect();
        let euid: UInt32Array = rows.iter().map(|r| r.euid).collect();
        let status: UInt8Array = rows.iter().map(|r| r.status).collect();
        let error: DictionaryArray<arrow_array::types::Int32Type> =
            rows.iter().map(|r| r.error.then_some("bad")).collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(size),
            Arc::new(event),
            Arc::new(time.with_timezone("UTC")),
            Arc::new(auid),
            Arc::new(euid),
            Arc::new(status),
            texts(rows, |r| &r.paths),
            texts(rows, |r| &r.args),
            Arc::new(error),
        ];
        let fields: Vec<Field> = COLUMNS
            .iter()
            .zip(&cols)
            .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    /// The tables counted record by record, the plain way, with no cap.
    #[derive(Debug, Default, PartialEq)]
    struct Plain {
        records: u64,
        first: Option<i64>,
        last: Option<i64>,
        outcomes: [u64; 3],
        errors: u64,
        events: HashMap<Option<u16>, (u64, u64)>,
        auid: HashMap<Option<u32>, u64>,
        euid: HashMap<Option<u32>, u64>,
        paths: HashMap<String, u64>,
        processes: HashMap<String, u64>,
        minutes: HashMap<(i64, Option<u16>, bool), u64>,
    }

    fn plain(rows: &[Row], exec: u16) -> Plain {
        let mut p = Plain::default();
        for r in rows {
            p.records += 1;
            let failed = r.status.is_some_and(|s| s != 0);
            p.outcomes[match r.status {
                None => 2,
                Some(0) => 0,
                Some(_) => 1,
            }] += 1;
            p.errors += u64::from(r.error);
            let e = p.events.entry(r.event).or_default();
            e.0 += 1;
            e.1 += u64::from(failed);
            if let Some(t) = r.time {
                p.first = Some(p.first.map_or(t, |f| f.min(t)));
                p.last = Some(p.last.map_or(t, |l| l.max(t)));
                *p.minutes
                    .entry((t.div_euclid(60_000) * 60_000, r.event, failed))
                    .or_default() += 1;
            }
            let auid = r.auid.or(r.euid.map(|_| u32::MAX));
            *p.auid.entry(auid).or_default() += 1;
            *p.euid.entry(r.euid).or_default() += 1;
            for path in r.paths.iter().flatten() {
                *p.paths.entry(path.clone()).or_default() += 1;
            }
            let first = |v: &Option<Vec<String>>| v.as_ref().and_then(|v| v.first().cloned());
            let process = first(&r.args)
                .or_else(|| (r.event == Some(exec)).then(|| first(&r.paths)).flatten());
            if let Some(name) = process {
                *p.processes.entry(name).or_default() += 1;
            }
        }
        p
    }

    fn tallied(t: &mut StatsTally) -> Plain {
        let [auid, euid] = t.users(None);
        let texts = |c: &mut Texts| {
            c.sorted(None)
                .into_iter()
                .map(|(k, n)| (k.into(), n))
                .collect()
        };
        Plain {
            records: t.totals.records,
            first: t.totals.first,
            last: t.totals.last,
            outcomes: [t.totals.success, t.totals.failure, t.totals.no_return],
            errors: t.totals.record_errors,
            events: t
                .events()
                .into_iter()
                .map(|(e, c)| (e, (c.records, c.failures)))
                .collect(),
            auid: auid.into_iter().collect(),
            euid: euid.into_iter().collect(),
            paths: texts(&mut t.paths),
            processes: texts(&mut t.processes),
            minutes: t.minutes.sorted(None).into_iter().collect(),
        }
    }

    fn rows() -> impl Strategy<Value = Vec<Row>> {
        let text = prop::collection::vec(
            prop::sample::select(vec!["/a", "/b", "/bin/sh", "", "é"]),
            0..3,
        )
        .prop_map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        let row = (
            prop::option::of(prop::sample::select(vec![1u16, 7, 23, 65535])),
            prop::option::of(-200_000i64..400_000),
            prop::option::of(prop::sample::select(vec![0u32, 5, u32::MAX - 1])),
            prop::option::of(prop::sample::select(vec![0u32, 5])),
            prop::option::of(prop::sample::select(vec![0u8, 1, 255])),
            prop::option::of(text.clone()),
            prop::option::of(text),
            any::<bool>(),
        )
            .prop_map(
                |(event, time, auid, euid, status, paths, args, error)| Row {
                    event,
                    time,
                    auid,
                    euid,
                    status,
                    paths,
                    args,
                    error,
                },
            );
        prop::collection::vec(row, 0..40)
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Batches counted on other threads, in any order, and merged in batch order give
        /// the record-by-record counts; with a small cap, the same (approximate) tally as
        /// counting each batch where it is merged.
        #[test]
        fn counted_anywhere_merged_in_order(
            parts in prop::collection::vec(rows(), 1..6),
            cap in 1usize..6,
        ) {
            let all: Vec<Row> = parts.concat();
            let mut exact = StatsTally::new(&[7], 1 << 20);
            let counter = exact.counter();
            let batches: Vec<RecordBatch> = parts.iter().map(|p| batch(p)).collect();
            // Counted on threads that finish in reverse order, merged in batch order.
            let counts: Vec<BatchCounts> = std::thread::scope(|s| {
                let handles: Vec<_> = batches
                    .iter()
                    .rev()
                    .map(|b| {
                        let c = counter.clone();
                        s.spawn(move || c.count(b).unwrap())
                    })
                    .collect();
                let mut v: Vec<BatchCounts> = handles.into_iter().map(|h| h.join().unwrap()).collect();
                v.reverse();
                v
            });
            for c in counts {
                exact.merge(c);
            }
            let want = plain(&all, 7);
            prop_assert_eq!(tallied(&mut exact), want);
            prop_assert_eq!(exact.totals.bytes, all.iter().map(|r| 100 + r.paths.iter().count() as u64).sum::<u64>());

            let mut here = StatsTally::new(&[7], cap);
            let mut there = StatsTally::new(&[7], cap);
            let counter = there.counter();
            for b in &batches {
                here.add(b).unwrap();
                let c = std::thread::scope(|s| s.spawn(|| counter.count(b).unwrap()).join().unwrap());
                there.merge(c);
            }
            prop_assert_eq!(tallied(&mut here), tallied(&mut there));
            prop_assert_eq!(here.paths.dropped(), there.paths.dropped());
        }

        /// The pipeline (counting workers, a merge thread) gives the tally of adding the
        /// batches one by one here, on 1, 2 and 4 threads, capped or not, with its tally
        /// read halfway and batches added after that.
        #[test]
        fn in_order_is_the_tally_of_each_batch_added_here(
            parts in prop::collection::vec(rows(), 1..8),
            cap in 1usize..6,
            read_after in 0usize..8,
        ) {
            let batches: Vec<RecordBatch> = parts.iter().map(|p| batch(p)).collect();
            let mut want = StatsTally::new(&[7], cap);
            for b in &batches {
                want.add(b).unwrap();
            }
            let want = (tallied(&mut want), want.paths.dropped(), want.totals);
            for threads in [1, 2, 4] {
                let mut t = InOrder::new(StatsTally::new(&[7], cap), threads).unwrap();
                for (i, b) in batches.iter().enumerate() {
                    t.add(b.clone()).unwrap();
                    if i == read_after {
                        t.tally().unwrap();
                    }
                }
                let got = t.tally().unwrap();
                prop_assert_eq!(&(tallied(got), got.paths.dropped(), got.totals), &want, "threads={}", threads);
            }
        }
    }

    /// A stream counted where it was decoded (`add_stream`) is the tally of adding its
    /// batches here one by one, after batches added before it, on 1, 2 and 4 threads; a
    /// selective stream (not fusable) the same through `add`.
    #[test]
    fn a_stream_counted_where_it_was_decoded_is_the_tally_of_its_batches() {
        use crate::arrow::tests::{demo_with_damage, reader};
        use crate::arrow::{Col, Options, View};
        use crate::select::{AllOf, Selection};
        let t = demo_with_damage(50, &[0x14, 0xff, 0, 0, 9, 9, 9]);
        let cols: Vec<Col> = COLUMNS.iter().map(|c| Col::from_name(c).unwrap()).collect();
        let keep_all_but_exit = Arc::new(AllOf::new(vec![Selection {
            events: Some(vec![1]),
            invert: true,
            ..Selection::default()
        }]));
        for selection in [None, Some(keep_all_but_exit)] {
            for (threads, batch_size) in [(1, 7), (2, 7), (4, 7), (2, 500)] {
                let opts = || Options {
                    view: View::Records(cols.clone()),
                    threads,
                    batch_size,
                    selection: selection.clone(),
                    ..Options::default()
                };
                let batches: Vec<RecordBatch> =
                    reader(&t, opts()).collect::<Result<_, _>>().unwrap();
                assert!(batches.len() > 3);
                // Two batches added one by one, then the whole stream.
                let first = &batches[..2];
                let mut want = StatsTally::new(&[7, 23], 4);
                for b in first.iter().chain(&batches) {
                    want.add(b).unwrap();
                }
                let want = (tallied(&mut want), want.paths.dropped(), want.totals);
                let mut got = InOrder::new(StatsTally::new(&[7, 23], 4), threads).unwrap();
                for b in first {
                    got.add(b.clone()).unwrap();
                }
                let mut ticks = 0;
                got.add_stream(Box::new(reader(&t, opts())), &mut || {
                    ticks += 1;
                    Ok(())
                })
                .unwrap();
                assert_eq!(ticks, batches.len());
                let got = got.tally().unwrap();
                let got = (tallied(got), got.paths.dropped(), got.totals);
                assert_eq!(got, want, "threads={threads} batch={batch_size}");
            }
        }
    }

    #[test]
    fn a_batch_without_a_column_is_refused() {
        let b = batch(&[]);
        let b = b.project(&[0, 1, 2, 3, 4, 5, 7, 8]).unwrap();
        let mut t = InOrder::new(StatsTally::new(&[], 10), 2).unwrap();
        let err = t.add(b).unwrap_err().to_string();
        assert!(err.contains("paths"), "{err}");
    }
}
