//! Pipeline tests: every token of the demo trail is accounted for, threads and batch
//! sizes do not change the rows, damage becomes error rows, windows equal memory maps.

use super::parallel::{BatchReader, Input, Options, View};
use super::schema::Col;
use crate::mode::Mode;
use crate::source::Source;
use crate::tokens::{ids, walk_valid, DecodeOptions};
use crate::writer::demo_trail;
use arrow_array::cast::AsArray;
use arrow_array::types::{UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};

/// A reader of `data` (one input named `t`) with `opts`.
pub(crate) fn reader(data: &[u8], opts: Options) -> BatchReader {
    let input = Input::Bytes {
        name: "t".into(),
        source: Source::from_owner(data.to_vec()),
        base: 0,
    };
    BatchReader::new(vec![input], opts).unwrap()
}

/// Every batch `opts` makes of `data` (one input named `t`), panicking on an error.
pub(crate) fn read(data: &[u8], opts: Options) -> Vec<RecordBatch> {
    reader(data, opts).collect::<Result<Vec<_>, _>>().unwrap()
}

/// `copies` demo trails with `junk` after every seventh from the fourth: damage between
/// records.
pub(crate) fn demo_with_damage(copies: usize, junk: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    for i in 0..copies {
        t.extend(demo_trail());
        if i % 7 == 3 {
            t.extend_from_slice(junk);
        }
    }
    t
}

fn records(data: &[u8], threads: usize, batch_size: usize) -> Vec<RecordBatch> {
    read(
        data,
        Options {
            threads,
            batch_size,
            ..Options::default()
        },
    )
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> &'a dyn Array {
    b.column_by_name(name).unwrap().as_ref()
}

/// Tokens per record as the records view accounts for them.
fn accounted(b: &RecordBatch) -> Vec<usize> {
    let list = |n: &str, i: usize| {
        let a = col(b, n).as_list::<i32>();
        if a.is_null(i) {
            0
        } else {
            a.value_length(i) as usize
        }
    };
    let present = |n: &str, i: usize| usize::from(col(b, n).is_valid(i));
    (0..b.num_rows())
        .map(|i| {
            2 + [
                "paths",
                "texts",
                "args",
                "attrs",
                "sockets",
                "processes",
                "other_tokens",
            ]
            .iter()
            .map(|n| list(n, i))
            .sum::<usize>()
                + [
                    "subject_type",
                    "return_status",
                    "exec_args",
                    "exec_env",
                    "identity",
                    "groups",
                    "seq",
                    "zone",
                ]
                .iter()
                .map(|n| present(n, i))
                .sum::<usize>()
        })
        .collect()
}

fn first_record(t: &[u8]) -> crate::framing::Span {
    crate::framing::Framer::new(t, crate::framing::Check::Trailer)
        .map(|s| s.unwrap())
        .find(|s| s.kind == crate::framing::SpanKind::Record)
        .unwrap()
}

#[test]
fn demo_trail_loses_no_token() {
    let t = demo_trail();
    let mut want = Vec::new();
    let mut ids_seen = std::collections::BTreeSet::new();
    for span in crate::framing::Framer::new(&t, crate::framing::Check::Trailer) {
        let span = span.unwrap();
        if span.kind != crate::framing::SpanKind::Record {
            continue;
        }
        let mut n = 0;
        walk_valid(
            &t[span.offset..span.offset + span.len],
            DecodeOptions::FULL,
            |tok| {
                n += 1;
                ids_seen.insert(tok.id);
            },
        )
        .unwrap();
        want.push(n);
    }
    // The demo trail holds every token type.
    assert_eq!(ids_seen.len() + 1, ids::DECODED.len(), "{ids_seen:?}");
    let got: Vec<usize> = records(&t, 1, 7).iter().flat_map(accounted).collect();
    assert_eq!(got, want);
    // The tokens view has one row per token (plus the standalone file tokens).
    let toks = read(
        &t,
        Options {
            view: View::Tokens,
            ..Options::default()
        },
    );
    let rows: usize = toks.iter().map(|b| b.num_rows()).sum();
    let files = crate::framing::Framer::new(&t, crate::framing::Check::Trailer)
        .filter(|s| s.as_ref().unwrap().kind == crate::framing::SpanKind::File)
        .count();
    assert_eq!(rows, want.iter().sum::<usize>() + files);
}

