//! Decoding errors. Every error carries absolute byte offsets so that an analyst can find the
//! damage in the original file with a hex editor.

use std::fmt;

/// What went wrong. Variants are stable: the Python layer maps each to an exception class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A field or a whole record needs more bytes than the input (or the record) has.
    Truncated { needed: u64, available: u64 },
    /// A record's header byte count is smaller than its own header plus a trailer.
    RecordTooSmall { count: u32, minimum: u32 },
    /// A record's header byte count is above the maximum record size (hostile or corrupt:
    /// real records are a few KiB), so its bytes are never read as one record.
    RecordTooLarge { count: u32, maximum: u64 },
    /// The byte at a record boundary starts neither a header nor a standalone file token.
    NotARecord(u8),
    /// The last seven bytes of a record are not a trailer token (id 0x13).
    MissingTrailer,
    /// The trailer's magic number is not 0xb105.
    BadTrailerMagic(u16),
    /// The trailer's byte count disagrees with the header's.
    TrailerMismatch { header: u32, trailer: u32 },
    /// A token id that no decoder knows.
    UnknownToken(u8),
    /// An address-type field other than 4 (IPv4) or 16 (IPv6).
    BadAddressType(u32),
    /// An arbitrary-data token whose unit type is not 0..=3.
    BadDataUnit(u8),
    /// A token decoded cleanly but the record's tokens do not end at its trailer.
    TrailingBytes { left: u64 },
    /// A standalone file token's name holds a NUL before its last byte: the name is one C
    /// string, so its length is a lie (spanning records, whose headers hold zero bytes).
    FileNameNul { len: u16 },
}

impl ErrorKind {
    /// Every reason code, in a fixed order: the Arrow errors view's `reason` dictionary
    /// (new codes are appended, so stored dictionaries keep their meaning), `_native.REASONS`
    /// in Python.
    pub const REASONS: [&'static str; 12] = [
        "truncated",
        "record_too_small",
        "not_a_record",
        "missing_trailer",
        "bad_trailer_magic",
        "trailer_mismatch",
        "unknown_token",
        "bad_address_type",
        "bad_data_unit",
        "trailing_bytes",
        "record_too_large",
        "file_name_nul",
    ];

    /// This kind's position in [`ErrorKind::REASONS`].
    pub fn reason_index(&self) -> usize {
        match self {
            ErrorKind::Truncated { .. } => 0,
            ErrorKind::RecordTooSmall { .. } => 1,
            ErrorKind::NotARecord(_) => 2,
            ErrorKind::MissingTrailer => 3,
            ErrorKind::BadTrailerMagic(_) => 4,
            ErrorKind::TrailerMismatch { .. } => 5,
            ErrorKind::UnknownToken(_) => 6,
            ErrorKind::BadAddressType(_) => 7,
            ErrorKind::BadDataUnit(_) => 8,
            ErrorKind::TrailingBytes { .. } => 9,
            ErrorKind::RecordTooLarge { .. } => 10,
            ErrorKind::FileNameNul { .. } => 11,
        }
    }

    /// A stable snake_case identifier for the kind (used by the Python `reason` attribute).
    pub fn code(&self) -> &'static str {
        Self::REASONS[self.reason_index()]
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { needed, available } => {
                write!(f, "truncated: needs {needed} bytes, {available} available")
            }
            ErrorKind::RecordTooSmall { count, minimum } => write!(
                f,
                "record byte count {count} is smaller than its header and trailer ({minimum})"
            ),
            ErrorKind::RecordTooLarge { count, maximum } => write!(
                f,
                "record byte count {count} is above the maximum record size ({maximum})"
            ),
            ErrorKind::NotARecord(b) => {
                write!(f, "byte 0x{b:02x} does not start a record or a file token")
            }
            ErrorKind::MissingTrailer => write!(f, "record does not end with a trailer token"),
            ErrorKind::BadTrailerMagic(m) => {
                write!(f, "trailer magic is 0x{m:04x}, expected 0xb105")
            }
            ErrorKind::TrailerMismatch { header, trailer } => write!(
                f,
                "trailer byte count {trailer} disagrees with header byte count {header}"
            ),
            ErrorKind::UnknownToken(id) => write!(f, "unknown token id 0x{id:02x}"),
            ErrorKind::BadAddressType(t) => {
                write!(f, "address type {t} is neither 4 (IPv4) nor 16 (IPv6)")
            }
            ErrorKind::BadDataUnit(u) => write!(f, "arbitrary-data unit type {u} is not 0..3"),
            ErrorKind::TrailingBytes { left } => {
                write!(f, "{left} bytes after the last token of the record")
            }
            ErrorKind::FileNameNul { len } => write!(
                f,
                "file token name of {len} bytes holds a NUL before its end: not one name"
            ),
        }
    }
}

/// A decoding failure at an absolute byte offset of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset of the failing byte (or of the token that failed) from the start of the input.
    pub offset: u64,
    /// Offset of the record (or file token) being decoded.
    pub record_offset: u64,
    /// The id of the token being decoded, when there was one.
    pub token_id: Option<u8>,
    pub kind: ErrorKind,
}

impl DecodeError {
    /// The same error with its offsets moved by `by` (found in a slice that starts `by`
    /// bytes into its trail).
    pub fn shifted(mut self, by: u64) -> Self {
        self.offset += by;
        self.record_offset += by;
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset 0x{:x} ({}), record at 0x{:x} ({})",
            self.kind, self.offset, self.offset, self.record_offset, self.record_offset
        )?;
        if let Some(id) = self.token_id {
            write!(f, ", token 0x{id:02x}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// A failure inside one record, before it is placed in the input: `pos` counts from the
/// record's first byte. [`Fault::at`] turns it into a [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub pos: usize,
    pub token_id: Option<u8>,
    pub kind: ErrorKind,
}

impl Fault {
    pub fn at(self, record_offset: u64) -> DecodeError {
        DecodeError {
            offset: record_offset + self.pos as u64,
            record_offset,
            token_id: self.token_id,
            kind: self.kind,
        }
    }
}
