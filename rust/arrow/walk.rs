//! One record's tokens, walked with exactly the validation of `tokens::walk_valid` (the
//! rules `Trail` iteration applies), but keeping what decoded before a failure: a record
//! that fails still becomes a row, with the undecodable rest kept as bytes.

use crate::error::{ErrorKind, Fault};
use crate::tokens::{decode, ids, Addr, DecodeOptions, Header, Subject, Tok, Token};

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
    walk_impl::<true, _>(rec, &mut f)
}

/// [`walk`] with a visitor whose `visit` is inlined into every fast-path arm (the records
/// view's builder; a closure would be called, not inlined, from nine places).
pub(crate) fn walk_with<'a>(rec: &'a [u8], v: &mut impl Visit<'a>) -> Walked {
    walk_impl::<true, _>(rec, v)
}

/// What a walk hands each token to.
pub(crate) trait Visit<'a> {
    fn visit(&mut self, t: &Tok<'a>);
}

impl<'a, F: FnMut(&Tok<'a>)> Visit<'a> for F {
    #[inline(always)]
    fn visit(&mut self, t: &Tok<'a>) {
        self(t)
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

fn ids7(b: &[u8]) -> [u32; 7] {
    std::array::from_fn(|i| be32(b, 1 + 4 * i))
}

/// The fixed-layout tokens most records are made of, decoded in place. Every read is from
/// `b`, a slice of exactly the token's length taken with `get` (so in bounds); `None`
/// (too few bytes, or another id) falls back to `tokens::decode`, which then reports any
/// error exactly. `tests::fast_path_equals_decode` holds the two to the same results.
#[inline(always)]
pub(crate) fn fast<'a>(rec: &'a [u8], pos: usize) -> Option<Tok<'a>> {
    fast_then(rec, pos, true, &mut Keep)
}

/// What `fast_then` does with the token it decoded (a trait rather than a closure so that
/// `#[inline(always)]` holds in every arm).
trait Then<'a> {
    type Out;
    fn then(&mut self, t: Tok<'a>) -> Self::Out;
}

/// Return the token.
struct Keep;

impl<'a> Then<'a> for Keep {
    type Out = Tok<'a>;
    #[inline(always)]
    fn then(&mut self, t: Tok<'a>) -> Tok<'a> {
        t
    }
}

/// Visit the token; its length comes back.
struct VisitThen<'v, V>(&'v mut V);

impl<'a, V: Visit<'a>> Then<'a> for VisitThen<'_, V> {
    type Out = usize;
    #[inline(always)]
    fn then(&mut self, t: Tok<'a>) -> usize {
        self.0.visit(&t);
        t.len
    }
}

