//! The unix signal handler behind `install_overflow_handler`.

use core::mem;
use core::ptr;
use core::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};

use super::{INSTALLED, is_fiber_guard};
use crate::Error;

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// The actions that were installed before ours, in `SIGNALS` order.
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();

/// Installs (once per process) a SIGSEGV/SIGBUS handler that reports a fiber
/// stack overflow as `fiber stack overflow` on stderr and aborts, and passes
/// every other fault to the handler that was installed before it.
///
/// Also gives the calling thread an alternate signal stack if it has none: a
/// handler for stack overflows cannot run on the overflowed stack. Every
/// other thread gets one, if it has none, when it creates its first fiber
/// after this call (threads that std starts in a Rust program already have
/// one; threads of a C host, or std threads in a library loaded by one,
/// where std's start-up never ran, do not). A fiber created before the
/// handler was installed on a thread that has none reports its overflow as
/// a plain SIGSEGV. Each such alternate stack has a guard page below it and
/// is unmapped when its thread exits.
///
/// Install it after any other library that installs fault handlers without
/// chaining (wasmtime chains, so either order works with it).
pub fn install_overflow_handler() -> Result<(), Error> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if PREVIOUS.get().is_none() {
        // SAFETY: sigaction structs are plain data; zeroed is a valid
        // "no handler" value that sigaction overwrites.
        let mut previous: [libc::sigaction; 2] = unsafe { mem::zeroed() };
        for (signal, old) in SIGNALS.iter().zip(previous.iter_mut()) {
            // SAFETY: querying the current action has no preconditions.
            if unsafe { libc::sigaction(*signal, ptr::null(), old) } != 0 {
                return Err(Error::Signal(std::io::Error::last_os_error()));
            }
        }
        // Publish the previous actions before the handler can need them.
        let previous = PREVIOUS.get_or_init(|| previous);
        for (signal, old) in SIGNALS.iter().zip(previous.iter()) {
            // SAFETY: a zeroed sigaction with the fields we need set is a
            // valid argument; the handler is async-signal-safe (it reads
            // atomics, a const thread-local Cell and a OnceLock, and calls write/abort or the
            // previous handler).
            unsafe {
                let mut action: libc::sigaction = mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(*signal, &action, ptr::null_mut()) != 0 {
                    let err = std::io::Error::last_os_error();
                    libc::sigaction(*signal, old, ptr::null_mut());
                    return Err(Error::Signal(err));
                }
            }
        }
        INSTALLED.store(true, Ordering::SeqCst);
    }
    ensure_alternate_stack()
}

/// Readies the calling thread for the handler once the handler is
/// installed: an alternate signal stack, and the running-fiber thread-local
/// touched so that the handler's first read of it on this thread does not
/// allocate (it may in a `dlopen`ed library or on macOS). Called by fiber
/// creation; one thread-local read after the first time.
pub(crate) fn prepare_thread() -> Result<(), Error> {
    thread_local! {
        static READY: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    }
    if READY.with(|r| r.get()) {
        return Ok(());
    }
    ensure_alternate_stack()?;
    super::touch_current_guard();
    READY.with(|r| r.set(true));
    Ok(())
}

/// An alternate signal stack this crate mapped: `[guard page | stack]`.
struct AltStack {
    base: *mut libc::c_void,
    total: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: the thread is exiting (thread-local destructor); switching
        // the alternate stack off first means no signal can land on memory
        // we unmap. The mapping is ours.
        unsafe {
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&off, ptr::null_mut());
            libc::munmap(self.base, self.total);
        }
    }
}

thread_local! {
    /// The alternate stack this crate gave this thread, if any.
    static ALT_STACK: core::cell::Cell<Option<AltStack>> = const { core::cell::Cell::new(None) };
}

fn ensure_alternate_stack() -> Result<(), Error> {
    // SAFETY: sigaltstack with a null new stack only reads the current one.
    unsafe {
        let mut current: libc::stack_t = mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut current) != 0 {
            return Err(Error::Signal(std::io::Error::last_os_error()));
        }
        if current.ss_flags & libc::SS_DISABLE == 0 {
            return Ok(());
        }
    }
    let page = crate::sys::page_size();
    let size = libc::SIGSTKSZ.max(64 * 1024).next_multiple_of(page);
    let total = size + page;
    // SAFETY: a fresh anonymous mapping; its lowest page becomes the guard
    // (a handler that overflows the alternate stack faults there instead of
    // writing below it); we check every result and unmap on failure.
    unsafe {
        let base = libc::mmap(
            ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            return Err(Error::Signal(std::io::Error::last_os_error()));
        }
        let stack = libc::stack_t {
            ss_sp: base.cast::<u8>().add(page).cast(),
            ss_flags: 0,
            ss_size: size,
        };
        if libc::mprotect(base, page, libc::PROT_NONE) != 0
            || libc::sigaltstack(&stack, ptr::null_mut()) != 0
        {
            let err = std::io::Error::last_os_error();
            libc::munmap(base, total);
            return Err(Error::Signal(err));
        }
        // Unmapped by its destructor when the thread exits.
        ALT_STACK.with(|slot| slot.set(Some(AltStack { base, total })));
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn fault_address(info: *mut libc::siginfo_t) -> usize {
    // SAFETY: the kernel passes a valid siginfo for SIGSEGV/SIGBUS.
    unsafe { (*info).si_addr() as usize }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
unsafe fn fault_address(info: *mut libc::siginfo_t) -> usize {
    // SAFETY: the kernel passes a valid siginfo for SIGSEGV/SIGBUS.
    unsafe { (*info).si_addr as usize }
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: called by the kernel with a valid siginfo.
    let address = unsafe { fault_address(info) };
    if is_fiber_guard(address) {
        const MESSAGE: &[u8] = b"\nthread has overflowed a fiber stack (hit the guard page of the \
running spindle-fiber Fiber)\nfatal runtime error: fiber stack overflow, aborting\n";
        // SAFETY: write and abort are async-signal-safe.
        unsafe {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::abort();
        }
    }
    chain(signal, info, context);
}

/// Does for this fault what the previously installed action would have done.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = if signal == libc::SIGSEGV { 0 } else { 1 };
    let Some(previous) = PREVIOUS.get() else {
        return;
    };
    let previous = &previous[index];
    let action = previous.sa_sigaction;
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction
        // runs again and the fault now kills the process as it would have.
        // SAFETY: resetting an action is always allowed.
        unsafe {
            let mut default: libc::sigaction = mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(signal, &default, ptr::null_mut());
        }
    } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO, sa_sigaction is a three-argument handler.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                mem::transmute(action);
            f(signal, info, context);
        }
    } else {
        // SAFETY: without SA_SIGINFO, sa_sigaction is a one-argument handler.
        unsafe {
            let f: extern "C" fn(libc::c_int) = mem::transmute(action);
            f(signal);
        }
    }
}
