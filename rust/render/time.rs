//! Times as praudit prints them (§3.4): C `ctime` in the local time zone, cut at 24 bytes.
//!
//! praudit calls `ctime_r` and then stores a NUL at index 24. ctime's text is
//! `"%.3s %.3s%3d %.2d:%.2d:%.2d %d\n"`, so for years 1000-9999 the cut removes exactly the
//! newline; a five-digit year loses its last digit and a year below 1000 keeps the newline
//! inside the field. We format the broken-down time ourselves and apply the same cut, so the
//! odd years come out identically.
//!
//! The zone conversion is the C library's `localtime_r`, which honours `TZ` exactly as
//! praudit does. Conversions are cached (direct-mapped by second), since a trail's records
//! mostly share a handful of seconds.

const WDAY: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MON: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A broken-down time, as `struct tm` (month 0-11, weekday 0 = Sunday, full year).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tm {
    pub year: i64,
    pub mon: u32,
    pub mday: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub wday: u32,
}

/// Days since 1970-01-01 → (year, month 1-12, day) (Howard Hinnant's civil_from_days).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// UTC broken-down time; defined for every i64 (no year overflow: i64 seconds span far
/// fewer than 2^63 years).
pub(crate) fn utc(t: i64) -> Tm {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400) as u32;
    let (year, m, d) = civil_from_days(days);
    Tm {
        year,
        mon: m - 1,
        mday: d,
        hour: secs / 3600,
        min: secs / 60 % 60,
        sec: secs % 60,
        // 1970-01-01 was a Thursday.
        wday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Local broken-down time from the C library, or `None` where `localtime_r` fails (years
/// that do not fit a C int).
#[cfg(unix)]
fn local(t: i64) -> Option<Tm> {
    let tt = libc::time_t::try_from(t).ok()?;
    // SAFETY: `localtime_r` only reads `tt` and writes the `tm` we own; both pointers are
    // valid for the call. A zeroed `tm` is a valid value of the plain C struct (its one
    // pointer field, `tm_zone`, may be null).
    #[allow(unsafe_code)]
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&tt, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some(Tm {
        year: i64::from(tm.tm_year) + 1900,
        mon: u32::try_from(tm.tm_mon).ok()?,
        mday: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        min: u32::try_from(tm.tm_min).ok()?,
        sec: u32::try_from(tm.tm_sec).ok()?,
        wday: u32::try_from(tm.tm_wday).ok()?,
    })
}

#[cfg(not(unix))]
fn local(t: i64) -> Option<Tm> {
    Some(utc(t))
}

/// Re-read `TZ` (the C library caches the zone at its first conversion).
#[cfg(unix)]
pub(crate) fn reload_zone() {
    extern "C" {
        fn tzset();
    }
    // SAFETY: tzset takes no arguments and only updates libc's own zone state.
    #[allow(unsafe_code)]
    unsafe {
        tzset()
    }
}

#[cfg(not(unix))]
pub(crate) fn reload_zone() {}

/// `v` (0-99) as two digits.
pub(crate) fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// `tm`'s time of day as `HH:MM:SS`.
pub(crate) fn push_hms(out: &mut Vec<u8>, tm: &Tm) {
    push2(out, tm.hour);
    out.push(b':');
    push2(out, tm.min);
    out.push(b':');
    push2(out, tm.sec);
}

/// ctime's full text (with its newline) cut at 24 bytes, as praudit prints it.
pub(crate) fn write_ctime(out: &mut Vec<u8>, tm: &Tm) {
    let start = out.len();
    let wday = WDAY.get(tm.wday as usize).copied().unwrap_or(b"???");
    let mon = MON.get(tm.mon as usize).copied().unwrap_or(b"???");
    out.extend_from_slice(wday);
    out.push(b' ');
    out.extend_from_slice(mon);
    // %3d
    let mut b = itoa::Buffer::new();
    let md = b.format(tm.mday).as_bytes();
    for _ in md.len()..3 {
        out.push(b' ');
    }
    out.extend_from_slice(md);
    out.push(b' ');
    push_hms(out, tm);
    out.push(b' ');
    out.extend_from_slice(b.format(tm.year).as_bytes());
    out.push(b'\n');
    out.truncate(start + 24);
}

const CACHE: usize = 64;

/// Local-time ctime strings, cached by second.
#[derive(Clone)]
pub(crate) struct Clock {
    utc: bool,
    keys: [i64; CACHE],
    vals: [[u8; 24]; CACHE],
    lens: [u8; CACHE],
}

impl Clock {
    /// `utc`: convert in UTC instead of the local zone (tests, reproducible output).
    pub(crate) fn new(utc: bool) -> Self {
        if !utc {
            reload_zone();
        }
        Clock {
            utc,
            // i64::MIN never matches a lookup because `lens` starts at 0 (see `write`).
            keys: [i64::MIN; CACHE],
            vals: [[0; 24]; CACHE],
            lens: [0; CACHE],
        }
    }

    /// Append the praudit text of time `t` (possibly empty when the C library cannot
    /// convert it).
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, t: i64) {
        let slot = (t as u64 % CACHE as u64) as usize;
        if let (Some(&k), Some(&n), Some(v)) = (
            self.keys.get(slot),
            self.lens.get(slot),
            self.vals.get(slot),
        ) {
            if k == t && n > 0 {
                out.extend_from_slice(v.get(..usize::from(n)).unwrap_or(&[]));
                return;
            }
        }
        let tm = if self.utc { Some(utc(t)) } else { local(t) };
        let Some(tm) = tm else {
            return;
        };
        let start = out.len();
        write_ctime(out, &tm);
        let text = out.get(start..).unwrap_or(&[]);
        if let (Some(k), Some(n), Some(v)) = (
            self.keys.get_mut(slot),
            self.lens.get_mut(slot),
            self.vals.get_mut(slot),
        ) {
            if let Some(dst) = v.get_mut(..text.len()) {
                dst.copy_from_slice(text);
                *k = t;
                *n = text.len() as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctime_utc(t: i64) -> String {
        let mut v = Vec::new();
        Clock::new(true).write(&mut v, t);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn ordinary_times() {
        assert_eq!(ctime_utc(74565), "Thu Jan  1 20:42:45 1970");
        assert_eq!(ctime_utc(1230477138), "Sun Dec 28 15:12:18 2008");
        assert_eq!(ctime_utc(1383590180), "Mon Nov  4 18:36:20 2013");
        assert_eq!(ctime_utc(u32::MAX as i64), "Sun Feb  7 06:28:15 2106");
        assert_eq!(ctime_utc(-1), "Wed Dec 31 23:59:59 1969");
        assert_eq!(ctime_utc(1 << 40), "Mon Feb 20 00:36:16 3681");
    }

    #[test]
    fn odd_years() {
        // Year 10000: the last digit is cut.
        assert_eq!(ctime_utc(253_402_300_800), "Sat Jan  1 00:00:00 1000");
        // Year 100: three digits, so the newline stays inside the field.
        assert_eq!(ctime_utc(-59_011_459_200), "Fri Jan  1 00:00:00 100\n");
        // Year 99: shorter still.
        assert_eq!(
            ctime_utc(-59_011_459_200 - 365 * 86_400),
            "Thu Jan  1 00:00:00 99\n"
        );
        // Year 12345: cut after four digits.
        assert!(ctime_utc(327_403_382_400).ends_with(" 1234"));
    }

    #[test]
    fn cache_hits_and_collisions() {
        let mut c = Clock::new(true);
        let mut v = Vec::new();
        for t in [0i64, 64, 0, 128, 64] {
            v.clear();
            c.write(&mut v, t);
            assert_eq!(v, ctime_utc(t).as_bytes());
        }
    }

    #[test]
    fn local_matches_utc_under_utc_zone() {
        // The test binary may run with any TZ; only check that the C path produces a
        // well-formed 24-byte string for an ordinary time.
        let mut v = Vec::new();
        Clock::new(false).write(&mut v, 1230477138);
        assert_eq!(v.len(), 24);
    }
}
