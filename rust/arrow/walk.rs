//! One record's tokens, walked with exactly the validation of `tokens::walk_valid` (the
//! rules `Trail` iteration applies), but keeping what decoded before a failure: a record
//! that fails still becomes a row, with the undecodable rest kept as bytes.

use crate::error::{ErrorKind, Fault};
use crate::tokens::{decode, ids, DecodeOptions, Tok, Token};

/// How a walk ended.
pub(crate) struct Walked {
    /// The validation error, if any (positions relative to the record).
    pub error: Option<Fault>,
    /// End of the last token handed to the callback: the record's bytes from here on were
    /// not decoded into a token (empty for a valid record).
    pub end: usize,
}

/// Call `f` for each token of `rec` (header and trailer included) until the first
/// problem: a token that fails to decode, an unknown id, bytes after the trailer, or no
/// trailer at the end.
pub(crate) fn walk<'a>(rec: &'a [u8], mut f: impl FnMut(&Tok<'a>)) -> Walked {
    let mut end = 0usize;
    let mut last_was_trailer = false;
    // `TokenIter`'s loop, with each token used where `decode` wrote it: moving a `Tok`
    // out of its `Result` (then out of an `Option`) costs a store-forwarding stall per
    // token, a quarter of the records view's time.
    while end < rec.len() {
        let res = decode(rec, end, DecodeOptions::FULL);
        let t = match &res {
            Ok(t) => t,
            Err(fault) => {
                return Walked {
                    error: Some(fault.clone()),
                    end,
                }
            }
        };
        if let Token::Unknown(_) = t.token {
            return Walked {
                error: Some(Fault {
                    pos: t.offset,
                    token_id: Some(t.id),
                    kind: ErrorKind::UnknownToken(t.id),
                }),
                end,
            };
        }
        let t_end = t.offset + t.len;
        last_was_trailer = t.id == ids::TRAILER;
        if last_was_trailer && t_end != rec.len() {
            return Walked {
                error: Some(Fault {
                    pos: t_end,
                    token_id: Some(t.id),
                    kind: ErrorKind::TrailingBytes {
                        left: (rec.len() - t_end) as u64,
                    },
                }),
                end,
            };
        }
        f(t);
        end = t_end;
    }
    let error = (!last_was_trailer).then(|| Fault {
        pos: rec.len().saturating_sub(7),
        token_id: None,
        kind: ErrorKind::MissingTrailer,
    });
    Walked { error, end }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::walk_valid;
    use proptest::prelude::*;

    fn rec(body: &[u8]) -> Vec<u8> {
        let count = (18 + body.len() + 7) as u32;
        let mut r = vec![0x14];
        r.extend_from_slice(&count.to_be_bytes());
        r.extend_from_slice(&[11, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
        r.extend_from_slice(body);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Same verdict and same tokens as `walk_valid`; `end` never past the record.
        #[test]
        fn agrees_with_walk_valid(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let r = rec(&body);
            let mut a = Vec::new();
            let w = walk(&r, |t| a.push((t.offset, t.len)));
            let mut b = Vec::new();
            let v = walk_valid(&r, DecodeOptions::FULL, |t| b.push((t.offset, t.len)));
            prop_assert_eq!(w.error, v.err());
            prop_assert_eq!(a, b);
            prop_assert!(w.end <= r.len());
        }
    }

    #[test]
    fn failure_keeps_the_prefix() {
        // text "hi\0", then an unknown id 0x00 with data.
        let r = rec(&[0x28, 0, 3, b'h', b'i', 0, 0x00, 1, 2]);
        let mut n = 0;
        let w = walk(&r, |_| n += 1);
        assert_eq!(n, 2);
        assert_eq!(w.end, 24);
        assert_eq!(w.error.unwrap().kind, ErrorKind::UnknownToken(0));
    }
}
