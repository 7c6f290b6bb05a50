//! The portable Windows backend: Windows' own fibers (`CreateFiberEx`,
//! `SwitchToFiber`), on the same thread.
//!
//! Windows' fallback as ucontext is Linux's: slower than the assembly (each
//! `SwitchToFiber` saves and restores the whole non-volatile set, FP state
//! included with `FIBER_FLAG_FLOAT_SWITCH`, and the TEB's stack fields) but
//! correct on every Windows architecture, so it is the native backend where
//! Spindle has no Windows assembly (aarch64-pc-windows-msvc) and the one the
//! feature `fallback` forces on x86_64 Windows.
//!
//! # Where the fiber runs
//!
//! A Win32 fiber always runs on a stack Windows allocates for it
//! (`CreateFiberEx` reserves as many bytes as the [`FiberStack`] given to
//! [`Fiber::with_stack`](crate::Fiber::with_stack) has, so the depth a fiber
//! can reach is the same); Windows offers no way to run one on caller
//! memory. The given stack holds only the control block below and the start
//! object. Stack overflows are Windows' own thread-style ones, reported by
//! [`install_overflow_handler`](crate::install_overflow_handler) through
//! the thread-local set while one of these fibers runs.
//!
//! # The thread
//!
//! Only a fiber can switch to a fiber, so `resume` converts a plain thread
//! with `ConvertThreadToFiberEx` for the length of the switch and back
//! afterwards (as wasmtime's own fibers do), and uses the current fiber
//! when the caller already is one (nested fibers, a thread someone else
//! converted).
//!
//! ```text
//!        top ──► +--------------------------+
//!                | Control                  |  fiber, parent, transfer,
//!                |                          |  entry, obj
//!    control ──► +--------------------------+  (16-aligned)
//!                ~ start object             ~  placed by fiber.rs
//!        obj ──► +--------------------------+
//!                ~ unused                   ~  the fiber runs on its own
//!      limit ──► +--------------------------+  Windows-allocated stack
//! ```
//!
//! [`FiberStack`]: crate::FiberStack

use core::cell::Cell;
use core::ffi::c_void;
use core::mem;
use core::ptr;

use super::{Backend, BackendKind, EntryFn, Sealed};
use crate::sys::windows::*;

/// Windows' own fibers.
#[derive(Debug)]
pub enum WindowsFibers {}

impl Sealed for WindowsFibers {}

#[repr(C)]
struct Control {
    /// The Win32 fiber running this Spindle fiber.
    fiber: *mut c_void,
    /// The fiber that resumed it (a converted thread or another fiber).
    parent: *mut c_void,
    /// The message of the switch in progress.
    transfer: *mut u8,
    entry: EntryFn,
    obj: *mut u8,
}

const _: () = assert!(mem::align_of::<Control>() <= 16);

thread_local! {
    /// How many of this backend's fibers are running on this thread (nested
    /// ones count each): the overflow handler's way of knowing that a stack
    /// overflow is a fiber's.
    static RUNNING: Cell<usize> = const { Cell::new(0) };
}

/// Whether one of this backend's fibers is running on this thread.
pub(crate) fn running() -> bool {
    RUNNING.with(|r| r.get() != 0)
}

/// `GetCurrentFiber`, a header-only inline in the SDK: `NT_TIB.FiberData`.
#[inline(always)]
fn current_fiber() -> *mut c_void {
    let fiber: *mut c_void;
    // SAFETY: the TEB is at gs: (x86_64) or x18 (aarch64) on Windows, and
    // NT_TIB.FiberData is its word at 0x20; a plain read.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("mov {}, qword ptr gs:[0x20]", out(reg) fiber, options(nostack, readonly, preserves_flags));
        #[cfg(target_arch = "aarch64")]
        core::arch::asm!("ldr {}, [x18, #0x20]", out(reg) fiber, options(nostack, readonly, preserves_flags));
    }
    fiber
}

unsafe extern "system" fn start(parameter: *mut c_void) {
    let control = parameter as *mut Control;
    // SAFETY: `init` passed its complete Control block, and `resume` stored
    // the first message in `transfer` before switching here. The entry
    // function never returns (its last act is a final suspend), so this
    // start routine never returns either, as Windows requires of fibers.
    unsafe {
        let c = &*control;
        (c.entry)(c.transfer, control.cast(), c.obj)
    }
}

// SAFETY: each method keeps the Control block consistent as described in the
// module docs; `fiber.rs` guarantees the calling contexts in `Backend`.
unsafe impl Backend for WindowsFibers {
    const KIND: BackendKind = BackendKind::WindowsFibers;
    const CONTROL_SIZE: usize = (mem::size_of::<Control>() + 15) & !15;

    unsafe fn init(control: *mut u8, limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        let c = control as *mut Control;
        let reserve = control as usize + Self::CONTROL_SIZE - limit as usize;
        // SAFETY: the caller gives us CONTROL_SIZE bytes at `control`; the
        // fiber's parameter is that block, which outlives it (`release`
        // deletes the fiber before the stack is given back).
        unsafe {
            let fiber = CreateFiberEx(0, reserve, FIBER_FLAG_FLOAT_SWITCH, start, c.cast());
            if fiber.is_null() {
                crate::abort_with(&format!(
                    "spindle-fiber: CreateFiberEx failed: {}",
                    std::io::Error::last_os_error()
                ));
            }
            c.write(Control {
                fiber,
                parent: ptr::null_mut(),
                transfer: ptr::null_mut(),
                entry,
                obj,
            });
        }
        // Never null (a null handle marks a finished fiber); unused otherwise.
        control
    }

    #[inline]
    unsafe fn resume(control: *mut u8, _handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let c = control as *mut Control;
        // SAFETY: `control` is the live Control block of a suspended fiber;
        // the thread is a fiber for the whole switch (converted here if it
        // was not), as SwitchToFiber requires.
        unsafe {
            let converted = IsThreadAFiber() == 0;
            if converted
                && ConvertThreadToFiberEx(ptr::null_mut(), FIBER_FLAG_FLOAT_SWITCH).is_null()
            {
                crate::abort_with(&format!(
                    "spindle-fiber: ConvertThreadToFiberEx failed: {}",
                    std::io::Error::last_os_error()
                ));
            }
            (*c).parent = current_fiber();
            (*c).transfer = msg;
            RUNNING.with(|r| r.set(r.get() + 1));
            SwitchToFiber((*c).fiber);
            RUNNING.with(|r| r.set(r.get() - 1));
            if converted {
                ConvertFiberToThread();
            }
            (*c).transfer
        }
    }

    #[inline]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        let c = control as *mut Control;
        // SAFETY: we run on this Control block's fiber, so `parent` is the
        // fiber that resumed us and is waiting in `resume`.
        unsafe {
            (*c).transfer = msg;
            SwitchToFiber((*c).parent);
            (*c).transfer
        }
    }

    #[inline]
    fn runs_on(control: *mut u8, _sp: usize, _limit: usize, _size: usize) -> bool {
        // SAFETY: the control block lives as long as the suspender that asks.
        current_fiber() == unsafe { (*(control as *mut Control)).fiber }
    }

    unsafe fn release(control: *mut u8) {
        // SAFETY: the fiber is finished or was never started, so it is not
        // running, and nothing switches to it again.
        unsafe { DeleteFiber((*(control as *mut Control)).fiber) }
    }
}
