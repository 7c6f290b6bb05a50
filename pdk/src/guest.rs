//! The plugin's half of the guest contract (docs/guest-contract.md):
//! `cabi_realloc`, and the result area an export returns and its
//! `cabi_post_NAME` frees.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::UnsafeCell;

/// The canonical ABI's allocator, on Rust's global allocator. The host asks
/// it for input blocks (align 1) and, for bytes host functions, for their
/// outputs. Exported once here, for every plugin that uses the kit.
///
/// # Safety
///
/// `old_ptr` is null or a block this function returned for `old_size` and
/// `align`, as the canonical ABI promises.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, handle_alloc_error, realloc};
    let Ok(layout) = Layout::from_size_align(new_size, align) else {
        // Not a power of two, or too large: a broken caller, and the
        // contract has no error value to return.
        core::arch::wasm32::unreachable()
    };
    if new_size == 0 {
        // Nothing is ever read or written through it; an aligned dangling
        // pointer will do (the host accepts any pointer for size 0).
        return align as *mut u8;
    }
    let ptr = if old_ptr.is_null() || old_size == 0 {
        // SAFETY: `layout` has a non-zero size.
        unsafe { alloc(layout) }
    } else {
        // SAFETY: the caller promises `old_ptr` came from here with
        // (`old_size`, `align`), a valid layout; `new_size` is non-zero.
        unsafe {
            realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_size, align),
                new_size,
            )
        }
    };
    if ptr.is_null() {
        handle_alloc_error(layout)
    }
    ptr
}

/// The 12-byte result area: tag, payload pointer, payload length. `usize`
/// is `u32` on wasm32, so this is the contract's layout (aligned to 4); the
/// kit also builds natively, where only its type matters.
///
/// A payload pointer of 0 means "no live result": `Box::into_raw` never
/// returns null.
struct Area(UnsafeCell<[usize; 3]>);

// SAFETY: a wasm32 instance runs one thread (the kit has no threads
// support), and the host never runs two exports of one instance at once, so
// the area is never accessed concurrently. Native builds exist for tests
// and tooling; their callers (pdk/tests/native.rs) make one call at a time.
unsafe impl Sync for Area {}

static RESULT: Area = Area(UnsafeCell::new([0; 3]));

/// Frees the payload in the area, if there is one.
///
/// # Safety
///
/// Nothing borrows `RESULT` (single-threaded, not reentered).
unsafe fn free_payload() {
    // SAFETY: per the caller, this is the only access to RESULT now.
    let area = unsafe { &mut *RESULT.0.get() };
    let (ptr, len) = (area[1] as *mut u8, area[2]);
    *area = [0; 3];
    if !ptr.is_null() {
        // SAFETY: a non-zero pointer in the area is a boxed slice of `len`
        // bytes that `finish` leaked and nothing has freed since (freeing
        // zeroes the area first).
        drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(ptr, len)) });
    }
}

/// Stores an export's output (tag 0) or error message (tag 1) and returns
/// the result area for the host. A result the host never released (one
/// that does not call `cabi_post_NAME`) is freed here, which is the
/// contract's "reused by its next call".
pub fn finish(out: Result<Vec<u8>, String>) -> *const usize {
    let (tag, bytes) = match out {
        Ok(b) => (0, b),
        Err(message) => (1, message.into_bytes()),
    };
    let payload = Box::into_raw(bytes.into_boxed_slice());
    // SAFETY: an export runs alone (see `Area`), and neither `finish` nor
    // `free_payload` is running elsewhere on this thread.
    unsafe {
        free_payload();
        *RESULT.0.get() = [tag, payload as *mut u8 as usize, payload.len()];
    }
    RESULT.0.get() as *const usize
}

/// `cabi_post_NAME`: frees the payload once the host has copied it.
///
/// # Safety
///
/// Called by the host, between exports, with the pointer an export returned.
pub unsafe fn post(area: *mut usize) {
    // Anything but our own area is a confused caller: freeing through it
    // would trust a pointer we did not make.
    if core::ptr::eq(area, RESULT.0.get().cast::<usize>()) {
        // SAFETY: between exports nothing else accesses RESULT.
        unsafe { free_payload() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_holds_tag_pointer_and_length_and_post_frees_it() {
        let area = finish(Err("bad".into()));
        // SAFETY: `area` points to RESULT's three words, live until `post`.
        let [tag, ptr, len] = unsafe { *(area as *const [usize; 3]) };
        assert_eq!((tag, len), (1, 3));
        // SAFETY: ptr/len are the payload `finish` stored.
        assert_eq!(
            unsafe { core::slice::from_raw_parts(ptr as *const u8, len) },
            b"bad"
        );
        // A foreign pointer is ignored, our own frees and clears.
        let mut other = [0usize; 3];
        // SAFETY: test-only; no other test touches RESULT concurrently
        // (this is the only test of this module).
        unsafe { post(other.as_mut_ptr()) };
        // SAFETY: as above.
        assert_ne!(unsafe { (*(area as *const [usize; 3]))[1] }, 0);
        // SAFETY: as above.
        unsafe { post(area as *mut usize) };
        // SAFETY: as above.
        assert_eq!(unsafe { *(area as *const [usize; 3]) }, [0; 3]);
    }
}
