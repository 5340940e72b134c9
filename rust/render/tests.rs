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

// ---- hand-built tokens ----------------------------------------------------------------

use crate::tokens::{decode, DecodeOptions};

const T0: u32 = 1_230_477_138; // Sun Dec 28 15:12:18 2008

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}
fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}
fn be64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// Concatenate byte pieces.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn test_lookup() -> Arc<Lookup> {
    let mut l = Lookup::new();
    l.add_event(45029, b"AUE_audit_recovery", b"audit crash recovery");
    l.add_event(0, b"AUE_NULL", b"indir system call");
    l.add_event(23, b"AUE_EXECVE", b"execve(2)");
    l.add_event(7, b"AUE_AMP", b"a&b <c>");
    l.add_user(0, b"root");
    l.add_user(501, b"alice");
    l.add_user(0, b"toor");
    l.add_group(0, b"wheel");
    l.add_group(20, b"staff");
    Arc::new(l)
}

/// Options from praudit-like letters: l n r s x, plus S (strict XML), A (Apple), `|`
/// (delimiter `|`), E (empty delimiter).
fn o(flags: &str) -> Options {
    let mut o = Options {
        utc: true,
        ..Options::default()
    };
    for c in flags.chars() {
        match c {
            'l' => o.oneline = true,
            'n' => o.numeric = true,
            'r' => o.raw = true,
            's' => o.short = true,
            'x' => o.xml = true,
            'S' => o.xml_strict = true,
            'A' => o.apple = true,
            '|' => o.delim = b"|".to_vec(),
            'E' => o.delim = Vec::new(),
            _ => panic!("flag {c}"),
        }
    }
    o
}

/// Render one bare token (followed by `pad`, which only an unknown token reads into).
fn tok_pad(flags: &str, bytes: &[u8], pad: usize) -> Vec<u8> {
    let opts = o(flags);
    let lookup = test_lookup();
    let mut clock = Clock::new(true);
    let mut cx = Ctx {
        opts: &opts,
        lookup: &lookup,
        clock: &mut clock,
        open: false,
    };
    let mut buf = bytes.to_vec();
    buf.extend(std::iter::repeat_n(0u8, pad));
    let d = if opts.apple {
        DecodeOptions::FULL
    } else {
        DecodeOptions::PRAUDIT
    };
    let t = decode(&buf, 0, d).expect("token decodes");
    assert_eq!(t.len, bytes.len(), "token length");
    let mut out = Vec::new();
    if opts.xml {
        xml::token(&mut cx, &mut out, &t);
    } else {
        text::token(&mut cx, &mut out, &t);
    }
    out
}

fn tok(flags: &str, bytes: &[u8]) -> String {
    String::from_utf8(tok_pad(flags, bytes, 0)).expect("utf-8")
}

fn h32(count: u32, event: u16, modifier: u16, secs: u32, msec: u32) -> Vec<u8> {
    cat(&[
        &[0x14],
        &be32(count),
        &[11],
        &be16(event),
        &be16(modifier),
        &be32(secs),
        &be32(msec),
    ])
}

fn trailer(count: u32) -> Vec<u8> {
    cat(&[&[0x13, 0xb1, 0x05], &be32(count)])
}

/// header32 + body tokens + trailer, with the right counts.
fn record(body: &[&[u8]]) -> Vec<u8> {
    let n = 18 + body.iter().map(|b| b.len()).sum::<usize>() + 7;
    let n = n as u32;
    let mut r = h32(n, 45029, 0, T0, 131);
    for b in body {
        r.extend_from_slice(b);
    }
    r.extend(trailer(n));
    r
}

fn render_all(flags: &str, data: &[u8]) -> Vec<u8> {
    Renderer::new(o(flags), test_lookup()).trail_to_vec(data, false)
}

fn counted(id: u8, s: &[u8]) -> Vec<u8> {
    cat(&[&[id], &be16(s.len() as u16), s])
}

fn subject_ids(
    auid: u32,
    euid: u32,
    egid: u32,
    ruid: u32,
    rgid: u32,
    pid: u32,
    sid: u32,
) -> Vec<u8> {
    [auid, euid, egid, ruid, rgid, pid, sid]
        .iter()
        .flat_map(|v| be32(*v))
        .collect()
}

fn openbsm_ids() -> Vec<u8> {
    subject_ids(
        0x12345678, 0x1234567, 0x23456789, 0x98765432, 0x9876543, 0x13243546, 0x97867564,
    )
}

const FE80_1: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DB8_1: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

#[test]
fn header32_every_mode() {
    let h = h32(50, 45029, 16384, T0, 131);
    let t = "50,11,audit crash recovery,16384,Sun Dec 28 15:12:18 2008, + 131 msec";
    assert_eq!(tok("", &h), format!("header,{t}"));
    assert_eq!(tok("l", &h), format!("header,{t}"));
    assert_eq!(tok("n", &h), format!("header,{t}"));
    assert_eq!(tok("r", &h), "20,50,11,45029,16384,1230477138,131");
    assert_eq!(
        tok("s", &h),
        "header,50,11,AUE_audit_recovery,16384,Sun Dec 28 15:12:18 2008, + 131 msec"
    );
    assert_eq!(tok("|", &h), format!("header|{}", t.replace(',', "|")));
    assert_eq!(tok("E", &h), format!("header{}", t.replace(',', "")));
    assert_eq!(
        tok("x", &h),
        "<record version=\"11\" event=\"audit crash recovery\" modifier=\"16384\" \
         time=\"Sun Dec 28 15:12:18 2008\" msec=\" + 131 msec\" >"
    );
    assert_eq!(
        tok("xr", &h),
        "<record version=\"11\" event=\"45029\" modifier=\"16384\" time=\"1230477138\" msec=\"131\" >"
    );
    assert_eq!(
        tok("xs", &h),
        "<record version=\"11\" event=\"AUE_audit_recovery\" modifier=\"16384\" \
         time=\"Sun Dec 28 15:12:18 2008\" msec=\" + 131 msec\" >"
    );
}

#[test]
fn unknown_events_print_as_numbers_in_every_mode() {
    for ev in [44901u16, 65535] {
        let h = h32(50, ev, 0, T0, 131);
        for f in ["", "s", "r", "n"] {
            let out = tok(f, &h);
            assert!(out.contains(&format!(",{ev},")), "{f}: {out}");
        }
        assert!(tok("x", &h).contains(&format!("event=\"{ev}\"")));
    }
    // Event 0 has a description too.
    assert!(tok("", &h32(50, 0, 0, T0, 1)).contains(",indir system call,"));
}

