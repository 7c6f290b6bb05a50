//! Opt-in reporting of fiber stack overflows.
//!
//! A fiber that overflows its stack touches the guard page below it and gets
//! SIGSEGV (SIGBUS on macOS). Rust's own handler only recognises the guard
//! pages of thread stacks, so without help the process dies with a bare
//! "Segmentation fault". [`install_overflow_handler`] adds a handler that
//! recognises the guard of a live fiber, prints `fiber stack overflow` and
//! aborts, and hands every other fault to the handler that was installed
//! before it (Rust's, wasmtime's, or the default action), exactly as if it
//! were not there.
//!
//! # The guard registry
//!
//! The handler needs to know which addresses are fiber guards. Fibers created
//! while the handler is installed register their stack's guard range here
//! once, when they are created, and unregister it when they give up their
//! stack; switching costs nothing (an earlier design updated a thread-local
//! on every resume, which was measurable in the round-trip benchmark). The
//! registry is a fixed table of atomic `[start, end)` pairs in zero-filled
//! static memory (untouched pages cost nothing): lock-free to update and
//! safe to read from a signal handler. A fiber created before the handler
//! was installed, or once all `CAPACITY` slots are taken, is simply not
//! covered: its overflow is reported as an ordinary SIGSEGV.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Live guard ranges at most; 64 Ki slots are 1 MiB of zero pages.
const CAPACITY: usize = 64 * 1024;

struct Slot {
    /// Guard start, or 0 for a free slot. Claimed with a compare-exchange.
    start: AtomicUsize,
    end: AtomicUsize,
}

static SLOTS: [Slot; CAPACITY] = [const {
    Slot {
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
    }
}; CAPACITY];

/// One past the highest slot ever used: the handler scans no further.
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);
/// Where the next registration starts looking for a free slot.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether fibers created now must register their guard.
#[inline(always)]
pub(crate) fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Registers a fiber's guard range if the handler is installed. Returns the
/// slot number plus one (0: not registered), for `unregister`.
#[inline]
pub(crate) fn register(start: usize, end: usize) -> usize {
    if !INSTALLED.load(Ordering::Relaxed) || start >= end {
        return 0;
    }
    register_slow(start, end)
}

#[cold]
fn register_slow(start: usize, end: usize) -> usize {
    let first = NEXT.load(Ordering::Relaxed);
    for i in (first..CAPACITY).chain(0..first) {
        let slot = &SLOTS[i];
        // The end is published before the start makes the slot live.
        if slot.start.load(Ordering::Relaxed) == 0
            && slot
                .start
                .compare_exchange(0, usize::MAX, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            slot.end.store(end, Ordering::Relaxed);
            slot.start.store(start, Ordering::Release);
            HIGH_WATER.fetch_max(i + 1, Ordering::Release);
            NEXT.store((i + 1) % CAPACITY, Ordering::Relaxed);
            return i + 1;
        }
    }
    0
}

/// Frees a slot returned by `register`.
#[inline]
pub(crate) fn unregister(slot: usize) {
    if let Some(slot) = slot.checked_sub(1).and_then(|i| SLOTS.get(i)) {
        slot.start.store(0, Ordering::Release);
        slot.end.store(0, Ordering::Relaxed);
    }
}

/// Whether `address` lies in the guard of a registered fiber. Only atomic
/// loads: safe in a signal handler.
#[cfg(unix)]
fn is_fiber_guard(address: usize) -> bool {
    let high = HIGH_WATER.load(Ordering::Acquire);
    SLOTS[..high].iter().any(|slot| {
        let start = slot.start.load(Ordering::Acquire);
        start != 0
            && start != usize::MAX
            && address >= start
            && address < slot.end.load(Ordering::Relaxed)
    })
}

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        mod imp;
        pub use imp::install_overflow_handler;
    } else {
        /// Not available on this target: returns `Error::Unsupported`.
        pub fn install_overflow_handler() -> Result<(), crate::Error> {
            Err(crate::Error::Unsupported { what: "the fiber stack overflow handler" })
        }
    }
}
