//! praudit rendering of arbitrary bytes in every mode combination.
//!
//! The first two input bytes pick the options (one bit each for `-r`, `-s`, `-n`, `-x`,
//! `-l`, `--apple`, `--xml-strict`, `--utc`; then the delimiter, `-p` and the chunk size);
//! the rest is the trail. For each input:
//! - the whole trail renders (`Renderer::trail_to_vec`), with output bounded linearly by the
//!   input;
//! - rendering in chunks (`render_from`) and incrementally (`Stream::feed`, in pieces of
//!   1-16 bytes) gives exactly the same bytes, and each makes progress;
//! - under `-x --xml-strict`, prologue + output + epilogue is well-formed XML (UTF-8, and
//!   parsed by roxmltree), as `docs/praudit-compat.md` promises;
//! - the whole input also renders as one record (`Renderer::record`, Python's
//!   `render_record`).
//!
//! `-r` with `-s` is a usage error in the CLI and the Python API; the Rust API accepts it,
//! so it is fuzzed too.
#![no_main]

use bsmtrail::lookup::Lookup;
use bsmtrail::render::{Options, Renderer, Stream, XML_FOOTER, XML_HEADER};
use bsmtrail_fuzz::Picker;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// Output bytes allowed per input byte, plus a constant: far above any real expansion,
/// far below a runaway.
const MAX_EXPANSION: usize = 256;

/// Tables with names that need escaping, so the strict-XML check sees them.
fn lookup() -> Arc<Lookup> {
    static L: OnceLock<Arc<Lookup>> = OnceLock::new();
    L.get_or_init(|| {
        let mut l = Lookup::new();
        l.add_event(0, b"AUE_NULL", b"indir system call");
        l.add_event(1, b"AUE_EXIT", b"exit(2)");
        l.add_event(2, b"AUE_<&>", b"desc \"quoted\" & <tag> \x01\xff");
        l.add_event(65535, b"AUE_MAX", b"");
        l.add_user(0, b"root");
        l.add_user(65534, b"nobody&<\"");
        l.add_group(0, b"wheel");
        l.add_group(20, b"staff\x7f");
        Arc::new(l)
    })
    .clone()
}

fn options(flags: u8, more: u8) -> Options {
    let bit = |b: u8, n: u8| b & (1 << n) != 0;
    Options {
        raw: bit(flags, 0),
        short: bit(flags, 1),
        numeric: bit(flags, 2),
        xml: bit(flags, 3),
        oneline: bit(flags, 4),
        apple: bit(flags, 5),
        xml_strict: bit(flags, 6),
        utc: bit(flags, 7),
        delim: match more & 3 {
            0 => b",".to_vec(),
            1 => Vec::new(),
            2 => b"\t".to_vec(),
            _ => b" | ".to_vec(),
        },
        ..Options::default()
    }
}

fn chunked(r: &mut Renderer, data: &[u8], resync: bool, chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(mut pos) = Renderer::start(data, resync) else {
        return out;
    };
    while let Some(next) = r.render_from(data, pos, &mut out, chunk) {
        assert!(
            next > pos && next < data.len(),
            "render_from made no progress"
        );
        pos = next;
    }
    out
}

fn streamed(r: &mut Renderer, data: &[u8], resync: bool, piece: usize) -> Vec<u8> {
    let mut s = Stream::new(resync);
    let mut out = Vec::new();
    for part in data.chunks(piece) {
        s.feed(r, part, &mut out);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut p = Picker::new(data);
    let flags = p.byte();
    let more = p.byte();
    let input = p.rest();
    let opts = options(flags, more);
    let resync = more & 4 != 0;
    let chunk = usize::from(more >> 3);
    let piece = usize::from(more >> 4) + 1;
    let strict_xml = opts.xml && opts.xml_strict;

    let mut r = Renderer::new(opts.clone(), lookup());
    let whole = r.trail_to_vec(input, resync);
    assert!(
        whole.len() <= MAX_EXPANSION * input.len() + 1024,
        "{} output bytes from {} input bytes",
        whole.len(),
        input.len()
    );
    if strict_xml {
        let mut doc = XML_HEADER.to_vec();
        doc.extend_from_slice(&whole);
        doc.extend_from_slice(XML_FOOTER);
        let text = std::str::from_utf8(&doc).expect("strict XML is UTF-8");
        if let Err(e) = roxmltree::Document::parse(text) {
            panic!("strict XML does not parse: {e}\n{text}");
        }
    }

    let mut r2 = Renderer::new(opts.clone(), lookup());
    assert_eq!(chunked(&mut r2, input, resync, chunk), whole, "chunked");
    let mut r3 = Renderer::new(opts, lookup());
    assert_eq!(streamed(&mut r3, input, resync, piece), whole, "streamed");

    let mut one = Vec::new();
    r.record(input, &mut one);
    assert!(one.len() <= MAX_EXPANSION * input.len() + 1024);
});
