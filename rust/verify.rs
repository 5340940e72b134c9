//! Whole-trail integrity report: what framed, what was damaged, and the anomalies an
//! analyst looks for in a trail from a compromised machine (sequence gaps, time running
//! backwards). Runs over the recovering framer, so it never stops early.

use crate::chunks;
use crate::error::{DecodeError, Fault};
use crate::framing::{Check, Framer, SpanKind};
use crate::ordered::{next_job_into, Ordered};
use crate::recover::{Item, Recover};
use crate::source::Source;
use crate::tally::{DamageLog, Kept};
use crate::tokens::{self, canonical_name, ids, Addr, DecodeOptions, Header, Token};
use std::collections::{BTreeMap, HashMap};

/// A record's time: seconds since the epoch (signed: 64-bit headers are read as signed,
/// as `Record.time` and the Arrow `time` column read them; 32-bit ones fit either way)
/// and milliseconds.
pub type Time = (i64, u64);

/// A record whose time is earlier than the record before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeBackwards {
    pub offset: usize,
    pub previous: Time,
    pub current: Time,
}

/// A sequence token whose number is not the previous one plus one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqGap {
    pub offset: usize,
    pub expected: u32,
    pub found: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub nbytes: usize,
    pub records: u64,
    pub file_tokens: u64,
    /// Bytes in records and file tokens that framed and decoded.
    pub covered: u64,
    /// Damaged regions, and records that framed but failed to decode (their whole span):
    /// the first ones in full, every one counted (a hostile trail has millions).
    pub damage: DamageLog,
    pub seq_gaps: Kept<SeqGap>,
    pub time_backwards: Kept<TimeBackwards>,
    /// How many valid records carry each event number.
    pub events: Vec<(u16, u64)>,
    pub first_time: Option<Time>,
    pub last_time: Option<Time>,
    /// The earliest and latest record times, wherever they are in the trail (a record far
    /// outside its trail's interval in the middle of it).
    pub earliest: Option<Time>,
    pub latest: Option<Time>,
    /// Tokens decoded, by id.
    pub token_counts: Vec<(u8, u64)>,
    /// The standalone file token the trail opens with (before any record or damage).
    pub opening: Option<FileMark>,
    /// The standalone file token the trail ends with (nothing after it).
    pub closing: Option<FileMark>,
}

/// A standalone file token: its offset, time, and the name it carries (without the
/// terminating NULs). auditd writes one as it opens a trail and one as it closes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMark {
    pub offset: usize,
    pub time: Time,
    pub name: Vec<u8>,
}

fn file_mark(data: &[u8], offset: usize, len: usize) -> Option<FileMark> {
    let bytes = data.get(offset..offset + len)?;
    match tokens::decode(bytes, 0, tokens::DecodeOptions::PRAUDIT)
        .ok()?
        .token
    {
        Token::File {
            seconds,
            msec,
            name,
        } => {
            let end = name.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            Some(FileMark {
                offset,
                time: (i64::from(seconds), u64::from(msec)),
                name: name[..end].to_vec(),
            })
        }
        _ => None,
    }
}

impl Report {
    /// True when the input ends inside a damaged region that reached the end of input.
    pub fn truncated_tail(&self) -> bool {
        self.damage
            .last()
            .is_some_and(|d| d.offset + d.len == self.nbytes as u64)
    }
}

/// Decode every token of every record; record-level failures become damage spanning the
/// record, framing failures damage up to the next resync point.
///
/// Time running backwards is reported only beyond `backwards_tolerance_ms`: the kernel
/// stamps a record with the time its event started but writes it when the event ends, so
/// records from concurrent system calls routinely appear a few milliseconds out of order.
pub fn verify(data: &[u8], backwards_tolerance_ms: u64, keep: usize) -> Report {
    verify_with(data, backwards_tolerance_ms, keep, &|_| {})
}

