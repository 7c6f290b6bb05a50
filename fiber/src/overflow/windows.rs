//! The vectored exception handler behind `install_overflow_handler` on
//! Windows.
//!
//! A fiber that overflows a Windows [`Stack`](crate::Stack) runs its guard
//! page down to the reserve above the hard guard, and Windows (or Wine)
//! raises `STATUS_STACK_OVERFLOW` on the fiber's stack, with the TEB still
//! describing that stack (the assembly backend keeps it so). A stack whose
//! guard is plain inaccessible memory ([`RawStack`](crate::RawStack) over a
//! pooling allocator's slot) faults with an access violation in the guard
//! instead. std's own handler would call either a thread overflow ("thread
//! 'main' has overflowed its stack") or report nothing; this one runs first
//! and names the fiber.

use core::ffi::c_void;
use core::sync::atomic::Ordering;
use std::sync::Mutex;

use super::{CURRENT_GUARD, INSTALLED, is_fiber_guard};
use crate::Error;
use crate::sys::windows::*;

/// Installs (once per process) a vectored exception handler, first in the
/// chain, that reports a fiber stack overflow as `fiber stack overflow` on
/// stderr and aborts. Every other exception goes on to the next handler
/// untouched (`EXCEPTION_CONTINUE_SEARCH`): std's, wasmtime's, SEH frames.
///
/// Windows runs the handler on the overflowed stack itself, in the reserve
/// the OS keeps for that (at least two pages above the hard guard), so it
/// only reads atomics and a thread-local and calls `WriteFile`.
pub fn install_overflow_handler() -> Result<(), Error> {
    static LOCK: Mutex<bool> = Mutex::new(false);
    let mut done = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        // SAFETY: registering a handler with the right signature; it is
        // never removed, so it stays valid for the life of the process.
        let handle = unsafe { AddVectoredExceptionHandler(1, handler) };
        if handle.is_null() {
            return Err(Error::Signal(std::io::Error::last_os_error()));
        }
        INSTALLED.store(true, Ordering::SeqCst);
        *done = true;
    }
    Ok(())
}

/// The TEB's DeallocationStack: the bottom of the stack that is running.
#[cfg(target_arch = "x86_64")]
fn deallocation_stack() -> usize {
    let value: usize;
    // SAFETY: gs: points at the running thread's TEB on x86_64 Windows;
    // reading one of its fields has no side effect.
    unsafe {
        core::arch::asm!("mov {}, qword ptr gs:[0x1478]", out(reg) value, options(nostack, readonly, preserves_flags))
    };
    value
}

#[cfg(not(target_arch = "x86_64"))]
fn deallocation_stack() -> usize {
    0
}

/// Whether a stack overflow exception is a fiber's: a Win32 fiber of the
/// `WindowsFibers` backend is running on this thread, or the TEB's stack is one
/// whose hard guard is registered (a Windows `Stack` registers
/// `[DeallocationStack, limit)`), or the running tracked fiber's guard ends
/// where the TEB's stack begins.
fn overflowed_stack_is_a_fiber() -> bool {
    if crate::backend::windows_fibers::running() {
        return true;
    }
    let bottom = deallocation_stack();
    if bottom == 0 {
        return false;
    }
    let (start, end) = CURRENT_GUARD.with(|g| g.get());
    is_fiber_guard(bottom) || (start < end && (start..=end).contains(&bottom))
}

unsafe extern "system" fn handler(info: *mut ExceptionPointers) -> i32 {
    // SAFETY: Windows passes valid exception pointers to a vectored handler.
    let record = unsafe { &*(*info).record };
    let fiber = match record.code {
        EXCEPTION_STACK_OVERFLOW => overflowed_stack_is_a_fiber(),
        EXCEPTION_ACCESS_VIOLATION | EXCEPTION_GUARD_PAGE => {
            record.parameter_count >= 2 && is_fiber_guard(record.information[1])
        }
        _ => false,
    };
    if fiber {
        const MESSAGE: &[u8] = b"\nthread has overflowed a fiber stack (hit the guard page of the \
running spindle-fiber Fiber)\nfatal runtime error: fiber stack overflow, aborting\n";
        // SAFETY: WriteFile on the process's stderr handle with a static
        // buffer; a failure only loses the message.
        unsafe {
            let mut written = 0u32;
            WriteFile(
                GetStdHandle(STD_ERROR_HANDLE),
                MESSAGE.as_ptr(),
                MESSAGE.len() as u32,
                &mut written,
                core::ptr::null_mut::<c_void>(),
            );
        }
        std::process::abort();
    }
    EXCEPTION_CONTINUE_SEARCH
}
