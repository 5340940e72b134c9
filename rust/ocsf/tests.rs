//! The events of the demo trail against what its records say (hand-checked: the demo
//! trail is built by `crate::writer::demo` from values written there), the lake's parts
//! against the whole batch's events, and hostile trails through both.

use super::*;
use crate::arrow::schema::Col;
use crate::arrow::tests::read;
use crate::arrow::{Options, View};
use crate::writer::demo_trail;
use crate::writer::generate::generate;
use arrow_array::cast::AsArray;
use proptest::prelude::*;

const EXECVE: u16 = 23;
const EXIT: u16 = 1;
const KILL: u16 = 15;
const CHMOD: u16 = 10;
const CONNECT: u16 = 32;
const ACCEPT: u16 = 33;
const OPEN_R: u16 = 72;
const OPEN_RWC: u16 = 81;
const POSIX_SPAWN: u16 = 43190;
const OPENSSH: u16 = 32800;
const LW_LOGIN: u16 = 45021;

fn class(uid: i32, name: &str, category: i32, activities: &[(i32, &str)], attrs: &[&str]) -> Class {
    Class {
        uid,
        name: name.into(),
        category_uid: category,
        category_name: format!("category {category}"),
        activities: activities
            .iter()
            .map(|(a, n)| (*a, n.to_string()))
            .collect(),
        attributes: attrs.iter().map(|a| a.to_string()).collect(),
    }
}

/// A small mapping of the demo trail's events.
fn tables() -> Tables {
    let mut classes = vec![0; 1 << 16];
    let mut activities = vec![99; 1 << 16];
    for (event, c, a) in [
        (EXECVE, 1007, 1),
        (POSIX_SPAWN, 1007, 1),
        (EXIT, 1007, 2),
        (KILL, 1007, 99),
        (OPEN_R, 1001, 14),
        (OPEN_RWC, 1001, 14),
        (CHMOD, 1001, 7),
        (CONNECT, 4001, 1),
        (ACCEPT, 4001, 1),
        (OPENSSH, 3002, 1),
        (LW_LOGIN, 3002, 1),
    ] {
        classes[event as usize] = c;
        activities[event as usize] = a;
    }
    let names = vec![
        (EXECVE, "AUE_EXECVE".to_string()),
        (KILL, "AUE_KILL".to_string()),
        (CONNECT, "AUE_CONNECT".to_string()),
    ];
    Tables::new(
        classes,
        activities,
        names,
        vec![
            (role::SPAWN, vec![POSIX_SPAWN]),
            (role::KILL, vec![KILL]),
            (role::TO_PEER, vec![CONNECT]),
        ],
        vec![
            class(0, "Base Event", 0, &[(99, "Other")], &[]),
            class(
                1001,
                "File System Activity",
                1,
                &[(7, "Set Security"), (14, "Open")],
                &["file", "file_result"],
            ),
            class(
                1007,
                "Process Activity",
                1,
                &[(1, "Launch"), (2, "Terminate"), (99, "Other")],
                &["process"],
            ),
            class(
                3002,
                "Authentication",
                3,
                &[(1, "Logon")],
                &["user", "is_remote", "src_endpoint"],
            ),
            class(
                4001,
                "Network Activity",
                4,
                &[(1, "Open")],
                &["src_endpoint", "dst_endpoint"],
            ),
        ],
        "1.7.0".into(),
    )
    .unwrap()
}

fn records(data: &[u8], batch_size: usize) -> Vec<RecordBatch> {
    let opts = Options {
        view: View::Records(Col::ALL.to_vec()),
        batch_size,
        ..Options::default()
    };
    read(data, opts)
}

/// The array at a dotted path of struct members.
fn at(batch: &RecordBatch, path: &str) -> ArrayRef {
    let mut parts = path.split('.');
    let mut a = batch.column_by_name(parts.next().unwrap()).unwrap().clone();
    for p in parts {
        let s = a.as_struct().clone();
        let child = s.column_by_name(p).unwrap().clone();
        // A member of a null struct is null, as readers see it.
        let nulls = NullBuffer::union(s.nulls(), child.nulls());
        a = arrow_array::make_array(child.to_data().into_builder().nulls(nulls).build().unwrap());
    }
    a
}