/// [`verify`], telling `watch` the position as the pass moves on (a mapped source
/// releases the pages behind it).
pub fn verify_with(
    data: &[u8],
    backwards_tolerance_ms: u64,
    keep: usize,
    watch: &dyn Fn(usize),
) -> Report {
    let mut m = Merge::new(data.len(), backwards_tolerance_ms, keep);
    let (mut ids, mut seqs) = (Vec::new(), Vec::new());
    for item in Recover::new(data).watched(watch) {
        watch(item_offset(&item));
        seqs.clear();
        let walked = match &item {
            Item::Record(s) => Some(walk(
                &data[s.offset..s.offset + s.len],
                &mut m.counts,
                &mut ids,
                &mut seqs,
            )),
            _ => None,
        };
        m.item(data, item, walked, &mut seqs.iter().copied());
    }
    m.finish()
}

/// [`verify_with`] on `threads` workers (0: every core), with the same report whatever
/// the thread count: the workers frame and walk ranges of about
/// [`chunks::RANGE_BYTES`] each ([`chunks::range_end`]), and what they found is merged
/// here in input order. A range whose walk does not land on its end (a record crafted
/// across the split point: the end was not a position of the sequential walk) is kept up
/// to where it landed, the ranges after it are dropped, and from there this thread
/// frames and the workers walk runs of about 1 MiB of records; so too from a split point
/// with no boundary near it (damage, or a hole).
pub fn verify_parallel(
    src: &Source,
    backwards_tolerance_ms: u64,
    keep: usize,
    threads: usize,
    watch: &dyn Fn(usize),
) -> std::io::Result<Report> {
    verify_ranges(
        src,
        backwards_tolerance_ms,
        keep,
        threads,
        watch,
        chunks::RANGE_BYTES,
    )
}

/// [`verify_parallel`] with ranges of about `range_bytes` (small ones in the tests and
/// the fuzz target, so that a small input is split too).
pub fn verify_ranges(
    src: &Source,
    backwards_tolerance_ms: u64,
    keep: usize,
    threads: usize,
    watch: &dyn Fn(usize),
    range_bytes: usize,
) -> std::io::Result<Report> {
    let data = src.bytes();
    let mut walking: Ordered<(Job, [u64; 256])> = Ordered::new(threads, "verify")?;
    if walking.on_caller() {
        return Ok(verify_with(data, backwards_tolerance_ms, keep, watch));
    }
    let mut m = Merge::new(data.len(), backwards_tolerance_ms, keep);
    // The vectors of merged jobs, for the next ones to fill (no allocation per job or
    // per record once the first jobs are back).
    let mut spare: Vec<Job> = Vec::new();
    // Where the next range starts, until framing goes back to this thread: from then on
    // `serial` frames (watched: a hole is not scanned unwatched) and the workers walk.
    let mut next = 0;
    let mut serial: Option<Recover<'_>> = None;
    let mut framed_all = false;
    loop {
        while !framed_all && !walking.full() {
            let mut job = spare.pop().unwrap_or_default();
            let src = src.clone();
            if let Some(items) = serial.as_mut() {
                job.items =
                    next_job_into(std::mem::take(&mut job.items), items, record_len, |_| false);
                framed_all = job.items.is_empty();
                if framed_all {
                    break;
                }
                job.range = 0..0;
                job.landing = 0;
                walking.submit(move || {
                    let counts = job.walk(src.bytes());
                    (job, counts)
                });
                continue;
            }
            if next >= data.len() {
                framed_all = true;
                break;
            }
            let Some(end) = chunks::range_end(data, next, range_bytes) else {
                // No boundary near the split point (damage, or a hole): the ranges in
                // flight end at `next`, and this thread frames from there.
                serial = Some(Recover::starting_at(data, next).watched(watch));
                spare.push(job);
                continue;
            };
            job.range = next..end;
            next = end;
            walking.submit(move || {
                let data = src.bytes();
                // A resynchronising scan through a hole (a sparse file claiming a huge
                // record) releases the pages behind it as it goes; a page released
                // before another worker reads it is read again from the page cache.
                let release = |pos| src.release(pos);
                let mut items = Recover::starting_at(data, job.range.start).watched(&release);
                job.items.clear();
                while items.position() < job.range.end {
                    let Some(item) = items.next() else { break };
                    job.items.push(item);
                }
                job.landing = items.position();
                let counts = job.walk(data);
                (job, counts)
            });
        }
        let Some(done) = walking.take() else {
            break;
        };
        let (mut job, counts) = done.map_err(|_| panicked())?;
        m.merge_job(data, &mut job, counts, watch);
        if job.landing != job.range.end {
            // Every job after this range started from a guess that did not hold.
            while walking.take().is_some() {}
            serial = Some(Recover::starting_at(data, job.landing).watched(watch));
            framed_all = false;
        }
        spare.push(job);
    }
    Ok(m.finish())
}

