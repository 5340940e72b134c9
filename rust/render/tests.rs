//! Renderer tests: the shared praudit goldens, and hand-built byte vectors for every token
//! in every mode.

use super::*;
use std::path::PathBuf;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// A test-only reading of the shared etc files (production tables come from Python).
fn shared_lookup() -> Lookup {
    let mut l = Lookup::new();
    let etc = shared().join("etc");
    let ev = std::fs::read(etc.join("audit_event")).expect("shared audit_event");
    for line in ev.split(|&b| b == b'\n') {
        let f: Vec<&[u8]> = line
            .split(|&b| b == b':')
            .filter(|f| !f.is_empty())
            .collect();
        if f.len() < 2 || line.starts_with(b"#") {
            continue;
        }
        let n: i64 = std::str::from_utf8(f[0])
            .unwrap()
            .trim()
            .parse()
            .unwrap_or(0);
        let desc = f.get(2).copied().unwrap_or(b"");
        l.add_event(n as u16, f[1], desc);
    }
    for (file, users) in [("passwd", true), ("group", false)] {
        let data = std::fs::read(etc.join(file)).unwrap();
        for line in data.split(|&b| b == b'\n') {
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 3 || line.starts_with(b"#") {
                continue;
            }
            let Ok(id) = std::str::from_utf8(f[2]).unwrap().parse::<i64>() else {
                continue;
            };
            if users {
                l.add_user(id as u32, f[0]);
            } else {
                l.add_group(id as u32, f[0]);
            }
        }
    }
    l
}

fn mode_options(mode: &str) -> Options {
    let mut o = Options {
        utc: true,
        ..Options::default()
    };
    match mode {
        "default" => {}
        "l" => o.oneline = true,
        "n" => o.numeric = true,
        "ln" => {
            o.oneline = true;
            o.numeric = true
        }
        "rl" => {
            o.oneline = true;
            o.raw = true
        }
        "sl" => {
            o.oneline = true;
            o.short = true
        }
        "x" => o.xml = true,
        "l-pipe" => {
            o.oneline = true;
            o.delim = b"|".to_vec()
        }
        _ => panic!("mode {mode}"),
    }
    o
}

const TRAILS: [(&str, &str); 4] = [
    ("apple", "apple.bsm"),
    ("openbsm", "openbsm.bsm"),
    ("execve-long-args", "execve-long-args.trail"),
    ("reference-all", "reference-all.bsm"),
];
const MODES: [&str; 8] = ["default", "l", "n", "ln", "rl", "sl", "x", "l-pipe"];

#[test]
fn shared_goldens_byte_identical() {
    let lookup = Arc::new(shared_lookup());
    let mut failures = Vec::new();
    for (stem, file) in TRAILS {
        let data = std::fs::read(shared().join("trails").join(file)).unwrap();
        for mode in MODES {
            let opts = mode_options(mode);
            let xml = opts.xml;
            let mut r = Renderer::new(opts, lookup.clone());
            let mut out = Vec::new();
            if xml {
                out.extend_from_slice(XML_HEADER);
            }
            out.extend(r.trail_to_vec(&data, false));
            if xml {
                out.extend_from_slice(XML_FOOTER);
            }
            let golden =
                std::fs::read(shared().join("golden").join(format!("{stem}.{mode}.txt"))).unwrap();
            if out != golden {
                let (a, b) = (
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&golden),
                );
                let line = a
                    .lines()
                    .zip(b.lines())
                    .find(|(x, y)| x != y)
                    .map(|(x, y)| format!("ours:   {x}\ngolden: {y}"))
                    .unwrap_or_else(|| format!("length {} vs {}", out.len(), golden.len()));
                failures.push(format!("{stem}.{mode}:\n{line}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