/// Each row's text at `path` (dictionaries decoded, numbers in decimal).
fn texts(batch: &RecordBatch, path: &str) -> Vec<Option<String>> {
    let a = at(batch, path);
    let s = arrow_cast::cast(&a, &DataType::Utf8).unwrap();
    s.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn null_at(batch: &RecordBatch, path: &str, row: usize) -> bool {
    at(batch, path).is_null(row)
}

fn row_of(batch: &RecordBatch, event: u16, nth: usize) -> usize {
    let events = batch
        .column_by_name("event")
        .unwrap()
        .as_primitive::<UInt16Type>();
    (0..batch.num_rows())
        .filter(|&i| events.is_valid(i) && events.value(i) == event)
        .nth(nth)
        .unwrap_or_else(|| panic!("no record {nth} of event {event}"))
}

#[test]
fn the_demo_trails_records_become_the_events_they_say() {
    let t = tables();
    let recs = records(&demo_trail(), 1 << 16).remove(0);
    let ev = events(&recs, &t, None).unwrap();
    assert_eq!(ev.num_rows(), recs.num_rows());
    let cell = |path: &str, row: usize| texts(&ev, path)[row].clone();
    let null = |path: &str, row: usize| null_at(&ev, path, row);
    let num = |path: &str, row: usize| cell(path, row).map(|v| v.parse::<i64>().unwrap());
    // Every row's class, activity and type by the tables; the name or else the number.
    let numbers = recs
        .column_by_name("event")
        .unwrap()
        .as_primitive::<UInt16Type>();
    for i in 0..ev.num_rows() {
        let e = numbers.value(i) as usize;
        let (c, a) = (t.class[e] as i64, t.activity[e] as i64);
        assert_eq!(num("class_uid", i), Some(c));
        assert_eq!(num("activity_id", i), Some(a));
        assert_eq!(num("type_uid", i), Some(c * 100 + a));
        let want = t.names[e].as_deref().map_or(e.to_string(), str::to_string);
        assert_eq!(cell("message", i), Some(want.clone()));
        assert_eq!(cell("metadata.event_code", i), Some(want));
        assert_eq!(cell("metadata.version", i).as_deref(), Some("1.7.0"));
        assert_eq!(cell("severity_id", i).as_deref(), Some("1"));
        assert!(cell("unmapped.bsm.offset", i).is_some());
    }
    // The first execve (demo.rs: pid 931's `ls -l /etc`, success).
    let exec = row_of(&recs, EXECVE, 0);
    assert_eq!(
        cell("class_name", exec).as_deref(),
        Some("Process Activity")
    );
    assert_eq!(
        cell("type_name", exec).as_deref(),
        Some("Process Activity: Launch")
    );
    assert_eq!(cell("status_id", exec).as_deref(), Some("1"));
    assert_eq!(cell("status", exec).as_deref(), Some("Success"));
    assert_eq!(cell("status_code", exec), None);
    let joined: Vec<String> = {
        let list = recs.column_by_name("exec_args").unwrap().as_list::<i32>();
        let v = list.value(exec);
        v.as_string::<i32>()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect()
    };
    assert!(!null_at(&recs, "exec_args", exec));
    assert_eq!(cell("process.cmd_line", exec), Some(joined.join(" ")));
    let first = {
        let list = recs.column_by_name("paths").unwrap().as_list::<i32>();
        list.value(exec).as_string::<i32>().value(0).to_string()
    };
    assert!(!null("unmapped.bsm.paths", exec));
    assert_eq!(cell("process.file.path", exec), Some(first.clone()));
    assert_eq!(
        cell("process.file.name", exec),
        Some(first.rsplit('/').next().unwrap().to_string())
    );
    assert_eq!(cell("process.pid", exec), cell("actor.process.pid", exec));
    assert!(null("file", exec), "a process event has no file");
    // Identity: the audit user is the actor's user, the effective one its process's.
    assert_eq!(cell("actor.user.uid", exec), texts(&recs, "auid")[exec]);
    assert_eq!(
        cell("actor.process.user.uid", exec),
        texts(&recs, "euid")[exec]
    );
    assert_eq!(cell("unmapped.bsm.ruid", exec), texts(&recs, "ruid")[exec]);
    // A kill's process is its target (its process token), not the subject.
    for k in 0..2 {
        let kill = row_of(&recs, KILL, k);
        let target = {
            let list = recs.column_by_name("processes").unwrap().as_list::<i32>();
            let procs = list.value(kill);
            texts(
                &RecordBatch::try_new(
                    Arc::new(Schema::new(vec![Field::new(
                        "p",
                        procs.data_type().clone(),
                        true,
                    )])),
                    vec![procs],
                )
                .unwrap(),
                "p.pid",
            )[0]
            .clone()
        };
        assert!(target.is_some());
        assert_eq!(cell("process.pid", kill), target);
    }
    // The second kill failed (demo.rs: PAD_FAILURE): status and errno.
    let failed = row_of(&recs, KILL, 1);
    assert_eq!(cell("status", failed).as_deref(), Some("Failure"));
    assert_eq!(
        cell("status_code", failed),
        texts(&recs, "return_errno")[failed]
    );
    // A connect's sockinet token is the peer: the destination.
    let connect = row_of(&recs, CONNECT, 0);
    let sockets = recs.column_by_name("sockets").unwrap().as_list::<i32>();
    let sock = sockets.value(connect);
    let sock = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "s",
            sock.data_type().clone(),
            true,
        )])),
        vec![sock],
    )
    .unwrap();
    assert_eq!(cell("dst_endpoint.ip", connect), texts(&sock, "s.laddr")[0]);
    assert_eq!(
        cell("dst_endpoint.port", connect),
        texts(&sock, "s.lport")[0]
    );
    assert!(null("src_endpoint", connect));
    // An open: the file, typed by its attr token when it has one.
    let open = row_of(&recs, OPEN_R, 0);
    assert_eq!(cell("file.path", open), Some(first_path(&recs, open)));
    assert!(null("process", open));
}

