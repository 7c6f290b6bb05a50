//! Calling a bytes host function: the guest contract's `(ptr, len, ret)`.

use alloc::vec::Vec;

/// The core signature of a bytes host function, on wasm32 `(i32 i32 i32)`.
pub type ListFn = unsafe extern "C" fn(*const u8, usize, *mut usize);

/// Calls `f` with `input` and takes ownership of the output the host wrote.
///
/// # Safety
///
/// `f` is a host function of the guest contract's bytes type: it reads
/// `input`, allocates its output with this module's `cabi_realloc`
/// (align 1) and writes the output's `(ptr, len)` at `ret`.
pub unsafe fn call_list(input: &[u8], f: ListFn) -> Vec<u8> {
    // The 8-byte return area, aligned to 4 (`usize` is `u32` on wasm32).
    let mut ret = [0usize; 2];
    // SAFETY: `input` is live for the call; `ret` is a writable area of
    // the size and alignment the contract gives the host; the rest is the
    // caller's promise about `f`.
    unsafe { f(input.as_ptr(), input.len(), ret.as_mut_ptr()) };
    let [ptr, len] = ret;
    if len == 0 {
        // A zero-sized block was never allocated; nothing to free.
        return Vec::new();
    }
    // SAFETY: the host allocated `len` bytes at `ptr` with `cabi_realloc`
    // (the global allocator, Layout(len, 1)), filled them and handed them to
    // us; a Vec<u8> of capacity `len` frees exactly that layout.
    unsafe { Vec::from_raw_parts(ptr as *mut u8, len, len) }
}