#[test]
fn header64_times() {
    let h64 = |secs: u64, msec: u64| {
        cat(&[
            &[0x74],
            &be32(38),
            &[11],
            &be16(45029),
            &be16(16384),
            &be64(secs),
            &be64(msec),
        ])
    };
    let h = h64(u64::from(T0), 131);
    assert_eq!(
        tok("", &h),
        "header,38,11,audit crash recovery,16384,Sun Dec 28 15:12:18 2008, + 131 msec"
    );
    assert_eq!(tok("r", &h), "116,38,11,45029,16384,1230477138,131");
    // Signed 64-bit seconds; -r keeps the low 32 bits; msec prints its low 32 bits.
    assert!(tok("", &h64(u64::MAX, 5)).contains(",Wed Dec 31 23:59:59 1969, + 5 msec"));
    assert!(tok("", &h64(1 << 40, 0)).contains(",Mon Feb 20 00:36:16 3681,"));
    assert_eq!(
        tok("r", &h64(1 << 40, (1 << 32) + 7)),
        "116,38,11,45029,16384,0,7"
    );
    assert!(tok("", &h64(0, (1 << 32) + 7)).ends_with(", + 7 msec"));
    // Year 10000 loses its last digit; year 100 keeps ctime's newline.
    assert!(tok("", &h64(253_402_300_800, 0)).contains(",Sat Jan  1 00:00:00 1000,"));
    let t = (-59_011_459_200i64) as u64;
    assert!(tok("", &h64(t, 0)).contains(",Fri Jan  1 00:00:00 100\n,"));
}

#[test]
fn header_ex_and_the_header32_ex_printer_bug() {
    let hex = |count: u32, atype: u32, addr: &[u8], id: u8| {
        let wide = id == 0x79;
        cat(&[
            &[id],
            &be32(count),
            &[11],
            &be16(45029),
            &be16(16384),
            &be32(atype),
            addr,
            &if wide {
                be64(u64::from(T0)).to_vec()
            } else {
                be32(T0).to_vec()
            },
            &if wide {
                be64(131).to_vec()
            } else {
                be32(131).to_vec()
            },
        ])
    };
    let v6 = hex(50, 16, &FE80_1, 0x15);
    assert_eq!(
        tok("", &v6),
        "header_ex,50,11,audit crash recovery,16384,fe80::1,Sun Dec 28 15:12:18 2008, + 131 msec"
    );
    let v4 = hex(38, 4, &[10, 0, 0, 1], 0x15);
    assert_eq!(
        tok("r", &v4),
        "21version=\"11\" event=\"45029\" modifier=\"16384\" host=\"10.0.0.1\" time=\"1230477138\" msec=\"131\" >"
    );
    assert_eq!(
        tok("x", &v4),
        "<record ,38,11,audit crash recovery,16384,10.0.0.1,Sun Dec 28 15:12:18 2008, + 131 msec"
    );
    assert_eq!(
        tok("xr", &v4),
        "<record version=\"11\" event=\"45029\" modifier=\"16384\" host=\"10.0.0.1\" time=\"1230477138\" msec=\"131\" >"
    );
    assert_eq!(
        tok("xS", &v4),
        "<record version=\"11\" event=\"audit crash recovery\" modifier=\"16384\" host=\"10.0.0.1\" \
         time=\"Sun Dec 28 15:12:18 2008\" msec=\" + 131 msec\" >"
    );
    // Any other address type prints `invalid` and reads no address bytes.
    let bad = hex(46, 7, &[], 0x15);
    assert_eq!(
        tok("", &bad),
        "header_ex,46,11,audit crash recovery,16384,invalid,Sun Dec 28 15:12:18 2008, + 131 msec"
    );
    // header64_ex has no bug.
    let h64 = hex(58, 16, &FE80_1, 0x79);
    assert_eq!(
        tok("r", &h64),
        "121,58,11,45029,16384,fe80::1,1230477138,131"
    );
    assert!(tok("x", &h64).starts_with("<record version=\"11\" event=\"audit crash recovery\" modifier=\"16384\" host=\"fe80::1\" "));
}

#[test]
fn trailer_and_file() {
    let t = trailer(50);
    assert_eq!(tok("", &t), "trailer,50");
    assert_eq!(tok("r", &t), "19,50");
    assert_eq!(tok("x", &t), "</record>");
    let f = cat(&[&[0x11], &be32(74565), &be32(424), &be16(5), b"test\0"]);
    assert_eq!(
        tok("", &f),
        "file,Thu Jan  1 20:42:45 1970, + 424 msec,test"
    );
    assert_eq!(tok("r", &f), "17,74565,424,test");
    assert_eq!(
        tok("x", &f),
        "<file time=\"Thu Jan  1 20:42:45 1970\" msec=\" + 424 msec\" >test</file>"
    );
}

