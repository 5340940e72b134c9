//! Lookup tables for rendering: event number → (AUE name, description), uid → user name and
//! gid → group name.
//!
//! Nothing here reads a file. The Python layer parses `audit_event`, `passwd` and `group`
//! (with praudit's quirks, §6.1) and hands the entries over once per renderer; the tables are
//! then consulted for every header and subject without touching Python again.
//!
//! Every table keeps the **first** entry for a key, as praudit's `getauevnum` and glibc's
//! `getpwuid`/`getgrgid` return the first matching line.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Sentinel in the dense event index for "no entry".
const NO_EVENT: u32 = u32::MAX;

/// One event line: the `AUE_` name and the description, as the bytes of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    name: Box<[u8]>,
    desc: Box<[u8]>,
}

/// A multiplicative hasher for u32 keys: ids are not attacker-chosen in a way that matters
/// here (the tables come from the local user database), and SipHash would dominate the cost
/// of a subject token.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap = HashMap<u32, Box<[u8]>, BuildHasherDefault<IdHasher>>;

/// The event, user and group tables of one render configuration.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// Dense index by event number into `events` (`NO_EVENT` when absent): one array read
    /// per header.
    event_index: Vec<u32>,
    events: Vec<Event>,
    users: IdMap,
    groups: IdMap,
}

impl Default for Lookup {
    fn default() -> Self {
        Self::new()
    }
}

impl Lookup {
    /// Empty tables: every event prints as its number, every id as `%d`.
    pub fn new() -> Self {
        Lookup {
            event_index: vec![NO_EVENT; 1 << 16],
            events: Vec::new(),
            users: IdMap::default(),
            groups: IdMap::default(),
        }
    }

    /// Add an event line. A number already present keeps its first entry.
    pub fn add_event(&mut self, number: u16, name: &[u8], desc: &[u8]) {
        let Some(slot) = self.event_index.get_mut(usize::from(number)) else {
            return;
        };
        if *slot != NO_EVENT {
            return;
        }
        let Ok(i) = u32::try_from(self.events.len()) else {
            return;
        };
        *slot = i;
        self.events.push(Event {
            name: name.into(),
            desc: desc.into(),
        });
    }

    /// Add a user. A uid already present keeps its first name.
    pub fn add_user(&mut self, uid: u32, name: &[u8]) {
        self.users.entry(uid).or_insert_with(|| name.into());
    }

    /// Add a group. A gid already present keeps its first name.
    pub fn add_group(&mut self, gid: u32, name: &[u8]) {
        self.groups.entry(gid).or_insert_with(|| name.into());
    }

    /// `(name, description)` of an event number.
    #[inline]
    pub fn event(&self, number: u16) -> Option<(&[u8], &[u8])> {
        let i = *self.event_index.get(usize::from(number))?;
        let e = self.events.get(i as usize)?;
        Some((&e.name, &e.desc))
    }

    #[inline]
    pub fn user(&self, uid: u32) -> Option<&[u8]> {
        self.users.get(&uid).map(|n| &**n)
    }

    #[inline]
    pub fn group(&self, gid: u32) -> Option<&[u8]> {
        self.groups.get(&gid).map(|n| &**n)
    }

    pub fn event_count(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_entry_wins() {
        let mut l = Lookup::new();
        l.add_event(45029, b"AUE_audit_recovery", b"audit crash recovery");
        l.add_event(45029, b"AUE_other", b"other");
        l.add_event(0, b"AUE_NULL", b"indir system call");
        assert_eq!(
            l.event(45029),
            Some((&b"AUE_audit_recovery"[..], &b"audit crash recovery"[..]))
        );
        assert_eq!(l.event(0).map(|e| e.1), Some(&b"indir system call"[..]));
        assert_eq!(l.event(65535), None);
        assert_eq!(l.event_count(), 2);

        l.add_user(0, b"root");
        l.add_user(0, b"toor");
        l.add_group(20, b"staff");
        assert_eq!(l.user(0), Some(&b"root"[..]));
        assert_eq!(l.user(1), None);
        assert_eq!(l.group(20), Some(&b"staff"[..]));
        assert_eq!(l.group(0), None);
    }
}
