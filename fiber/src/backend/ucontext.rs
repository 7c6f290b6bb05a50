//! The portable backend: the C library's `getcontext`/`makecontext`/
//! `swapcontext`, on the same thread.
//!
//! Slow (glibc's `swapcontext` makes a `rt_sigprocmask` system call on every
//! switch, about 150x the assembly backend) but correct on every architecture
//! glibc supports whose `ucontext_t` layout `sys` knows, which makes it both
//! the fallback for targets without Spindle assembly and the reference the
//! assembly is tested against.
//!
//! Both contexts and the message in flight live in a control block at the top
//! of the fiber stack, so creating a fiber allocates nothing:
//!
//! ```text
//!        top ──► +--------------------------+
//!                | Control                  |
//!                |   parent: ucontext_t     |  saved by resume
//!                |   fiber:  ucontext_t     |  saved by suspend
//!                |   transfer, entry, obj   |
//!    control ──► +--------------------------+  (16-aligned)
//!                ~ start object             ~  placed by fiber.rs
//!        obj ──► +--------------------------+
//!                ~ stack given to           ~  makecontext's uc_stack
//!                ~ makecontext              ~
//!      limit ──► +--------------------------+
//! ```

use core::mem;
use core::ptr;

use super::{Backend, BackendKind, EntryFn, Sealed};

mod sys;
#[doc(hidden)]
pub use sys::LAYOUT;

/// The C library's `ucontext` functions.
#[derive(Debug)]
pub enum Ucontext {}

impl Sealed for Ucontext {}

#[repr(C)]
struct Control {
    parent: sys::ucontext_t,
    fiber: sys::ucontext_t,
    /// The message of the switch in progress.
    transfer: *mut u8,
    entry: EntryFn,
    obj: *mut u8,
}

const _: () = assert!(mem::align_of::<Control>() <= 16);

/// `makecontext` passes only `int` arguments, so the control block's address
/// travels as two 32-bit halves.
extern "C" fn start(hi: u32, lo: u32) {
    let control = ((u64::from(hi) << 32) | u64::from(lo)) as usize as *mut Control;
    // SAFETY: `init` wrote a complete Control at this address, and `resume`
    // stored the first message in `transfer` before switching here.
    unsafe {
        let c = &*control;
        (c.entry)(c.transfer, control.cast(), c.obj)
    }
}

/// Called right before every `swapcontext`. glibc's powerpc64
/// `swapcontext` stores all vector registers into the context it saves, but
/// loads them from the context it switches to only if that context's saved
/// VRSAVE is non-zero (VRSAVE read as the AltiVec-era mask of live vector
/// registers). Code for the ELF V2 ABI never sets VRSAVE (the ABI reserves
/// it for the system), so it is 0 there, and v20–v31, which ELF V2 makes
/// non-volatile, would come back holding the other side's values. With
/// VRSAVE all ones when a context is saved, the switch back to it restores
/// every vector register. (`tests/all/audit_abi.rs` leaves VRSAVE alone and
/// checks v20–v31 on this backend too.)
#[inline(always)]
fn mark_vector_registers_live() {
    #[cfg(target_arch = "powerpc64")]
    // SAFETY: writes only r0 (declared) and VRSAVE, which compiled ELF V2
    // code neither reads nor writes; no memory, stack or flags touched.
    unsafe {
        core::arch::asm!(
            "li 0, -1",
            "mtvrsave 0",
            out("r0") _,
            options(nomem, nostack, preserves_flags)
        );
    }
}

fn check(rc: libc::c_int, what: &str) {
    if rc != 0 {
        // A failing context call leaves no consistent state to unwind into.
        crate::abort_with(&format!(
            "spindle-fiber: {what} failed: {}",
            std::io::Error::last_os_error()
        ));
    }
}

// SAFETY: each method keeps the Control block consistent as described in the
// module docs; `fiber.rs` guarantees the calling contexts in `Backend`.
unsafe impl Backend for Ucontext {
    const KIND: BackendKind = BackendKind::Ucontext;
    const CONTROL_SIZE: usize = (mem::size_of::<Control>() + 15) & !15;

    unsafe fn init(control: *mut u8, limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        let c = control as *mut Control;
        // SAFETY: the caller gives us CONTROL_SIZE bytes at `control`
        // (aligned to 16) and the memory [limit, obj) as the fiber's stack.
        // The ucontexts are initialised in place because glibc stores
        // pointers into the structure itself (uc_mcontext.fpregs).
        unsafe {
            ptr::write_bytes(c as *mut u8, 0, mem::size_of::<Control>());
            ptr::addr_of_mut!((*c).entry).write(entry);
            ptr::addr_of_mut!((*c).obj).write(obj);
            let fiber = ptr::addr_of_mut!((*c).fiber);
            check(sys::getcontext(fiber), "getcontext");
            (*fiber).uc_stack.ss_sp = limit.cast();
            (*fiber).uc_stack.ss_size = obj as usize - limit as usize;
            (*fiber).uc_stack.ss_flags = 0;
            (*fiber).uc_link = ptr::null_mut();
            let addr = c as usize as u64;
            let start: extern "C" fn(u32, u32) = start;
            sys::makecontext(
                fiber,
                mem::transmute::<extern "C" fn(u32, u32), extern "C" fn()>(start),
                2,
                (addr >> 32) as u32,
                addr as u32,
            );
        }
        // Not used to switch (the contexts live in the control block), but
        // never null: a null handle marks a finished fiber.
        control
    }

    #[inline]
    unsafe fn resume(control: *mut u8, _handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let c = control as *mut Control;
        // SAFETY: `control` is a live Control block of a suspended fiber.
        unsafe {
            (*c).transfer = msg;
            mark_vector_registers_live();
            check(
                sys::swapcontext(ptr::addr_of_mut!((*c).parent), ptr::addr_of!((*c).fiber)),
                "swapcontext (resume)",
            );
            (*c).transfer
        }
    }

    #[inline]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        let c = control as *mut Control;
        // SAFETY: we run on this Control block's fiber, so `parent` holds the
        // context that resumed us.
        unsafe {
            (*c).transfer = msg;
            mark_vector_registers_live();
            check(
                sys::swapcontext(ptr::addr_of_mut!((*c).fiber), ptr::addr_of!((*c).parent)),
                "swapcontext (suspend)",
            );
            (*c).transfer
        }
    }
}
