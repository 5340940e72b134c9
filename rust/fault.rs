//! Surviving a memory-mapped file that shrinks while it is read.
//!
//! Reading a page of a mapping past the end of a file that was truncated after it was
//! mapped raises SIGBUS, which kills the process: a notebook or a Dask worker loses
//! everyone's work because someone truncated (or an I/O error cut) a trail. Evidence
//! files are expected not to change, but trails are also read while auditd writes them.
//!
//! Each mapping registers its address range here. A SIGBUS handler checks whether the
//! faulting address lies in a registered range; if so it maps a zero-filled page over the
//! faulting page (so the interrupted read completes) and records the first faulting offset
//! in the mapping's slot. Readers check the slot ([`Guard::fault`]) before they hand out
//! results, and turn a fault into an error naming the file and the offset. A SIGBUS for any
//! other address goes to the handler that was installed before (or the default action),
//! exactly as if this module did not exist.
//!
//! The handler touches only atomics and calls `mmap`, which Linux and the BSDs implement as
//! a plain system call, safe in a signal handler.

// This module is the signal handler: its unsafe blocks each carry a SAFETY comment, and
// `source::tests::a_file_truncated_while_mapped` and tests/test_hostile.py exercise it.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Mappings watched at once; a mapping beyond these is read without a map.
const SLOTS: usize = 4096;

struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    /// First faulting offset + 1, or 0.
    fault: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    fault: AtomicU64::new(0),
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

/// A registered mapping; unregisters on drop (before the mapping itself goes).
pub struct Guard {
    slot: usize,
}

impl Guard {
    /// Watch `len` bytes at `start`. None when every slot is taken or the platform has no
    /// handler (the caller then reads the file instead of mapping it).
    pub fn register(start: *const u8, len: usize) -> Option<Guard> {
        if !imp::install() || len == 0 {
            return None;
        }
        for (i, s) in TABLE.iter().enumerate() {
            // Claim a free slot by its length first, so the handler never sees a start
            // without its length.
            if s.len
                .compare_exchange(0, len, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                s.fault.store(0, Ordering::Release);
                s.start.store(start as usize, Ordering::Release);
                return Some(Guard { slot: i });
            }
        }
        None
    }

    /// The first offset whose page could not be read (the file shrank), if any.
    pub fn fault(&self) -> Option<u64> {
        match TABLE[self.slot].fault.load(Ordering::Acquire) {
            0 => None,
            n => Some(n - 1),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let s = &TABLE[self.slot];
        s.start.store(0, Ordering::Release);
        s.len.store(0, Ordering::Release);
    }
}

/// Called from the handler: whether `addr` is in a watched mapping; if so, record the
/// fault and return the start of its page to be replaced.
fn claim(addr: usize) -> bool {
    for s in TABLE.iter() {
        let start = s.start.load(Ordering::Acquire);
        let len = s.len.load(Ordering::Acquire);
        if start != 0 && addr >= start && addr - start < len {
            let _ = s.fault.compare_exchange(
                0,
                (addr - start) as u64 + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            return true;
        }
    }
    false
}

#[cfg(unix)]
mod imp {
    use std::sync::OnceLock;

    /// The SIGBUS disposition before ours, to pass foreign faults on to.
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
    static PAGE: OnceLock<usize> = OnceLock::new();

    /// Install the handler once; true when it is in place.
    pub(super) fn install() -> bool {
        static INSTALLED: OnceLock<bool> = OnceLock::new();
        *INSTALLED.get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let _ = PAGE.set(if page > 0 { page as usize } else { 4096 });
            // SAFETY: sigaction is called with valid pointers to initialised structs;
            // the handler below is async-signal-safe (atomics and mmap only).
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) != 0 {
                    return false;
                }
                let _ = PREVIOUS.set(old);
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_sigbus as *const () as usize;
                new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut new.sa_mask);
                libc::sigaction(libc::SIGBUS, &new, std::ptr::null_mut()) == 0
            }
        })
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
        // si_code > 0: raised by the kernel for a faulting access (not kill/raise).
        if code > 0 && super::claim(addr) {
            let page = *PAGE.get().unwrap_or(&4096);
            let at = addr & !(page - 1);
            // SAFETY: replaces one page inside a mapping this process owns (registered,
            // so still mapped) with a private zero page; MAP_FIXED over our own range is
            // exactly what it is for. The interrupted load then completes with zeros,
            // and readers report the recorded fault instead of using them.
            let p = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                return;
            }
        }
        chain(sig, info, ctx);
    }

    /// Hand a fault that is not ours to the previous disposition.
    fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let Some(prev) = PREVIOUS.get() else {
            return default(sig);
        };
        let h = prev.sa_sigaction;
        if h == libc::SIG_IGN {
            return;
        }
        if h == libc::SIG_DFL {
            return default(sig);
        }
        // SAFETY: `h` is the handler another component installed for this signal; it is
        // called with the arguments the kernel gave us, as it expects.
        unsafe {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(h);
                f(sig, info, ctx);
            } else {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                f(sig);
            }
        }
    }

    /// Restore the default action and raise again: the process ends by SIGBUS, as it
    /// would have without this module.
    fn default(sig: libc::c_int) {
        // SAFETY: resetting a disposition to SIG_DFL and raising are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn install() -> bool {
        false
    }
}