fn panicked() -> std::io::Error {
    std::io::Error::other("internal error: a verify worker panicked")
}

fn record_len(item: &Item) -> usize {
    match item {
        Item::Record(s) => s.len,
        _ => 0,
    }
}

fn item_offset(item: &Item) -> usize {
    match item {
        Item::Damage(d) => d.offset,
        Item::File(s) | Item::Record(s) => s.offset,
    }
}

/// A run of framed items walked on a worker: what each record's walk found, in order,
/// and the sequence tokens of all of them in one list. A range's job also says which
/// bytes it framed and where its walk landed (both empty for items framed here).
#[derive(Default)]
struct Job {
    items: Vec<Item>,
    walked: Vec<Walked>,
    seqs: Vec<(usize, u32)>,
    range: std::ops::Range<usize>,
    landing: usize,
}

impl Job {
    /// Walk the job's records; their token counts.
    fn walk(&mut self, data: &[u8]) -> [u64; 256] {
        let mut counts = [0u64; 256];
        let mut ids = Vec::new();
        let Job {
            items,
            walked,
            seqs,
            ..
        } = self;
        walked.clear();
        seqs.clear();
        walked.extend(items.iter().filter_map(|item| match item {
            Item::Record(s) => Some(walk(
                &data[s.offset..s.offset + s.len],
                &mut counts,
                &mut ids,
                seqs,
            )),
            _ => None,
        }));
        counts
    }
}

/// What walking one framed record found (its tokens are counted into the caller's
/// table only when the whole record decodes).
enum Walked {
    Failed(Fault),
    Valid {
        /// The first header's event, time and host.
        header: Option<(u16, Time, Option<Addr>)>,
        /// How many sequence tokens the record added to its job's list.
        seqs: usize,
    },
}

/// `ids`: scratch space for the record's token ids, counted into `counts` only when the
/// whole record decodes (a vector reused across records: a per-record table of 256
/// counters cost a kilobyte of zeroing per record). The record's sequence tokens (offset
/// in the record, number) are appended to `seqs`, a list shared by the records of a job
/// (a vector per record was an allocation and a free per record); a record that fails
/// adds none.
fn walk(
    rec: &[u8],
    counts: &mut [u64; 256],
    ids: &mut Vec<u8>,
    seqs: &mut Vec<(usize, u32)>,
) -> Walked {
    let mut header = None;
    let first_seq = seqs.len();
    ids.clear();
    // The records view's walk: its fast path decodes the fixed-layout tokens in place,
    // with exactly `tokens::walk_valid`'s validation (its tests hold the two together).
    let walked = crate::arrow::walk::walk(rec, |t| {
        ids.push(t.id);
        match t.token {
            Token::Header(h) if header.is_none() => header = Some(h),
            Token::Seq(n) => seqs.push((t.offset, n)),
            _ => {}
        }
    });
    if let Some(f) = walked.error {
        seqs.truncate(first_seq);
        return Walked::Failed(f);
    }
    for &id in ids.iter() {
        counts[usize::from(id)] += 1;
    }
    let id = rec.first().copied().unwrap_or(0);
    let header = header.map(|h: Header| {
        let time = (tokens::header_seconds(id, h.seconds), h.msec);
        (h.event, time, h.host)
    });
    Walked::Valid {
        header,
        seqs: seqs.len() - first_seq,
    }
}

/// The report built item by item in input order (the order matters: time running
/// backwards and sequence gaps compare each record with the one before).
struct Merge {
    r: Report,
    tolerance: u64,
    events: Vec<u64>,
    counts: [u64; 256],
    // Sequence numbers count per machine: a trail merged from several hosts (header_ex
    // addresses) interleaves independent sequences. Plain headers share one key. Hosts
    // come from the evidence: aHash, keyed at random per process.
    last_seq: HashMap<Option<Addr>, u32, ahash::RandomState>,
}

