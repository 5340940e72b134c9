//! What `bsmtrail stats` counts, read from records-view batches: totals, the time span,
//! outcomes, and counts by event, user, path, process and minute.
//!
//! Each batch's columns are read as arrays (no value is copied but a text key seen for the
//! first time), so the cost is a pass over the columns, and memory is bounded by the
//! number of distinct keys: every table keeps at most about `cap` of them ([`Capped`]).
//! Event names and classes are not counted here: a count by event number is mapped to
//! them once, from the event database, by whoever reports.

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt16Type, UInt32Type, UInt8Type};
use arrow_array::{Array, ArrayRef, GenericListArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use std::collections::HashMap;
use std::hash::Hash;

/// The tables' maps. Their keys come from the evidence, so the hasher is keyed at random
/// per process (aHash with `runtime-rng`: crafted paths cannot be made to collide), and
/// several times faster than the standard SipHash for the few keys hashed per record.
type Map<K, V> = HashMap<K, V, ahash::RandomState>;

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

/// Counts by key, keeping about `cap` distinct keys: once twice that many are held, only
/// the `cap` most frequent stay (ties: smallest key) and what was dropped is counted. The
/// counts are then approximate (a key dropped and seen again starts from zero, so a count
/// may be low by up to `dropped_records`), and [`Capped::approximate`] says so.
#[derive(Clone, Debug)]
pub struct Capped<K> {
    counts: Map<K, u64>,
    cap: usize,
    /// Distinct keys dropped (a key dropped twice counts twice) and their records.
    pub dropped_keys: u64,
    pub dropped_records: u64,
}

impl<K: Hash + Eq + Ord + Clone> Capped<K> {
    pub fn new(cap: usize) -> Self {
        Capped {
            counts: Map::default(),
            cap: cap.max(1),
            dropped_keys: 0,
            dropped_records: 0,
        }
    }

    pub fn approximate(&self) -> bool {
        self.dropped_keys > 0
    }

    fn add(&mut self, key: K, n: u64) {
        *self.counts.entry(key).or_default() += n;
    }

    /// Drop all but the `cap` most frequent keys once there are twice that many (checked
    /// after each batch, so a batch of distinct keys is held whole for a moment).
    fn bound(&mut self) {
        if self.counts.len() > 2 * self.cap {
            self.keep(self.cap);
        }
    }

    fn keep(&mut self, n: usize) {
        if self.counts.len() <= n {
            return;
        }
        let mut all: Vec<(K, u64)> = self.counts.drain().collect();
        all.select_nth_unstable_by(n, most_first);
        for (_, c) in all.drain(n..) {
            self.dropped_keys += 1;
            self.dropped_records += c;
        }
        self.counts.extend(all);
    }

    /// The keys and counts, most frequent first (ties: smallest key), at most `cap`.
    pub fn sorted(&mut self) -> Vec<(K, u64)> {
        self.keep(self.cap);
        let mut all: Vec<(K, u64)> = self.counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
        all.sort_unstable_by(most_first);
        all
    }
}

fn most_first<K: Ord>(a: &(K, u64), b: &(K, u64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

impl Capped<String> {
    /// Count `key` without allocating when it is already held.
    fn add_str(&mut self, key: &str) {
        match self.counts.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(key.to_owned(), 1);
            }
        }
    }
}

/// Records by event number (null: no header decoded), and how many of them failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCount {
    pub records: u64,
    pub failures: u64,
}

/// Everything `stats` reports, counted batch by batch.
#[derive(Clone, Debug)]
pub struct StatsTally {
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
    /// Records and failures by event number, read by index (a per-record hash lookup
    /// was not needed for a 16-bit key); the last slot holds records without an event.
    events: Box<[EventCount]>,
    pub auid: Capped<Option<u32>>,
    pub euid: Capped<Option<u32>>,
    /// Every path of every record.
    pub paths: Capped<String>,
    /// A process: an exec record's first argument, else the first path of an exec event.
    pub processes: Capped<String>,
    /// Records by (minute, event, failed), for a chart by class over time.
    pub minutes: Capped<(i64, Option<u16>, bool)>,
    /// Event numbers whose records are exec events (their first path names the process
    /// when they carry no arguments).
    exec_events: Box<[bool]>,
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

/// Element `i` of a list of strings, if the row is valid and the list long enough.
fn first_text<'a>(
    list: &'a GenericListArray<i32>,
    values: &'a StringArray,
    i: usize,
) -> Option<&'a str> {
    if list.is_null(i) {
        return None;
    }
    let offsets = list.value_offsets();
    let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
    (start < end).then(|| values.value(start))
}

