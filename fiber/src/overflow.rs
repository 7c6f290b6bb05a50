//! Opt-in reporting of fiber stack overflows.
//!
//! A fiber that overflows its stack touches the guard page below it and gets
//! SIGSEGV (SIGBUS on macOS). Rust's own handler only recognises the guard
//! pages of thread stacks, so without help the process dies with a bare
//! "Segmentation fault". [`install_overflow_handler`] adds a handler that
//! recognises fiber guards, prints `fiber stack overflow` and aborts, and
//! hands every other fault to the handler that was installed before it
//! (Rust's, wasmtime's, or the default action), exactly as if it were not
//! there.
//!
//! # How the handler knows a fiber guard
//!
//! Two ways, chosen per stack by [`FiberStack::guard_registered`]:
//!
//! * **The guard registry.** A [`Stack`](crate::Stack) registers its guard
//!   page when it is mapped and unregisters it just before it is unmapped, so
//!   a fiber running on one costs nothing per switch. Registration rides on
//!   the `mmap`, which costs microseconds anyway; a stack reused through
//!   [`StackPool`](crate::StackPool) or `into_stack` stays registered. An
//!   earlier design registered each *fiber* at creation, which added ~9 ns to
//!   creating a fiber on a reused stack; one before that updated a
//!   thread-local on every resume, ~8 instructions of every round trip.
//! * **The running-fiber thread-local**, for every other stack type
//!   ([`RawStack`](crate::RawStack), user stacks): once the handler is
//!   installed, `resume` records the running fiber's guard range in a
//!   thread-local and restores the previous one when the fiber suspends.
//!
//! The registry is a fixed table of atomic `[start, end)` pairs in
//! zero-filled static memory (untouched pages cost nothing): lock-free to
//! update and safe to read from a signal handler. Its 64 Ki slots exceed
//! what Linux allows by default (`vm.max_map_count` is 65 530 mappings, and
//! each stack is two); a stack mapped while all slots are taken is simply
//! not covered, and its overflow is reported as an ordinary SIGSEGV.

// Under Miri there are neither guard pages nor signals: the registry and
// the handler are compiled but never used.
#![cfg_attr(miri, allow(dead_code))]

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[cfg(doc)]
use crate::FiberStack;

static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Guard range `[start, end)` of the fiber running on this thread, for
    /// stacks that are not in the registry.
    static CURRENT_GUARD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Whether the handler is installed, so fibers on unregistered stacks must
/// be tracked while they run.
#[inline(always)]
pub(crate) fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Whether any thread ever ran a fiber tracked by `CURRENT_GUARD`; until
/// then the handler does not read the thread-local at all.
static TRACKED_EVER: AtomicBool = AtomicBool::new(false);

/// Records the running fiber's guard; returns the previous one for `leave`.
#[inline]
pub(crate) fn enter(start: usize, end: usize) -> (usize, usize) {
    // A load first: the flag's cache line stays shared once it is set.
    if !TRACKED_EVER.load(Ordering::Relaxed) {
        TRACKED_EVER.store(true, Ordering::Relaxed);
    }
    CURRENT_GUARD.with(|g| g.replace((start, end)))
}

#[inline]
pub(crate) fn leave(previous: (usize, usize)) {
    CURRENT_GUARD.with(|g| g.set(previous));
}

/// Makes sure this thread's `CURRENT_GUARD` exists before the handler can
/// read it.
#[cfg(all(unix, not(miri)))]
fn touch_current_guard() {
    CURRENT_GUARD.with(|g| g.get());
}

/// Readies the calling thread (alternate signal stack, thread-local) once
/// the handler is installed; called when a fiber is created.
#[inline]
pub(crate) fn prepare_thread() -> Result<(), crate::Error> {
    cfg_if::cfg_if! {
        if #[cfg(all(unix, not(miri)))] {
            if installed() { imp::prepare_thread() } else { Ok(()) }
        } else {
            Ok(())
        }
    }
}

