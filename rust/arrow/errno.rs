//! BSM errno names for the `return_errno` column: the constants of OpenBSM's
//! `sys/bsm/audit_errno.h` (Solaris numbering plus OpenBSM's extensions), as tabled in
//! `docs/bsm-format.md` §5.1. The status byte is in the BSM errno space, not the writer's
//! local one, so the name is the same whatever system wrote the trail.

use arrow_array::{ArrayRef, StringArray};
use std::sync::{Arc, OnceLock};

/// The BSM name of errno `n`, or `None` for numbers audit_errno.h does not define.
pub fn bsm_errno_name(n: u8) -> Option<&'static str> {
    Some(match n {
        0 => "ESUCCESS",
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        15 => "ENOTBLK",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        25 => "ENOTTY",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        29 => "ESPIPE",
        30 => "EROFS",
        31 => "EMLINK",
        32 => "EPIPE",
        33 => "EDOM",
        34 => "ERANGE",
        35 => "ENOMSG",
        36 => "EIDRM",
        37 => "ECHRNG",
        38 => "EL2NSYNC",
        39 => "EL3HLT",
        40 => "EL3RST",
        41 => "ELNRNG",
        42 => "EUNATCH",
        43 => "ENOCSI",
        44 => "EL2HLT",
        45 => "EDEADLK",
        46 => "ENOLCK",
        47 => "ECANCELED",
        48 => "ENOTSUP",
        49 => "EDQUOT",
        50 => "EBADE",
        51 => "EBADR",
        52 => "EXFULL",
        53 => "ENOANO",
        54 => "EBADRQC",
        55 => "EBADSLT",
        56 => "EDEADLOCK",
        57 => "EBFONT",
        58 => "EOWNERDEAD",
        59 => "ENOTRECOVERABLE",
        60 => "ENOSTR",
        61 => "ENODATA",
        62 => "ETIME",
        63 => "ENOSR",
        64 => "ENONET",
        65 => "ENOPKG",
        66 => "EREMOTE",
        67 => "ENOLINK",
        68 => "EADV",
        69 => "ESRMNT",
        70 => "ECOMM",
        71 => "EPROTO",
        72 => "ELOCKUNMAPPED",
        73 => "ENOTACTIVE",
        74 => "EMULTIHOP",
        77 => "EBADMSG",
        78 => "ENAMETOOLONG",
        79 => "EOVERFLOW",
        80 => "ENOTUNIQ",
        81 => "EBADFD",
        82 => "EREMCHG",
        83 => "ELIBACC",
        84 => "ELIBBAD",
        85 => "ELIBSCN",
        86 => "ELIBMAX",
        87 => "ELIBEXEC",
        88 => "EILSEQ",
        89 => "ENOSYS",
        90 => "ELOOP",
        91 => "ERESTART",
        92 => "ESTRPIPE",
        93 => "ENOTEMPTY",
        94 => "EUSERS",
        95 => "ENOTSOCK",
        96 => "EDESTADDRREQ",
        97 => "EMSGSIZE",
        98 => "EPROTOTYPE",
        99 => "ENOPROTOOPT",
        120 => "EPROTONOSUPPORT",
        121 => "ESOCKTNOSUPPORT",
        122 => "EOPNOTSUPP",
        123 => "EPFNOSUPPORT",
        124 => "EAFNOSUPPORT",
        125 => "EADDRINUSE",
        126 => "EADDRNOTAVAIL",
        127 => "ENETDOWN",
        128 => "ENETUNREACH",
        129 => "ENETRESET",
        130 => "ECONNABORTED",
        131 => "ECONNRESET",
        132 => "ENOBUFS",
        133 => "EISCONN",
        134 => "ENOTCONN",
        143 => "ESHUTDOWN",
        144 => "ETOOMANYREFS",
        145 => "ETIMEDOUT",
        146 => "ECONNREFUSED",
        147 => "EHOSTDOWN",
        148 => "EHOSTUNREACH",
        149 => "EALREADY",
        150 => "EINPROGRESS",
        151 => "ESTALE",
        152 => "EQFULL",
        190 => "EPROCLIM",
        191 => "EBADRPC",
        192 => "ERPCMISMATCH",
        193 => "EPROGUNAVAIL",
        194 => "EPROGMISMATCH",
        195 => "EPROCUNAVAIL",
        196 => "EFTYPE",
        197 => "EAUTH",
        198 => "ENEEDAUTH",
        199 => "ENOATTR",
        200 => "EDOOFUS",
        201 => "EJUSTRETURN",
        202 => "ENOIOCTL",
        203 => "EDIRIOCTL",
        204 => "EPWROFF",
        205 => "EDEVERR",
        206 => "EBADEXEC",
        207 => "EBADARCH",
        208 => "ESHLIBVERS",
        209 => "EBADMACHO",
        210 => "EPOLICY",
        211 => "EDOTDOT",
        212 => "EUCLEAN",
        213 => "ENOTNAM",
        214 => "ENAVAIL",
        215 => "EISNAM",
        216 => "EREMOTEIO",
        217 => "ENOMEDIUM",
        218 => "EMEDIUMTYPE",
        219 => "ENOKEY",
        220 => "EKEYEXPIRED",
        221 => "EKEYREVOKED",
        222 => "EKEYREJECTED",
        223 => "ENOTCAPABLE",
        224 => "ECAPMODE",
        225 => "EINTEGRITY",
        250 => "UNKNOWN",
        _ => return None,
    })
}

/// The `return_errno` dictionary: entry `n` names BSM errno `n`; numbers with no constant
/// read `UNKNOWN_<n>` (250 itself is OpenBSM's `UNKNOWN`).
pub fn dictionary() -> ArrayRef {
    static DICT: OnceLock<ArrayRef> = OnceLock::new();
    DICT.get_or_init(|| {
        let names = (0..=255u8).map(|n| match bsm_errno_name(n) {
            Some(s) => s.to_string(),
            None => format!("UNKNOWN_{n}"),
        });
        Arc::new(StringArray::from_iter_values(names))
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn names() {
        assert_eq!(bsm_errno_name(2), Some("ENOENT"));
        assert_eq!(bsm_errno_name(45), Some("EDEADLK"));
        assert_eq!(bsm_errno_name(56), Some("EDEADLOCK"));
        assert_eq!(bsm_errno_name(250), Some("UNKNOWN"));
        assert_eq!(bsm_errno_name(100), None);
        let d = dictionary();
        let d = d.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(d.len(), 256);
        assert_eq!(d.value(13), "EACCES");
        assert_eq!(d.value(100), "UNKNOWN_100");
        // Every name is distinct (dictionaries with duplicates confuse some consumers).
        let set: std::collections::HashSet<&str> = d.iter().flatten().collect();
        assert_eq!(set.len(), 256);
    }
}
