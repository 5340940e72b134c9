//! Bounded lists of findings: damaged regions, sequence gaps, time running backwards.
//!
//! A hostile trail can put damage after every record, so a list of every finding grows with
//! the input (one damaged region per 26 bytes is 4 million regions in 100 MB). Each list
//! here keeps its first `keep` entries in full and counts the rest; totals (how many, how
//! many bytes, by reason) stay exact. The full list of damaged regions is the errors view
//! of the Arrow export, a streamed table.

use crate::error::DecodeError;
use std::collections::BTreeMap;

/// Entries kept in full by default.
pub const DEFAULT_KEEP: usize = 1000;

/// The first `keep` entries and an exact count of all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept<T> {
    items: Vec<T>,
    total: u64,
    keep: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept::new(DEFAULT_KEEP)
    }
}

impl<T> Kept<T> {
    pub fn new(keep: usize) -> Self {
        Kept {
            items: Vec::new(),
            total: 0,
            keep,
        }
    }

    pub fn push(&mut self, item: T) {
        self.total += 1;
        if self.items.len() < self.keep {
            self.items.push(item);
        }
    }

    /// The entries kept, first ones first.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// How many were pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn keep(&self) -> usize {
        self.keep
    }

    /// Append `other`, which came after everything in `self`: the first entries overall
    /// stay the kept ones, and the total is exact.
    pub fn absorb(&mut self, other: Kept<T>) {
        let room = self.keep.saturating_sub(self.items.len());
        self.items.extend(other.items.into_iter().take(room));
        self.total += other.total;
    }
}

/// A skipped region of the input, or a record that framed but failed to decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub offset: u64,
    pub len: u64,
    pub error: DecodeError,
}

/// Damaged regions: the first ones in full, exact totals, the last one (a truncated tail
/// is the last region reaching the end of input).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DamageLog {
    regions: Kept<Region>,
    bytes: u64,
    /// Reason code -> (regions, bytes).
    by_reason: BTreeMap<&'static str, (u64, u64)>,
    last: Option<Region>,
}

impl DamageLog {
    pub fn new(keep: usize) -> Self {
        DamageLog {
            regions: Kept::new(keep),
            ..DamageLog::default()
        }
    }

    pub fn push(&mut self, offset: u64, len: u64, error: &DecodeError) {
        self.bytes += len;
        let r = self.by_reason.entry(error.kind.code()).or_default();
        r.0 += 1;
        r.1 += len;
        let region = Region {
            offset,
            len,
            error: error.clone(),
        };
        self.regions.push(region.clone());
        self.last = Some(region);
    }

    pub fn regions(&self) -> &Kept<Region> {
        &self.regions
    }

    /// How many regions.
    pub fn count(&self) -> u64 {
        self.regions.total()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// Bytes in all regions.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn by_reason(&self) -> &BTreeMap<&'static str, (u64, u64)> {
        &self.by_reason
    }

    pub fn last(&self) -> Option<&Region> {
        self.last.as_ref()
    }

    pub fn first(&self) -> Option<&Region> {
        self.regions.items().first()
    }

    /// Append `other`, whose regions come after every region in `self` (a stream merges
    /// each chunk's log in input order).
    pub fn absorb(&mut self, other: DamageLog) {
        self.regions.absorb(other.regions);
        self.bytes += other.bytes;
        for (k, (n, b)) in other.by_reason {
            let r = self.by_reason.entry(k).or_default();
            r.0 += n;
            r.1 += b;
        }
        if other.last.is_some() {
            self.last = other.last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn e(at: u64, kind: ErrorKind) -> DecodeError {
        DecodeError {
            offset: at,
            record_offset: at,
            token_id: None,
            kind,
        }
    }

    #[test]
    fn keeps_the_first_and_counts_all() {
        let mut log = DamageLog::new(3);
        for i in 0..10u64 {
            let kind = if i % 2 == 0 {
                ErrorKind::NotARecord(0)
            } else {
                ErrorKind::MissingTrailer
            };
            log.push(i * 10, i + 1, &e(i * 10, kind));
        }
        assert_eq!(log.count(), 10);
        assert_eq!(log.bytes(), (1..=10).sum::<u64>());
        let kept: Vec<u64> = log.regions().items().iter().map(|r| r.offset).collect();
        assert_eq!(kept, [0, 10, 20]);
        assert_eq!(log.last().map(|r| r.offset), Some(90));
        assert_eq!(log.by_reason()["not_a_record"], (5, 1 + 3 + 5 + 7 + 9));
        assert_eq!(log.by_reason()["missing_trailer"], (5, 2 + 4 + 6 + 8 + 10));
    }

    #[test]
    fn absorbing_in_order_equals_pushing_in_order() {
        let region = |i: u64| (i * 7, i % 3 + 1, e(i * 7, ErrorKind::MissingTrailer));
        for split in [0u64, 1, 2, 3, 5, 9] {
            let mut whole = DamageLog::new(3);
            let (mut a, mut b) = (DamageLog::new(3), DamageLog::new(3));
            for i in 0..9u64 {
                let (o, n, err) = region(i);
                whole.push(o, n, &err);
                if i < split {
                    a.push(o, n, &err)
                } else {
                    b.push(o, n, &err)
                }
            }
            a.absorb(b);
            assert_eq!(a, whole, "split at {split}");
        }
        let mut k = Kept::new(3);
        k.push(1);
        let mut more = Kept::new(3);
        for i in 2..10 {
            more.push(i);
        }
        k.absorb(more);
        assert_eq!((k.items(), k.total()), (&[1, 2, 3][..], 9));
    }

    #[test]
    fn kept_never_grows_past_keep() {
        let mut k = Kept::new(2);
        for i in 0..1000 {
            k.push(i);
        }
        assert_eq!((k.items(), k.total()), (&[0, 1][..], 1000));
        let mut none = Kept::new(0);
        none.push(1);
        assert_eq!((none.items().len(), none.total()), (0, 1));
    }
}