fn opt<T: arrow_array::types::ArrowPrimitiveType>(
    a: &arrow_array::PrimitiveArray<T>,
    i: usize,
) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

/// The events table's slot for records without an event.
const NO_EVENT: usize = 1 << 16;

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
        let mut exec = vec![false; 1 << 16].into_boxed_slice();
        for &e in exec_events {
            exec[usize::from(e)] = true;
        }
        StatsTally {
            records: 0,
            bytes: 0,
            first: None,
            last: None,
            untimed: 0,
            success: 0,
            failure: 0,
            no_return: 0,
            record_errors: 0,
            events: vec![EventCount::default(); NO_EVENT + 1].into_boxed_slice(),
            auid: Capped::new(cap),
            euid: Capped::new(cap),
            paths: Capped::new(cap),
            processes: Capped::new(cap),
            minutes: Capped::new(cap),
            exec_events: exec,
        }
    }

    /// Count one batch of the records view (it must have the [`COLUMNS`]).
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let c = Cols::of(batch)?;
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        self.records += n as u64;
        self.bytes += c.size.values().iter().map(|&s| u64::from(s)).sum::<u64>();
        self.record_errors += (n - c.error.null_count()) as u64;
        let path_values = c.paths.values().as_string::<i32>();
        let arg_values = c.exec_args.values().as_string::<i32>();
        let path_offsets = c.paths.value_offsets();
        for i in 0..n {
            let event = opt(c.event, i);
            let failed = match opt(c.status, i) {
                None => {
                    self.no_return += 1;
                    false
                }
                Some(0) => {
                    self.success += 1;
                    false
                }
                Some(_) => {
                    self.failure += 1;
                    true
                }
            };
            let e = &mut self.events[event.map_or(NO_EVENT, usize::from)];
            e.records += 1;
            e.failures += u64::from(failed);
            match opt(c.time, i) {
                None => self.untimed += 1,
                Some(t) => {
                    self.first = Some(self.first.map_or(t, |f| f.min(t)));
                    self.last = Some(self.last.map_or(t, |l| l.max(t)));
                    let minute = t.div_euclid(60_000) * 60_000;
                    self.minutes.add((minute, event, failed), 1);
                }
            }
            // An unset auid is null in the column (schema 2) but a subject is there (its
            // euid is not null): the table keeps it apart from records with no subject.
            let auid = opt(c.auid, i).or_else(|| c.euid.is_valid(i).then_some(u32::MAX));
            self.auid.add(auid, 1);
            self.euid.add(opt(c.euid, i), 1);
            if c.paths.is_valid(i) {
                let (start, end) = (path_offsets[i] as usize, path_offsets[i + 1] as usize);
                for p in start..end {
                    self.paths.add_str(path_values.value(p));
                }
            }
            let exec = event.is_some_and(|e| self.exec_events[usize::from(e)]);
            let process = first_text(c.exec_args, arg_values, i)
                .or_else(|| exec.then(|| first_text(c.paths, path_values, i)).flatten());
            if let Some(p) = process {
                self.processes.add_str(p);
            }
        }
        self.auid.bound();
        self.euid.bound();
        self.paths.bound();
        self.processes.bound();
        self.minutes.bound();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_keeps_the_most_frequent_and_counts_what_it_drops() {
        let mut c: Capped<String> = Capped::new(2);
        for (k, n) in [("a", 5), ("b", 3), ("c", 1), ("d", 1), ("e", 2)] {
            for _ in 0..n {
                c.add_str(k);
            }
        }
        c.bound(); // 5 keys > 2 * 2: keep a, b
        assert_eq!(c.sorted(), vec![("a".to_string(), 5), ("b".to_string(), 3)]);
        assert_eq!((c.dropped_keys, c.dropped_records), (3, 4));
        assert!(c.approximate());
        let mut exact: Capped<u32> = Capped::new(10);
        exact.add(7, 2);
        exact.add(3, 2);
        exact.add(9, 5);
        assert_eq!(exact.sorted(), vec![(9, 5), (3, 2), (7, 2)]);
        assert!(!exact.approximate());
    }
}