#[test]
fn subject_and_process_variants() {
    let ids = openbsm_ids();
    let s32 = cat(&[&[0x24], &ids, &be32(374945606), &[127, 0, 0, 1]]);
    let body = "305419896,19088743,591751049,-1737075662,159868227,321140038,2542171492,374945606";
    assert_eq!(tok("", &s32), format!("subject,{body},127.0.0.1"));
    assert_eq!(tok("r", &s32), format!("36,{body},127.0.0.1"));
    assert_eq!(
        tok("x", &s32),
        "<subject audit-uid=\"305419896\" uid=\"19088743\" gid=\"591751049\" ruid=\"-1737075662\" \
         rgid=\"159868227\" pid=\"321140038\" sid=\"2542171492\" tid=\"374945606 127.0.0.1\" />"
    );
    let p32 = cat(&[&[0x26], &ids, &be32(374945606), &[127, 0, 0, 1]]);
    assert_eq!(tok("", &p32), format!("process,{body},127.0.0.1"));
    assert!(tok("x", &p32).ends_with("tid=\"374945606127.0.0.1\" />"));
    let s32ex = cat(&[&[0x7a], &ids, &be32(374945606), &be32(16), &FE80_1]);
    assert_eq!(tok("", &s32ex), format!("subject_ex,{body},fe80::1"));
    assert!(tok("x", &s32ex).ends_with("tid=\"374945606fe80::1\" />"));
    let p64ex = cat(&[&[0x7d], &ids, &be64(374945606), &be32(16), &FE80_1]);
    assert_eq!(tok("", &p64ex), format!("process_ex,{body},fe80::1"));
    let p32ex4 = cat(&[&[0x7b], &ids, &be32(374945606), &be32(4), &[127, 0, 0, 1]]);
    assert_eq!(tok("r", &p32ex4), format!("123,{body},127.0.0.1"));

    // Names, -n and -r; auid -1 and unknown ids stay numbers.
    let named = cat(&[
        &[0x24],
        &subject_ids(u32::MAX, 0, 0, 0, 0, 11, 100000),
        &be32(11),
        &[0, 0, 0, 0],
    ]);
    assert_eq!(
        tok("", &named),
        "subject,-1,root,wheel,root,wheel,11,100000,11,0.0.0.0"
    );
    assert_eq!(tok("n", &named), "subject,-1,0,0,0,0,11,100000,11,0.0.0.0");
    assert_eq!(tok("r", &named), "36,-1,0,0,0,0,11,100000,11,0.0.0.0");
    assert_eq!(
        tok("x", &named),
        "<subject audit-uid=\"-1\" uid=\"root\" gid=\"wheel\" ruid=\"root\" rgid=\"wheel\" \
         pid=\"11\" sid=\"100000\" tid=\"11 0.0.0.0\" />"
    );
    let s64 = cat(&[
        &[0x75],
        &subject_ids(501, 501, 20, 501, 20, 11, 100000),
        &be64(1 << 40),
        &[192, 168, 1, 2],
    ]);
    assert_eq!(
        tok("n", &s64),
        "subject,501,501,20,501,20,11,100000,1099511627776,192.168.1.2"
    );
    assert_eq!(
        tok("", &s64),
        "subject,alice,alice,staff,alice,staff,11,100000,1099511627776,192.168.1.2"
    );
    assert!(tok("x", &s64).ends_with("tid=\"1099511627776192.168.1.2\" />"));
    let unresolved = cat(&[
        &[0x24],
        &subject_ids(2542171492, 77, 77, 77, 77, 1, 2),
        &be32(3),
        &[1, 2, 3, 4],
    ]);
    assert_eq!(
        tok("", &unresolved),
        "subject,-1752795804,77,77,77,77,1,2,3,1.2.3.4"
    );
}

#[test]
fn return_and_exit() {
    let r32 = |st: u8, v: u32| cat(&[&[0x27, st], &be32(v)]);
    assert_eq!(tok("", &r32(0, 0)), "return,success,0");
    assert_eq!(
        tok("", &r32(255, 5000)),
        "return,failure: Unknown error: 255,5000"
    );
    assert_eq!(
        tok("", &r32(2, u32::MAX)),
        "return,failure : No such file or directory,4294967295"
    );
    assert_eq!(tok("r", &r32(22, 305419896)), "39,22,305419896");
    assert_eq!(tok("s", &r32(22, 1)), "return,failure : Invalid argument,1");
    let r64 = cat(&[&[0x72, 13], &be64(u64::MAX)]);
    assert_eq!(tok("", &r64), "return,failure : Permission denied,-1");
    assert_eq!(tok("r", &r64), "114,13,-1");
    assert_eq!(
        tok("x", &r64),
        "<return errval=\"failure : Permission denied\" retval=\"-1\" />"
    );
    assert_eq!(
        tok("x", &r32(0, 0)),
        "<return errval=\"success\" retval=\"0\" />"
    );
    assert_eq!(
        tok("xr", &r32(61, 0)),
        "<return errval=\"61\" retval=\"0\" />"
    );
    let exit = cat(&[&[0x52], &be32(3), &be32(u32::MAX)]);
    assert_eq!(tok("", &exit), "exit,Error 3,4294967295");
    assert_eq!(tok("r", &exit), "82,Error 3,4294967295");
    assert_eq!(
        tok("x", &exit),
        "<exit errval=\"Error 3\" retval=\"4294967295\" />"
    );
}

#[test]
fn strings_text_path_zone() {
    let text = counted(0x28, b"This is a test.\0");
    assert_eq!(tok("", &text), "text,This is a test.");
    assert_eq!(tok("r", &text), "40,This is a test.");
    assert_eq!(tok("x", &text), "<text>This is a test.</text>");
    assert_eq!(tok("", &counted(0x28, b"")), "text,");
    // NULs dropped (not terminators), other bytes raw, even in XML.
    let odd = counted(0x28, b"ab\0cd\xff\0");
    assert_eq!(tok_pad("", &odd, 0), b"text,abcd\xff");
    assert_eq!(tok_pad("x", &odd, 0), b"<text>abcd\xff</text>");
    let raw = counted(0x28, b"a<b>&\n,c");
    assert_eq!(tok("", &raw), "text,a<b>&\n,c");
    assert_eq!(tok("x", &raw), "<text>a<b>&\n,c</text>");
    assert_eq!(tok("xS", &raw), "<text>a&lt;b&gt;&amp;\n,c</text>");
    assert_eq!(tok_pad("xS", &odd, 0), b"<text>abcd\\M^?</text>");
    // Strict XML keeps valid UTF-8 text as it is; only bytes that are not UTF-8 (a lone
    // 0xe6, a cut sequence), control characters (C1 U+0085 too) and U+FFFF are escaped.
    let utf8 = counted(0x28, "café 日本語 <x>\0".as_bytes());
    assert_eq!(tok("xS", &utf8), "<text>café 日本語 &lt;x&gt;</text>");
    assert_eq!(tok("x", &utf8), "<text>café 日本語 <x></text>");
    let mixed = counted(0x28, b"a\xe6b\xc3\xa9\xc2\x85\xef\xbf\xbf\xe6\x97\0");
    assert_eq!(
        tok_pad("xS", &mixed, 0),
        "<text>a\\M-fb\u{e9}\\M-B\\M^E\\M-o\\M-?\\M-?\\M-f\\M^W</text>".as_bytes()
    );
    let path = counted(0x23, b"/test/this/is/a/test\0");
    assert_eq!(tok("", &path), "path,/test/this/is/a/test");
    assert_eq!(tok("x", &path), "<path>/test/this/is/a/test</path>");
    let zone = counted(0x60, b"testzone\0");
    assert_eq!(tok("", &zone), "zone,testzone");
    assert_eq!(tok("r", &zone), "96,testzone");
    assert_eq!(tok("x", &zone), "<zone name=\"testzone\" />");
}