fn first_path(recs: &RecordBatch, row: usize) -> String {
    let list = recs.column_by_name("paths").unwrap().as_list::<i32>();
    list.value(row).as_string::<i32>().value(0).to_string()
}

#[test]
fn the_shared_facts_are_the_ones_the_events_show() {
    let t = tables();
    let recs = records(&demo_trail(), 1 << 16).remove(0);
    let ev = events(&recs, &t, None).unwrap();
    let f = facts(&recs, &t).unwrap();
    assert_eq!(f.num_rows(), recs.num_rows());
    let fact = |name: &str| texts(&f, name);
    let shown = |path: &str| texts(&ev, path);
    assert_eq!(fact("class_uid"), shown("class_uid"));
    assert_eq!(fact("activity_id"), shown("activity_id"));
    // Where the event has a session (a subject), it says what the fact says.
    let (remote, is_remote) = (fact("remote"), shown("actor.session.is_remote"));
    for i in (0..recs.num_rows()).filter(|&i| !null_at(&ev, "actor.session", i)) {
        assert_eq!(remote[i], is_remote[i], "row {i}");
    }
    for (i, class) in fact("class_uid").iter().enumerate() {
        if class.as_deref() == Some("4001") {
            assert_eq!(fact("dst_ip")[i], shown("dst_endpoint.ip")[i], "row {i}");
            assert_eq!(
                fact("dst_port")[i],
                shown("dst_endpoint.port")[i],
                "row {i}"
            );
            assert_eq!(fact("src_ip")[i], shown("src_endpoint.ip")[i], "row {i}");
        }
        if class.as_deref() == Some("1007") && fact("execs")[i].as_deref() == Some("true") {
            assert_eq!(
                fact("command_line")[i],
                shown("process.cmd_line")[i],
                "row {i}"
            );
            assert_eq!(
                fact("path_name")[i],
                shown("process.file.name")[i],
                "row {i}"
            );
        }
    }
    // A kill's target and a connect's peer, by hand (demo.rs).
    let kill = row_of(&recs, KILL, 0);
    assert_eq!(fact("target_pid")[kill], shown("process.pid")[kill]);
    assert!(fact("target_pid")[kill].is_some());
    assert_eq!(fact("child_pid")[kill], None);
    let connect = row_of(&recs, CONNECT, 0);
    assert!(fact("dst_ip")[connect].is_some());
    assert_eq!(fact("src_ip")[connect], None);
    // posix_spawn makes a child: its pid is the return value.
    let spawn = row_of(&recs, POSIX_SPAWN, 0);
    assert_eq!(
        fact("child_pid")[spawn],
        texts(&recs, "return_value")[spawn]
    );
    assert_eq!(fact("child_pid")[spawn], shown("process.pid")[spawn]);
}

