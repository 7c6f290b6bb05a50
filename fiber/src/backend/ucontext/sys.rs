//! The C library's context functions and `ucontext_t`, for every glibc
//! target this crate knows the layout of.
//!
//! The `libc` crate declares `getcontext`/`makecontext`/`swapcontext` only
//! for some architectures (x86, x86_64, aarch64, powerpc64, s390x in 0.2.191);
//! those are re-exported as they are. For the others the three functions are
//! declared here, with a `ucontext_t` that is opaque except for the prefix
//! this backend writes (`uc_link`, `uc_stack`): glibc lays out
//! `uc_flags, uc_link, uc_stack` first on every Linux architecture, and
//! `stack_t` itself comes from `libc`, which has its field order right per
//! target (MIPS swaps `ss_size` and `ss_flags`).
//!
//! Size and alignment are those of the target's glibc headers
//! (`<sys/ucontext.h>`). They are not guessed: `tests/ucontext-layout`
//! compiles a C file with the target's cross gcc and compares its
//! `sizeof`/`_Alignof`/`offsetof` with [`LAYOUT`], for the re-exported
//! `libc` types as well as for ours. A target with no entry here has no
//! ucontext backend (it gets `Unsupported`) rather than a guessed layout.

/// `(size, align, offset of uc_link, offset of uc_stack)` of `ucontext_t`
/// as this module declares (or re-exports) it.
pub const LAYOUT: (usize, usize, usize, usize) = (
    core::mem::size_of::<ucontext_t>(),
    core::mem::align_of::<ucontext_t>(),
    core::mem::offset_of!(ucontext_t, uc_link),
    core::mem::offset_of!(ucontext_t, uc_stack),
);

cfg_if::cfg_if! {
    if #[cfg(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "powerpc64",
        target_arch = "s390x",
    ))] {
        pub(crate) use libc::{getcontext, makecontext, swapcontext, ucontext_t};
    } else {
        /// glibc's `sizeof(ucontext_t)` and `_Alignof(ucontext_t)` for this
        /// target, from its `<sys/ucontext.h>` (checked by
        /// `tests/ucontext-layout`).
        #[cfg(target_arch = "riscv64")]
        const SIZE_ALIGN: (usize, usize) = (RISCV64_SIZE, 16);
        #[cfg(target_arch = "arm")]
        const SIZE_ALIGN: (usize, usize) = (ARM_SIZE, 8);

        /// riscv64 (LP64D): 1024-bit signal mask, then `mcontext_t` with the
        /// Q-extension floating-point area, which is 16-aligned.
        #[cfg(target_arch = "riscv64")]
        const RISCV64_SIZE: usize = 960;
        /// armv7 (EABI hard-float): `uc_regspace` for VFP/iWMMXt state
        /// follows the signal mask and holds `unsigned long long`s, so 8-aligned.
        #[cfg(target_arch = "arm")]
        const ARM_SIZE: usize = 744;

        const HEAD_SIZE: usize = core::mem::size_of::<Head>();

        #[repr(C)]
        struct Head {
            uc_flags: libc::c_ulong,
            uc_link: *mut ucontext_t,
            uc_stack: libc::stack_t,
        }

        /// glibc's `ucontext_t`, opaque past the fields this backend sets.
        #[repr(C)]
        #[cfg_attr(target_arch = "riscv64", repr(align(16)))]
        #[cfg_attr(target_arch = "arm", repr(align(8)))]
        #[allow(non_camel_case_types)]
        pub(crate) struct ucontext_t {
            uc_flags: libc::c_ulong,
            pub(crate) uc_link: *mut ucontext_t,
            pub(crate) uc_stack: libc::stack_t,
            /// Machine context, signal mask and padding: written and read by
            /// glibc only.
            rest: [u8; SIZE_ALIGN.0 - HEAD_SIZE],
        }

        const _: () = assert!(core::mem::size_of::<ucontext_t>() == SIZE_ALIGN.0);
        const _: () = assert!(core::mem::align_of::<ucontext_t>() == SIZE_ALIGN.1);

        // SAFETY (for callers): glibc's declarations from <ucontext.h>, with
        // the ucontext_t above standing in for glibc's (same size, alignment
        // and prefix; see the module docs).
        unsafe extern "C" {
            pub(crate) fn getcontext(ucp: *mut ucontext_t) -> libc::c_int;
            pub(crate) fn makecontext(ucp: *mut ucontext_t, func: extern "C" fn(), argc: libc::c_int, ...);
            pub(crate) fn swapcontext(oucp: *mut ucontext_t, ucp: *const ucontext_t) -> libc::c_int;
        }
    }
}
