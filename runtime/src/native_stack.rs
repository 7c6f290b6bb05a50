//! How much native stack the calling thread has left, checked before a
//! synchronous call enters wasm.
//!
//! wasmtime lets wasm use up to `max_wasm_stack` bytes of the *calling
//! thread's* stack. On a thread whose stack is smaller than that, a deep
//! plugin runs past the thread's guard page instead of wasmtime's limit and
//! the process aborts ("thread has overflowed its stack"). The check turns
//! that into an error naming both sizes.

use std::cell::Cell;

/// Native stack left for host code below the deepest wasm frame: the host
/// functions the plugin calls and wasmtime's trampolines run there.
pub(crate) const HOST_RESERVE: usize = 128 << 10;

thread_local! {
    /// Lowest usable address of this thread's stack; 0 = not known yet,
    /// `usize::MAX` = cannot be known on this platform.
    static STACK_LOW: Cell<usize> = const { Cell::new(0) };
}

/// Bytes of native stack left below the caller's frame, or `None` where the
/// platform does not say.
#[inline]
pub(crate) fn remaining() -> Option<usize> {
    let low = STACK_LOW.with(|c| {
        if c.get() == 0 {
            c.set(stack_low().unwrap_or(usize::MAX));
        }
        c.get()
    });
    if low == usize::MAX {
        return None;
    }
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    Some(here.saturating_sub(low))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn stack_low() -> Option<usize> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    let mut addr: *mut libc::c_void = std::ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: pthread_getattr_np initialises `attr` for the calling thread
    // when it returns 0; only then is it read (pthread_attr_getstack) and
    // destroyed, exactly once. `addr` and `size` are valid out-pointers.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        ok.then_some(addr as usize)
    }
}

#[cfg(target_os = "macos")]
fn stack_low() -> Option<usize> {
    // SAFETY: both functions only read the calling thread's own descriptor;
    // the stack address they return is the *top* (highest address).
    unsafe {
        let me = libc::pthread_self();
        let top = libc::pthread_get_stackaddr_np(me) as usize;
        let size = libc::pthread_get_stacksize_np(me);
        top.checked_sub(size)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
fn stack_low() -> Option<usize> {
    None
}