#[test]
fn facts_do_without_process_and_socket_tokens_and_events_do_not() {
    let t = tables();
    let recs = records(&demo_trail(), 1 << 16).remove(0);
    let all = facts(&recs, &t).unwrap();
    let keep: Vec<usize> = (0..recs.num_columns())
        .filter(|&k| !["processes", "sockets"].contains(&recs.schema().field(k).name().as_str()))
        .collect();
    let fewer = recs.project(&keep).unwrap();
    let some = facts(&fewer, &t).unwrap();
    for f in all.schema().fields() {
        let name = f.name().as_str();
        let want = match name {
            "target_pid" | "src_ip" | "src_port" | "dst_ip" | "dst_port" => {
                vec![None; recs.num_rows()]
            }
            _ => texts(&all, name),
        };
        assert_eq!(texts(&some, name), want, "{name}");
    }
    assert!(texts(&all, "target_pid").iter().any(Option::is_some));
    assert!(texts(&all, "dst_ip").iter().any(Option::is_some));
    assert!(events(&fewer, &t, None).is_err());
}

#[test]
fn a_class_only_gets_its_own_attributes() {
    let t = tables();
    let recs = records(&demo_trail(), 1 << 16).remove(0);
    let whole = events(&recs, &t, None).unwrap();
    for c in &t.classes {
        let mine = events(&recs, &t, Some(c.uid)).unwrap();
        let schema = mine.schema();
        let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        let want: Vec<usize> = class_columns(&whole.schema(), &t, c.uid).unwrap();
        let want: Vec<String> = want
            .iter()
            .map(|&k| whole.schema().field(k).name().clone())
            .collect();
        assert_eq!(names.iter().map(|s| s.as_str()).collect::<Vec<_>>(), want);
        for a in &c.attributes {
            assert!(want.contains(a), "{a}");
        }
        assert_eq!(
            mine,
            whole
                .project(&class_columns(&whole.schema(), &t, c.uid).unwrap())
                .unwrap()
        );
    }
    assert!(events(&recs, &t, Some(1234)).is_err());
}