const CAPACITY: usize = 64 * 1024;

struct Slot {
    /// Guard start; 0 for a free slot, `CLAIMED` while being filled.
    start: AtomicUsize,
    end: AtomicUsize,
}

const CLAIMED: usize = usize::MAX;

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

/// Registers the guard range `[start, end)` of a stack that was just mapped.
/// Returns whether a slot was found; the caller must `unregister(start)`
/// before the memory is unmapped.
pub(crate) fn register(start: usize, end: usize) -> bool {
    debug_assert!(start != 0 && start != CLAIMED && start < end);
    let first = NEXT.load(Ordering::Relaxed);
    for i in (first..CAPACITY).chain(0..first) {
        let slot = &SLOTS[i];
        if slot.start.load(Ordering::Relaxed) == 0
            && slot
                .start
                .compare_exchange(0, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            // The end is published before the start makes the slot live.
            slot.end.store(end, Ordering::Relaxed);
            slot.start.store(start, Ordering::Release);
            HIGH_WATER.fetch_max(i + 1, Ordering::Release);
            NEXT.store((i + 1) % CAPACITY, Ordering::Relaxed);
            return true;
        }
    }
    false
}

/// Frees the slot holding the guard that starts at `start`, if any.
pub(crate) fn unregister(start: usize) {
    let high = HIGH_WATER.load(Ordering::Acquire);
    for (i, slot) in SLOTS[..high].iter().enumerate() {
        if slot.start.load(Ordering::Relaxed) == start {
            slot.start.store(0, Ordering::Release);
            slot.end.store(0, Ordering::Relaxed);
            // Slots are reused lowest-first after a free, which keeps the
            // scanned prefix short.
            NEXT.fetch_min(i, Ordering::Relaxed);
            return;
        }
    }
}

/// Whether `address` lies in a fiber guard: a registered one, or the one of
/// the fiber running on this thread.
///
/// Async-signal-safety: the registry is atomic loads only. The
/// const-initialised thread-local needs no initialisation, but the first
/// access on a thread may still allocate its storage where thread-locals are
/// created lazily (a `dlopen`ed library's TLS block with glibc; macOS's
/// `tlv_get_addr`), and allocating in a signal handler can deadlock. So the
/// registry is searched first, the thread-local is read only once some
/// fiber was ever tracked (`TRACKED_EVER`), and every thread that creates a
/// fiber once the handler is installed touches it beforehand
/// (`prepare_thread`); the remaining case is a fault on a thread that never
/// created a fiber, in a process where some thread ran a fiber on a stack
/// other than Spindle's `Stack`.
#[cfg(all(any(unix, windows), not(miri)))]
fn is_fiber_guard(address: usize) -> bool {
    let high = HIGH_WATER.load(Ordering::Acquire);
    let registered = SLOTS[..high].iter().any(|slot| {
        let start = slot.start.load(Ordering::Acquire);
        start != 0
            && start != CLAIMED
            && address >= start
            && address < slot.end.load(Ordering::Relaxed)
    });
    if registered || !TRACKED_EVER.load(Ordering::Relaxed) {
        return registered;
    }
    let (start, end) = CURRENT_GUARD.with(|g| g.get());
    start < end && (start..end).contains(&address)
}

cfg_if::cfg_if! {
    // Under Miri there are no signals to handle (and no guard pages).
    if #[cfg(all(unix, not(miri)))] {
        mod imp;
        pub use imp::install_overflow_handler;
    } else if #[cfg(all(windows, not(miri)))] {
        mod windows;
        pub use self::windows::install_overflow_handler;
    } else {
        /// Not available on this target: returns `Error::Unsupported`.
        pub fn install_overflow_handler() -> Result<(), crate::Error> {
            Err(crate::Error::Unsupported { what: "the fiber stack overflow handler" })
        }
    }
}
