//! What a stream found in each input, gathered as it goes: the pipeline knows where it
//! skipped damage, which records failed validation and which ones a selection could not
//! decide, so callers never rebuild this from gaps between rows.
//!
//! Each chunk's findings ([`Notes`]) are made on the worker that decoded it and merged into
//! the shared [`Report`] in chunk order when its batch is handed out, so the kept entries
//! are the first ones in input order whatever the thread count.

use crate::error::DecodeError;
use crate::tally::{DamageLog, Kept, DEFAULT_KEEP};
use std::sync::{Arc, Mutex};

/// What a stream found in one input (or one chunk of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Findings {
    /// Records framed (before any selection).
    pub records: u64,
    /// Bytes of the records framed.
    pub record_bytes: u64,
    /// Records that became rows (all of them, or those the selection kept).
    pub rows: u64,
    /// Regions framing skipped (recover mode).
    pub damage: DamageLog,
    /// Records that framed but failed validation: rows with `error` set in recover mode
    /// (with a selection, only the records it kept are validated).
    pub failing: DamageLog,
    /// Offsets of records a selection left out because a token bsmtrail cannot decode
    /// hides what a criterion depends on.
    pub undecided: Kept<u64>,
    /// A time-ordered read's records older than one their input had already given out
    /// (`crate::merge::Late`): (offset, the record's time, the time it went out as).
    pub late: Kept<Late>,
}

/// (offset, time, time it went out as); times are (seconds, msec).
pub type Late = (u64, (i64, u64), (i64, u64));

impl Default for Findings {
    fn default() -> Self {
        Findings {
            records: 0,
            record_bytes: 0,
            rows: 0,
            damage: DamageLog::new(DEFAULT_KEEP),
            failing: DamageLog::new(DEFAULT_KEEP),
            undecided: Kept::new(DEFAULT_KEEP),
            late: Kept::new(DEFAULT_KEEP),
        }
    }
}

impl Findings {
    /// Append `other`, found after everything in `self`.
    fn absorb(&mut self, other: Findings) {
        self.records += other.records;
        self.record_bytes += other.record_bytes;
        self.rows += other.rows;
        self.damage.absorb(other.damage);
        self.failing.absorb(other.failing);
        self.undecided.absorb(other.undecided);
        self.late.absorb(other.late);
    }
}

/// One input's findings so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputReport {
    /// The input's name (its `source` value).
    pub name: String,
    pub found: Findings,
}

/// Every input's findings; `finished` once the stream has handed out its last batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub inputs: Vec<InputReport>,
    pub finished: bool,
}

/// The report a reader fills and its callers read, from any thread.
pub type SharedReport = Arc<Mutex<Report>>;

pub(crate) fn shared(names: &[String]) -> SharedReport {
    Arc::new(Mutex::new(Report {
        inputs: names
            .iter()
            .map(|n| InputReport {
                name: n.clone(),
                found: Findings::default(),
            })
            .collect(),
        finished: false,
    }))
}

/// One chunk's findings, by input (a chunk spans few inputs: a short list).
#[derive(Debug, Default)]
pub(crate) struct Notes {
    by_input: Vec<(i32, Findings)>,
}

impl Notes {
    pub fn of(&mut self, source: i32) -> &mut Findings {
        let at = match self.by_input.iter().position(|(s, _)| *s == source) {
            Some(i) => i,
            None => {
                self.by_input.push((source, Findings::default()));
                self.by_input.len() - 1
            }
        };
        &mut self.by_input[at].1
    }

    pub fn damage(&mut self, source: i32, offset: u64, len: u64, error: &DecodeError) {
        self.of(source).damage.push(offset, len, error);
    }

    pub fn failing(&mut self, source: i32, offset: u64, len: u64, error: &DecodeError) {
        self.of(source).failing.push(offset, len, error);
    }

    pub fn undecided(&mut self, source: i32, offset: u64) {
        self.of(source).undecided.push(offset);
    }

    /// Merge into `report` (this chunk comes after every chunk merged before).
    pub fn merge_into(self, report: &SharedReport) {
        if let Ok(mut r) = report.lock() {
            for (source, n) in self.by_input {
                if let Some(input) = usize::try_from(source)
                    .ok()
                    .and_then(|i| r.inputs.get_mut(i))
                {
                    input.found.absorb(n);
                }
            }
        }
    }
}