/// [`fast`], handing the token to `k` inside the arm that decoded it: once `k` is inlined,
/// each arm knows its token's variant, so a visitor's `match` on it folds away and the
/// token never goes through memory (see `walk_impl`). `None` also for the trailer unless
/// `trailer`.
#[inline(always)]
fn fast_then<'a, K: Then<'a>>(
    rec: &'a [u8],
    pos: usize,
    trailer: bool,
    k: &mut K,
) -> Option<K::Out> {
    let id = *rec.get(pos)?;
    macro_rules! done {
        ($len:expr, $token:expr) => {
            k.then(Tok {
                id,
                offset: pos,
                len: $len,
                token: $token,
            })
        };
    }
    let fixed = |len: usize| rec.get(pos..pos + len);
    let counted = |head: usize| -> Option<(&'a [u8], usize)> {
        let n = usize::from(u16::from_be_bytes(
            rec.get(pos + head - 2..pos + head)?.try_into().ok()?,
        ));
        Some((rec.get(pos + head..pos + head + n)?, head + n))
    };
    match id {
        ids::HEADER32 | ids::HEADER64 => {
            let wide = id == ids::HEADER64;
            let len = if wide { 26 } else { 18 };
            let b = fixed(len)?;
            let (seconds, msec) = if wide {
                (be64(b, 10), be64(b, 18))
            } else {
                (u64::from(be32(b, 10)), u64::from(be32(b, 14)))
            };
            let h = Header {
                count: be32(b, 1),
                version: b[5],
                event: be16(b, 6),
                modifier: be16(b, 8),
                host: None,
                seconds,
                msec,
            };
            Some(done!(len, Token::Header(h)))
        }
        ids::TRAILER if trailer => {
            let b = fixed(7)?;
            let token = Token::Trailer {
                magic: be16(b, 1),
                count: be32(b, 3),
            };
            Some(done!(7, token))
        }
        ids::SUBJECT32
        | ids::SUBJECT64
        | ids::PROCESS32
        | ids::PROCESS64
        | ids::SUBJECT32_EX
        | ids::SUBJECT64_EX
        | ids::PROCESS32_EX
        | ids::PROCESS64_EX => {
            let (wide, ex) = (ids::has_wide_port(id), ids::has_typed_addr(id));
            // Seven ids and the port, then the terminal's address: 4 bytes, or for the
            // _ex tokens a type and that many bytes (4 or 16; any other type is an
            // error, which `decode` reports).
            let at = if wide { 37 } else { 33 };
            let (addr, len) = if !ex {
                (Addr::V4(fixed(at + 4)?[at..].try_into().ok()?), at + 4)
            } else {
                match be32(fixed(at + 4)?, at) {
                    4 => (Addr::V4(fixed(at + 8)?[at + 4..].try_into().ok()?), at + 8),
                    16 => (
                        Addr::V6(fixed(at + 20)?[at + 4..].try_into().ok()?),
                        at + 20,
                    ),
                    _ => return None,
                }
            };
            let b = fixed(len)?;
            let [auid, euid, egid, ruid, rgid, pid, sid] = ids7(b);
            let port = if wide {
                be64(b, 29)
            } else {
                u64::from(be32(b, 29))
            };
            let s = Subject {
                auid,
                euid,
                egid,
                ruid,
                rgid,
                pid,
                sid,
                port,
                addr,
            };
            if matches!(
                id,
                ids::SUBJECT32 | ids::SUBJECT64 | ids::SUBJECT32_EX | ids::SUBJECT64_EX
            ) {
                Some(done!(len, Token::Subject(s)))
            } else {
                Some(done!(len, Token::Process(s)))
            }
        }
        ids::RETURN32 => {
            let b = fixed(6)?;
            let value = u64::from(be32(b, 2));
            Some(done!(
                6,
                Token::Return {
                    status: b[1],
                    value,
                }
            ))
        }
        ids::RETURN64 => {
            let b = fixed(10)?;
            Some(done!(
                10,
                Token::Return {
                    status: b[1],
                    value: be64(b, 2),
                }
            ))
        }
        ids::PATH => {
            let (p, len) = counted(3)?;
            Some(done!(len, Token::Path(p)))
        }
        ids::TEXT => {
            let (p, len) = counted(3)?;
            Some(done!(len, Token::Text(p)))
        }
        ids::ARG32 | ids::ARG64 => {
            let wide = id == ids::ARG64;
            let head = if wide { 12 } else { 8 };
            let b = fixed(head)?;
            let value = if wide {
                be64(b, 2)
            } else {
                u64::from(be32(b, 2))
            };
            let num = b[1];
            let (desc, len) = counted(head)?;
            Some(done!(len, Token::Arg { num, value, desc }))
        }
        ids::SEQ => {
            let b = fixed(5)?;
            Some(done!(5, Token::Seq(be32(b, 1))))
        }
        ids::ATTR32 | ids::ATTR64 => {
            let wide = id == ids::ATTR64;
            let len = if wide { 33 } else { 29 };
            let b = fixed(len)?;
            let device = if wide {
                be64(b, 25)
            } else {
                u64::from(be32(b, 25))
            };
            let token = Token::Attr {
                mode: be32(b, 1),
                uid: be32(b, 5),
                gid: be32(b, 9),
                fsid: be32(b, 13),
                nodeid: be64(b, 17),
                device,
            };
            Some(done!(len, token))
        }
        ids::ZONENAME => {
            let (z, len) = counted(3)?;
            Some(done!(len, Token::Zone(z)))
        }
        ids::HEADER32_EX | ids::HEADER64_EX => {
            let wide = id == ids::HEADER64_EX;
            // Count, version, event, modifier, address type; then the address (none for
            // a type other than 4 and 16, as `decode` reads it) and the time.
            let b = fixed(14)?;
            let (host, at) = match be32(b, 10) {
                4 => (Addr::V4(fixed(18)?[14..].try_into().ok()?), 18),
                16 => (Addr::V6(fixed(30)?[14..].try_into().ok()?), 30),
                t => (Addr::Other(t), 14),
            };
            let len = at + if wide { 16 } else { 8 };
            let b = fixed(len)?;
            let (seconds, msec) = if wide {
                (be64(b, at), be64(b, at + 8))
            } else {
                (u64::from(be32(b, at)), u64::from(be32(b, at + 4)))
            };
            let h = Header {
                count: be32(b, 1),
                version: b[5],
                event: be16(b, 6),
                modifier: be16(b, 8),
                host: Some(host),
                seconds,
                msec,
            };
            Some(done!(len, Token::Header(h)))
        }
        _ => None,
    }
}