impl Merge {
    fn new(nbytes: usize, tolerance: u64, keep: usize) -> Self {
        Merge {
            r: Report {
                nbytes,
                damage: DamageLog::new(keep),
                seq_gaps: Kept::new(keep),
                time_backwards: Kept::new(keep),
                ..Report::default()
            },
            tolerance,
            events: vec![0u64; 1 << 16],
            counts: [0u64; 256],
            last_seq: HashMap::default(),
        }
    }

    /// One framed item of `data`; `walked` is a record's walk (None for the other items),
    /// whose sequence tokens are the next ones of `seqs`.
    fn item(
        &mut self,
        data: &[u8],
        item: Item,
        walked: Option<Walked>,
        seqs: &mut impl Iterator<Item = (usize, u32)>,
    ) {
        let r = &mut self.r;
        let span = match item {
            Item::Damage(d) => {
                r.closing = None;
                return r.damage.push(d.offset as u64, d.len as u64, &d.error);
            }
            Item::File(span) => {
                let mark = file_mark(data, span.offset, span.len);
                if r.file_tokens == 0 && r.records == 0 && r.damage.count() == 0 {
                    r.opening = mark.clone();
                }
                r.closing = mark;
                r.file_tokens += 1;
                r.covered += span.len as u64;
                self.counts[usize::from(tokens::ids::OTHER_FILE32)] += 1;
                return;
            }
            Item::Record(span) => span,
        };
        r.closing = None;
        let (header, nseqs) = match walked {
            Some(Walked::Valid { header, seqs }) => (header, seqs),
            Some(Walked::Failed(f)) => {
                let at = span.offset as u64;
                return r.damage.push(at, span.len as u64, &f.at(at));
            }
            None => return,
        };
        r.records += 1;
        r.covered += span.len as u64;
        if let Some((event, now, _)) = header {
            self.events[usize::from(event)] += 1;
            if let Some(prev) = r.last_time {
                if as_ms(now) + i128::from(self.tolerance) < as_ms(prev) {
                    r.time_backwards.push(TimeBackwards {
                        offset: span.offset,
                        previous: prev,
                        current: now,
                    });
                }
            }
            r.first_time.get_or_insert(now);
            r.last_time = Some(now);
            let ms = as_ms(now);
            match r.earliest {
                Some(e) if as_ms(e) <= ms => {}
                _ => r.earliest = Some(now),
            }
            match r.latest {
                Some(l) if as_ms(l) >= ms => {}
                _ => r.latest = Some(now),
            }
        }
        let host = header.and_then(|(_, _, host)| host);
        for (off, n) in seqs.take(nseqs) {
            if let Some(&prev) = self.last_seq.get(&host) {
                let expected = prev.wrapping_add(1);
                if n != expected {
                    r.seq_gaps.push(SeqGap {
                        offset: span.offset + off,
                        expected,
                        found: n,
                    });
                }
            }
            self.last_seq.insert(host, n);
        }
    }

    /// A walked job's items, in order, and its token counts; `watch` is told where the
    /// job ends (once per job: it acts every 64 MiB), and the job is left empty.
    fn merge_job(&mut self, data: &[u8], job: &mut Job, counts: [u64; 256], watch: &dyn Fn(usize)) {
        for (c, n) in self.counts.iter_mut().zip(counts) {
            *c += n;
        }
        if let Some(last) = job.items.last() {
            watch(item_offset(last));
        }
        let mut results = job.walked.drain(..);
        let mut seqs = job.seqs.iter().copied();
        for item in job.items.drain(..) {
            let w = match item {
                Item::Record(_) => results.next(),
                _ => None,
            };
            self.item(data, item, w, &mut seqs);
        }
    }

    fn finish(self) -> Report {
        let mut r = self.r;
        r.events = nonzero(&self.events, |e| e as u16);
        r.token_counts = nonzero(&self.counts, |id| id as u8);
        r
    }
}

/// The non-zero entries of a table indexed by key (`key` narrows the index; tables are as
/// long as their key type's range).
fn nonzero<K>(table: &[u64], key: impl Fn(usize) -> K) -> Vec<(K, u64)> {
    table
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| (key(i), *n))
        .collect()
}

fn as_ms((seconds, msec): Time) -> i128 {
    i128::from(seconds) * 1000 + i128::from(msec)
}

/// The first problem of a strict reading, if any.
pub fn first_error(r: &Report) -> Option<&DecodeError> {
    r.damage.first().map(|d| &d.error)
}

