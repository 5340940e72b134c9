//! A whole input rendered on every core: the caller's thread frames the records as praudit
//! reads them (§1.6: up to the first framing problem), hands runs of about `chunk` input
//! bytes to the workers, and takes their text back in input order. Each record's text
//! depends on its bytes and the options alone, so the output is byte for byte the serial
//! rendering's, whatever the thread count.

use super::Renderer;
use crate::framing::{Check, Framer};
use crate::ordered::{Ordered, Panicked};
use crate::source::Source;
use std::io;

/// Rendered pieces of one input, in order.
pub struct Chunked {
    renderer: Renderer,
    source: Source,
    /// Where framing continues; None once the input is finished.
    pos: Option<usize>,
    chunk: usize,
    rendering: Ordered<(Vec<u8>, usize)>,
    /// Text buffers already written out, reused by the next jobs: a fresh 3 MB buffer per
    /// job cost page faults and reallocation copies for every one.
    spare: Vec<Vec<u8>>,
}

impl Chunked {
    /// `threads`: 0 for every core, 1 to render on the calling thread.
    pub fn new(
        renderer: Renderer,
        source: Source,
        resync: bool,
        chunk: usize,
        threads: usize,
    ) -> io::Result<Self> {
        let pos = Renderer::start(source.bytes(), resync);
        Ok(Chunked {
            renderer,
            source,
            pos,
            chunk: chunk.max(1),
            rendering: Ordered::new(threads, "render")?,
            spare: Vec::new(),
        })
    }

    /// Frame the next run of records (about `chunk` bytes) and start rendering it.
    fn submit_next(&mut self) {
        let Some(pos) = self.pos else { return };
        let data = self.source.bytes();
        let mut frames = Framer::starting_at(data, pos, Check::Count);
        let mut spans = Vec::new();
        let mut bytes = 0;
        self.pos = loop {
            match frames.next() {
                Some(Ok(span)) => {
                    spans.push((span.offset, span.len));
                    bytes += span.len;
                    if bytes >= self.chunk {
                        let next = frames.position();
                        break (next < data.len()).then_some(next);
                    }
                }
                // The end, or a framing problem: praudit stops the input there silently.
                _ => break None,
            }
        };
        let end = frames.position();
        let mut renderer = self.renderer.clone();
        let source = self.source.clone();
        let mut out = self.spare.pop().unwrap_or_default();
        self.rendering.submit(move || {
            let data = source.bytes();
            // Text is about three times the bytes it renders.
            out.reserve(bytes.saturating_mul(3));
            for (offset, len) in spans {
                if let Some(rec) = data.get(offset..offset + len) {
                    renderer.record(rec, &mut out);
                }
            }
            (out, end)
        });
    }

    /// The next piece of text (never empty), or None at the end of the input. An error
    /// if the mapped file shrank while it was read. Give the piece back with
    /// [`Chunked::recycle`] once it is written, for a later job to fill.
    pub fn next_piece(&mut self) -> Option<io::Result<Vec<u8>>> {
        loop {
            while self.pos.is_some() && !self.rendering.full() {
                self.submit_next();
            }
            let (out, end) = match self.rendering.take()? {
                Ok(done) => done,
                Err(Panicked) => {
                    self.pos = None;
                    return Some(Err(io::Error::other(
                        "internal error: a rendering worker panicked",
                    )));
                }
            };
            if let Err(e) = self.source.check() {
                self.pos = None;
                return Some(Err(e));
            }
            // Everything before `end` is rendered: its pages can go.
            self.source.release(end);
            if !out.is_empty() {
                return Some(Ok(out));
            }
            self.recycle(out);
        }
    }

    /// A piece's buffer, written out, for a later job (at most one per job in flight is
    /// kept).
    pub fn recycle(&mut self, mut piece: Vec<u8>) {
        if self.spare.len() < self.rendering.capacity() {
            piece.clear();
            self.spare.push(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::Lookup;
    use crate::render::Options;
    use crate::writer::demo_trail;
    use std::sync::Arc;

    fn pieces(data: &[u8], opts: &Options, resync: bool, chunk: usize, threads: usize) -> Vec<u8> {
        let r = Renderer::new(opts.clone(), Arc::new(Lookup::default()));
        let mut c =
            Chunked::new(r, Source::from_owner(data.to_vec()), resync, chunk, threads).unwrap();
        let mut out = Vec::new();
        while let Some(p) = c.next_piece() {
            let p = p.unwrap();
            assert!(!p.is_empty());
            out.extend_from_slice(&p);
        }
        out
    }

    #[test]
    fn the_same_bytes_as_serial_rendering_whatever_the_threads_and_chunks() {
        let demo = demo_trail();
        // A trail cut inside a record, and one with junk before its first record.
        let mut cut = demo.repeat(3);
        cut.truncate(cut.len() - 7);
        let mut junk = b"\x00\x01junk".to_vec();
        junk.extend_from_slice(&demo);
        for data in [&demo, &cut, &junk] {
            for xml in [false, true] {
                for oneline in [false, true] {
                    for resync in [false, true] {
                        let opts = Options {
                            xml,
                            oneline,
                            ..Options::default()
                        };
                        let mut serial = Renderer::new(opts.clone(), Arc::new(Lookup::default()));
                        let want = serial.trail_to_vec(data, resync);
                        for threads in [1, 2, 4] {
                            for chunk in [1, 100, 1 << 20] {
                                let got = pieces(data, &opts, resync, chunk, threads);
                                assert!(got == want, "xml={xml} -l={oneline} -p={resync} threads={threads} chunk={chunk}");
                            }
                        }
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Hostile bytes (the demo trail with bytes overwritten, cut anywhere, junk before
        /// it): the parallel rendering never panics and gives the serial rendering's bytes.
        #[test]
        fn damaged_trails_render_as_serially(
            edits in proptest::collection::vec((0usize..1 << 16, proptest::prelude::any::<u8>()), 0..12),
            cut in 0usize..1 << 16,
            prefix in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
            chunk in 1usize..4096,
            threads in 1usize..5,
            oneline in proptest::prelude::any::<bool>(),
            resync in proptest::prelude::any::<bool>(),
        ) {
            let mut data = prefix;
            data.extend_from_slice(&demo_trail().repeat(2));
            for (at, b) in edits {
                let n = data.len();
                data[at % n] = b;
            }
            data.truncate(cut.max(1));
            let opts = Options { oneline, ..Options::default() };
            let mut serial = Renderer::new(opts.clone(), Arc::new(Lookup::default()));
            let want = serial.trail_to_vec(&data, resync);
            proptest::prop_assert!(pieces(&data, &opts, resync, chunk, threads) == want);
        }
    }
}