#[test]
fn opaque_and_arbitrary_data() {
    let op = counted(0x29, &[0xaa, 0xbb, 0xcc, 0xdd]);
    assert_eq!(tok("", &op), "opaque,4,0xaabbccdd");
    assert_eq!(tok("x", &op), "<opaque>0xaabbccdd</opaque>");
    assert_eq!(tok("", &counted(0x29, b"")), "opaque,0,");
    assert_eq!(tok("x", &counted(0x29, b"")), "<opaque></opaque>");

    let data =
        |print: u8, unit: u8, count: u8, items: &[u8]| cat(&[&[0x21, print, unit, count], items]);
    let s = data(4, 0, 10, b"SomeData\0a");
    assert_eq!(tok_pad("", &s, 0), b"arbitrary,string,byte,10,SomeData\0a");
    assert_eq!(tok_pad("r", &s, 0), b"33,string,byte,10,SomeData\0a");
    assert_eq!(
        tok_pad("x", &s, 0),
        b"<arbitrary print=\"string\" type=\"1\" count=\"10\" >SomeData\0a</arbitrary>"
    );
    assert_eq!(
        tok("xS", &s),
        "<arbitrary print=\"string\" type=\"1\" count=\"10\" >SomeData\\000a</arbitrary>"
    );
    assert_eq!(
        tok("", &data(2, 0, 3, &[0xff, 0x80, 0])),
        "arbitrary,decimal,byte,3, 255 128 0"
    );
    // Units are little-endian.
    let ints = data(3, 2, 2, &[4, 3, 2, 1, 1, 0, 0, 0x80]);
    assert_eq!(tok("", &ints), "arbitrary,hex,int,2, 1020304 80000001");
    let i64s = cat(&[
        &[0x21, 2, 3, 2],
        &0x0102030405060708u64.to_le_bytes(),
        &(-2i64).to_le_bytes(),
    ]);
    assert_eq!(tok("", &i64s), "arbitrary,decimal,int64,2, 84281096 -2");
    let neg = cat(&[&[0x21, 1, 3, 1], &(-2i64).to_le_bytes()]);
    assert_eq!(tok("", &neg), "arbitrary,octal,int64,1, 37777777776");
    let neg = cat(&[&[0x21, 3, 3, 1], &(-2i64).to_le_bytes()]);
    assert_eq!(tok("", &neg), "arbitrary,hex,int64,1, fffffffe");
    assert_eq!(
        tok("", &data(2, 1, 1, &[0xff, 0xff])),
        "arbitrary,decimal,short,1, 65535"
    );
    assert_eq!(
        tok("", &data(0, 0, 2, b"AB")),
        "arbitrary,binary,byte,2, A B"
    );
    assert_eq!(tok("", &data(2, 0, 0, b"")), "arbitrary,decimal,byte,0,");
    // An unknown print format: just the name and one delimiter; XML stops after the name.
    let bad = data(9, 0, 2, b"AB");
    assert_eq!(tok("", &bad), "arbitrary,");
    assert_eq!(tok("x", &bad), "<arbitrary ");
    assert_eq!(
        tok("xS", &bad),
        "<arbitrary print=\"9\" type=\"1\" count=\"2\" />"
    );
    assert_eq!(
        tok("x", &data(2, 1, 1, &[1, 0])),
        "<arbitrary print=\"decimal\" type=\"2\" count=\"1\" > 1</arbitrary>"
    );
}

#[test]
fn arguments_and_uuids() {
    let a32 = cat(&[
        &[0x2d, 3],
        &be32(0xabcdef00),
        &be16(17),
        b"test_arg32_token\0",
    ]);
    assert_eq!(tok("", &a32), "argument,3,0xabcdef00,test_arg32_token");
    assert_eq!(tok("r", &a32), "45,3,0xabcdef00,test_arg32_token");
    assert_eq!(
        tok("x", &a32),
        "<argument arg-num=\"3\" value=\"0xabcdef00\" desc=\"test_arg32_token\" />"
    );
    let zero = cat(&[&[0x2d, 2], &be32(0), &be16(11), b"am_success\0"]);
    assert_eq!(tok("", &zero), "argument,2,0x0,am_success");
    let a64 = cat(&[&[0x71, 2], &be64(0x1122334455667788), &be16(5), b"addr\0"]);
    assert_eq!(tok("", &a64), "argument,2,0x1122334455667788,addr");

    let uuid = [
        0x5a, 0x62, 0xea, 0x53, 0xd4, 0x1c, 0x11, 0xe6, 0xc8, 0xa3, 0x25, 0x00, 0x9d, 0x4b, 0xb4,
        0x9c,
    ];
    let au = cat(&[&[0x84, 4], &uuid, &be16(20), b"test_arg_uuid_token\0"]);
    assert_eq!(
        tok("", &au),
        "arg_uuid,4,5a62ea53-d41c-11e6-c8a3-25009d4bb49c,test_arg_uuid_token"
    );
    assert_eq!(
        tok("r", &au),
        "132,4,5a62ea53-d41c-11e6-c8a3-25009d4bb49c,test_arg_uuid_token"
    );
    assert_eq!(
        tok("x", &au),
        "arg_uuid-num=\"4\" uuid=\"5a62ea53-d41c-11e6-c8a3-25009d4bb49c\" desc=\"test_arg_uuid_token\" "
    );
    assert_eq!(
        tok("xS", &au),
        "<arg_uuid num=\"4\" uuid=\"5a62ea53-d41c-11e6-c8a3-25009d4bb49c\" desc=\"test_arg_uuid_token\" />"
    );
    let ru = cat(&[&[0x85, 5], &uuid, &be16(0)]);
    assert_eq!(
        tok("", &ru),
        "ret_uuid,5,5a62ea53-d41c-11e6-c8a3-25009d4bb49c,"
    );
    assert!(tok("x", &ru).starts_with("ret_uuid-num=\"5\" "));
}

#[test]
fn attributes() {
    let a32 = cat(&[
        &[0x3e],
        &be32(0o555),
        &be32(0),
        &be32(0),
        &be32(90),
        &be64(24222),
        &be32(112200),
    ]);
    assert_eq!(tok("", &a32), "attribute,555,root,wheel,90,24222,112200");
    assert_eq!(tok("r", &a32), "62,555,0,0,90,24222,112200");
    assert_eq!(
        tok("x", &a32),
        "<attribute mode=\"555\" uid=\"root\" gid=\"wheel\" fsid=\"90\" nodeid=\"24222\" device=\"112200\" />"
    );
    let a64 = cat(&[
        &[0x73],
        &be32(0o40755),
        &be32(1),
        &be32(1),
        &be32(123),
        &be64(u64::MAX),
        &be64(4294967297),
    ]);
    assert_eq!(tok("n", &a64), "attribute,40755,1,1,123,-1,4294967297");
}

