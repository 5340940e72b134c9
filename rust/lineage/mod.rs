//! Who did what: audit sessions and process lifetimes, built from records-view batches
//! read in order (one pass, state only for what is open).
//!
//! A **session** is what setaudit_addr(2) set at login and every descendant inherits: the
//! audit session id (`sid` column, the asid) with the audit user (`auid`, which survives
//! su and sudo), per host (the input's label). A **process** is one pid's lifetime on a
//! host: from the fork/vfork/posix_spawn record that returned its pid (the child pid is
//! the return value) or its first record, to its exit record or the fork that hands the
//! pid to a new process (pid reuse). Execs are the images it ran, in order.
//!
//! Which events fork, spawn, exec, exit, log in or out, and touch files or the network is
//! the event database's knowledge, given by the caller as [`EventKinds`].

mod input;
mod processes;
mod sessions;

pub use input::COLUMNS;
pub use processes::Processes;
pub use sessions::Sessions;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

/// What an event number means to lineage: bit flags per event number.
#[derive(Clone)]
pub struct EventKinds {
    flags: Box<[u8]>,
}

pub const FORK: u8 = 1;
pub const SPAWN: u8 = 2;
pub const EXEC: u8 = 4;
pub const EXIT: u8 = 8;
pub const LOGIN: u8 = 16;
pub const LOGOUT: u8 = 32;
pub const FILE: u8 = 64;
pub const NETWORK: u8 = 128;

impl EventKinds {
    /// `(event, flags)` pairs; flags of one event given twice are joined.
    pub fn new(pairs: &[(u16, u8)]) -> Self {
        let mut flags = vec![0u8; 1 << 16].into_boxed_slice();
        for &(e, f) in pairs {
            flags[usize::from(e)] |= f;
        }
        EventKinds { flags }
    }

    #[inline]
    pub fn of(&self, event: Option<u16>) -> u8 {
        event.map_or(0, |e| self.flags[usize::from(e)])
    }
}

/// Both views over one pass of the input.
pub struct Lineage {
    pub sessions: Option<Sessions>,
    pub processes: Option<Processes>,
    kinds: EventKinds,
    hosts: input::Hosts,
}

impl Lineage {
    /// `first_commands`: how many command lines a session row lists; `batch_rows`: how
    /// many finished processes make a batch of the processes view.
    pub fn new(
        kinds: EventKinds,
        sessions: bool,
        processes: bool,
        first_commands: usize,
        batch_rows: usize,
    ) -> Self {
        Lineage {
            sessions: sessions.then(|| Sessions::new(first_commands)),
            processes: processes.then(|| Processes::new(batch_rows)),
            kinds,
            hosts: input::Hosts::default(),
        }
    }

    /// One batch of the records view, in input (or time) order.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let cols = input::Cols::of(batch, &mut self.hosts)?;
        for i in 0..batch.num_rows() {
            let Some(row) = cols.row(i, &self.kinds) else {
                continue; // no subject: nobody to attribute the record to
            };
            if let Some(s) = &mut self.sessions {
                s.add(&row);
            }
            if let Some(p) = &mut self.processes {
                p.add(&row, self.hosts.names())?;
            }
        }
        Ok(())
    }

    /// The host names, by the ids rows carry.
    pub fn hosts(&self) -> &[String] {
        self.hosts.names()
    }
}

#[cfg(test)]
mod tests;
