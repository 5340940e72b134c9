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

/// One input's findings so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputReport {
    /// The input's name (its `source` value).
    pub name: String,
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
}

impl InputReport {
    fn new(name: String, keep: usize) -> Self {
        InputReport {
            name,
            records: 0,
            record_bytes: 0,
            rows: 0,
            damage: DamageLog::new(keep),
            failing: DamageLog::new(keep),
            undecided: Kept::new(keep),
        }
    }

    fn absorb(&mut self, n: InputNotes) {
        self.records += n.records;
        self.record_bytes += n.record_bytes;
        self.rows += n.rows;
        self.damage.absorb(n.damage);
        self.failing.absorb(n.failing);
        self.undecided.absorb(n.undecided);
    }
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
            .map(|n| InputReport::new(n.clone(), DEFAULT_KEEP))
            .collect(),
        finished: false,
    }))
}

/// One chunk's share of one input.
#[derive(Debug)]
pub(crate) struct InputNotes {
    pub records: u64,
    pub record_bytes: u64,
    pub rows: u64,
    pub damage: DamageLog,
    pub failing: DamageLog,
    pub undecided: Kept<u64>,
}

impl Default for InputNotes {
    fn default() -> Self {
        InputNotes {
            records: 0,
            record_bytes: 0,
            rows: 0,
            damage: DamageLog::new(DEFAULT_KEEP),
            failing: DamageLog::new(DEFAULT_KEEP),
            undecided: Kept::new(DEFAULT_KEEP),
        }
    }
}

/// One chunk's findings, by input (a chunk spans few inputs: a short list).
#[derive(Debug, Default)]
pub(crate) struct Notes {
    by_input: Vec<(i32, InputNotes)>,
}

impl Notes {
    pub fn of(&mut self, source: i32) -> &mut InputNotes {
        let at = match self.by_input.iter().position(|(s, _)| *s == source) {
            Some(i) => i,
            None => {
                self.by_input.push((source, InputNotes::default()));
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
                    input.absorb(n);
                }
            }
        }
    }
}