/// What a plain pass found (see [`scan`]).
#[derive(Debug, Default)]
pub struct Scan {
    pub records: u64,
    pub files: u64,
    /// Bytes framed (records and file tokens).
    pub covered: u64,
    /// Seconds of the first and last records' headers, as stored.
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// Token name -> how many (with `decode`; file tokens always).
    pub token_counts: BTreeMap<&'static str, u64>,
    /// The first problem; the pass stops there.
    pub error: Option<DecodeError>,
}

/// One strict pass over a trail: framing with trailer checks and, with `decode`, every
/// token, stopping at the first problem (in `error`, not raised). `watch` is told each
/// record's position (a mapped source releases the pages behind it).
pub fn scan(data: &[u8], decode: bool, watch: &dyn Fn(usize)) -> Scan {
    let mut s = Scan::default();
    let mut counts = [0u64; 256];
    for span in Framer::new(data, Check::Trailer) {
        let span = match span {
            Ok(sp) => sp,
            Err(e) => {
                s.error = Some(e);
                break;
            }
        };
        watch(span.offset);
        s.covered += span.len as u64;
        if span.kind == SpanKind::File {
            s.files += 1;
            counts[usize::from(ids::OTHER_FILE32)] += 1;
            continue;
        }
        let rec = &data[span.offset..span.offset + span.len];
        let mut seconds = None;
        if decode {
            // The walk decodes the header too: take its time from there.
            if let Err(f) = tokens::walk_valid(rec, DecodeOptions::FULL, |t| {
                counts[usize::from(t.id)] += 1;
                if let (None, Token::Header(h)) = (seconds, &t.token) {
                    seconds = Some(h.seconds);
                }
            }) {
                s.error = Some(f.at(span.offset as u64));
                break;
            }
        } else if let Ok(tokens::Tok {
            token: Token::Header(h),
            ..
        }) = tokens::decode(rec, 0, DecodeOptions::FULL)
        {
            seconds = Some(h.seconds);
        }
        if let Some(secs) = seconds {
            s.first.get_or_insert(secs);
            s.last = Some(secs);
        }
        s.records += 1;
    }
    for (id, n) in counts.iter().enumerate() {
        if *n > 0 {
            *s.token_counts.entry(canonical_name(id as u8)).or_default() += n;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(secs: u8, body: &[u8]) -> Vec<u8> {
        let count = (18 + body.len() + 7) as u32;
        let mut r = vec![0x14];
        r.extend_from_slice(&count.to_be_bytes());
        r.extend_from_slice(&[11, 0, 7, 0, 0, 0, 0, 0, secs, 0, 0, 0, 1]);
        r.extend_from_slice(body);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    #[test]
    fn clean_trail() {
        let mut t = rec(1, &[0x2f, 0, 0, 0, 1]);
        t.extend(rec(2, &[0x2f, 0, 0, 0, 2]));
        let r = verify(&t, 0, 1000);
        assert_eq!((r.records, r.covered as usize), (2, t.len()));
        assert!(r.damage.is_empty() && r.seq_gaps.is_empty() && r.time_backwards.is_empty());
        assert_eq!(r.events, vec![(7, 2)]);
        assert_eq!(r.first_time, Some((1, 1)));
        assert!(!r.truncated_tail());
    }

    #[test]
    fn gaps_backwards_time_bad_record_and_truncated_tail() {
        let mut t = rec(5, &[0x2f, 0, 0, 0, 1]);
        t.extend(rec(3, &[0x2f, 0, 0, 0, 4])); // time backwards, seq gap 2 -> 4
        let bad = rec(6, &[0x99, 1, 2, 3]); // unknown token id: the record is damaged
        let bad_at = t.len();
        t.extend(&bad);
        t.extend(&rec(7, b"")[..10]);
        // Two seconds backwards: within a 2000 ms tolerance, beyond 1999 ms.
        assert!(verify(&t, 2000, 1000).time_backwards.is_empty());
        let r = verify(&t, 1999, 1000);
        assert_eq!(r.records, 2);
        assert_eq!(
            r.seq_gaps.items(),
            [SeqGap {
                offset: 30 + 18,
                expected: 2,
                found: 4
            }]
        );
        assert_eq!(r.time_backwards.total(), 1);
        assert_eq!(r.time_backwards.items()[0].offset, 30);
        // File order: 5 then 3; the span: 3 to 5.
        assert_eq!((r.first_time, r.last_time), (Some((5, 1)), Some((3, 1))));
        assert_eq!((r.earliest, r.latest), (Some((3, 1)), Some((5, 1))));
        assert_eq!(r.damage.count(), 2);
        let d = &r.damage.regions().items()[0];
        assert_eq!((d.offset, d.len), (bad_at as u64, bad.len() as u64));
        assert_eq!(d.error.kind.code(), "unknown_token");
        assert_eq!(d.error.offset as usize, bad_at + 18);
        assert!(r.truncated_tail());
        assert_eq!(
            first_error(&r).map(|e| e.kind.code()),
            Some("unknown_token")
        );
    }

    /// header32_ex of host 10.0.0.`host` at second `secs`, with `body`.
    fn rec_ex(host: u8, secs: u8, body: &[u8]) -> Vec<u8> {
        let count = (26 + body.len() + 7) as u32;
        let mut r = vec![0x15];
        r.extend_from_slice(&count.to_be_bytes());
        r.extend_from_slice(&[11, 0, 7, 0, 0, 0, 0, 0, 4, 10, 0, 0, host]);
        r.extend_from_slice(&[0, 0, 0, secs, 0, 0, 0, 1]);
        r.extend_from_slice(body);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    #[test]
    fn sequence_numbers_count_per_host() {
        // Two machines' records interleaved, each sequence unbroken: no gap. Then host 2
        // skips a number: one gap, reported against host 2's previous number.
        let mut t = Vec::new();
        for (host, seq) in [(1, 10), (2, 500), (1, 11), (2, 501), (1, 12), (2, 503)] {
            t.extend(rec_ex(host, 1, &[0x2f, 0, 0, (seq >> 8) as u8, seq as u8]));
        }
        let r = verify(&t, 0, 1000);
        assert_eq!(r.records, 6);
        assert_eq!(r.seq_gaps.total(), 1);
        let g = &r.seq_gaps.items()[0];
        assert_eq!((g.expected, g.found), (502, 503));
    }

    /// header64 at `secs` (8 bytes, read signed) with `body`.
    fn rec64(secs: i64, body: &[u8]) -> Vec<u8> {
        let count = (26 + body.len() + 7) as u32;
        let mut r = vec![0x74];
        r.extend_from_slice(&count.to_be_bytes());
        r.extend_from_slice(&[11, 0, 7, 0, 0]);
        r.extend_from_slice(&secs.to_be_bytes());
        r.extend_from_slice(&1u64.to_be_bytes());
        r.extend_from_slice(body);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    #[test]
    fn header64_times_are_signed_as_record_time_reads_them() {
        // One second before the epoch, then the epoch: time runs forwards. (Read unsigned,
        // the first would be 2^64 - 1 seconds and the second a jump backwards.)
        let mut t = rec64(-1, b"");
        t.extend(rec64(0, b""));
        let r = verify(&t, 0, 1000);
        assert!(r.time_backwards.is_empty(), "{:?}", r.time_backwards);
        assert_eq!((r.first_time, r.last_time), (Some((-1, 1)), Some((0, 1))));
        // And the reverse order is backwards.
        let mut t = rec64(0, b"");
        t.extend(rec64(-1, b""));
        assert_eq!(verify(&t, 0, 1000).time_backwards.total(), 1);
    }

    #[test]
    fn lists_keep_their_first_entries_and_count_all() {
        // 50 records each with a seq gap and time backwards, then 50 bad ones.
        let mut t = Vec::new();
        for i in 0..50u8 {
            t.extend(rec(100 - i, &[0x2f, 0, 0, 0, 2 * i]));
        }
        for _ in 0..50 {
            t.extend(rec(1, &[0x99]));
        }
        let r = verify(&t, 0, 5);
        assert_eq!(r.seq_gaps.total(), 49);
        assert_eq!(r.seq_gaps.items().len(), 5);
        assert_eq!(r.time_backwards.total(), 49);
        assert_eq!(r.time_backwards.items().len(), 5);
        assert_eq!(
            (r.damage.count(), r.damage.regions().items().len()),
            (50, 5)
        );
        assert_eq!(r.damage.bytes(), 50 * rec(1, &[0x99]).len() as u64);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// A 3 MB trail (several jobs) damaged anywhere: the parallel report is the serial
        /// one, list entries and their order included, on 1, 2 and 4 threads.
        #[test]
        fn threads_do_not_change_the_report(
            edits in proptest::collection::vec((0usize..1 << 22, proptest::prelude::any::<u8>()), 0..16),
            keep in 1usize..50,
        ) {
            let mut data = crate::writer::demo_trail().repeat(300);
            for (at, b) in edits {
                let n = data.len();
                data[at % n] = b;
            }
            let want = format!("{:?}", verify(&data, 0, keep));
            let src = Source::from_owner(data);
            for threads in [1, 2, 4] {
                let got = verify_parallel(&src, 0, keep, threads, &|_| {}).unwrap();
                proptest::prop_assert_eq!(&format!("{got:?}"), &want, "threads={}", threads);
            }
        }

        /// The same with ranges of any size, down to a few bytes (many ranges, damage
        /// across their ends, ranges inside damage).
        #[test]
        fn ranges_of_any_size_give_the_serial_report(
            edits in proptest::collection::vec((0usize..1 << 20, proptest::prelude::any::<u8>()), 0..16),
            range_bytes in 1usize..200_000,
        ) {
            let mut data = crate::writer::demo_trail().repeat(80);
            for (at, b) in edits {
                let n = data.len();
                data[at % n] = b;
            }
            let want = format!("{:?}", verify(&data, 0, 20));
            let src = Source::from_owner(data);
            for threads in [2, 4] {
                let got = verify_ranges(&src, 0, 20, threads, &|_| {}, range_bytes).unwrap();
                proptest::prop_assert_eq!(&format!("{got:?}"), &want, "threads={}", threads);
            }
        }
    }

    /// Opaque tokens of 60 KB at most holding `inner`.
    fn opaque(inner: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in inner.chunks(60_000) {
            crate::writer::encode::opaque(&mut out, piece).unwrap();
        }
        out
    }

    #[test]
    fn a_damaged_region_longer_than_a_range_reach_is_framed_serially() {
        // 3 MB of zeros between records: the split points inside have no boundary
        // within reach, so framing goes back to this thread there; same report.
        let filler = rec(1, &[]);
        let mut data = filler.repeat(600_000 / filler.len());
        data.extend(std::iter::repeat(0u8).take(3 << 20));
        data.extend(filler.repeat(600_000 / filler.len()));
        assert_eq!(chunks::range_end(&data, 0, 1 << 20), None);
        let want = verify(&data, 0, 10);
        assert_eq!((want.damage.count(), want.damage.bytes()), (1, 3 << 20));
        let src = Source::from_owner(data);
        for (threads, range) in [(2, 256 << 10), (4, 100_000), (2, 1 << 20)] {
            let got = verify_ranges(&src, 0, 10, threads, &|_| {}, range).unwrap();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "threads={threads}");
        }
    }

    #[test]
    fn a_record_holding_records_across_a_range_end_sends_framing_back() {
        // A record carrying 200 KB of whole records across the first split point: the
        // range's end lands on one of them (it frames), not on a record of the trail, so
        // the first range's walk lands past it and the rest is framed serially.
        let filler = rec(1, &[]);
        let mut data = Vec::new();
        while data.len() < 150_000 {
            data.extend_from_slice(&filler);
        }
        let inner = rec(2, &[]).repeat(200_000 / filler.len());
        let holder_at = data.len();
        data.extend_from_slice(&rec(3, &opaque(&inner)));
        let holder_end = data.len();
        while data.len() < 600_000 {
            data.extend_from_slice(&filler);
        }
        let end = chunks::range_end(&data, 0, 256 << 10).unwrap();
        assert!(
            holder_at < end && end < holder_end,
            "the range should end inside the holder"
        );
        let want = verify(&data, 0, 10);
        assert!(
            want.damage.count() == 0
                && want.records as usize
                    == (data.len() - (holder_end - holder_at)) / filler.len() + 1
        );
        let src = Source::from_owner(data);
        for threads in [2, 4] {
            let got = verify_ranges(&src, 0, 10, threads, &|_| {}, 256 << 10).unwrap();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "threads={threads}");
        }
    }
}
