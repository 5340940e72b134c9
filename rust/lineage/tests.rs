use super::*;
use crate::arrow::schema::Col;
use crate::arrow::{Options, View};
use crate::writer::demo_trail;
use arrow_array::Array;

fn batches(batch_size: usize) -> Vec<RecordBatch> {
    let cols = COLUMNS
        .iter()
        .map(|n| Col::from_name(n).expect("a records column"))
        .collect();
    let opts = Options {
        view: View::Records(cols),
        batch_size,
        ..Options::default()
    };
    crate::arrow::tests::read(&demo_trail(), opts)
}

/// The demo trail's kinds: execve (23) execs, fork (2) forks, exit (1) exits, the
/// login events (6152 login, 45021 lw_login) log in.
fn kinds() -> EventKinds {
    EventKinds::new(&[
        (23, EXEC),
        (2, FORK),
        (1, EXIT),
        (6152, LOGIN),
        (45021, LOGIN),
        (6153, LOGOUT),
    ])
}

/// Both views with input batches of `batch_size` records and output batches of
/// `batch_rows` processes, the processes' batches taken as they come and joined.
fn views(batch_size: usize, batch_rows: usize) -> (RecordBatch, RecordBatch) {
    let mut l = Lineage::new(kinds(), true, true, 10, batch_rows);
    let mut taken = Vec::new();
    for b in batches(batch_size) {
        l.add(&b).unwrap();
        let p = l.processes.as_mut().unwrap().take();
        assert!(p.iter().all(|b| b.num_rows() == batch_rows));
        taken.extend(p);
    }
    let hosts = l.hosts().to_vec();
    let s = l.sessions.as_mut().unwrap().finish(&hosts).unwrap();
    taken.extend(l.processes.as_mut().unwrap().finish(&hosts).unwrap());
    let p = arrow_select::concat::concat_batches(&Processes::schema(), &taken).unwrap();
    (s, p)
}

#[test]
fn batch_boundaries_do_not_change_the_views() {
    let (s, p) = views(65_536, 65_536);
    assert!(s.num_rows() > 0 && p.num_rows() > 1);
    for size in [1, 2, 7] {
        assert_eq!(
            views(size, 65_536),
            (s.clone(), p.clone()),
            "batch size {size}"
        );
    }
    for rows in [1, 2, 3] {
        assert_eq!(
            views(7, rows),
            (s.clone(), p.clone()),
            "{rows} rows a batch"
        );
    }
    assert_eq!(s.schema(), Sessions::schema());
    assert_eq!(p.schema(), Processes::schema());
}

#[test]
fn every_record_with_a_subject_is_counted_once() {
    let with_subject: usize = batches(100)
        .iter()
        .map(|b| {
            let euid = b.column_by_name("euid").unwrap();
            euid.len() - euid.null_count()
        })
        .sum();
    let (s, p) = views(100, 4);
    let sum = |b: &RecordBatch| -> u64 {
        let c = b.column_by_name("records").unwrap();
        c.as_any()
            .downcast_ref::<arrow_array::UInt64Array>()
            .unwrap()
            .values()
            .iter()
            .sum()
    };
    assert_eq!(sum(&s) as usize, with_subject);
    assert_eq!(sum(&p) as usize, with_subject);
}

#[test]
fn a_batch_without_a_column_is_an_error_not_a_panic() {
    let b = batches(100).remove(0);
    let mut l = Lineage::new(kinds(), true, true, 10, 4);
    for drop in COLUMNS {
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&i| b.schema().field(i).name() != drop)
            .collect();
        let err = l.add(&b.project(&keep).unwrap()).unwrap_err();
        assert!(err.to_string().contains(drop), "{drop}: {err}");
    }
}
