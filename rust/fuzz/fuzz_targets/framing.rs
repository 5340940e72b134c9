//! Framing, recovery and verification over arbitrary bytes.
//!
//! - `Framer` (both checks): spans are contiguous from offset 0, non-empty and inside the
//!   input; it stops after its first error, whose offsets lie inside the input; a strict
//!   span also frames under the praudit check.
//! - `Recover`: records, file tokens and damage tile the input exactly; each damaged region
//!   starts with the error framing reports there and ends at the first offset where a
//!   record frames strictly (checked by brute force against `resync`).
//! - `verify`: covered bytes plus damaged bytes equal the input; damage is ordered,
//!   disjoint and inside the input; its counts agree with `Recover`. On workers framing
//!   ranges of a third of the input each, the report is the serial one.
//! - `StreamDecoder` fed in pieces (1-61 bytes, from the input length): the same records,
//!   file tokens and damaged regions as `Recover` over the whole input, with a buffer
//!   never larger than the input.
//!
//! Every loop is bounded by the input length, so a hang or a runaway iterator is a failure.
#![no_main]

use bsmtrail::framing::{frame, Check, Framer, SpanKind};
use bsmtrail::recover::{resync, Item, Recover};
use bsmtrail::stream::{StreamDecoder, StreamItem, DEFAULT_MAX_RECORD};
use bsmtrail::source::Source;
use bsmtrail::verify::{verify, verify_ranges};
use bsmtrail::ErrorKind;
use libfuzzer_sys::fuzz_target;

fn framer(data: &[u8], check: Check) {
    let mut it = Framer::new(data, check);
    let mut pos = 0usize;
    let mut steps = 0usize;
    while let Some(item) = it.next() {
        steps += 1;
        assert!(steps <= data.len(), "more items than input bytes");
        match item {
            Ok(span) => {
                assert_eq!(span.offset, pos, "spans are contiguous");
                assert!(span.len > 0, "empty span at {pos}");
                assert!(span.offset + span.len <= data.len(), "span past the end");
                assert_eq!(frame(data, pos, check), Ok(span), "frame is deterministic");
                if check == Check::Trailer {
                    assert_eq!(frame(data, pos, Check::Count), Ok(span));
                }
                if span.kind == SpanKind::File {
                    assert_eq!(data[pos], 0x11);
                }
                pos += span.len;
                assert_eq!(it.position(), pos);
            }
            Err(e) => {
                assert_eq!(e.record_offset, pos as u64);
                assert!(e.offset >= e.record_offset && e.offset <= data.len() as u64);
                if let ErrorKind::Truncated { needed, available } = e.kind {
                    assert!(needed > available, "{e}");
                    assert_eq!(available, (data.len() - pos) as u64, "{e}");
                }
                assert!(it.next().is_none(), "Framer goes on after an error");
                return;
            }
        }
    }
    assert_eq!(pos, data.len(), "Framer stopped early without an error");
}

/// Returns (records, file tokens, damaged regions).
fn recover(data: &[u8], start: usize) -> (u64, u64, u64) {
    let mut pos = start;
    let (mut records, mut files, mut damaged) = (0, 0, 0);
    for (n, item) in Recover::starting_at(data, start).enumerate() {
        assert!(n < data.len() - start, "runaway Recover");
        let (offset, len) = match item {
            Item::Record(s) => {
                assert_eq!(s.kind, SpanKind::Record);
                assert_eq!(frame(data, s.offset, Check::Trailer), Ok(s));
                records += 1;
                (s.offset, s.len)
            }
            Item::File(s) => {
                assert_eq!(s.kind, SpanKind::File);
                assert_eq!(frame(data, s.offset, Check::Trailer), Ok(s));
                files += 1;
                (s.offset, s.len)
            }
            Item::Damage(d) => {
                damaged += 1;
                let end = d.offset + d.len;
                assert!(d.len > 0, "empty damage at {}", d.offset);
                assert!(end <= data.len());
                assert_eq!(d.error.record_offset, d.offset as u64);
                assert!(d.error.offset >= d.error.record_offset);
                assert!(d.error.offset <= data.len() as u64);
                assert_eq!(frame(data, d.offset, Check::Trailer), Err(d.error.clone()));
                // The region ends at the first strict record after its start, or at the
                // end of the input: check every offset in between (each check is O(1)).
                for q in d.offset + 1..end {
                    assert!(
                        !is_record(data, q),
                        "damage {}..{end} skips a record at {q}",
                        d.offset
                    );
                }
                let next = resync(data, d.offset + 1);
                assert_eq!(next, (end < data.len()).then_some(end));
                (d.offset, d.len)
            }
        };
        assert_eq!(offset, pos, "items tile the input");
        pos += len;
    }
    assert_eq!(pos, data.len(), "items cover the input");
    (records, files, damaged)
}