/// A lake's parts are the whole batch's events, split by class and UTC day, each part's
/// rows in input order; every row in exactly one part.
fn check_parts(batch: &RecordBatch, t: &Tables) {
    let whole = events(batch, t, None).unwrap();
    let parts = lake_parts(batch, t).unwrap();
    let keys: Vec<(i32, &String)> = parts.iter().map(|(c, d, _)| (*c, d)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "parts sorted, one per class and day");
    assert_eq!(
        parts.iter().map(|(_, _, p)| p.num_rows()).sum::<usize>(),
        batch.num_rows()
    );
    let time = batch
        .column_by_name("time")
        .unwrap()
        .as_primitive::<TimestampMillisecondType>();
    let class = whole.column(0).as_primitive::<Int32Type>();
    for (c, day, part) in &parts {
        let rows: Vec<u32> = (0..batch.num_rows())
            .filter(|&i| {
                let d = if time.is_valid(i) {
                    let (y, m, dd) = civil_from_days(time.value(i).div_euclid(DAY_MS));
                    format!("{y:04}{m:02}{dd:02}")
                } else {
                    "unknown".into()
                };
                class.value(i) == *c && d == *day
            })
            .map(|i| i as u32)
            .collect();
        let columns = class_columns(&whole.schema(), t, *c).unwrap();
        let want = arrow_select::take::take_record_batch(
            &whole.project(&columns).unwrap(),
            &UInt32Array::from(rows),
        )
        .unwrap();
        assert_eq!(part, &want, "class {c} day {day}");
    }
}

#[test]
fn lake_parts_are_the_events_by_class_and_day() {
    let t = tables();
    let mut data = Vec::new();
    generate(&mut data, 300_000, 7).unwrap();
    for size in [1, 97, 4096, 1 << 16] {
        for batch in records(&data, size) {
            check_parts(&batch, &t);
        }
    }
    // Days: the generator's records span days, so some batch has several.
    let batches = records(&data, 1 << 16);
    let days: usize = batches
        .iter()
        .map(|b| {
            let parts = lake_parts(b, &t).unwrap();
            let mut d: Vec<&String> = parts.iter().map(|p| &p.1).collect();
            d.sort();
            d.dedup();
            d.len()
        })
        .sum();
    assert!(days >= 1);
}

#[test]
fn tables_of_the_wrong_size_or_an_undescribed_class_are_refused() {
    let t = tables();
    assert!(Tables::new(
        vec![0; 10],
        vec![0; 10],
        vec![],
        vec![],
        t.classes.clone(),
        "1".into()
    )
    .is_err());
    let mut classes = vec![0; 1 << 16];
    classes[5] = 2004;
    assert!(Tables::new(
        classes,
        vec![99; 1 << 16],
        vec![],
        vec![],
        t.classes.clone(),
        "1".into()
    )
    .is_err());
}

#[test]
fn basenames_are_after_the_last_slash() {
    assert_eq!(basename("/usr/bin/ls"), "ls");
    assert_eq!(basename("ls"), "ls");
    assert_eq!(basename("/etc/"), "");
    assert_eq!(basename("a/b\nc/d"), "d");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random token bodies inside valid headers and trailers, between demo records: every
    /// record that frames is an event, in the whole batch and in the lake's parts.
    #[test]
    fn hostile_records_are_events_all_the_same(
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..6),
        events_of in proptest::collection::vec(prop::sample::select(vec![EXECVE, KILL, CONNECT, OPEN_R, OPENSSH, 0, 65535]), 6),
        batch in prop::sample::select(vec![1usize, 3, 64]),
    ) {
        let t = tables();
        let mut data = demo_trail();
        for (body, event) in bodies.iter().zip(events_of) {
            let count = (18 + body.len() + 7) as u32;
            data.push(0x14);
            data.extend_from_slice(&count.to_be_bytes());
            data.push(11);
            data.extend_from_slice(&event.to_be_bytes());
            data.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
            data.extend_from_slice(body);
            data.extend_from_slice(&[0x13, 0xb1, 0x05]);
            data.extend_from_slice(&count.to_be_bytes());
        }
        let opts = Options {
            view: View::Records(Col::ALL.to_vec()),
            batch_size: batch,
            mode: crate::mode::Mode::Recover,
            ..Options::default()
        };
        for b in read(&data, opts) {
            let ev = events(&b, &t, None).unwrap();
            prop_assert_eq!(ev.num_rows(), b.num_rows());
            prop_assert_eq!(facts(&b, &t).unwrap().num_rows(), b.num_rows());
            check_parts(&b, &t);
        }
    }
}
