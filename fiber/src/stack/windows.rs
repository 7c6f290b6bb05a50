//! Windows stacks: reserved whole, grown by Windows on demand.
//!
//! ```text
//!    top ──► +-----------------------+  base + page + size  (TEB StackBase)
//!            | committed (2 pages)   |  the control block lives here
//! StackLimit +-----------------------+  (TEB StackLimit: lowest committed)
//!            | PAGE_GUARD page       |  a touch commits it and moves the
//!            +-----------------------+  guard one page down
//!            ~ reserved only         ~  committed page by page as it grows
//!  limit ──► +-----------------------+  base + page
//!            | hard guard (reserved, |  never committed: Windows and Wine
//!            | never committed)      |  raise STATUS_STACK_OVERFLOW before
//!   base ──► +-----------------------+  the guard gets here (TEB DeallocationStack)
//! ```
//!
//! This is the layout of a thread stack, so Windows' guard-page growth,
//! `__chkstk`'s page probes and the exception dispatcher (which checks every
//! frame against the TEB's StackLimit..StackBase) treat a fiber's stack as
//! they would a thread's, as long as the TEB describes it while the fiber
//! runs. The assembly backend swaps those TEB fields on every switch.
//!
//! # The words a stack keeps for the TEB
//!
//! Windows moves StackLimit (and GuaranteedStackBytes, via
//! `SetThreadStackGuarantee`) while a fiber runs. A stack that is reused for
//! another fiber must start from the values the last fiber left, not the
//! ones it was made with: StackLimit too high makes the exception dispatcher
//! reject the deeper (already committed) frames; too low makes MSVC's
//! `__chkstk` skip probes over the guard page. So the top words of every
//! Windows `Stack` hold them, below a tag that says a `Stack` wrote them:
//!
//! ```text
//!   top - 8    tag = top ^ DeallocationStack ^ TAG_KEY
//!   top - 16   DeallocationStack
//!   top - 24   StackLimit              written back on every suspend
//!   top - 32   GuaranteedStackBytes    written back on every suspend
//! ```
//!
//! These four words are part of the x86_64 Windows backend's control block
//! (`backend/x86_64_windows.rs`), which overlays the top of the stack and
//! never rewrites them when a new fiber starts on it. Stacks not made here
//! ([`RawStack`](crate::RawStack), user stacks) carry no tag: a fiber on one
//! starts with StackLimit = DeallocationStack = `limit()`, i.e. the whole
//! usable range is taken as committed, which is right for heap buffers and
//! pooling allocators that commit their stacks.

// The TEB words are the x86_64 assembly backend's; Win32 Fibers keep their own.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use core::ffi::c_void;
use core::ptr::{self, NonNull};

use super::Stack;
use crate::Error;
use crate::sys::windows::*;

/// Windows' page size on every architecture it runs on.
pub(crate) const PAGE: usize = 4096;
/// Pages committed at the top of a fresh stack (the rest is committed on
/// demand through the guard page).
const COMMITTED_PAGES: usize = 2;
/// Mixed into the tag so that zeroed or stray memory never passes for it.
const TAG_KEY: usize = 0x5350_494e_444c_4531; // "SPINDLE1"

pub(crate) const TAG_FROM_TOP: usize = 8;
pub(crate) const DEALLOCATION_FROM_TOP: usize = 16;
pub(crate) const STACK_LIMIT_FROM_TOP: usize = 24;
pub(crate) const GUARANTEED_FROM_TOP: usize = 32;

/// What a fiber starting on a stack puts in the TEB's stack fields (besides
/// StackBase, which is the stack's top).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TebStack {
    pub(crate) stack_limit: usize,
    pub(crate) deallocation: usize,
    pub(crate) guaranteed: usize,
}

/// The TEB words kept at the top of the stack `[limit, top)`: a `Stack`'s
/// own (tagged, checked for sanity), or the committed-memory defaults.
///
/// # Safety
///
/// `[top - 32, top)` is readable memory of the stack.
#[inline]
pub(crate) unsafe fn teb_stack(top: usize, limit: usize) -> TebStack {
    // SAFETY: the caller vouches for the four words below top.
    let word = |from_top: usize| unsafe { ((top - from_top) as *const usize).read() };
    let (tag, deallocation) = (word(TAG_FROM_TOP), word(DEALLOCATION_FROM_TOP));
    let (stack_limit, guaranteed) = (word(STACK_LIMIT_FROM_TOP), word(GUARANTEED_FROM_TOP));
    if tag == top ^ deallocation ^ TAG_KEY
        && deallocation < limit
        && (deallocation..top).contains(&stack_limit)
        && guaranteed < top - deallocation
    {
        TebStack {
            stack_limit,
            deallocation,
            guaranteed,
        }
    } else {
        TebStack {
            stack_limit: limit,
            deallocation: limit,
            guaranteed: 0,
        }
    }
}