#[test]
fn threads_and_batch_sizes_give_the_same_rows() {
    let mut t = Vec::new();
    for _ in 0..40 {
        t.extend(demo_trail());
    }
    let one = arrow_select_concat(&records(&t, 1, 1000));
    for (threads, bs) in [(2, 7), (3, 1), (0, 64), (4, 100_000)] {
        let other = arrow_select_concat(&records(&t, threads, bs));
        assert_eq!(one, other, "threads={threads} batch_size={bs}");
    }
}

#[test]
fn a_whole_read_gives_the_batches_a_stream_gives() {
    use super::parallel::Batches;
    // The damage is skipped and reported the same way by both reads.
    let t = demo_with_damage(60, &[0x14, 0xff, 0, 0, 9, 9, 9]);
    for threads in [1, 2, 4] {
        for batch_size in [1, 13, 500] {
            let opts = || Options {
                threads,
                batch_size,
                mode: Mode::Recover,
                ..Options::default()
            };
            let stream = reader(&t, opts());
            let stream_report = stream.report();
            let streamed = stream.collect::<Result<Vec<_>, _>>().unwrap();
            let whole = reader(&t, opts());
            let whole_report = whole.report();
            let whole = Box::new(whole).read_all().unwrap();
            assert_eq!(streamed, whole, "threads={threads} batch_size={batch_size}");
            let (a, b) = (stream_report.lock().unwrap(), whole_report.lock().unwrap());
            assert_eq!(*a, *b);
            assert!(a.finished);
            assert!(
                a.inputs[0].found.damage.count() > 0,
                "the damage was skipped"
            );
        }
    }
}

#[test]
fn a_small_input_is_spread_over_chunks_the_same_whatever_the_threads() {
    use super::parallel::{spread_bytes, MIN_SPREAD_BYTES, SPREAD_CHUNKS};
    use crate::writer::generate::generate;
    assert_eq!(spread_bytes(0), MIN_SPREAD_BYTES as usize);
    assert_eq!(spread_bytes(80 << 20), 10 << 20);
    // About 3 MB: far fewer records than a default batch, so one chunk without spreading.
    let mut t = Vec::new();
    generate(&mut t, 3 << 20, 7).unwrap();
    let offsets = |batches: &[RecordBatch]| -> Vec<u64> {
        batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
            .collect()
    };
    let opts = |threads| Options {
        view: View::Records(vec![Col::RecordOffset, Col::Size]),
        threads,
        ..Options::default()
    };
    let one = read(&t, opts(1));
    let rows: usize = one.iter().map(|b| b.num_rows()).sum();
    assert!(rows < Options::default().batch_size);
    assert!(one.len() >= 3, "{} batches", one.len());
    // Each batch holds at most a chunk's bytes (a record may end past the mark).
    let cap = spread_bytes(t.len() as u64) as u64;
    for b in &one {
        let sizes = b.column(1).as_primitive::<UInt32Type>();
        let bytes: u64 = sizes.values().iter().map(|&s| u64::from(s)).sum();
        let last = u64::from(*sizes.values().last().unwrap());
        assert!(bytes < cap + last, "{bytes} bytes in a batch");
    }
    // Every record, in order, as one whole-trail pass frames them.
    use crate::framing::{Check, Framer, SpanKind};
    let framed: Vec<u64> = Framer::new(&t, Check::Trailer)
        .map(|f| f.unwrap())
        .filter(|s| s.kind == SpanKind::Record)
        .map(|s| s.offset as u64)
        .collect();
    assert_eq!(offsets(&one), framed);
    for threads in [2, 4] {
        assert_eq!(read(&t, opts(threads)), one, "threads={threads}");
    }
    // A chunk closes once it holds `cap` bytes: as many chunks as whole `cap`s.
    let spread = (t.len() as u64 / cap) as usize;
    assert!(
        one.len() >= spread.min(SPREAD_CHUNKS as usize),
        "{} batches",
        one.len()
    );
}

