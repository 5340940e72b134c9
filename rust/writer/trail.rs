//! Writing a trail: records and standalone file tokens back to back into any `io::Write`
//! (§1.1). There is no file header.

use std::io::{self, Write};

use super::encode;
use super::record::RecordBuilder;
use crate::framing::{frame, Check, SpanKind};

/// Writes records and file tokens to `W`, counting what it wrote.
#[derive(Debug)]
pub struct TrailWriter<W: Write> {
    inner: W,
    bytes: u64,
    records: u64,
}

impl<W: Write> TrailWriter<W> {
    pub fn new(inner: W) -> Self {
        TrailWriter {
            inner,
            bytes: 0,
            records: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Build and write one record. An encoding error is an `InvalidInput` I/O error whose
    /// inner error is the [`encode::EncodeError`]; nothing is written then.
    pub fn record(&mut self, rec: &RecordBuilder) -> io::Result<()> {
        let bytes = rec.finish()?;
        self.put(&bytes)?;
        self.records += 1;
        Ok(())
    }

    /// Write one already-built record. It must frame strictly (header count equal to its
    /// length, trailer with the magic and the same count), or nothing is written.
    pub fn record_bytes(&mut self, rec: &[u8]) -> io::Result<()> {
        match frame(rec, 0, Check::Trailer) {
            Ok(span) if span.kind == SpanKind::Record && span.len == rec.len() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "bytes are not exactly one record",
                ))
            }
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        }
        self.put(rec)?;
        self.records += 1;
        Ok(())
    }

    /// Write a standalone file token (auditd puts one at the start and end of a trail
    /// file). `name` as stored; auditd stores the path and its NUL (`encode::cstr`).
    pub fn file_token(&mut self, seconds: u32, msec: u32, name: &[u8]) -> io::Result<()> {
        let mut b = Vec::with_capacity(11 + name.len());
        encode::file(&mut b, seconds, msec, name)?;
        self.put(&b)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Records written so far (file tokens not counted).
    pub fn records_written(&self) -> u64 {
        self.records
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::HeaderKind;
    use super::*;
    use crate::framing::Framer;
    use crate::tokens::{ids, Token};

    #[test]
    fn writes_records_and_file_tokens_that_frame() {
        let mut w = TrailWriter::new(Vec::new());
        w.file_token(1, 2, b"/var/audit/a.not_terminated\0")
            .unwrap();
        for i in 0..3u64 {
            let mut r = RecordBuilder::new(HeaderKind::Header32, 45000, 0, 1000 + i, 0);
            r.token(&Token::Seq(i as u32), ids::SEQ);
            w.record(&r).unwrap();
        }
        let one = RecordBuilder::new(HeaderKind::Header64, 1, 0, 0, 0)
            .finish()
            .unwrap();
        w.record_bytes(&one).unwrap();
        w.file_token(3, 4, b"/var/audit/a.b\0").unwrap();
        assert_eq!(w.records_written(), 4);
        let n = w.bytes_written();
        w.flush().unwrap();
        let data = w.into_inner();
        assert_eq!(n, data.len() as u64);
        let kinds: Vec<SpanKind> = Framer::new(&data, Check::Trailer)
            .map(|s| s.unwrap().kind)
            .collect();
        assert_eq!(
            kinds,
            vec![
                SpanKind::File,
                SpanKind::Record,
                SpanKind::Record,
                SpanKind::Record,
                SpanKind::Record,
                SpanKind::File
            ]
        );
    }

    #[test]
    fn refuses_bad_input_without_writing() {
        let mut w = TrailWriter::new(Vec::new());
        let mut bad = RecordBuilder::new(HeaderKind::Header32, 1, 0, 0, 0)
            .finish()
            .unwrap();
        bad[24] = 99; // trailer count disagrees
        let e = w.record_bytes(&bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let mut two = bad.clone();
        two[24] = 25;
        two.extend_from_slice(&two.clone());
        assert!(w.record_bytes(&two).is_err());
        let mut r = RecordBuilder::new(HeaderKind::Header32, 1, 0, 0, 0);
        r.token(&Token::Seq(1), ids::TEXT);
        let e = w.record(&r).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(w.file_token(0, 0, &vec![0; 70_000]).is_err());
        assert_eq!((w.bytes_written(), w.records_written()), (0, 0));
        assert!(w.get_ref().is_empty());
    }
}
