//! Helpers shared by the fuzz targets.

/// `body` inside a header32 whose byte count is right and a trailer that agrees with it,
/// so that arbitrary token bytes get past the framing checks and reach every decoder.
/// `None` when the record would be longer than a u32 count can say (never, for fuzz-sized
/// inputs).
pub fn wrap_body(body: &[u8]) -> Option<Vec<u8>> {
    let count = u32::try_from(18 + body.len() + 7).ok()?;
    let mut rec = Vec::with_capacity(count as usize);
    rec.push(0x14);
    rec.extend_from_slice(&count.to_be_bytes());
    // version 11, event 1, modifier 0, seconds 1, msec 2
    rec.extend_from_slice(&[11, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
    rec.extend_from_slice(body);
    rec.extend_from_slice(&[0x13, 0xb1, 0x05]);
    rec.extend_from_slice(&count.to_be_bytes());
    Some(rec)
}

/// Takes option bytes from the front of the fuzzer's input: each call takes one byte, or 0
/// once the input is used up.
pub struct Picker<'a> {
    data: &'a [u8],
}

impl<'a> Picker<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Picker { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// What is left after the bytes taken so far.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }
}
