//! auditreduce's output: the records a selection keeps, whole and byte for byte.
//!
//! The trail is framed (auditreduce's own framing, or strictly with resynchronisation past
//! damage when recovering), each span gets [`AllOf::verdict`], and the kept spans are
//! written to any `Write`, runs of adjacent kept spans in one call. Nothing is decoded
//! beyond what the verdict needs (a header, for criteria on event, time or class).

use crate::error::DecodeError;
use crate::framing::{Check, Span, SpanKind};
use crate::mode::Mode;
use crate::recover::{Item, Items};
use crate::select::{AllOf, AllOfState, Verdict};
use crate::tally::{DamageLog, Kept};
use std::io::{self, Write};

/// What [`reduce`] read and kept.
#[derive(Debug, Default)]
pub struct Reduced {
    /// Records written.
    pub kept: u64,
    /// Records framed.
    pub seen: u64,
    /// Offsets of records left out because a token bsmtrail cannot decode hides what a
    /// criterion depends on: reported, never guessed.
    pub undecided: Kept<u64>,
    /// Regions skipped while recovering.
    pub damage: DamageLog,
    /// The framing error that ended a read that does not recover.
    pub stopped: Option<DecodeError>,
}

/// Write the spans of `data` that `sel` keeps to `out`. In strict mode framing is
/// auditreduce's (praudit's `au_read_rec`: the header's count alone) and stops at its first
/// error (in `stopped`); recovering, framing checks trailers and resynchronises past damage
/// (in `damage`). `keep` bounds the kept entries of each list; `watch` is told each
/// position reached (to release pages already read). Write errors are returned.
pub fn reduce(
    data: &[u8],
    sel: &AllOf,
    mode: Mode,
    keep: usize,
    out: &mut dyn Write,
    watch: &dyn Fn(usize),
) -> io::Result<Reduced> {
    let mut r = Reduced {
        undecided: Kept::new(keep),
        damage: DamageLog::new(keep),
        ..Reduced::default()
    };
    let mut state = AllOfState::default();
    // The header check rejects most records of a selective query without walking their
    // tokens; it holds only where a verdict depends on its record alone.
    let prefilter = !sel.sequential();
    // A run of adjacent kept spans, written in one call when the run breaks.
    let mut run: Option<(usize, usize)> = None;
    let flush = |run: &mut Option<(usize, usize)>, out: &mut dyn Write| match run.take() {
        Some((a, b)) => out.write_all(&data[a..b]),
        None => Ok(()),
    };
    let mut on_span = |s: Span, r: &mut Reduced, out: &mut dyn Write| -> io::Result<()> {
        watch(s.offset);
        let rec = &data[s.offset..s.offset + s.len];
        let is_record = s.kind == SpanKind::Record;
        r.seen += u64::from(is_record);
        if prefilter && is_record && !sel.prefilter(rec) {
            return Ok(());
        }
        match sel.verdict(rec, &mut state) {
            Verdict::Selected => {
                r.kept += u64::from(is_record);
                match &mut run {
                    Some((_, end)) if *end == s.offset => *end += s.len,
                    _ => {
                        flush(&mut run, out)?;
                        run = Some((s.offset, s.offset + s.len));
                    }
                }
                if let Some((a, b)) = run {
                    // Bound what one call writes (and what waits to be written).
                    if b - a >= 1 << 20 {
                        flush(&mut run, out)?;
                    }
                }
            }
            Verdict::Undecided => r.undecided.push(s.offset as u64),
            Verdict::Rejected => {}
        }
        Ok(())
    };
    for item in Items::new(data, 0, mode, Check::Count).watched(watch) {
        match item {
            Ok(Item::Record(s) | Item::File(s)) => on_span(s, &mut r, out)?,
            Ok(Item::Damage(d)) => r.damage.push(d.offset as u64, d.len as u64, &d.error),
            Err(e) => {
                r.stopped = Some(e);
                break;
            }
        }
    }
    flush(&mut run, out)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Selection;

    /// A header32 record of `event` at `secs`, then its trailer.
    fn record(event: u16, secs: u8) -> Vec<u8> {
        let count = 18 + 7u32;
        let mut r = vec![0x14];
        r.extend_from_slice(&count.to_be_bytes());
        r.push(11);
        r.extend_from_slice(&event.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, secs, 0, 0, 0, 0]);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    fn events(evs: &[u16]) -> AllOf {
        AllOf::new(vec![Selection {
            events: Some(evs.to_vec()),
            ..Selection::default()
        }])
    }

    #[test]
    fn writes_kept_records_whole_and_joins_adjacent_ones() {
        let recs: Vec<Vec<u8>> = [1u16, 2, 2, 3, 2].iter().map(|&e| record(e, 0)).collect();
        let data = recs.concat();
        let mut out = Vec::new();
        let r = reduce(&data, &events(&[2]), Mode::Strict, 10, &mut out, &|_| {}).unwrap();
        assert_eq!((r.kept, r.seen), (3, 5));
        assert_eq!(out, [&recs[1][..], &recs[2], &recs[4]].concat());
        assert!(r.stopped.is_none() && r.damage.is_empty() && r.undecided.is_empty());
    }

    /// A `Write` that counts its calls.
    struct Calls(Vec<usize>);
    impl Write for Calls {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.push(b.len());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_run_of_kept_records_is_one_write() {
        let data: Vec<u8> = (0..100).flat_map(|_| record(7, 0)).collect();
        let mut calls = Calls(Vec::new());
        let r = reduce(
            &data,
            &AllOf::default(),
            Mode::Strict,
            10,
            &mut calls,
            &|_| {},
        )
        .unwrap();
        assert_eq!(r.kept, 100);
        assert_eq!(calls.0, vec![data.len()]);
    }

    #[test]
    fn strict_stops_at_damage_and_recover_skips_it() {
        let (a, b) = (record(2, 0), record(2, 3));
        let data = [&a[..], b"\0junk", &b].concat();
        let mut out = Vec::new();
        let r = reduce(&data, &events(&[2]), Mode::Strict, 10, &mut out, &|_| {}).unwrap();
        assert_eq!(out, a);
        assert_eq!(r.stopped.map(|e| e.offset), Some(a.len() as u64));
        let mut out = Vec::new();
        let r = reduce(&data, &events(&[2]), Mode::Recover, 10, &mut out, &|_| {}).unwrap();
        assert_eq!(out, [&a[..], &b].concat());
        assert_eq!(r.damage.count(), 1);
        assert_eq!(r.damage.regions().items()[0].offset, a.len() as u64);
        assert_eq!(r.damage.regions().items()[0].len, 5);
    }

    #[test]
    fn write_errors_are_returned() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let data = record(2, 0);
        let e = reduce(&data, &events(&[2]), Mode::Strict, 10, &mut Full, &|_| {}).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    }
}