/// A strict frame at `q` that is a record (file tokens are never resync points).
fn is_record(data: &[u8], q: usize) -> bool {
    matches!(frame(data, q, Check::Trailer), Ok(s) if s.kind == SpanKind::Record)
}

fn check_verify(data: &[u8], recovered: (u64, u64, u64)) {
    let mut backwards = u64::MAX;
    for tolerance in [0, 1000, u64::MAX] {
        // Keep every entry, and check the bounded log's totals against them; with a keep
        // of 2, the totals are the same and only two are listed.
        let r = verify(data, tolerance, usize::MAX);
        if tolerance == 0 {
            // Ranges end near their split points wherever a record frames there; a walk
            // that does not land on its end, or no end within reach, goes back to one
            // thread. Either way the report is the serial one.
            let src = Source::from_owner(data.to_vec());
            let ranges = verify_ranges(&src, 0, usize::MAX, 0, &|_| {}, data.len() / 3 + 1)
                .expect("a verify worker failed");
            assert_eq!(format!("{ranges:?}"), format!("{r:?}"), "ranges");
        }
        let short = verify(data, tolerance, 2);
        assert_eq!(short.damage.count(), r.damage.count());
        assert_eq!(short.damage.bytes(), r.damage.bytes());
        assert_eq!(short.damage.last(), r.damage.last());
        assert!(short.damage.regions().items().len() <= 2);
        assert_eq!(short.seq_gaps.total(), r.seq_gaps.total());
        assert_eq!(short.time_backwards.total(), r.time_backwards.total());
        assert_eq!(r.nbytes, data.len());
        let mut pos = 0u64;
        let mut damaged = 0u64;
        for d in r.damage.regions().items() {
            assert!(d.offset >= pos, "damage out of order or overlapping");
            assert!(d.len > 0 && d.offset + d.len <= data.len() as u64);
            assert_eq!(d.error.record_offset, d.offset);
            assert!(d.error.offset >= d.error.record_offset);
            // Not `<= d.offset + d.len`: a record whose count lands on a bad trailer is
            // reported at that trailer, which may lie past the resync point ending the
            // damaged region (the next record starts inside the claimed span).
            assert!(d.error.offset <= data.len() as u64);
            pos = d.offset + d.len;
            damaged += d.len;
        }
        assert_eq!(r.damage.bytes(), damaged);
        assert_eq!(
            r.covered + damaged,
            data.len() as u64,
            "bytes unaccounted for"
        );
        let (records, files, regions) = recovered;
        assert_eq!(r.file_tokens, files);
        assert!(r.records <= records);
        assert_eq!(r.damage.count(), regions + (records - r.records));
        assert_eq!(r.events.iter().map(|e| e.1).sum::<u64>(), r.records);
        assert_eq!(
            r.truncated_tail(),
            r.damage
                .last()
                .is_some_and(|d| d.offset + d.len == data.len() as u64)
        );
        for g in r.seq_gaps.items() {
            assert!(g.offset < data.len());
            assert_ne!(g.found, g.expected);
        }
        for t in r.time_backwards.items() {
            assert!(t.offset < data.len());
        }
        // A larger tolerance never reports more.
        assert!(r.time_backwards.total() <= backwards);
        backwards = r.time_backwards.total();
    }
}

/// (offset, length, is damage) of every item, as `Recover` reports them.
fn recovered_items(data: &[u8]) -> Vec<(u64, u64, bool)> {
    Recover::new(data)
        .map(|i| match i {
            Item::Record(s) | Item::File(s) => (s.offset as u64, s.len as u64, false),
            Item::Damage(d) => (d.offset as u64, d.len as u64, true),
        })
        .collect()
}

fn streamed_items(data: &[u8], piece: usize) -> Vec<(u64, u64, bool)> {
    let mut d = StreamDecoder::new(DEFAULT_MAX_RECORD);
    let mut out = Vec::new();
    for part in data.chunks(piece) {
        d.feed(part, &mut out);
        assert!(d.buffered() <= data.len());
    }
    d.finish(&mut out);
    assert_eq!(d.buffered(), 0);
    assert_eq!(d.position(), data.len() as u64);
    out.into_iter()
        .map(|i| match i {
            StreamItem::Record { offset, bytes } | StreamItem::File { offset, bytes } => {
                let at = offset as usize;
                assert_eq!(&data[at..at + bytes.len()], &bytes[..]);
                (offset, bytes.len() as u64, false)
            }
            StreamItem::Damage { offset, len, .. } => (offset, len, true),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    framer(data, Check::Count);
    framer(data, Check::Trailer);
    let counts = recover(data, 0);
    check_verify(data, counts);
    let piece = data.len() % 61 + 1;
    assert_eq!(
        streamed_items(data, piece),
        recovered_items(data),
        "stream in pieces of {piece}"
    );
    // Recovery from an arbitrary point (a reader resuming in the middle of a file).
    if data.len() > 1 {
        recover(data, data.len() / 2);
    }
});
