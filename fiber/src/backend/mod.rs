//! The one place that decides how stacks are switched on this target.
//!
//! Every backend implements [`Backend`]: it owns a small control block at the
//! top of each fiber stack and three operations on it: `init` (make a fresh
//! stack resumable), `resume` (parent -> fiber) and `suspend` (fiber ->
//! parent). Everything above this module — values in flight, panics, forced
//! unwinding, stacks — is written once, generically, in `fiber.rs`.
//!
//! | target                                   | backend                      |
//! |------------------------------------------|------------------------------|
//! | x86_64, unix (System V ABI; ELF, Mach-O) | [`Asm`], `x86_64.rs`         |
//! | aarch64, unix (AAPCS64; Linux, Apple)    | [`Asm`], `aarch64.rs`        |
//! | riscv64, unix (RV64GC, LP64D; ELF)       | [`Asm`], `riscv64.rs`        |
//! | s390x, Linux (z/Architecture ELF ABI)    | [`Asm`], `s390x.rs`          |
//! | x86 (i686), Linux (i386 System V; ELF)   | [`Asm`], `x86.rs`            |
//! | arm, Linux, ARMv7-A hard-float (AAPCS;   | [`Asm`], `arm.rs`            |
//! | A32 and Thumb-2)                         |                              |
//! | powerpc64le, Linux (ELF V2 ABI)          | [`Asm`], `powerpc64.rs`      |
//! | loongarch64, Linux (LP64D; ELF)          | [`Asm`], `loongarch64.rs`    |
//! | x86_64, Windows (Microsoft x64 ABI; COFF)| [`Asm`], `x86_64_windows.rs` |
//! | Windows, any architecture                | `WindowsFibers`, `windows_fibers.rs` |
//! | Linux/glibc: x86, x86_64, arm, aarch64,  | [`Ucontext`], `ucontext.rs`  |
//! | riscv64, powerpc64, s390x                |                              |
//! | any target, under Miri                   | `MiriThreads`, `miri_threads.rs` |
//! | anything else                            | [`Unsupported`]              |
//!
//! The cargo feature `fallback` makes the portable backend ([`Ucontext`] on
//! Linux, Win32 Fibers on Windows) the native one even where assembly
//! exists, so the test suite can run on both.

use core::fmt;

#[cfg(not(miri))]
#[macro_use]
mod symbol;
mod unsupported;
pub use unsupported::Unsupported;

cfg_if::cfg_if! {
    if #[cfg(miri)] {
        // Miri runs no assembly: see miri_threads.rs.
        mod miri_threads;
        pub use self::miri_threads::MiriThreads;
    } else if #[cfg(all(target_arch = "x86_64", unix))] {
        mod x86_64;
        pub use self::x86_64::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "aarch64", unix))] {
        mod aarch64;
        pub use self::aarch64::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "riscv64", unix))] {
        mod riscv64;
        pub use self::riscv64::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "s390x", target_os = "linux"))] {
        mod s390x;
        pub use self::s390x::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "x86", target_os = "linux"))] {
        mod x86;
        pub use self::x86::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "arm", spindle_asm))] {
        mod arm;
        pub use self::arm::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "powerpc64", target_endian = "little", target_os = "linux"))] {
        mod powerpc64;
        pub use self::powerpc64::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "loongarch64", target_os = "linux"))] {
        mod loongarch64;
        pub use self::loongarch64::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    } else if #[cfg(all(target_arch = "x86_64", windows))] {
        mod x86_64_windows;
        pub use self::x86_64_windows::Asm;
        pub(crate) use self::symbol::SYMBOLS;
    }
}

cfg_if::cfg_if! {
    // glibc on an architecture whose ucontext_t layout is known (build.rs).
    if #[cfg(spindle_ucontext)] {
        mod ucontext;
        pub use self::ucontext::Ucontext;
        #[doc(hidden)]
        pub use self::ucontext::LAYOUT as UCONTEXT_LAYOUT;
    }
}

cfg_if::cfg_if! {
    if #[cfg(all(windows, not(miri)))] {
        pub(crate) mod windows_fibers;
        pub use self::windows_fibers::WindowsFibers;
    }
}