fn walk_impl<'a, const FAST: bool, V: Visit<'a>>(rec: &'a [u8], v: &mut V) -> Walked {
    let mut end = 0usize;
    let mut last_was_trailer = false;
    // `TokenIter`'s loop, with each token used where it was decoded: moving a `Tok` out of
    // its `Result` (then out of an `Option`) costs store-forwarding stalls per token.
    while end < rec.len() {
        // A fixed-layout token other than the trailer needs none of the checks below
        // (known id, not a trailer): visited where it is decoded.
        if FAST {
            if let Some(len) = fast_then(rec, end, false, &mut VisitThen(&mut *v)) {
                last_was_trailer = false;
                end += len;
                continue;
            }
        }
        let quick = if FAST { fast(rec, end) } else { None };
        let res;
        let t = match &quick {
            Some(t) => t,
            None => {
                res = decode(rec, end, DecodeOptions::FULL);
                match &res {
                    Ok(t) => t,
                    Err(fault) => {
                        return Walked {
                            error: Some(fault.clone()),
                            end,
                        }
                    }
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
        v.visit(t);
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The fast path decodes exactly what `tokens::decode` does, wherever it applies.
        #[test]
        fn fast_path_equals_decode(
            id in prop_oneof![
                Just(0x13u8), Just(0x14), Just(0x74), Just(0x24), Just(0x75), Just(0x26),
                Just(0x77), Just(0x27), Just(0x72), Just(0x23), Just(0x28), Just(0x2d),
                Just(0x71), Just(0x2f), Just(0x3e), Just(0x73), Just(0x60), Just(0x7a),
                Just(0x7b), Just(0x7c), Just(0x7d), Just(0x15), Just(0x79), any::<u8>()
            ],
            body in proptest::collection::vec(any::<u8>(), 0..80),
            pre in 0usize..3,
            // An address type where the _ex tokens read one (mostly 4 and 16), so that
            // their arms are taken, not only refused.
            addr_type in prop_oneof![Just(4u32), Just(16), any::<u32>()],
        ) {
            let mut b = vec![0u8; pre];
            b.push(id);
            b.extend_from_slice(&body);
            let at = match id {
                0x7a | 0x7b => Some(33),
                0x7c | 0x7d => Some(37),
                0x15 | 0x79 => Some(10),
                _ => None,
            };
            if let Some(at) = at {
                if let Some(t) = b.get_mut(pre + at..pre + at + 4) {
                    t.copy_from_slice(&addr_type.to_be_bytes());
                }
            }
            if let Some(t) = fast(&b, pre) {
                prop_assert_eq!(Ok(t), decode(&b, pre, DecodeOptions::FULL));
            }
            // And whole walks agree with and without it.
            let r = rec(&b);
            let mut x = Vec::new();
            let wx = walk_impl::<true, _>(&r, &mut |t: &Tok<'_>| x.push(format!("{t:?}")));
            let mut y = Vec::new();
            let wy = walk_impl::<false, _>(&r, &mut |t: &Tok<'_>| y.push(format!("{t:?}")));
            prop_assert_eq!(x, y);
            prop_assert_eq!((wx.error, wx.end), (wy.error, wy.end));
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