/// Rows as debug strings (no arrow-select dependency for concatenation).
fn arrow_select_concat(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let row: Vec<String> = b
                .columns()
                .iter()
                .map(|c| format!("{:?}", c.slice(i, 1)))
                .collect();
            out.push(row.join("|"));
        }
    }
    out
}

#[test]
fn damaged_record_is_a_row_with_its_error() {
    let mut t = demo_trail();
    let first = first_record(&t);
    // Make the second token of the first record an unknown id.
    let rec = &t[first.offset..first.offset + first.len];
    let second = first.offset
        + crate::tokens::decode(rec, 0, DecodeOptions::FULL)
            .unwrap()
            .len;
    t[second] = 0x00;
    let b = &records(&t, 1, 1 << 20)[0];
    let err = col(b, "error").as_dictionary::<arrow_array::types::Int32Type>();
    let values = err.values().as_string::<i32>();
    let key = err.keys().value(0) as usize;
    assert_eq!(values.value(key), "unknown_token");
    assert_eq!(
        col(b, "error_offset").as_primitive::<UInt64Type>().value(0),
        second as u64
    );
    assert!(col(b, "error").is_null(1));
    // The undecoded rest is kept.
    let other = col(b, "other_tokens").as_list::<i32>().value(0);
    let other = other.as_struct();
    let last = other.len() - 1;
    assert_eq!(
        other.column(0).as_string::<i32>().value(last),
        "invalid",
        "{other:?}"
    );
    assert_eq!(
        other.column(3).as_binary::<i32>().value(last).len(),
        first.offset + first.len - second
    );
    // Strict mode stops there.
    let input = Input::Bytes {
        name: "t".into(),
        source: Source::from_owner(t.clone()),
        base: 0,
    };
    let r: Vec<_> = BatchReader::new(
        vec![input],
        Options {
            mode: Mode::Strict,
            ..Options::default()
        },
    )
    .unwrap()
    .collect();
    assert_eq!(r.len(), 1);
    assert!(r[0].is_err());
}

#[test]
fn damage_goes_to_the_errors_view() {
    let mut t = demo_trail();
    let n = t.len();
    t.extend_from_slice(b"\x00garbage");
    t.extend(demo_trail());
    let e = read(
        &t,
        Options {
            view: View::Errors,
            ..Options::default()
        },
    );
    let e = &e[0];
    assert_eq!(e.num_rows(), 1);
    assert_eq!(
        col(e, "region_offset")
            .as_primitive::<UInt64Type>()
            .value(0),
        n as u64
    );
    // The damage runs to the next record (a standalone file token is no resync point).
    let skip = first_record(&demo_trail()).offset as u64;
    assert_eq!(
        col(e, "length").as_primitive::<UInt64Type>().value(0),
        8 + skip
    );
}

#[test]
fn header_only_projection_skips_tokens() {
    let t = demo_trail();
    let b = &read(
        &t,
        Options {
            view: View::Records(vec![Col::Event, Col::Size]),
            validate: false,
            ..Options::default()
        },
    )[0];
    assert_eq!(b.num_columns(), 2);
    assert_eq!(b.schema().field(0).name(), "event");
    let sizes = col(b, "size").as_primitive::<UInt32Type>();
    assert!(sizes.values().iter().all(|s| *s > 0));
}

