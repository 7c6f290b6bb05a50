//! Stackful fibers: functions that run on their own stack and can suspend
//! themselves with a value, to be resumed later with another.
//!
//! ```
//! use spindle_fiber::{Fiber, FiberResult, Suspender};
//!
//! let mut fiber = Fiber::new(|first: u64, s: &Suspender<u64, u64>| -> u64 {
//!     s.suspend(first + 1)
//! })?;
//! match fiber.resume(1) {
//!     FiberResult::Yield(y) => assert_eq!(y, 2),
//!     FiberResult::Return(_) => unreachable!(),
//! }
//! assert_eq!(fiber.resume(40), FiberResult::Return(40));
//! # Ok::<(), spindle_fiber::Error>(())
//! ```
//!
//! # The switch
//!
//! On x86_64 (System V: Linux, macOS, the BSDs), aarch64 (Linux,
//! Apple), riscv64 (LP64D, ELF) and, on Linux, s390x, x86 (i686), ARMv7
//! hard-float (A32 and Thumb-2), powerpc64le (ELF V2) and loongarch64
//! (LP64D) stacks are switched by
//! Spindle's own assembly, written in `global_asm!` as real symbols with
//! global binding and hidden visibility whose names carry the crate version
//! ([`SWITCH_SYMBOLS`]). They are referenced from Rust only through
//! `extern "C"` declarations and anchored by a `#[used]` static, so they
//! survive every LTO mode (`off`, `false`, `thin`, `fat`) and every
//! codegen-units setting; the `spindle-tests` crate proves it by building
//! and inspecting real binaries. On the other glibc targets whose
//! `ucontext_t` layout the crate knows (ARMv6 and soft-float arm, big-endian
//! powerpc64), the portable [`Ucontext`] backend is used; [`backend()`] says which is
//! compiled in, and the cargo feature `fallback` forces the portable one.
//!
//! # Stacks
//!
//! [`Fiber::new`] maps a [`Stack`] (mmap + guard page). [`Fiber::with_stack`]
//! takes any [`FiberStack`]: a pooled [`Stack`] from [`StackPool`], memory
//! owned by someone else ([`RawStack`]), or your own type.
//! [`install_overflow_handler`] turns a guard-page hit into a clear
//! `fiber stack overflow` report.
//!
//! # Safety rules
//!
//! A suspended fiber's frames may be borrowed by other threads (a
//! `std::thread::scope` inside the fiber), and `mem::forget` cannot be
//! prevented, so the API keeps every leaked fiber harmless:
//!
//! * The safe constructors take only `'static` functions, resume values and
//!   stacks; a fiber that borrows from its creator lives inside
//!   [`Fiber::scoped`], which always unwinds it before returning (or uses
//!   the unsafe [`Fiber::with_stack_unchecked`]).
//! * A [`FiberStack`] keeps its memory valid until it is dropped, and
//!   forever if leaked: there is no `FiberStack` for `&mut T`.
//! * When Spindle cannot unwind a fiber (it swallowed [`ForcedUnwind`], or a
//!   suspended fiber is dropped under `panic = "abort"`), it leaks it only
//!   if the stack owns its memory ([`FiberStack::owns_memory`]) and the
//!   fiber borrows nothing; otherwise it aborts the process.

#![warn(missing_docs)]

mod asan;
mod backend;
mod fiber;
mod overflow;
mod stack;
mod sys;
mod valgrind;

#[cfg(spindle_asm)]
pub use backend::Asm;
#[cfg(miri)]
pub use backend::MiriThreads;
/// `(size, align, offset of uc_link, offset of uc_stack)` of the
/// `ucontext_t` the portable backend passes to glibc, for the layout test.
#[cfg(spindle_ucontext)]
#[doc(hidden)]
pub use backend::UCONTEXT_LAYOUT;
#[cfg(spindle_ucontext)]
pub use backend::Ucontext;
#[cfg(all(windows, not(miri)))]
pub use backend::WindowsFibers;
pub use backend::{Backend, BackendKind, Native, Unsupported, backend};
pub use fiber::{Fiber, FiberResult, ForcedUnwind, ScopedFiber, Suspender};
pub use overflow::install_overflow_handler;
pub use stack::{DEFAULT_STACK_SIZE, FiberStack, RawStack, Stack, StackPool};

use core::fmt;

/// The version tag in every assembly symbol of this crate (`0_1_0` for
/// version 0.1.0).
pub const SYMBOL_VERSION: &str = env!("SPINDLE_FIBER_SYMBOL_VERSION");

/// The assembly symbols this build of the crate defines, as written in the
/// source (Mach-O adds a leading `_`): the switch into a fiber (`…_resume`),
/// the switch out of it (`…_suspend`) and the first code of a fresh fiber
/// (`…_trampoline`). Empty where there is no assembly backend.
#[cfg(spindle_asm)]
pub const SWITCH_SYMBOLS: &[&str] = &backend::SYMBOLS;
/// The assembly symbols this build of the crate defines (none on this
/// target).
#[cfg(not(spindle_asm))]
pub const SWITCH_SYMBOLS: &[&str] = &[];

/// Why a fiber or stack could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Mapping a stack failed.
    StackAllocation(std::io::Error),
    /// A stack size so large it overflows the address computation.
    StackTooLarge {
        /// The size that was asked for.
        requested: usize,
    },
    /// The stack cannot hold the fiber's function and a minimal frame.
    StackTooSmall {
        /// Bytes the fiber needs at least.
        needed: usize,
        /// Bytes the stack has.
        available: usize,
    },
    /// A [`FiberStack`] that breaks its contract in a way we can detect.
    BadStack {
        /// What is wrong.
        reason: &'static str,
    },
    /// Installing the overflow signal handler failed.
    Signal(std::io::Error),
    /// This target cannot do it.
    Unsupported {
        /// What is unsupported.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::StackAllocation(e) => write!(f, "failed to map a fiber stack: {e}"),
            Error::StackTooLarge { requested } => {
                write!(f, "fiber stack size {requested} is too large")
            }
            Error::StackTooSmall { needed, available } => write!(
                f,
                "fiber stack too small: {available} bytes available, at least {needed} needed"
            ),
            Error::BadStack { reason } => write!(f, "invalid fiber stack: {reason}"),
            Error::Signal(e) => write!(f, "failed to install the fiber overflow handler: {e}"),
            Error::Unsupported { what } => write!(
                f,
                "{what} is not supported on this target ({}-{})",
                std::env::consts::ARCH,
                std::env::consts::OS
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::StackAllocation(e) | Error::Signal(e) => Some(e),
            _ => None,
        }
    }
}

/// Prints `message` and aborts: for states with no sound way forward.
#[cold]
pub(crate) fn abort_with(message: &str) -> ! {
    eprintln!("{message}");
    std::process::abort()
}