/// Makes `[down_to, top)` of a tagged stack committed memory (with the guard
/// page moved below it) if it is not yet, so that the parent can write a
/// large start object there: a guard page touched by a thread whose TEB does
/// not describe that stack is not grown but raises
/// STATUS_GUARD_PAGE_VIOLATION. Returns the new StackLimit.
///
/// # Safety
///
/// `teb` was read by `teb_stack` from the tagged `Stack` whose top is `top`,
/// and no fiber runs on it.
#[cold]
pub(crate) unsafe fn commit_down_to(teb: TebStack, down_to: usize) -> Result<usize, Error> {
    let new_limit = down_to & !(PAGE - 1);
    if new_limit >= teb.stack_limit {
        return Ok(teb.stack_limit);
    }
    // The bottom page and the two above it are Windows' overflow reserve:
    // never commit into the hard guard.
    if new_limit < teb.deallocation + PAGE {
        return Err(Error::BadStack {
            reason: "start object reaches the stack's hard guard",
        });
    }
    // SAFETY: [new_limit, stack_limit) lies in the stack's reservation; a
    // commit of reserved or guard pages with PAGE_READWRITE is what Windows
    // does itself when the stack grows.
    unsafe {
        let len = teb.stack_limit - new_limit;
        if VirtualAlloc(new_limit as *mut c_void, len, MEM_COMMIT, PAGE_READWRITE).is_null() {
            return Err(Error::StackAllocation(std::io::Error::last_os_error()));
        }
        let guard = new_limit - PAGE;
        if guard >= teb.deallocation + PAGE {
            // Best effort: without it the stack simply stops growing there
            // and a deeper touch is an access violation in reserved memory.
            VirtualAlloc(
                guard as *mut c_void,
                PAGE,
                MEM_COMMIT,
                PAGE_READWRITE | PAGE_GUARD,
            );
        }
    }
    Ok(new_limit)
}

pub(super) fn map(size: usize) -> Result<Stack, Error> {
    let size = size
        .max(super::MIN_STACK_SIZE)
        .checked_next_multiple_of(PAGE)
        .ok_or(Error::StackTooLarge { requested: size })?;
    let total = size
        .checked_add(PAGE)
        .ok_or(Error::StackTooLarge { requested: size })?;
    // SAFETY: reserving fresh address space with no hint has no
    // preconditions; we check the result and release it on every failure.
    unsafe {
        let base = VirtualAlloc(ptr::null_mut(), total, MEM_RESERVE, PAGE_READWRITE) as usize;
        if base == 0 {
            return Err(Error::StackAllocation(std::io::Error::last_os_error()));
        }
        let top = base + total;
        let stack_limit = top - COMMITTED_PAGES * PAGE;
        let guard = stack_limit - PAGE;
        let ok = !VirtualAlloc(
            stack_limit as *mut c_void,
            COMMITTED_PAGES * PAGE,
            MEM_COMMIT,
            PAGE_READWRITE,
        )
        .is_null()
            && !VirtualAlloc(
                guard as *mut c_void,
                PAGE,
                MEM_COMMIT,
                PAGE_READWRITE | PAGE_GUARD,
            )
            .is_null();
        if !ok {
            let err = std::io::Error::last_os_error();
            VirtualFree(base as *mut c_void, 0, MEM_RELEASE);
            return Err(Error::StackAllocation(err));
        }
        // The committed top page is ours and fresh.
        let word = |from_top: usize, value: usize| ((top - from_top) as *mut usize).write(value);
        word(TAG_FROM_TOP, top ^ base ^ TAG_KEY);
        word(DEALLOCATION_FROM_TOP, base);
        word(STACK_LIMIT_FROM_TOP, stack_limit);
        word(GUARANTEED_FROM_TOP, 0);
        // Drop unregisters it (a no-op if the registry was full).
        crate::overflow::register(base, base + PAGE);
        Ok(Stack {
            limit: NonNull::new_unchecked((base + PAGE) as *mut u8),
            size,
        })
    }
}

/// Releases the reservation of a stack made by `map`.
///
/// # Safety
///
/// `limit` is the `limit` of a `Stack` from `map` on which nothing runs.
pub(super) unsafe fn unmap(limit: *mut u8) {
    let base = limit as usize - PAGE;
    // Before the release: the address may be reused at once.
    crate::overflow::unregister(base);
    // SAFETY: base is the start of our own reservation.
    unsafe { VirtualFree(base as *mut c_void, 0, MEM_RELEASE) };
}
