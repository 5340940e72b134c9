//! Selection (`select::Selection::verdict`, auditreduce's criteria in Rust) over recover
//! iteration, against three references:
//!
//! - the same verdict for a record judged in place, copied into a buffer of its own, and
//!   within a byte-range chunk of the trail (`chunks::boundaries`), under `Variants::All`
//!   (no state carried between records);
//! - `Undecided` only for a record whose tokens do not all decode;
//! - `-v` turns every decided verdict into its opposite and leaves `Undecided` alone;
//! - an empty selection selects every record whose tokens all parse (auditreduce's rule).
#![no_main]

use bsmtrail::chunks::{boundaries, Params};
use bsmtrail::recover::{Item, Recover};
use bsmtrail::select::{SelectState, Selection, Variants, Verdict};
use bsmtrail::tokens::{walk_valid, DecodeOptions, TokenIter};
use bsmtrail_fuzz::Picker;
use libfuzzer_sys::fuzz_target;

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

fuzz_target!(|data: &[u8]| {
    let mut p = Picker::new(data);
    let sel = selection(&mut p);
    let chunk = 1 + usize::from(p.byte()) * 8;
    let trail = p.rest();
    let whole = verdicts(&sel, trail, 0);
    let mut state = SelectState::default();
    for &(off, v) in &whole {
        let len = u32::from_be_bytes(trail[off + 1..off + 5].try_into().unwrap()) as usize;
        let rec = trail[off..off + len].to_vec();
        assert_eq!(sel.verdict(&rec, &mut state), v, "alone, at {off}");
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
