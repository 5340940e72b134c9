//! Return-token status text (§3.7, §5.1): the BSM errno number → the glibc `strerror` text
//! that the reference (Linux) praudit prints.
//!
//! praudit maps the BSM number to a local errno through libbsm's table and prints
//! `strerror(local)`. BSM numbers with no row in that table, or whose constant glibc lacks,
//! print `failure: Unknown error: N` (no space before the colon) instead.

/// The glibc text for a BSM errno that maps to a local errno other than 0.
pub(crate) fn glibc_text(bsm: u8) -> Option<&'static str> {
    Some(match bsm {
        1 => "Operation not permitted",
        2 => "No such file or directory",
        3 => "No such process",
        4 => "Interrupted system call",
        5 => "Input/output error",
        6 => "No such device or address",
        7 => "Argument list too long",
        8 => "Exec format error",
        9 => "Bad file descriptor",
        10 => "No child processes",
        11 => "Resource temporarily unavailable",
        12 => "Cannot allocate memory",
        13 => "Permission denied",
        14 => "Bad address",
        15 => "Block device required",
        16 => "Device or resource busy",
        17 => "File exists",
        18 => "Invalid cross-device link",
        19 => "No such device",
        20 => "Not a directory",
        21 => "Is a directory",
        22 => "Invalid argument",
        23 => "Too many open files in system",
        24 => "Too many open files",
        25 => "Inappropriate ioctl for device",
        26 => "Text file busy",
        27 => "File too large",
        28 => "No space left on device",
        29 => "Illegal seek",
        30 => "Read-only file system",
        31 => "Too many links",
        32 => "Broken pipe",
        33 => "Numerical argument out of domain",
        34 => "Numerical result out of range",
        35 => "No message of desired type",
        36 => "Identifier removed",
        37 => "Channel number out of range",
        38 => "Level 2 not synchronized",
        39 => "Level 3 halted",
        40 => "Level 3 reset",
        41 => "Link number out of range",
        42 => "Protocol driver not attached",
        43 => "No CSI structure available",
        44 => "Level 2 halted",
        45 => "Resource deadlock avoided",
        46 => "No locks available",
        47 => "Operation canceled",
        48 => "Operation not supported",
        49 => "Disk quota exceeded",
        50 => "Invalid exchange",
        51 => "Invalid request descriptor",
        52 => "Exchange full",
        53 => "No anode",
        54 => "Invalid request code",
        55 => "Invalid slot",
        56 => "Resource deadlock avoided",
        57 => "Bad font file format",
        58 => "Owner died",
        59 => "State not recoverable",
        60 => "Device not a stream",
        64 => "Machine is not on the network",
        65 => "Package not installed",
        66 => "Object is remote",
        67 => "Link has been severed",
        68 => "Advertise error",
        69 => "Srmount error",
        70 => "Communication error on send",
        71 => "Protocol error",
        74 => "Multihop attempted",
        77 => "Bad message",
        78 => "File name too long",
        79 => "Value too large for defined data type",
        80 => "Name not unique on network",
        81 => "File descriptor in bad state",
        82 => "Remote address changed",
        83 => "Can not access a needed shared library",
        84 => "Accessing a corrupted shared library",
        85 => ".lib section in a.out corrupted",
        86 => "Attempting to link in too many shared libraries",
        87 => "Cannot exec a shared library directly",
        88 => "Invalid or incomplete multibyte or wide character",
        89 => "Function not implemented",
        90 => "Too many levels of symbolic links",
        91 => "Interrupted system call should be restarted",
        92 => "Streams pipe error",
        93 => "Directory not empty",
        94 => "Too many users",
        95 => "Socket operation on non-socket",
        96 => "Destination address required",
        97 => "Message too long",
        98 => "Protocol wrong type for socket",
        99 => "Protocol not available",
        120 => "Protocol not supported",
        121 => "Socket type not supported",
        122 => "Operation not supported",
        123 => "Protocol family not supported",
        124 => "Address family not supported by protocol",
        125 => "Address already in use",
        126 => "Cannot assign requested address",
        127 => "Network is down",
        129 => "Network dropped connection on reset",
        130 => "Software caused connection abort",
        131 => "Connection reset by peer",
        132 => "No buffer space available",
        133 => "Transport endpoint is already connected",
        134 => "Transport endpoint is not connected",
        143 => "Cannot send after transport endpoint shutdown",
        144 => "Too many references: cannot splice",
        145 => "Connection timed out",
        146 => "Connection refused",
        147 => "Host is down",
        148 => "No route to host",
        149 => "Operation already in progress",
        150 => "Operation now in progress",
        151 => "Stale file handle",
        211 => "RFS specific error",
        212 => "Structure needs cleaning",
        213 => "Not a XENIX named type file",
        214 => "No XENIX semaphores available",
        215 => "Is a named type file",
        216 => "Remote I/O error",
        217 => "No medium found",
        218 => "Wrong medium type",
        219 => "Required key not available",
        220 => "Key has expired",
        221 => "Key has been revoked",
        222 => "Key was rejected by service",
        _ => return None,
    })
}

/// Append the status field of a return token: `success`, `failure : <text>` or
/// `failure: Unknown error: <n>`.
pub(crate) fn write_status(out: &mut Vec<u8>, bsm: u8) {
    if bsm == 0 {
        out.extend_from_slice(b"success");
        return;
    }
    match glibc_text(bsm) {
        Some(t) => {
            out.extend_from_slice(b"failure : ");
            out.extend_from_slice(t.as_bytes());
        }
        None => {
            out.extend_from_slice(b"failure: Unknown error: ");
            out.extend_from_slice(itoa::Buffer::new().format(bsm).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u8) -> String {
        let mut v = Vec::new();
        write_status(&mut v, n);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn table_rows() {
        assert_eq!(s(0), "success");
        assert_eq!(s(2), "failure : No such file or directory");
        assert_eq!(s(16), "failure : Device or resource busy");
        assert_eq!(s(35), "failure : No message of desired type");
        assert_eq!(s(45), "failure : Resource deadlock avoided");
        assert_eq!(s(56), "failure : Resource deadlock avoided");
        assert_eq!(
            s(88),
            "failure : Invalid or incomplete multibyte or wide character"
        );
        assert_eq!(s(144), "failure : Too many references: cannot splice");
        assert_eq!(s(222), "failure : Key was rejected by service");
    }

    #[test]
    fn unmapped_numbers() {
        for n in [
            61u8, 62, 63, 72, 73, 75, 76, 100, 128, 152, 190, 210, 223, 225, 250, 255,
        ] {
            assert_eq!(s(n), format!("failure: Unknown error: {n}"));
        }
        // Exactly the table's mapped rows have text.
        assert_eq!(
            (1..=255u8).filter(|n| glibc_text(*n).is_some()).count(),
            127
        );
    }
}
