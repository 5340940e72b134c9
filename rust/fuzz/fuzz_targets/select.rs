//! Selection (`select::Selection::verdict`, auditreduce's criteria in Rust) over recover
//! iteration, against three references:
//!
//! - the same verdict for a record judged in place, copied into a buffer of its own, and
//!   within a byte-range chunk of the trail (`chunks::boundaries`), under `Variants::All`
//!   (no state carried between records);
//! - `Undecided` only for a record whose tokens do not all decode;
//! - `-v` turns every decided verdict into its opposite and leaves `Undecided` alone;
//! - an empty selection selects every record whose tokens all parse (auditreduce's rule);
//! - the header prefilter never drops a record the verdict would select;
//! - the Arrow pipeline with the selection (any batch size) has one row
//!   per selected record, at its offset, and reports the undecided ones (one thread and
//!   the global pool).
#![no_main]

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use bsmtrail::arrow::{BatchReader, Col, Input, Options, View};
use bsmtrail::chunks::{boundaries, Params};
use bsmtrail::mode::Mode;
use bsmtrail::recover::{Item, Recover};
use bsmtrail::select::AllOf;
use bsmtrail::select::{SelectState, Selection, Variants, Verdict};
use bsmtrail::source::Source;
use bsmtrail::tokens::{walk_valid, DecodeOptions, TokenIter};
use bsmtrail_fuzz::Picker;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fn selection(p: &mut Picker<'_>) -> Selection {
    let flags = u32::from(p.byte()) | u32::from(p.byte()) << 8;
    let mut word = || u32::from(p.byte()) | u32::from(p.byte()) << 8;
    let mut s = Selection {
        variants: Variants::All,
        ..Selection::default()
    };
    let on = |bit: u32| flags & (1 << bit) != 0;
    if on(0) {
        s.events = Some(vec![word() as u16, 1, 2]);
    }
    if on(1) {
        s.auid = Some(word());
    }
    if on(2) {
        s.euid = Some(word());
    }
    if on(3) {
        s.egid = Some(word());
    }
    if on(4) {
        s.ruid = Some(word());
    }
    if on(5) {
        s.subject_pid = Some(word());
    }
    if on(6) {
        s.object_pid = Some(word());
    }
    if on(7) {
        s.after = Some(i64::from(word()));
    }
    if on(8) {
        s.before = Some(i64::from(word()) << 12);
    }
    if on(9) {
        s.msgqid = Some(word());
    }
    if on(10) {
        s.zone = Some(b"z*".to_vec());
    }
    if on(11) {
        s.class = Some((word(), word()));
        s.event_classes = (0..64).map(|e| Some(1u32 << (e % 32))).collect();
    }
    s
}

fn verdicts(sel: &Selection, trail: &[u8], base: usize) -> Vec<(usize, Verdict)> {
    let mut state = SelectState::default();
    Recover::new(trail)
        .filter_map(|i| match i {
            Item::Record(s) => Some((
                base + s.offset,
                sel.verdict(&trail[s.offset..s.offset + s.len], &mut state),
            )),
            _ => None,
        })
        .collect()
}

/// (row offsets, undecided offsets) of the pipeline over `trail` with `sel`.
fn pipeline(
    sel: &Selection,
    trail: &[u8],
    batch_size: usize,
    threads: usize,
) -> (Vec<u64>, Vec<u64>) {
    let input = Input::Bytes {
        name: "t".into(),
        source: Source::from_owner(trail.to_vec()),
        base: 0,
    };
    let opts = Options {
        view: View::Records(vec![Col::RecordOffset]),
        mode: Mode::Recover,
        batch_size,
        threads,
        selection: Some(Arc::new(AllOf::new(vec![sel.clone()]))),
        ..Options::default()
    };
    let reader = BatchReader::new(vec![input], opts).expect("a reader over bytes");
    let report = reader.report();
    let rows = reader
        .flat_map(|b| {
            b.expect("recover mode never fails")
                .column(0)
                .as_primitive::<UInt64Type>()
                .values()
                .to_vec()
        })
        .collect();
    let r = report.lock().expect("report");
    (rows, r.inputs[0].found.undecided.items().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let mut p = Picker::new(data);
    let sel = selection(&mut p);
    let chunk = 1 + usize::from(p.byte()) * 8;
    let batch_size = 1 + usize::from(p.byte() % 8);
    let trail = p.rest();
    let whole = verdicts(&sel, trail, 0);
    let at = |want: Verdict| -> Vec<u64> {
        whole
            .iter()
            .filter(|(_, v)| *v == want)
            .map(|(o, _)| *o as u64)
            .collect()
    };
    // 0 is rayon's global pool (a pool of its own per run would cost more than the run).
    for threads in [1, 0] {
        let (rows, undecided) = pipeline(&sel, trail, batch_size, threads);
        assert_eq!(rows, at(Verdict::Selected), "{threads} threads");
        assert_eq!(undecided, at(Verdict::Undecided), "{threads} threads");
    }
    let mut state = SelectState::default();
    for &(off, v) in &whole {
        let len = u32::from_be_bytes(trail[off + 1..off + 5].try_into().unwrap()) as usize;
        let rec = trail[off..off + len].to_vec();
        assert_eq!(sel.verdict(&rec, &mut state), v, "alone, at {off}");
        if !sel.prefilter(&rec) {
            assert_eq!(v, Verdict::Rejected, "prefilter at {off}");
        }
        if v == Verdict::Undecided {
            assert!(
                walk_valid(&rec, DecodeOptions::FULL, |_| {}).is_err(),
                "at {off}"
            );
        }
    }
    let mut inverted = sel.clone();
    inverted.invert = !sel.invert;
    for ((o1, v), (o2, w)) in whole.iter().zip(verdicts(&inverted, trail, 0)) {
        assert_eq!(*o1, o2);
        let expect = match v {
            Verdict::Selected => Verdict::Rejected,
            Verdict::Rejected => Verdict::Selected,
            Verdict::Undecided => Verdict::Undecided,
        };
        assert_eq!(w, expect, "-v at {o1}");
    }
    let every = Selection {
        variants: Variants::All,
        ..Selection::default()
    };
    for (off, v) in verdicts(&every, trail, 0) {
        // auditreduce prints a record only if every token parses.
        let len = u32::from_be_bytes(trail[off + 1..off + 5].try_into().unwrap()) as usize;
        let parses = TokenIter::new(&trail[off..off + len], DecodeOptions::FULL).all(|t| t.is_ok());
        let want = if parses {
            Verdict::Selected
        } else {
            Verdict::Rejected
        };
        assert_eq!(v, want, "nothing asked, at {off}");
    }
    // Chunked, as Dask partitions select: the same verdicts where the chunks' records
    // are the whole input's.
    let b = boundaries(
        trail,
        chunk,
        Params {
            lookback: 64,
            ahead: 64,
        },
    );
    let mut chunked = Vec::new();
    for w in b.windows(2) {
        chunked.extend(verdicts(&sel, &trail[w[0]..w[1]], w[0]));
    }
    if chunked.iter().map(|x| x.0).eq(whole.iter().map(|x| x.0)) {
        assert_eq!(chunked, whole);
    }
});
