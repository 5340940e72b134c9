//! Token decoding over arbitrary record bytes, with both `DecodeOptions`.
//!
//! The input is used twice: as a whole record (its first byte is a token id, its last seven
//! bytes are what the unknown-token rule leaves for a trailer) and as the body of a record
//! with a valid header32 and trailer around it. For each:
//! - `TokenIter` yields tokens back to back from offset 0, each non-empty and inside the
//!   record, and stops after the first failure, whose position is inside the record;
//! - `decode` at a token's offset gives the same token (no hidden state);
//! - decoded values keep their documented shape (string lists hold exactly `count`
//!   NUL-terminated strings, at most 16 gids, a socket-unix path within its window,
//!   unknown tokens leave exactly seven bytes);
//! - `walk_valid` visits a prefix of those tokens, and succeeds only when every token
//!   decodes, none is unknown and a trailer ends the record exactly;
//! - without Apple ids in the way, `PRAUDIT` and `FULL` decode the same tokens.
//!
//! Finally `decode` is tried at every offset of the raw input (as a record), the first
//! `EVERY_OFFSET` of them, to keep the target linear on large inputs.
#![no_main]

use bsmtrail::tokens::{decode, ids, walk_valid, DecodeOptions, Tok, Token, TokenIter};
use bsmtrail_fuzz::wrap_body;
use libfuzzer_sys::fuzz_target;

const BOTH: [DecodeOptions; 2] = [DecodeOptions::PRAUDIT, DecodeOptions::FULL];
const EVERY_OFFSET: usize = 4096;
const APPLE: [u8; 3] = [ids::IDENTITY, ids::KRB5_PRINCIPAL, ids::CERT_HASH];

/// Decoded values keep the shape the decoders document.
fn check_token(rec: &[u8], t: &Tok<'_>) {
    assert!(t.len > 0, "empty token at {}", t.offset);
    assert!(t.offset + t.len <= rec.len(), "token past the record end");
    assert_eq!(t.id, rec[t.offset]);
    match t.token {
        Token::ExecArgs(l) | Token::ExecEnv(l) | Token::Krb5Principal(l) | Token::CertHash(l) => {
            let nuls = l.raw.iter().filter(|&&b| b == 0).count();
            assert_eq!(nuls, l.count as usize, "string list count");
            assert!(l.raw.is_empty() || l.raw.ends_with(b"\0"));
            assert_eq!(l.iter().count(), l.count as usize);
        }
        Token::Groups(g) => {
            assert!(g.len() <= 16 && g.len() <= usize::from(g.declared));
            assert_eq!(g.iter().count(), g.len());
        }
        Token::SockUnix { path, .. } => assert!(path.len() <= 108),
        Token::Unknown(b) => {
            assert!(!b.is_empty());
            assert_eq!(
                t.offset + t.len + 7,
                rec.len(),
                "unknown leaves seven bytes"
            );
        }
        _ => {}
    }
}

/// Walks `rec` with `opts`; returns the ids seen (the failing token's included).
fn walk(rec: &[u8], opts: DecodeOptions) -> Vec<Result<Tok<'_>, u8>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    for item in TokenIter::new(rec, opts) {
        assert!(out.len() < rec.len(), "more tokens than bytes");
        match item {
            Ok(t) => {
                assert_eq!(t.offset, pos, "tokens are contiguous");
                check_token(rec, &t);
                assert_eq!(decode(rec, pos, opts), Ok(t));
                pos += t.len;
                out.push(Ok(t));
            }
            Err(f) => {
                assert!(f.pos >= pos && f.pos <= rec.len(), "fault outside: {f:?}");
                assert_eq!(f.token_id, Some(rec[pos]));
                assert_eq!(decode(rec, pos, opts), Err(f));
                out.push(Err(rec[pos]));
                return out;
            }
        }
    }
    assert_eq!(pos, rec.len(), "TokenIter stopped early");
    out
}

fn check_record(rec: &[u8]) {
    let full = walk(rec, DecodeOptions::FULL);
    let praudit = walk(rec, DecodeOptions::PRAUDIT);
    let id_of = |r: &Result<Tok<'_>, u8>| match r {
        Ok(t) => t.id,
        Err(id) => *id,
    };
    if !full.iter().any(|r| APPLE.contains(&id_of(r))) {
        assert_eq!(full, praudit, "PRAUDIT and FULL differ without Apple ids");
    }
    for (opts, toks) in BOTH.into_iter().zip([&praudit, &full]) {
        let mut seen = Vec::new();
        let res = walk_valid(rec, opts, |t| seen.push(*t));
        assert!(seen.len() <= toks.len());
        for (a, b) in seen.iter().zip(toks.iter()) {
            assert_eq!(Ok(a), b.as_ref(), "walk_valid saw another token");
        }
        match res {
            Ok(()) => {
                assert_eq!(seen.len(), toks.len(), "walk_valid skipped tokens");
                assert!(toks.iter().all(|t| t.is_ok()));
                assert!(!seen.iter().any(|t| matches!(t.token, Token::Unknown(_))));
                let last = seen.last().expect("a valid record has tokens");
                assert_eq!(last.id, ids::TRAILER);
                assert_eq!(last.offset + last.len, rec.len());
            }
            Err(f) => assert!(f.pos <= rec.len(), "fault outside: {f:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_record(data);
    if let Some(rec) = wrap_body(data) {
        check_record(&rec);
    }
    for opts in BOTH {
        for pos in 0..data.len().min(EVERY_OFFSET) {
            match decode(data, pos, opts) {
                Ok(t) => check_token(data, &t),
                Err(f) => assert!(f.pos >= pos && f.pos <= data.len()),
            }
        }
    }
});