cfg_if::cfg_if! {
    if #[cfg(miri)] {
        /// The backend [`crate::Fiber`] uses unless told otherwise.
        pub type Native = MiriThreads;
    } else if #[cfg(all(feature = "fallback", windows))] {
        /// The backend [`crate::Fiber`] uses unless told otherwise.
        pub type Native = WindowsFibers;
    } else if #[cfg(all(windows, not(target_arch = "x86_64")))] {
        /// The backend [`crate::Fiber`] uses unless told otherwise.
        pub type Native = WindowsFibers;
    } else if #[cfg(all(feature = "fallback", spindle_ucontext))] {
        /// The backend [`crate::Fiber`] uses unless told otherwise.
        pub type Native = Ucontext;
    } else if #[cfg(spindle_asm)] {
        /// The backend [`crate::Fiber`] uses unless told otherwise.
        pub type Native = Asm;
    } else if #[cfg(spindle_ucontext)] {
        /// The backend [`crate::Fiber`] uses unless told otherwise.
        pub type Native = Ucontext;
    } else {
        /// The backend [`crate::Fiber`] uses unless told otherwise.
        pub type Native = Unsupported;
    }
}

/// Which stack-switching implementation a backend is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// Spindle's own `global_asm!` switch for x86_64 (System V ABI).
    X86_64Asm,
    /// Spindle's own `global_asm!` switch for AArch64 (AAPCS64).
    Aarch64Asm,
    /// Spindle's own `global_asm!` switch for RISC-V 64 (LP64D).
    Riscv64Asm,
    /// Spindle's own `global_asm!` switch for s390x (z/Architecture ELF ABI).
    S390xAsm,
    /// Spindle's own `global_asm!` switch for 32-bit x86 (i386 System V).
    X86Asm,
    /// Spindle's own `global_asm!` switch for 32-bit Arm (AAPCS, ARMv7-A
    /// hard-float; A32 or Thumb-2).
    ArmAsm,
    /// Spindle's own `global_asm!` switch for powerpc64le (ELF V2 ABI).
    Powerpc64Asm,
    /// Spindle's own `global_asm!` switch for LoongArch64 (LP64D).
    Loongarch64Asm,
    /// Spindle's own `global_asm!` switch for x86_64 Windows (Microsoft x64
    /// ABI, TEB stack fields swapped).
    X86_64WindowsAsm,
    /// Windows' own fibers: `CreateFiberEx` / `SwitchToFiber`.
    WindowsFibers,
    /// The operating system's `getcontext`/`makecontext`/`swapcontext`.
    Ucontext,
    /// Under Miri only: each fiber is a thread of its own, and a switch
    /// hands control from one thread to the other.
    MiriThreads,
    /// No way to switch stacks on this target: `Fiber::new` returns
    /// [`crate::Error::Unsupported`].
    Unsupported,
}