#[test]
fn exec_args_and_env() {
    let env = cat(&[&[0x3d], &be32(2), b"PATH=/bin\0TERM=xterm\0"]);
    assert_eq!(tok("", &env), "exec env,PATH=/bin,TERM=xterm");
    assert_eq!(tok("r", &env), "61,PATH=/bin,TERM=xterm");
    assert_eq!(
        tok("x", &env),
        "<exec_env><env>PATH=/bin</env><env>TERM=xterm</env></exec_env>"
    );
    let none = cat(&[&[0x3c], &be32(0)]);
    assert_eq!(tok("", &none), "exec arg");
    assert_eq!(tok("x", &none), "<exec_args></exec_args>");
    // Text is raw; XML escapes entities and vis(3)-encodes the rest.
    let odd = cat(&[&[0x3c], &be32(2), b"a<&>\"'\\\0\xe9\r\x1b\0"]);
    assert_eq!(tok_pad("", &odd, 0), b"exec arg,a<&>\"'\\,\xe9\r\x1b");
    assert_eq!(
        tok("x", &odd),
        "<exec_args><arg>a&lt;&amp;&gt;&quot;&apos;\\\\</arg><arg>\\M-i\\r\\^[</arg></exec_args>"
    );
    // At most 128 strings print; all are consumed.
    let mut many = cat(&[&[0x3c], &be32(130)]);
    for i in 0..130 {
        many.extend_from_slice(format!("a{i}\0").as_bytes());
    }
    let out = tok("", &many);
    assert_eq!(out.matches(',').count(), 128);
    assert!(out.ends_with(",a127"));
    assert_eq!(tok("x", &many).matches("<arg>").count(), 128);
}

