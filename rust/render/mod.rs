//! praudit-compatible rendering (`docs/bsm-format.md` §1.8, §3, §4, §7).
//!
//! The default output equals OpenBSM praudit's byte for byte, quirks included. Two opt-ins
//! change it on purpose: [`Options::apple`] decodes Apple's identity/krb5/cert-hash tokens
//! (upstream prints them as `unknown`), and [`Options::xml_strict`] makes `-x` output
//! well-formed XML (see `docs/praudit-compat.md`).
//!
//! Output is bytes: praudit copies string bytes raw, so it need not be UTF-8. Everything
//! writes into a caller-owned `Vec<u8>` that is reused across records.

mod chunked;
mod errno;
pub(crate) mod fmt;
mod text;
pub(crate) mod time;
mod words;
mod xml;

use crate::framing::{self, Check, Framer};
use crate::lookup::Lookup;
use crate::tokens::{ids, DecodeOptions, TokenIter};
use crate::ErrorKind;
use std::sync::Arc;

pub use self::chunked::Chunked;
use time::Clock;

/// The XML prologue praudit prints once before any input under `-x`.
pub const XML_HEADER: &[u8] = b"<?xml version='1.0' ?>\n<audit>\n";
/// The XML epilogue praudit prints at the very end, only when file arguments were given.
pub const XML_FOOTER: &[u8] = b"</audit>\n";

/// praudit's output switches plus bsmtrail's opt-ins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-r`: numbers instead of names and formatted times.
    pub raw: bool,
    /// `-s`: event names in `AUE_` form.
    pub short: bool,
    /// `-n`: do not turn uids and gids into names.
    pub numeric: bool,
    /// `-x`: XML.
    pub xml: bool,
    /// `-l`: one line per record.
    pub oneline: bool,
    /// `-d`: the field and token delimiter.
    pub delim: Vec<u8>,
    /// Decode Apple's 0xed/0xee/0xef tokens (§7) instead of the unknown-token rule.
    pub apple: bool,
    /// Word for a non-zero identity truncation flag (unconfirmed upstream, §7.1).
    pub apple_truncated_word: Vec<u8>,
    /// What an empty cdhash prints as (the §3.1 hexdump gives nothing).
    pub apple_empty_cdhash: Vec<u8>,
    /// Well-formed XML: escape every value, fix the element-less and unclosed elements,
    /// balance `<record>`.
    pub xml_strict: bool,
    /// Convert times in UTC instead of the local zone.
    pub utc: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            raw: false,
            short: false,
            numeric: false,
            xml: false,
            oneline: false,
            delim: b",".to_vec(),
            apple: false,
            apple_truncated_word: b"truncated".to_vec(),
            apple_empty_cdhash: Vec::new(),
            xml_strict: false,
            utc: false,
        }
    }
}

/// What the per-token printers need: the options, the tables and the time cache.
pub(crate) struct Ctx<'r> {
    pub opts: &'r Options,
    pub lookup: &'r Lookup,
    pub clock: &'r mut Clock,
    /// Strict XML only: a `<record>` is open.
    pub open: bool,
}

impl Ctx<'_> {
    /// A user field (§3.2): the name, or `%d` under `-n`/`-r` or when unknown.
    #[inline]
    pub fn user(&self, out: &mut Vec<u8>, uid: u32) {
        match self.lookup.user(uid) {
            Some(n) if !(self.opts.raw || self.opts.numeric) => self.value(out, n),
            _ => fmt::i32d(out, uid),
        }
    }

    #[inline]
    pub fn group(&self, out: &mut Vec<u8>, gid: u32) {
        match self.lookup.group(gid) {
            Some(n) if !(self.opts.raw || self.opts.numeric) => self.value(out, n),
            _ => fmt::i32d(out, gid),
        }
    }

    /// The event field (§3.3): description, `AUE_` name under `-s`, number under `-r` or
    /// when the event is not in the table.
    #[inline]
    pub fn event(&self, out: &mut Vec<u8>, ev: u16) {
        match self.lookup.event(ev) {
            Some((name, desc)) if !self.opts.raw => {
                self.value(out, if self.opts.short { name } else { desc })
            }
            _ => fmt::u64d(out, u64::from(ev)),
        }
    }

    /// Seconds (§3.4): ctime text, or under `-r` the low 32 bits as `%u`.
    #[inline]
    pub fn time(&mut self, out: &mut Vec<u8>, secs: u64) {
        if self.opts.raw {
            fmt::u64d(out, u64::from(secs as u32));
        } else {
            self.clock.write(out, secs as i64);
        }
    }

    /// Milliseconds (§3.4): `" + N msec"`, or a bare `%u` under `-r`; low 32 bits only.
    #[inline]
    pub fn msec(&self, out: &mut Vec<u8>, ms: u64) {
        if self.opts.raw {
            fmt::u64d(out, u64::from(ms as u32));
        } else {
            out.extend_from_slice(b" + ");
            fmt::u64d(out, u64::from(ms as u32));
            out.extend_from_slice(b" msec");
        }
    }

    /// Return status (§3.7).
    #[inline]
    pub fn status(&self, out: &mut Vec<u8>, st: u8) {
        if self.opts.raw {
            fmt::u64d(out, u64::from(st));
        } else {
            errno::write_status(out, st);
        }
    }

    /// A length-prefixed string value (§3.6): raw with NULs dropped, or escaped in strict
    /// XML.
    #[inline]
    pub fn value(&self, out: &mut Vec<u8>, s: &[u8]) {
        if self.opts.xml && self.opts.xml_strict {
            let mut tmp = Vec::with_capacity(s.len());
            fmt::nonul(&mut tmp, s);
            fmt::xml_vis_strict(out, &tmp);
        } else {
            fmt::nonul(out, s);
        }
    }
}

