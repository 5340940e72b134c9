//! Decode, then re-encode: every token that decodes from arbitrary record bytes is written
//! back by `writer::encode` as exactly the bytes it was read from, and those bytes decode
//! to the same token.
//!
//! The documented exceptions (`rust/writer/encode.rs`, `encode`):
//! - a socket-unix path cut off at the record end with no NUL (§4.22) is written with the
//!   NUL `au_to_sock_unix` always writes: the read bytes plus one 0 byte;
//! - a groups token declaring more than 16 gids (§4.11) reads 16 and keeps the declared
//!   count, so it is written back as exactly the bytes read (declared count and 16 gids),
//!   not as the longer token a writer of all the gids produced. Nothing to except here.
//!
//! The input is tried as a whole record and as the body of a valid header32 record, in
//! both decoding modes.
#![no_main]

use bsmtrail::tokens::{decode, DecodeOptions, Token, TokenIter};
use bsmtrail::writer::encode;
use bsmtrail_fuzz::wrap_body;
use libfuzzer_sys::fuzz_target;

const SOCKUNIX_WINDOW: usize = 108;
/// What follows a re-encoded token when it is decoded again: a trailer's seven bytes, so
/// the unknown-token rule (all but the last seven bytes) reads the same data.
const TRAILER: [u8; 7] = [0x13, 0xb1, 0x05, 0, 0, 0, 0];

fn roundtrip(rec: &[u8]) {
    for opts in [DecodeOptions::PRAUDIT, DecodeOptions::FULL] {
        let mut whole = Vec::with_capacity(rec.len() + 1);
        let mut all = true;
        for t in TokenIter::new(rec, opts) {
            let Ok(t) = t else {
                all = false;
                break;
            };
            let read = &rec[t.offset..t.offset + t.len];
            let mut out = Vec::new();
            if let Err(e) = encode(&t.token, t.id, &mut out) {
                panic!("{:?} (id 0x{:02x}) does not re-encode: {e}", t.token, t.id);
            }
            let cut = match t.token {
                Token::SockUnix { path, .. } => {
                    t.len == 3 + path.len() && path.len() < SOCKUNIX_WINDOW
                }
                _ => false,
            };
            if cut {
                assert_eq!(t.offset + t.len, rec.len(), "a cut path ends the record");
                assert_eq!(&out[..t.len], read);
                assert_eq!(&out[t.len..], &[0]);
            } else {
                assert_eq!(out, read, "{:?} re-encodes differently", t.token);
            }
            whole.extend_from_slice(&out);
            // The written bytes read back as the same token.
            let written = out.len();
            out.extend_from_slice(&TRAILER);
            let again = decode(&out, 0, opts)
                .unwrap_or_else(|f| panic!("re-encoded {:?} does not decode: {f:?}", t.token));
            assert_eq!(again.token, t.token);
            assert_eq!(again.len, written);
        }
        // A record whose every token decodes is written back whole.
        if all {
            let n = whole.len().min(rec.len());
            assert_eq!(&whole[..n], rec);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    roundtrip(data);
    if let Some(rec) = wrap_body(data) {
        roundtrip(&rec);
    }
});
