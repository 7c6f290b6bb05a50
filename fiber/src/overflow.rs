//! Opt-in reporting of fiber stack overflows.
//!
//! A fiber that overflows its stack touches the guard page below it and gets
//! SIGSEGV (SIGBUS on macOS). Rust's own handler only recognises the guard
//! pages of thread stacks, so without help the process dies with a bare
//! "Segmentation fault". [`install_overflow_handler`] adds a handler that
//! recognises the guard of the fiber running on the faulting thread, prints
//! `fiber stack overflow` and aborts, and hands every other fault to the
//! handler that was installed before it (Rust's, wasmtime's, or the default
//! action), exactly as if it were not there.
//!
//! The running fiber's guard range is kept in a thread-local that
//! `Fiber::resume` sets and restores; it costs nothing until the handler is
//! installed.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Guard range `[start, end)` of the fiber running on this thread.
    static CURRENT_GUARD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether the handler is installed, so the running fiber must be tracked.
#[inline(always)]
pub(crate) fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Records the running fiber's guard; returns the previous one for `leave`.
#[inline]
pub(crate) fn enter(start: usize, end: usize) -> (usize, usize) {
    CURRENT_GUARD.with(|g| g.replace((start, end)))
}

#[inline]
pub(crate) fn leave(previous: (usize, usize)) {
    CURRENT_GUARD.with(|g| g.set(previous));
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