#[test]
fn file_window_equals_memory() {
    let t = demo_with_damage(30, &[0x14, 0xff, 0, 0, 0, 1, 2, 3]);
    let dir = std::env::temp_dir().join(format!("bsmtrail-arrow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("t.bsm");
    std::fs::write(&p, &t).unwrap();
    for view in [View::Records(Col::ALL.to_vec()), View::Tokens, View::Errors] {
        let opts = Options {
            view: view.clone(),
            batch_size: 50,
            window: 4096,
            threads: 2,
            ..Options::default()
        };
        let file = BatchReader::new(
            vec![Input::File {
                name: "t".into(),
                path: p.clone(),
            }],
            opts.clone(),
        )
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
        let mem = read(&t, opts);
        assert_eq!(arrow_select_concat(&file), arrow_select_concat(&mem));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

mod robustness {
    //! Hostile input through the whole pipeline: no panic, every view, both modes, and in
    //! recover mode one records-view row per record that frames.
    use super::*;
    use proptest::prelude::*;

    fn run(data: &[u8], view: View, mode: Mode) -> Result<usize, ()> {
        let input = Input::Bytes {
            name: "x".into(),
            source: Source::from_owner(data.to_vec()),
            base: 0,
        };
        let opts = Options {
            view,
            mode,
            batch_size: 3,
            threads: 2,
            ..Options::default()
        };
        let mut rows = 0;
        for b in BatchReader::new(vec![input], opts).unwrap() {
            rows += b.map_err(|_| ())?.num_rows();
        }
        Ok(rows)
    }

    fn check(data: &[u8]) {
        for mode in [Mode::Strict, Mode::Recover] {
            for view in [View::Records(Col::ALL.to_vec()), View::Tokens, View::Errors] {
                let r = run(data, view, mode);
                if mode == Mode::Recover {
                    assert!(r.is_ok());
                }
            }
        }
        let records = crate::recover::Recover::new(data)
            .filter(|i| matches!(i, crate::recover::Item::Record(_)))
            .count();
        let rows = run(data, View::Records(Col::ALL.to_vec()), Mode::Recover).unwrap();
        assert_eq!(rows, records);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            check(&data);
        }

        /// Random token bodies inside valid headers and trailers, between demo records.
        #[test]
        fn arbitrary_bodies(bodies in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..120), 1..6)
        ) {
            let mut t = demo_trail();
            for body in bodies {
                let count = (18 + body.len() + 7) as u32;
                t.push(0x14);
                t.extend_from_slice(&count.to_be_bytes());
                t.extend_from_slice(&[11, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
                t.extend_from_slice(&body);
                t.extend_from_slice(&[0x13, 0xb1, 0x05]);
                t.extend_from_slice(&count.to_be_bytes());
            }
            check(&t);
        }
    }
}

mod selection {
    //! A selection in the pipeline keeps exactly the records its verdict keeps, at their
    //! offsets, whatever the threads, batch size or variants; the report counts what the
    //! stream framed, kept and skipped, as recovering iteration does.
    use super::*;
    use crate::recover::{Item, Recover};
    use crate::select::{AllOf, AllOfState, Selection, Variants, Verdict};
    use crate::writer::generate::generate;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn offsets(data: &[u8], sel: &AllOf, threads: usize, batch_size: usize) -> Vec<u64> {
        let opts = Options {
            view: View::Records(vec![Col::RecordOffset]),
            mode: Mode::Recover,
            threads,
            batch_size,
            selection: Some(Arc::new(sel.clone())),
            ..Options::default()
        };
        let batches = read(data, opts);
        // Batches are joined to `batch_size` rows, the last one shorter.
        let n = batches.len();
        for (i, b) in batches.iter().enumerate() {
            assert!(b.num_rows() > 0);
            assert!(b.num_rows() == batch_size || (i == n - 1 && b.num_rows() < batch_size));
        }
        batches
            .iter()
            .flat_map(|b| {
                let o = b.column(0).as_primitive::<UInt64Type>();
                o.values().to_vec()
            })
            .collect()
    }

    /// The offsets recovering iteration yields for records the selection keeps.
    fn expected(data: &[u8], sel: &AllOf) -> Vec<u64> {
        let mut state = AllOfState::default();
        Recover::new(data)
            .filter_map(|i| match i {
                Item::Record(s) => {
                    let rec = &data[s.offset..s.offset + s.len];
                    (sel.verdict(rec, &mut state) == Verdict::Selected).then_some(s.offset as u64)
                }
                Item::File(s) => {
                    // File tokens are judged too (they carry state for no criterion).
                    sel.verdict(&data[s.offset..s.offset + s.len], &mut state);
                    None
                }
                Item::Damage(_) => None,
            })
            .collect()
    }

    fn events(evs: Vec<u16>, variants: Variants, invert: bool) -> AllOf {
        AllOf::new(vec![Selection {
            events: Some(evs),
            variants,
            invert,
            ..Selection::default()
        }])
    }

    fn trail(seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        generate(&mut out, 200_000, seed).unwrap();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn kept_rows_are_the_verdicts_for_1_2_4_threads(
            seed in 0u64..4,
            evs in proptest::collection::vec(prop::sample::select(vec![1u16, 2, 23, 72, 112, 45025]), 1..3),
            auditreduce in any::<bool>(),
            invert in any::<bool>(),
            junk in proptest::collection::vec((0usize..200_000, any::<u8>()), 0..4),
            batch in prop::sample::select(vec![1usize, 5, 64, 65_536]),
        ) {
            let mut data = trail(seed);
            for (at, b) in junk {
                let at = at % data.len();
                data.insert(at, b);
            }
            let variants = if auditreduce { Variants::Auditreduce } else { Variants::All };
            let sel = events(evs, variants, invert);
            let want = expected(&data, &sel);
            for threads in [1, 2, 4] {
                prop_assert_eq!(&offsets(&data, &sel, threads, batch), &want);
            }
        }
    }

    #[test]
    fn a_selection_of_a_selection_keeps_what_both_keep() {
        let data = trail(1);
        let a = events(vec![23, 72, 112], Variants::All, false);
        let b = events(vec![72, 1], Variants::All, false);
        let both = a.and(&b);
        let want = expected(&data, &events(vec![72], Variants::All, false));
        assert!(!want.is_empty());
        assert_eq!(offsets(&data, &both, 2, 100), want);
    }

    #[test]
    fn the_report_counts_framed_kept_and_skipped() {
        let mut data = trail(2);
        data.splice(5000..5000, *b"\0junk");
        let sel = events(vec![72], Variants::All, false);
        let input = Input::Bytes {
            name: "t".into(),
            source: Source::from_owner(data.clone()),
            base: 0,
        };
        let opts = Options {
            view: View::Records(vec![Col::RecordOffset]),
            threads: 2,
            batch_size: 50,
            selection: Some(Arc::new(sel.clone())),
            ..Options::default()
        };
        let reader = BatchReader::new(vec![input], opts).unwrap();
        let report = reader.report();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        let r = report.lock().unwrap();
        assert!(r.finished);
        let input = &r.inputs[0].found;
        let items: Vec<Item> = Recover::new(&data).collect();
        let records = items
            .iter()
            .filter(|i| matches!(i, Item::Record(_)))
            .count();
        let damage: Vec<(u64, u64)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Damage(d) => Some((d.offset as u64, d.len as u64)),
                _ => None,
            })
            .collect();
        assert_eq!(input.records, records as u64);
        assert_eq!(input.rows, rows as u64);
        assert_eq!(rows, expected(&data, &sel).len());
        let got: Vec<(u64, u64)> = input
            .damage
            .regions()
            .items()
            .iter()
            .map(|r| (r.offset, r.len))
            .collect();
        assert_eq!(got, damage);
        assert_eq!(damage.len(), 1);
    }

    #[test]
    fn a_slice_reports_offsets_in_its_trail() {
        let data = trail(3);
        let all = read(
            &data,
            Options {
                view: View::Records(vec![Col::RecordOffset]),
                ..Options::default()
            },
        );
        let offs: Vec<u64> = all
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
            .collect();
        let (start, end) = (offs[10] as usize, offs[20] as usize);
        let input = Input::Bytes {
            name: "t".into(),
            source: Source::from_owner(data[start..end].to_vec()),
            base: start as u64,
        };
        let opts = Options {
            view: View::Records(vec![Col::RecordOffset]),
            ..Options::default()
        };
        let got: Vec<u64> = BatchReader::new(vec![input], opts)
            .unwrap()
            .flat_map(|b| {
                b.unwrap()
                    .column(0)
                    .as_primitive::<UInt64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(got, offs[10..20].to_vec());
    }
}

mod ranges {
    //! Memory inputs of a selective query are framed in ranges on the workers; a range
    //! whose walk does not land on its end (a record holding records across the split
    //! point) sends framing back to one thread, and the rows stay the sequential ones.
    use super::*;
    use crate::recover::{Item, Recover};
    use crate::select::{AllOf, Selection};
    use std::sync::Arc;

    /// A header32 record of `event` holding `body` tokens, with its trailer.
    fn record(event: u16, body: &[u8]) -> Vec<u8> {
        let count = (18 + body.len() + 7) as u32;
        let mut r = vec![0x14];
        r.extend_from_slice(&count.to_be_bytes());
        r.push(11);
        r.extend_from_slice(&event.to_be_bytes());
        r.extend_from_slice(&[0; 10]);
        r.extend_from_slice(body);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    /// Opaque tokens (0x29) carrying `inner` whole, 60,000 bytes per token at most.
    fn opaque(inner: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in inner.chunks(60_000) {
            out.push(0x29);
            out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
            out.extend_from_slice(piece);
        }
        out
    }

    fn rows(data: &[u8], threads: usize) -> Vec<u64> {
        let sel = AllOf::new(vec![Selection {
            events: Some(vec![1, 2, 3]),
            ..Selection::default()
        }]);
        let opts = Options {
            view: View::Records(vec![Col::RecordOffset]),
            threads,
            batch_size: 1000,
            selection: Some(Arc::new(sel)),
            ..Options::default()
        };
        read(data, opts)
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
            .collect()
    }

    #[test]
    fn a_damaged_region_past_a_range_reach_is_framed_on_one_thread() {
        // 6 MB of zeros across the 4 MiB split point: no boundary within reach there, so
        // the rest of the input is framed serially; every record comes once, in order.
        let filler = record(1, &[]);
        let mut data = filler.repeat((3 << 20) / filler.len());
        data.extend(std::iter::repeat(0u8).take(6 << 20));
        data.extend(filler.repeat((2 << 20) / filler.len()));
        assert_eq!(
            crate::chunks::range_end(&data, 0, crate::chunks::RANGE_BYTES),
            None
        );
        let want: Vec<u64> = Recover::new(&data)
            .filter_map(|i| match i {
                Item::Record(s) => Some(s.offset as u64),
                _ => None,
            })
            .collect();
        for threads in [1, 2, 4] {
            assert_eq!(rows(&data, threads), want, "{threads} threads");
        }
    }

    #[test]
    fn a_record_holding_records_across_a_split_point_is_read_once() {
        let filler = record(1, &[]);
        let embedded = record(2, &[]);
        let mut data = Vec::new();
        while data.len() < (4 << 20) - 150_000 {
            data.extend_from_slice(&filler);
        }
        // 300 KB of embedded records in one record, across the 4 MiB split point.
        let inner: Vec<u8> = embedded.repeat(300_000 / embedded.len());
        let holder_at = data.len();
        data.extend_from_slice(&record(3, &opaque(&inner)));
        while data.len() < (9 << 20) {
            data.extend_from_slice(&filler);
        }
        let want: Vec<u64> = Recover::new(&data)
            .filter_map(|i| match i {
                Item::Record(s) => Some(s.offset as u64),
                _ => None,
            })
            .collect();
        assert!(want.contains(&(holder_at as u64)));
        // The embedded records are not records of the trail.
        assert!(!want.contains(&(holder_at as u64 + 18 + 3)));
        let misses = || super::super::parallel::MISSES.load(std::sync::atomic::Ordering::Relaxed);
        for threads in [1, 2, 4] {
            let before = misses();
            let got = rows(&data, threads);
            assert!(
                misses() > before,
                "the holder should have sent framing back"
            );
            let first = got.iter().zip(&want).position(|(a, b)| a != b);
            assert_eq!(
                (got.len(), first),
                (want.len(), None),
                "{threads} threads: first difference {:?} / {:?}",
                first.map(|i| &got[i.saturating_sub(2)..(i + 3).min(got.len())]),
                first.map(|i| &want[i.saturating_sub(2)..(i + 3).min(want.len())]),
            );
        }
    }
}