/// Renders records and trails with one configuration. Reuse it: the event, user and group
/// tables and the time cache live here.
#[derive(Clone)]
pub struct Renderer {
    opts: Options,
    lookup: Arc<Lookup>,
    clock: Clock,
    decode: DecodeOptions,
}

impl Renderer {
    pub fn new(opts: Options, lookup: Arc<Lookup>) -> Self {
        let clock = Clock::new(opts.utc);
        let decode = if opts.apple {
            DecodeOptions::FULL
        } else {
            DecodeOptions::PRAUDIT
        };
        Renderer {
            opts,
            lookup,
            clock,
            decode,
        }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Render one framed record (or standalone file token) as praudit's `print_tokens`
    /// does (§1.7, §1.8): token after token until the record ends or a token fails.
    pub fn record(&mut self, rec: &[u8], out: &mut Vec<u8>) {
        let opts = &self.opts;
        let mut cx = Ctx {
            opts,
            lookup: &self.lookup,
            clock: &mut self.clock,
            open: false,
        };
        for tok in TokenIter::new(rec, self.decode) {
            let Ok(tok) = tok else { break };
            if opts.xml {
                xml::token(&mut cx, out, &tok);
            } else {
                text::token(&mut cx, out, &tok);
            }
            if opts.oneline {
                if !opts.xml {
                    out.extend_from_slice(&opts.delim);
                }
            } else {
                out.push(b'\n');
            }
        }
        if cx.open {
            // Strict XML: a record with no trailer still gets its end tag.
            out.extend_from_slice(b"</record>");
            if !opts.oneline {
                out.push(b'\n');
            }
        }
        if opts.oneline {
            out.push(b'\n');
        }
    }

    /// Where praudit starts reading an input (§1.8): offset 0, or with `resync` (`-p`)
    /// the first 0x14 byte; `None` when `-p` finds none (nothing renders, and unlike the
    /// reference binary we do not loop forever).
    pub fn start(data: &[u8], resync: bool) -> Option<usize> {
        if resync {
            memchr::memchr(ids::HEADER32, data)
        } else {
            Some(0)
        }
    }

    /// Render records and file tokens of `data` from `pos`, as praudit reads one input
    /// (§1.6), until `out` holds at least `chunk` bytes. Returns where to continue, or
    /// `None` once the input is finished: at its end, or at the first framing problem,
    /// which ends the input silently.
    pub fn render_from(
        &mut self,
        data: &[u8],
        pos: usize,
        out: &mut Vec<u8>,
        chunk: usize,
    ) -> Option<usize> {
        let mut frames = Framer::starting_at(data, pos, Check::Count);
        while let Some(Ok(span)) = frames.next() {
            let rec = data.get(span.offset..span.offset + span.len)?;
            self.record(rec, out);
            if out.len() >= chunk {
                let next = frames.position();
                return (next < data.len()).then_some(next);
            }
        }
        None
    }

    /// Render a whole trail held in memory into `out`.
    pub fn trail(&mut self, data: &[u8], resync: bool, out: &mut Vec<u8>) {
        if let Some(pos) = Self::start(data, resync) {
            self.render_from(data, pos, out, usize::MAX);
        }
    }

    /// Render a whole trail held in memory into a new buffer.
    pub fn trail_to_vec(&mut self, data: &[u8], resync: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len().saturating_mul(3).min(1 << 26));
        self.trail(data, resync, &mut out);
        out
    }
}

/// Incremental rendering of a byte stream (a pipe, `tail -f`): bytes are fed as they come
/// and every complete record is rendered at once, as praudit flushes after each record.
#[derive(Default)]
pub struct Stream {
    buf: Vec<u8>,
    synced: bool,
    done: bool,
}

impl Stream {
    pub fn new(resync: bool) -> Self {
        Stream {
            buf: Vec::new(),
            synced: !resync,
            done: false,
        }
    }

    /// True once a framing problem ended the input; later bytes are ignored.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feed bytes; render every record they complete into `out`.
    pub fn feed(&mut self, r: &mut Renderer, data: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.synced {
            match memchr::memchr(ids::HEADER32, data) {
                Some(i) => {
                    self.synced = true;
                    self.buf.extend_from_slice(data.get(i..).unwrap_or(&[]));
                }
                None => return,
            }
        } else {
            self.buf.extend_from_slice(data);
        }
        let mut pos = 0;
        while pos < self.buf.len() {
            match framing::frame(&self.buf, pos, Check::Count) {
                Ok(span) => {
                    if let Some(rec) = self.buf.get(span.offset..span.offset + span.len) {
                        r.record(rec, out);
                    }
                    pos += span.len;
                }
                // Not all there yet: wait for more bytes (a partial record never prints).
                Err(e) if matches!(e.kind, ErrorKind::Truncated { .. }) => break,
                Err(_) => {
                    self.done = true;
                    self.buf = Vec::new();
                    return;
                }
            }
        }
        self.buf.drain(..pos);
    }
}

#[cfg(test)]
mod tests;
