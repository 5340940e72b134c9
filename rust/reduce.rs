//! auditreduce's output: the records a selection keeps, whole and byte for byte.
//!
//! The trail is framed (auditreduce's own framing, or strictly with resynchronisation past
//! damage when recovering), each span gets [`AllOf::verdict`], and the kept spans are
//! written to any `Write`, runs of adjacent kept spans in one call. Nothing is decoded
//! beyond what the verdict needs (a header, for criteria on event, time or class).

use crate::error::DecodeError;
use crate::framing::{Check, Span, SpanKind};
use crate::mode::Mode;
use crate::ordered::{next_job, Ordered};
use crate::recover::{Item, Items};
use crate::select::{AllOf, AllOfState, Verdict};
use crate::source::Source;
use crate::tally::{DamageLog, Kept};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

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

/// Kept spans as they are decided, in input order: adjacent ones are joined into runs
/// written in one call.
struct Output<'a> {
    data: &'a [u8],
    out: &'a mut dyn Write,
    run: Option<(usize, usize)>,
}

impl Output<'_> {
    fn flush(&mut self) -> io::Result<()> {
        match self.run.take() {
            Some((a, b)) => self.out.write_all(&self.data[a..b]),
            None => Ok(()),
        }
    }

    fn decided(&mut self, s: Span, verdict: Verdict, r: &mut Reduced) -> io::Result<()> {
        match verdict {
            Verdict::Selected => {
                r.kept += u64::from(s.kind == SpanKind::Record);
                match &mut self.run {
                    Some((_, end)) if *end == s.offset => *end += s.len,
                    _ => {
                        self.flush()?;
                        self.run = Some((s.offset, s.offset + s.len));
                    }
                }
                if let Some((a, b)) = self.run {
                    // Bound what one call writes (and what waits to be written).
                    if b - a >= 1 << 20 {
                        self.flush()?;
                    }
                }
            }
            Verdict::Undecided => r.undecided.push(s.offset as u64),
            Verdict::Rejected => {}
        }
        Ok(())
    }
}

/// The verdict on one span; the header check first where a verdict depends on its record
/// alone (it rejects most records of a selective query without walking their tokens).
fn judge(sel: &AllOf, rec: &[u8], s: &Span, state: &mut AllOfState) -> Verdict {
    if s.kind == SpanKind::Record && !sel.sequential() && !sel.prefilter(rec) {
        return Verdict::Rejected;
    }
    sel.verdict(rec, state)
}

/// What a sequential selection carries from one record to the next, shared by the calls
/// that judge consecutive pieces of one stream (`reduce`'s `carry`).
pub type Carry = Arc<Mutex<AllOfState>>;

/// Write the spans of `src` that `sel` keeps to `out`. In strict mode framing is
/// auditreduce's (praudit's `au_read_rec`: the header's count alone) and stops at its first
/// error (in `stopped`); recovering, framing checks trailers and resynchronises past damage
/// (in `damage`). `keep` bounds the kept entries of each list; `watch` is told each
/// position the output has passed (to release pages already read). Write errors are
/// returned.
///
/// This thread frames; the verdicts on runs of about 1 MiB of spans are given on `threads`
/// workers (0: every core) and taken back in order, so the output is the same bytes
/// whatever the thread count. A selection whose verdicts depend on earlier records
/// ([`AllOf::sequential`]) is judged in order on one worker, its state taken from
/// `carry` when given (and left there for the next piece of the same stream).
#[allow(clippy::too_many_arguments)] // each is one of the reduction's inputs
pub fn reduce(
    src: &Source,
    sel: &Arc<AllOf>,
    mode: Mode,
    keep: usize,
    threads: usize,
    carry: Option<&Carry>,
    out: &mut dyn Write,
    watch: &dyn Fn(usize),
) -> io::Result<Reduced> {
    let data = src.bytes();
    let mut r = Reduced {
        undecided: Kept::new(keep),
        damage: DamageLog::new(keep),
        ..Reduced::default()
    };
    let mut output = Output {
        data,
        out,
        run: None,
    };
    // A sequential selection is judged in order on one worker, its state carried from
    // job to job (and from the call before, with `carry`: the pieces of a merged
    // timeline are one stream); any other gets a fresh state per job on the workers.
    let sequential = sel.sequential().then(|| {
        carry
            .cloned()
            .unwrap_or_else(|| Arc::new(Mutex::new(AllOfState::default())))
    });
    let threads = if sequential.is_some() { 1 } else { threads };
    let mut judging: Ordered<Vec<Verdict>> = Ordered::new(threads, "reduce")?;
    // Watched: a resynchronising scan through a hole (a sparse file claiming a huge record)
    // releases the pages behind it as it goes. A page released before a worker reads it is
    // read again from the page cache.
    let mut items = Items::new(data, 0, mode, Check::Count).watched(watch);
    let mut jobs = VecDeque::new();
    let mut framed_all = false;
    loop {
        while !framed_all && !judging.full() {
            let job: Vec<Framed> = next_job(&mut items, span_len, Result::is_err);
            if job.is_empty() {
                framed_all = true;
                break;
            }
            // A framing error ends a read that does not recover.
            framed_all = job.last().is_some_and(Result::is_err);
            let spans: Vec<Span> = job.iter().filter_map(span).collect();
            let (sel, src, carried) = (Arc::clone(sel), src.clone(), sequential.clone());
            judging.submit(move || {
                let data = src.bytes();
                let mut fresh = AllOfState::default();
                let mut guard = carried
                    .as_ref()
                    .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()));
                let state = guard.as_deref_mut().unwrap_or(&mut fresh);
                spans
                    .iter()
                    .map(|s| judge(&sel, &data[s.offset..s.offset + s.len], s, state))
                    .collect()
            });
            jobs.push_back(job);
        }
        let Some(done) = judging.take() else {
            break;
        };
        let verdicts =
            done.map_err(|_| io::Error::other("internal error: a reduce worker panicked"))?;
        let mut verdicts = verdicts.into_iter();
        for item in jobs.pop_front().unwrap_or_default() {
            match item {
                Ok(Item::Record(s) | Item::File(s)) => {
                    r.seen += u64::from(s.kind == SpanKind::Record);
                    let v = verdicts.next().unwrap_or(Verdict::Rejected);
                    output.decided(s, v, &mut r)?;
                    // Everything before the run still to be written is done with.
                    watch(output.run.map_or(s.offset, |(a, _)| a));
                }
                Ok(Item::Damage(d)) => r.damage.push(d.offset as u64, d.len as u64, &d.error),
                Err(e) => r.stopped = Some(e),
            }
        }
    }
    output.flush()?;
    Ok(r)
}

