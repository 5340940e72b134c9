//! A big-endian, bounds-checked reader over one record's bytes.
//!
//! BSM has no alignment and no padding, so every field is read with an explicit big-endian
//! load from a checked sub-slice; nothing is ever cast to a struct. A read past the end of
//! the slice is a [`Fault`] naming the position and how many bytes were missing.

use crate::error::{ErrorKind, Fault};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn short(&self, needed: usize) -> Fault {
        Fault {
            pos: self.pos,
            token_id: None,
            kind: ErrorKind::Truncated {
                needed: needed as u64,
                available: self.remaining() as u64,
            },
        }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Fault> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.short(n))?;
        let s = self.buf.get(self.pos..end).ok_or_else(|| self.short(n))?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Fault> {
        let s = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Fault> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Fault> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Fault> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Fault> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A u16 length followed by that many bytes (text, path, zone, ...).
    pub(crate) fn counted16(&mut self) -> Result<&'a [u8], Fault> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_at_any_offset() {
        let b = [0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
        let mut c = Cursor::new(&b, 1);
        assert_eq!(c.u16().unwrap(), 0x0102);
        assert_eq!(c.u32().unwrap(), 0x0304_0506);
        assert_eq!(c.remaining(), 2);
        let mut c = Cursor::new(&b, 1);
        assert_eq!(c.u64().unwrap(), 0x0102_0304_0506_0708);
    }

    #[test]
    fn short_read_reports_position_and_need() {
        let b = [0u8; 3];
        let mut c = Cursor::new(&b, 1);
        let f = c.u32().unwrap_err();
        assert_eq!(f.pos, 1);
        assert_eq!(
            f.kind,
            ErrorKind::Truncated {
                needed: 4,
                available: 2
            }
        );
        // A failed read does not move the cursor.
        assert_eq!(c.pos(), 1);
    }

    #[test]
    fn huge_lengths_do_not_overflow() {
        let b = [0u8; 4];
        let mut c = Cursor::new(&b, 2);
        assert!(c.bytes(usize::MAX).is_err());
    }

    #[test]
    fn counted_string_of_length_zero() {
        let b = [0u8, 0u8];
        let mut c = Cursor::new(&b, 0);
        assert_eq!(c.counted16().unwrap(), b"");
        assert_eq!(c.remaining(), 0);
    }
}