#[test]
fn exec_args_count_overrun_walks_into_the_trailer() {
    let ea = cat(&[&[0x3c], &be32(5), b"a\0b\0"]);
    let rec = record(&[&ea]);
    let out = render_all("l", &rec);
    assert!(
        out.ends_with(b",exec arg,a,b,\x13\xb1\x05,,,\n"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn groups() {
    let g = cat(&[&[0x3b], &be16(3), &be32(0), &be32(20), &be32(99999)]);
    assert_eq!(tok("n", &g), "group,0,20,99999");
    assert_eq!(tok("", &g), "group,wheel,staff,99999");
    assert_eq!(tok("r", &g), "59,0,20,99999");
    assert_eq!(
        tok("xn", &g),
        "<group><gid>0</gid></group><gid>20</gid></group><gid>99999</gid></group>"
    );
    assert_eq!(
        tok("xnS", &g),
        "<group><gid>0</gid><gid>20</gid><gid>99999</gid></group>"
    );
    let empty = cat(&[&[0x3b], &be16(0)]);
    assert_eq!(tok("", &empty), "group");
    assert_eq!(tok("x", &empty), "<group>");
    assert_eq!(tok("xS", &empty), "<group></group>");
    // More than 16: only 16 read.
    let mut big = cat(&[&[0x3b], &be16(17)]);
    for i in 0..16 {
        big.extend_from_slice(&be32(1000 + i));
    }
    assert_eq!(tok("n", &big).matches(',').count(), 16);
}

#[test]
fn network_tokens() {
    assert_eq!(
        tok("", &cat(&[&[0x2f], &be32(305419896)])),
        "sequence,305419896"
    );
    assert_eq!(
        tok("x", &cat(&[&[0x2f], &be32(305419896)])),
        "<sequence seq-num=\"305419896\" />"
    );
    let ia = [0x2a, 192, 168, 100, 15];
    assert_eq!(tok("", &ia), "ip addr,192.168.100.15");
    assert_eq!(tok("r", &ia), "42,192.168.100.15");
    assert_eq!(tok("x", &ia), "<ip_address>192.168.100.15</ip_address>");
    let iax = cat(&[&[0x7e], &be32(16), &DB8_1]);
    assert_eq!(tok("", &iax), "ip addr ex,2001:db8::1");
    assert_eq!(tok("x", &iax), "<ip_address>2001:db8::1</ip_address>");
    let iax4 = cat(&[&[0x7e], &be32(4), &[10, 1, 2, 3]]);
    assert_eq!(tok("", &iax4), "ip addr ex,10.1.2.3");

    let ip = cat(&[
        &[0x2b, 0x40, 0x00],
        &be16(20),
        &be16(21624),
        &be16(0),
        &[0x40, 0x01],
        &be16(0),
        &[192, 168, 100, 155, 192, 168, 110, 48],
    ]);
    assert_eq!(
        tok("", &ip),
        "ip,0x40,0x00,20,21624,0,0x40,0x01,0,192.168.100.155,192.168.110.48"
    );
    assert_eq!(
        tok("x", &ip),
        "<ip version=\"0x40\" service_type=\"0x00\" len=\"20\" id=\"21624\" offset=\"0\" \
         time_to_live=\"0x40\" protocol=\"0x01\" cksum=\"0\" src_addr=\"192.168.100.155\" \
         dest_addr=\"192.168.110.48\" />"
    );
    let ip2 = cat(&[
        &[0x2b, 0x45, 0x10],
        &be16(60),
        &be16(1234),
        &be16(16384),
        &[0x40, 0x06],
        &be16(43981),
        &[192, 168, 1, 2, 10, 0, 0, 1],
    ]);
    assert_eq!(
        tok("", &ip2),
        "ip,0x45,0x10,60,1234,16384,0x40,0x06,43981,192.168.1.2,10.0.0.1"
    );
    assert_eq!(tok("", &[0x2c, 0x50, 0x00]), "ip port,0x5000");
    assert_eq!(tok("", &[0x2c, 0, 0]), "ip port,0");
    assert_eq!(tok("x", &[0x2c, 0x50, 0x00]), "<ip_port>0x5000</ip_port>");

    let sock = cat(&[
        &[0x2e],
        &be16(2),
        &be16(80),
        &[192, 168, 1, 2],
        &be16(443),
        &[8, 8, 8, 8],
    ]);
    assert_eq!(tok("", &sock), "socket,2,80,192.168.1.2,443,8.8.8.8");
    assert_eq!(tok("r", &sock), "46,2,80,192.168.1.2,443,8.8.8.8");
    assert_eq!(
        tok("x", &sock),
        "<socket sock_type=\"2\" lport=\"80\" laddr=\"192.168.1.2\" fport=\"443\" faddr=\"8.8.8.8\" />"
    );
    let sx = cat(&[
        &[0x7f],
        &be16(2),
        &be16(2),
        &be16(4),
        &be16(0),
        &[127, 0, 0, 1],
        &be16(0),
        &[127, 0, 0, 1],
    ]);
    assert_eq!(tok("", &sx), "socket,0x2,0x2,0,127.0.0.1,0,127.0.0.1");
    assert_eq!(tok("r", &sx), "127,0x2,0x2,0,127.0.0.1,0,127.0.0.1");
    assert_eq!(
        tok("x", &sx),
        "<socket sock_dom=\"0x2\" sock_type=\"0x2\" lport=\"0\" laddr=\"127.0.0.1\" faddr=\"127.0.0.1\" fport=\"0\" />"
    );
    let sx6 = cat(&[
        &[0x7f],
        &be16(26),
        &be16(1),
        &be16(16),
        &be16(53),
        &DB8_1,
        &be16(1024),
        &FE80_1,
    ]);
    assert_eq!(
        tok("", &sx6),
        "socket,0x1a,0x1,0x35,2001:db8::1,0x400,fe80::1"
    );

    let si = cat(&[&[0x80], &be16(2), &be16(8080), &[192, 168, 1, 2]]);
    assert_eq!(tok("", &si), "socket-inet,2,8080,192.168.1.2");
    assert_eq!(
        tok("x", &si),
        "<socket-inet type=\"2\" port=\"8080\" addr=\"192.168.1.2\" />"
    );
    let si6 = cat(&[&[0x81], &be16(28), &be16(8080), &DB8_1]);
    assert_eq!(tok("", &si6), "socket-inet6,28,8080,2001:db8::1");
    assert_eq!(tok("r", &si6), "129,28,8080,2001:db8::1");
    assert_eq!(
        tok("x", &si6),
        "<socket-inet6 type=\"28\" port=\"8080\" addr=\"2001:db8::1\" />"
    );
    let su = cat(&[&[0x82], &be16(1), b"/var/run/sock\0"]);
    assert_eq!(tok("", &su), "socket-unix,1,/var/run/sock");
    assert_eq!(
        tok("x", &su),
        "<socket-unix type=\"1\" port=\"\" addr=\"/var/run/sock\" />"
    );
}

#[test]
fn socket_unix_without_nul_swallows_the_trailer() {
    let su = cat(&[&[0x82], &be16(1), b"/tmp/abc"]);
    let out = render_all("l", &record(&[&su]));
    assert!(
        out.ends_with(b",socket-unix,1,/tmp/abc\x13\xb1\x05,\n"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn ipc_tokens() {
    let ipc = cat(&[&[0x22, 1], &be32(305419896)]);
    assert_eq!(tok("", &ipc), "IPC,Message IPC,305419896");
    assert_eq!(tok("r", &ipc), "34,1,305419896");
    assert_eq!(
        tok("", &cat(&[&[0x22, 2], &be32(1)])),
        "IPC,Semaphore IPC,1"
    );
    assert_eq!(
        tok("", &cat(&[&[0x22, 3], &be32(1)])),
        "IPC,Shared Memory IPC,1"
    );
    assert_eq!(tok("", &cat(&[&[0x22, 9], &be32(10)])), "IPC,9,10");
    assert_eq!(
        tok("x", &ipc),
        "<IPCipc-type=\"Message IPC\" ipc-id=\"305419896\" />"
    );
    assert_eq!(
        tok("xr", &ipc),
        "<IPCipc-type=\"1\" ipc-id=\"305419896\" />"
    );
    assert_eq!(
        tok("xS", &ipc),
        "<IPC ipc-type=\"Message IPC\" ipc-id=\"305419896\" />"
    );
    let perm = cat(&[
        &[0x32],
        &be32(0),
        &be32(0),
        &be32(1),
        &be32(20),
        &be32(0o600),
        &be32(3),
        &be32(4660),
    ]);
    assert_eq!(tok("n", &perm), "IPC perm,0,0,1,20,600,3,4660");
    assert_eq!(tok("", &perm), "IPC perm,root,wheel,1,staff,600,3,4660");
    assert_eq!(
        tok("xn", &perm),
        "<IPC_perm uid=\"0\" gid=\"0\" creator-uid=\"1\" creator-gid=\"20\" mode=\"600\" seq=\"3\" key=\"4660\" />"
    );
}

#[test]
fn privilege_tokens() {
    let up = cat(&[&[0x39, 1], &be16(18), b"PRIV_FILE_DAC_READ"]);
    assert_eq!(
        tok("", &up),
        "use of privilege,successful use of priv,PRIV_FILE_DAC_READ"
    );
    assert_eq!(
        tok("r", &up),
        "57,successful use of priv,PRIV_FILE_DAC_READ"
    );
    let failed = cat(&[&[0x39, 0], &be16(1), b"x"]);
    assert_eq!(tok("", &failed), "use of privilege,failed use of priv,x");
    assert_eq!(
        tok("x", &up),
        "status=\"successful use of priv\" name=\"PRIV_FILE_DAC_READ\" "
    );
    assert_eq!(
        tok("xS", &up),
        "<use_of_privilege status=\"successful use of priv\" name=\"PRIV_FILE_DAC_READ\" />"
    );
    let ps = cat(&[
        &[0x38],
        &be16(9),
        b"effective",
        &be16(23),
        b"file_dac_read,proc_fork",
    ]);
    assert_eq!(tok("", &ps), "privilege,effective,file_dac_read,proc_fork");
    assert_eq!(
        tok("x", &ps),
        "type=\"effective\" priv=\"file_dac_read,proc_fork\" "
    );
    assert_eq!(
        tok("xS", &ps),
        "<privilege type=\"effective\" priv=\"file_dac_read,proc_fork\" />"
    );
}

#[test]
fn unknown_tokens() {
    // The token takes all but the last 7 record bytes.
    assert_eq!(
        String::from_utf8(tok_pad("", &[0x00, 0xaa, 0xbb], 7)).unwrap(),
        "unknown,0xaabb"
    );
    assert_eq!(
        String::from_utf8(tok_pad("r", &[0xed, 1, 2, 3, 4, 5], 7)).unwrap(),
        "237,0x0102030405"
    );
    assert_eq!(tok_pad("x", &[0x00, 0xaa], 7), b"");
    // In a record: a blank line under -x, nothing under -l -x.
    let rec = record(&[&[0x40, 1, 2, 3]]);
    let x = String::from_utf8(render_all("x", &rec)).unwrap();
    assert_eq!(x.lines().nth(1), Some(""));
    assert_eq!(x.lines().nth(2), Some("</record>"));
    let l = String::from_utf8(render_all("l", &rec)).unwrap();
    assert!(l.ends_with(",unknown,0x010203,trailer,29,\n"), "{l}");
}

fn identity(signer: u32, sid: &[u8], st: u8, team: &[u8], tt: u8, cdhash: &[u8]) -> Vec<u8> {
    cat(&[
        &[0xed],
        &be32(signer),
        &be16(sid.len() as u16),
        sid,
        &[st],
        &be16(team.len() as u16),
        team,
        &[tt],
        &be16(cdhash.len() as u16),
        cdhash,
    ])
}

#[test]
fn apple_tokens_upstream_and_decoded() {
    let hash: Vec<u8> = (0..20u8).map(|i| i.wrapping_mul(37)).collect();
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let id = identity(0, b"com.apple.airport.airportd\0", 0, b"\0", 0, &hash);
    // Upstream: unknown, the whole token body in hex (here there is no trailer to spare,
    // so pad seven bytes).
    let up = String::from_utf8(tok_pad("", &id, 7)).unwrap();
    assert!(up.starts_with("unknown,0x00000000001b636f6d2e"), "{up}");
    assert_eq!(
        tok("A", &id),
        format!("identity,0,com.apple.airport.airportd,complete,,complete,0x{hex}")
    );
    assert_eq!(
        tok("Ar", &id),
        format!("237,0,com.apple.airport.airportd,complete,,complete,0x{hex}")
    );
    assert_eq!(
        tok("Ax", &id),
        format!(
            "<identity signer-type=\"0\" signing-id=\"com.apple.airport.airportd\" \
             signing-id-truncated=\"complete\" team-id=\"\" team-id-truncated=\"complete\" \
             cdhash=\"0x{hex}\" />"
        )
    );
    let trunc = identity(1, b"x\0", 1, b"TEAM\0", 2, b"");
    assert_eq!(tok("A", &trunc), "identity,1,x,truncated,TEAM,truncated,");
    // The unconfirmed choices are configurable.
    let mut opts = o("A");
    opts.apple_truncated_word = b"partial".to_vec();
    opts.apple_empty_cdhash = b"0x".to_vec();
    let mut r = Renderer::new(opts, test_lookup());
    let mut out = Vec::new();
    r.record(&record(&[&trunc]), &mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("\nidentity,1,x,partial,TEAM,partial,0x\n"),
        "{out}"
    );

    let krb = cat(&[
        &[0xee],
        &be32(2),
        b"alice@EXAMPLE.COM\0host/x@EXAMPLE.COM\0",
    ]);
    assert_eq!(
        tok("A", &krb),
        "krb5_principal,alice@EXAMPLE.COM,host/x@EXAMPLE.COM"
    );
    assert_eq!(tok("Ar", &krb), "238,alice@EXAMPLE.COM,host/x@EXAMPLE.COM");
    assert_eq!(
        tok("Ax", &krb),
        "<krb5_principal><principal>alice@EXAMPLE.COM</principal><principal>host/x@EXAMPLE.COM</principal></krb5_principal>"
    );
    let cert = cat(&[&[0xef], &be32(1), b"abcdef\0"]);
    assert_eq!(tok("A", &cert), "cert_hash,abcdef");
    assert_eq!(
        tok("Ax", &cert),
        "<cert_hash><hash>abcdef</hash></cert_hash>"
    );
    // Upstream in a record: one unknown line, then a normal trailer.
    let rec = record(&[&cat(&[&[0x27, 0], &be32(0)]), &id]);
    let text = String::from_utf8(render_all("", &rec)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[2].starts_with("unknown,0x"));
    assert!(lines[3].starts_with("trailer,"));
    let text = String::from_utf8(render_all("A", &rec)).unwrap();
    assert!(text.lines().nth(2).unwrap().starts_with("identity,0,"));
}

// ---- records and trails ---------------------------------------------------------------

#[test]
fn oneline_assembly() {
    let rec = record(&[&counted(0x28, b"hi\0")]);
    assert_eq!(
        render_all("l", &rec),
        b"header,31,11,audit crash recovery,0,Sun Dec 28 15:12:18 2008, + 131 msec,text,hi,trailer,31,\n"
    );
    assert_eq!(
        render_all("lE", &rec),
        b"header3111audit crash recovery0Sun Dec 28 15:12:18 2008 + 131 msectexthitrailer31\n"
    );
    assert_eq!(
        render_all("lx", &rec),
        b"<record version=\"11\" event=\"audit crash recovery\" modifier=\"0\" time=\"Sun Dec 28 15:12:18 2008\" msec=\" + 131 msec\" ><text>hi</text></record>\n"
    );
    assert_eq!(
        render_all("", &rec),
        b"header,31,11,audit crash recovery,0,Sun Dec 28 15:12:18 2008, + 131 msec\ntext,hi\ntrailer,31\n"
    );
}

#[test]
fn failing_token_drops_the_rest_of_its_record_only() {
    // subject_ex with address type 7 fails: the trailer is lost, the next record prints.
    let bad = cat(&[&[0x7a], &openbsm_ids(), &be32(1), &be32(7), &[0; 4]]);
    let mut trail = record(&[&bad]);
    trail.extend(record(&[&counted(0x28, b"ok\0")]));
    let out = String::from_utf8(render_all("l", &trail)).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with(" + 131 msec,"), "{}", lines[0]);
    assert!(lines[1].ends_with(",text,ok,trailer,31,"));
}

#[test]
fn framing_rules() {
    let rec = record(&[&counted(0x28, b"ok\0")]);
    // A record count from 5 to below the header size: the header fails, empty line.
    let mut small = h32(10, 0, 0, 0, 0);
    small.truncate(10);
    let mut trail = small.clone();
    trail.extend(&rec);
    assert_eq!(render_all("l", &trail).first(), Some(&b'\n'));
    assert_eq!(render_all("", &small), b"");
    // A stray byte ends the input; so does a count below 5 and a partial record.
    let mut stray = rec.clone();
    stray.push(0);
    stray.extend(&rec);
    assert_eq!(render_all("l", &stray), render_all("l", &rec));
    let mut partial = rec.clone();
    partial.extend(&rec[..rec.len() - 1]);
    assert_eq!(render_all("l", &partial), render_all("l", &rec));
    let mut tiny = rec.clone();
    tiny.extend(h32(4, 0, 0, 0, 0));
    assert_eq!(render_all("l", &tiny), render_all("l", &rec));
    // A count too large swallows the next record onto the same line.
    let mut big = rec.clone();
    big[4] += rec.len() as u8;
    big.extend(&rec);
    let out = String::from_utf8(render_all("l", &big)).unwrap();
    assert_eq!(out.lines().count(), 1);
    assert_eq!(out.matches("header,").count(), 2);
    // A huge count is framing failure, not an allocation.
    let mut huge = rec.clone();
    huge[1..5].copy_from_slice(&be32(u32::MAX));
    assert_eq!(render_all("l", &huge), b"");
    // Standalone file tokens between records.
    let file = cat(&[&[0x11], &be32(74565), &be32(424), &be16(5), b"test\0"]);
    let mut t = file.clone();
    t.extend(&rec);
    t.extend(&file);
    let out = String::from_utf8(render_all("l", &t)).unwrap();
    assert_eq!(out.lines().count(), 3);
    assert_eq!(
        out.lines().next(),
        Some("file,Thu Jan  1 20:42:45 1970, + 424 msec,test,")
    );
    // file64 (0x78) is not accepted at a record boundary.
    let mut f64 = vec![0x78];
    f64.extend(&rec);
    assert_eq!(render_all("l", &f64), b"");
}

#[test]
fn resync_skips_to_the_first_0x14() {
    let rec = record(&[&counted(0x28, b"ok\0")]);
    let mut t = vec![1, 2, 3, 0x15, 9];
    t.extend(&rec);
    let mut r = Renderer::new(o("l"), test_lookup());
    assert_eq!(r.trail_to_vec(&t, false), b"");
    assert_eq!(r.trail_to_vec(&t, true), render_all("l", &rec));
    // No 0x14 at all: nothing, and no hang.
    assert_eq!(r.trail_to_vec(&[0u8; 1000], true), b"");
}

#[test]
fn chunked_and_streamed_output_is_identical() {
    let mut t = Vec::new();
    for i in 0..50u8 {
        t.extend(record(&[&counted(0x28, &[b'a' + i % 26, 0])]));
        if i % 7 == 0 {
            t.extend(cat(&[&[0x11], &be32(1), &be32(2), &be16(2), b"f\0"]));
        }
    }
    t.push(0); // stray byte: end of input
    t.extend(record(&[]));
    let whole = render_all("", &t);
    let mut r = Renderer::new(o(""), test_lookup());
    let mut pos = Renderer::start(&t, false);
    let mut pieces = Vec::new();
    while let Some(p) = pos {
        let mut out = Vec::new();
        pos = r.render_from(&t, p, &mut out, 1);
        pieces.extend(out);
    }
    assert_eq!(pieces, whole);
    for step in [1usize, 3, 64, 10_000] {
        let mut s = Stream::new(false);
        let mut out = Vec::new();
        for c in t.chunks(step) {
            s.feed(&mut r, c, &mut out);
        }
        assert_eq!(out, whole, "step {step}");
        assert!(s.is_done());
    }
    // A resyncing stream drops leading junk however it is split.
    let mut junk = vec![7u8; 10];
    junk.extend(&t);
    let mut s = Stream::new(true);
    let mut out = Vec::new();
    for c in junk.chunks(4) {
        s.feed(&mut r, c, &mut out);
    }
    assert_eq!(out, whole);
}

#[test]
fn strict_xml_balances_records() {
    let text = counted(0x28, b"hi\0");
    // No trailer: strict mode closes the record; compat leaves it open.
    let n = 18 + 6;
    let mut no_trailer = h32(n, 45029, 0, T0, 1);
    no_trailer.extend(&text);
    let compat = String::from_utf8(render_all("x", &no_trailer)).unwrap();
    assert!(!compat.contains("</record>"));
    let strict = String::from_utf8(render_all("xS", &no_trailer)).unwrap();
    assert!(strict.ends_with("<text>hi</text>\n</record>\n"), "{strict}");
    // Two trailers: the second closes nothing in strict mode.
    let n = 18 + 7 + 7;
    let mut two = h32(n, 45029, 0, T0, 1);
    two.extend(trailer(n));
    two.extend(trailer(n));
    let strict = String::from_utf8(render_all("xS", &two)).unwrap();
    assert_eq!(strict.matches("</record>").count(), 1);
    let compat = String::from_utf8(render_all("x", &two)).unwrap();
    assert_eq!(compat.matches("</record>").count(), 2);
    // Event names and user names are escaped in strict mode only.
    let h = h32(25, 7, 0, T0, 1);
    let mut rec = h.clone();
    rec.extend(trailer(25));
    assert!(String::from_utf8(render_all("x", &rec))
        .unwrap()
        .contains("event=\"a&b <c>\""));
    assert!(String::from_utf8(render_all("xS", &rec))
        .unwrap()
        .contains("event=\"a&amp;b &lt;c&gt;\""));
}

#[test]
fn hostile_input_never_panics() {
    // Every prefix and single-byte corruption of a record with every token kind.
    let ids = openbsm_ids();
    let body: Vec<Vec<u8>> = vec![
        counted(0x28, b"text\0"),
        cat(&[&[0x7a], &ids, &be32(1), &be32(16), &FE80_1]),
        cat(&[&[0x21, 2, 3, 2], &[0xff; 16]]),
        cat(&[&[0x3c], &be32(3), b"a\0b\0c\0"]),
        cat(&[&[0x3b], &be16(2), &be32(0), &be32(20)]),
        cat(&[&[0x82], &be16(1), b"/s\0"]),
        identity(0, b"a\0", 0, b"\0", 0, &[1, 2]),
        cat(&[&[0xee], &be32(1), b"p\0"]),
    ];
    let parts: Vec<&[u8]> = body.iter().map(|b| b.as_slice()).collect();
    let rec = record(&parts);
    for flags in ["", "l", "x", "xS", "r", "A", "Ax", "Al"] {
        let mut r = Renderer::new(o(flags), test_lookup());
        for cut in 0..rec.len() {
            let _ = r.trail_to_vec(&rec[..cut], false);
        }
        for i in 0..rec.len() {
            for v in [0u8, 0x7f, 0xff, 0x10] {
                let mut bad = rec.clone();
                bad[i] = v;
                let _ = r.trail_to_vec(&bad, false);
                let _ = r.trail_to_vec(&bad, true);
            }
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A record frame around arbitrary body bytes, so that token decoding (not just
    /// framing) sees the random input.
    fn framed(body: &[u8]) -> Vec<u8> {
        let parts: [&[u8]; 1] = [body];
        record(&parts)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_render_without_panic_and_stream_agrees(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            raw in proptest::collection::vec(any::<u8>(), 0..300),
            split in 1usize..50,
        ) {
            for flags in ["l", "x", "xSA", "r"] {
                let mut r = Renderer::new(o(flags), test_lookup());
                let mut data = framed(&body);
                data.extend(&raw);
                let whole = r.trail_to_vec(&data, false);
                let mut s = Stream::new(false);
                let mut out = Vec::new();
                for c in data.chunks(split) {
                    s.feed(&mut r, c, &mut out);
                }
                prop_assert_eq!(&out, &whole);
                let _ = r.trail_to_vec(&raw, true);
            }
        }
    }
}