impl BackendKind {
    /// A short stable name: `x86_64-asm`, `aarch64-asm`, `riscv64-asm`,
    /// `s390x-asm`, `x86-asm`, `arm-asm`, `powerpc64-asm`, `loongarch64-asm`,
    /// `x86_64-windows-asm`, `windows-fibers`, `ucontext`, `miri-threads` or
    /// `unsupported`.
    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::X86_64Asm => "x86_64-asm",
            BackendKind::Aarch64Asm => "aarch64-asm",
            BackendKind::Riscv64Asm => "riscv64-asm",
            BackendKind::S390xAsm => "s390x-asm",
            BackendKind::X86Asm => "x86-asm",
            BackendKind::ArmAsm => "arm-asm",
            BackendKind::Powerpc64Asm => "powerpc64-asm",
            BackendKind::Loongarch64Asm => "loongarch64-asm",
            BackendKind::X86_64WindowsAsm => "x86_64-windows-asm",
            BackendKind::WindowsFibers => "windows-fibers",
            BackendKind::Ucontext => "ucontext",
            BackendKind::MiriThreads => "miri-threads",
            BackendKind::Unsupported => "unsupported",
        }
    }

    /// Whether this backend is Spindle's hand-written assembly.
    pub const fn is_asm(self) -> bool {
        matches!(
            self,
            BackendKind::X86_64Asm
                | BackendKind::Aarch64Asm
                | BackendKind::Riscv64Asm
                | BackendKind::S390xAsm
                | BackendKind::X86Asm
                | BackendKind::ArmAsm
                | BackendKind::Powerpc64Asm
                | BackendKind::Loongarch64Asm
                | BackendKind::X86_64WindowsAsm
        )
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The entry point a backend starts a fresh fiber in.
///
/// Called on the fiber's stack with the first message from the parent, the
/// backend's control block and the start object that `fiber.rs` placed on the
/// stack. It never returns: its last act is a final `suspend`.
#[cfg(not(miri))]
pub(crate) type EntryFn = unsafe extern "C" fn(msg: *mut u8, control: *mut u8, obj: *mut u8) -> !;
/// The entry point a backend starts a fresh fiber in (see above). Under
/// Miri it may unwind: that is how a finished fiber's thread ends.
#[cfg(miri)]
pub(crate) type EntryFn =
    unsafe extern "C-unwind" fn(msg: *mut u8, control: *mut u8, obj: *mut u8) -> !;

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// A stack-switching implementation. Sealed: the set is [`Asm`] (one per
/// architecture, see the table above), [`Ucontext`] (Linux/glibc),
/// `WindowsFibers`, `MiriThreads` and [`Unsupported`].
///
/// # Safety
///
/// Implementations uphold the contracts written on each method; `fiber.rs`
/// relies on them for memory safety.
pub unsafe trait Backend: Sealed + Sized + 'static {
    /// What this backend is.
    const KIND: BackendKind;

    /// Bytes reserved for the backend's control block at the very top of
    /// every stack. A multiple of 16.
    #[doc(hidden)]
    const CONTROL_SIZE: usize;

    /// Prepares a fresh stack so that the first `resume` calls
    /// `entry(msg, control, obj)` on it.
    ///
    /// Returns the backend's resume handle (for the assembly backend the
    /// fiber's saved stack pointer). Never null: generic code marks a
    /// finished fiber with a null handle.
    ///
    /// # Safety
    ///
    /// `control` is `top - CONTROL_SIZE` of a stack whose usable memory is
    /// `[limit, top)`; `obj` is 16-aligned and lies in `[limit, control]`;
    /// everything below `obj` down to `limit` is free for the fiber to use.
    #[doc(hidden)]
    unsafe fn init(control: *mut u8, limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8;

    /// Switches from the calling (parent) context into the fiber, handing it
    /// `msg`. Returns when the fiber suspends (or finishes), with the message
    /// the fiber handed back; `handle` is updated for the next resume.
    ///
    /// # Safety
    ///
    /// `control`/`handle` come from `init` (and earlier resumes) of a fiber
    /// that is suspended or not yet started, and is not finished.
    #[doc(hidden)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8;

    /// Switches from the running fiber back to the context that resumed it,
    /// handing it `msg`. Returns the message of the next resume.
    ///
    /// # Safety
    ///
    /// Must be called on the stack whose control block is `control`, while
    /// that fiber is the one running.
    #[doc(hidden)]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8;

    /// Whether the caller runs on the fiber whose control block is
    /// `control`, given an address `sp` on the running stack and the
    /// fiber's stack `[limit, limit + size)`. Backends that run fibers on
    /// another stack than the one given (Win32 Fibers) ask the OS instead.
    #[doc(hidden)]
    #[inline(always)]
    fn runs_on(control: *mut u8, sp: usize, limit: usize, size: usize) -> bool {
        let _ = control;
        sp.wrapping_sub(limit) < size
    }

    /// Frees what the backend holds for a fiber that is finished or was
    /// never started, just before its stack is given back or dropped.
    ///
    /// # Safety
    ///
    /// `control` comes from `init`; nothing switches to that fiber again.
    #[doc(hidden)]
    #[inline(always)]
    unsafe fn release(control: *mut u8) {
        let _ = control;
    }
}

/// The backend compiled in as [`Native`]: what `Fiber::new` uses.
///
/// ```
/// println!("fibers switch with {}", spindle_fiber::backend());
/// ```
pub fn backend() -> BackendKind {
    Native::KIND
}