/// A framed item, or the framing error that ends a read that does not recover.
type Framed = Result<Item, DecodeError>;

fn span(item: &Framed) -> Option<Span> {
    match item {
        Ok(Item::Record(s) | Item::File(s)) => Some(*s),
        _ => None,
    }
}

fn span_len(item: &Framed) -> usize {
    span(item).map_or(0, |s| s.len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Selection;
    use crate::source::Source;

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

    fn events(evs: &[u16]) -> Arc<AllOf> {
        Arc::new(AllOf::new(vec![Selection {
            events: Some(evs.to_vec()),
            ..Selection::default()
        }]))
    }

    fn run(
        data: &[u8],
        sel: &Arc<AllOf>,
        mode: Mode,
        threads: usize,
        out: &mut dyn Write,
    ) -> io::Result<Reduced> {
        reduce(
            &Source::from_owner(data.to_vec()),
            sel,
            mode,
            10,
            threads,
            None,
            out,
            &|_| {},
        )
    }

    #[test]
    fn writes_kept_records_whole_and_joins_adjacent_ones() {
        let recs: Vec<Vec<u8>> = [1u16, 2, 2, 3, 2].iter().map(|&e| record(e, 0)).collect();
        let data = recs.concat();
        let mut out = Vec::new();
        let r = run(&data, &events(&[2]), Mode::Strict, 1, &mut out).unwrap();
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
        for threads in [1, 2] {
            let mut calls = Calls(Vec::new());
            let r = run(
                &data,
                &Arc::new(AllOf::default()),
                Mode::Strict,
                threads,
                &mut calls,
            );
            assert_eq!(r.unwrap().kept, 100);
            assert_eq!(calls.0, vec![data.len()], "threads={threads}");
        }
    }

    #[test]
    fn strict_stops_at_damage_and_recover_skips_it() {
        let (a, b) = (record(2, 0), record(2, 3));
        let data = [&a[..], b"\0junk", &b].concat();
        let mut out = Vec::new();
        let r = run(&data, &events(&[2]), Mode::Strict, 1, &mut out).unwrap();
        assert_eq!(out, a);
        assert_eq!(r.stopped.map(|e| e.offset), Some(a.len() as u64));
        let mut out = Vec::new();
        let r = run(&data, &events(&[2]), Mode::Recover, 1, &mut out).unwrap();
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
        let e = run(&data, &events(&[2]), Mode::Strict, 1, &mut Full).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Records of a few events with damage anywhere, both modes: the records written,
        /// the counts, the damage and the stop are the same on 1, 2 and 4 threads, and the
        /// workers see runs of many jobs (records of up to 64 KiB against 1 MiB jobs).
        #[test]
        fn threads_do_not_change_the_output(
            evs in proptest::collection::vec((0u16..4, 0usize..3), 1..300),
            edits in proptest::collection::vec((0usize..1 << 20, proptest::prelude::any::<u8>()), 0..6),
            recover in proptest::prelude::any::<bool>(),
        ) {
            let mut data = Vec::new();
            for (e, pad) in evs {
                // Text tokens of up to 40 KB make jobs of a few records each.
                let mut r = record(e, 1);
                let text = vec![b'x'; pad * 20_000];
                let t = [&[0x28u8][..], &(text.len() as u16).to_be_bytes(), &text].concat();
                let count = (r.len() + t.len()) as u32;
                r.splice(18..18, t);
                r[1..5].copy_from_slice(&count.to_be_bytes());
                let n = r.len();
                r[n - 4..].copy_from_slice(&count.to_be_bytes());
                data.extend_from_slice(&r);
            }
            for (at, b) in edits {
                let n = data.len();
                data[at % n] = b;
            }
            let mode = if recover { Mode::Recover } else { Mode::Strict };
            let sel = events(&[1, 3]);
            let mut one = Vec::new();
            let a = run(&data, &sel, mode, 1, &mut one).unwrap();
            for threads in [2, 4] {
                let mut out = Vec::new();
                let b = run(&data, &sel, mode, threads, &mut out).unwrap();
                proptest::prop_assert!(out == one);
                proptest::prop_assert_eq!((a.kept, a.seen), (b.kept, b.seen));
                proptest::prop_assert_eq!(a.stopped.is_some(), b.stopped.is_some());
                proptest::prop_assert_eq!((a.damage.count(), a.damage.bytes()), (b.damage.count(), b.damage.bytes()));
            }
        }
    }
}
