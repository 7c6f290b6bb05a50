//! A spindle plugin written in Rust.
//!
//! Host functions are declared in an `extern "C"` block that names its import
//! module with `#[link(wasm_import_module = "...")]`. That is the one way that
//! works on every toolchain: without the attribute, Rust up to 1.95 silently
//! turns the functions into imports from `"env"` (the host then reports them
//! missing), and Rust 1.96+ refuses to link with `undefined symbol`.

mod host {
    #[link(wasm_import_module = "spindle")]
    unsafe extern "C" {
        // With the `typo` feature the import is named "lgo": a plugin that
        // builds fine and is rejected at load time with a precise report.
        #[cfg_attr(feature = "typo", link_name = "lgo")]
        #[cfg_attr(not(feature = "typo"), link_name = "log")]
        fn host_log(ptr: *const u8, len: usize);
        #[link_name = "visits"]
        fn host_visits(delta: u32) -> u32;
    }

    /// Sends a line to the host's log.
    pub fn log(line: &str) {
        // SAFETY: the host reads exactly `len` bytes at `ptr`, which point
        // into this live `&str` in our own linear memory.
        unsafe { host_log(line.as_ptr(), line.len()) }
    }

    /// Adds `delta` to the host's visit counter and returns the new total.
    pub fn visits(delta: u32) -> u32 {
        // SAFETY: plain integer call into the host; no pointers involved.
        unsafe { host_visits(delta) }
    }
}

/// Input buffer the host writes names into before calling `greet`.
static mut INPUT: [u8; 256] = [0; 256];

/// Where the host should write `greet`'s input.
#[unsafe(no_mangle)]
pub extern "C" fn input_ptr() -> *mut u8 {
    &raw mut INPUT as *mut u8
}

/// Greets the name the host wrote to [`input_ptr`] (`len` bytes).
#[unsafe(no_mangle)]
pub extern "C" fn greet(len: u32) -> u32 {
    // SAFETY: wasm instances are single-threaded and the host writes the
    // buffer only between calls, so this shared borrow is the only access.
    let input: &[u8; 256] = unsafe { &*(&raw const INPUT) };
    let name = core::str::from_utf8(&input[..(len as usize).min(256)]).unwrap_or("stranger");
    let n = host::visits(1);
    host::log(&format!("Hello, {name}! You are visitor #{n}."));
    n
}

// --- The guest contract (docs/guest-contract.md), by hand, no kit. ---

/// The allocator the host fills inputs into: the component model's
/// `cabi_realloc(old_ptr, old_size, align, new_size) -> ptr`, on Rust's
/// global allocator.
///
/// # Safety
///
/// `old_ptr` is null or a block this function returned with `old_size` and
/// `align`, as the canonical ABI promises.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    use std::alloc::Layout;
    if new_size == 0 {
        // Never written or freed: a dangling, aligned pointer will do.
        return align as *mut u8;
    }
    let Ok(layout) = Layout::from_size_align(new_size, align) else {
        std::process::abort()
    };
    let ptr = if old_ptr.is_null() || old_size == 0 {
        // SAFETY: `layout` has a non-zero size.
        unsafe { std::alloc::alloc(layout) }
    } else {
        // SAFETY: the caller guarantees `old_ptr` came from here with this
        // size and alignment; `new_size` is non-zero.
        unsafe {
            std::alloc::realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_size, align),
                new_size,
            )
        }
    };
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout)
    }
    ptr
}

/// The result area: tag (0 ok, 1 error), then the payload's ptr and len.
static mut RESULT: [u32; 3] = [0; 3];

/// `hello(name) -> "Hello, {name}! ..."`: a string export of the contract.
/// Takes ownership of the input block the host allocated, and leaves the
/// output to `cabi_post_hello`.
///
/// # Safety
///
/// `[ptr, ptr + len)` is a block from [`cabi_realloc`] with align 1, owned
/// by the caller and handed over, as the guest contract promises.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hello(ptr: *mut u8, len: usize) -> *const u32 {
    // SAFETY: the host allocated `len` bytes at `ptr` with `cabi_realloc`
    // (align 1), filled them, and hands the block over to us.
    let input = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let (tag, text) = match std::str::from_utf8(&input) {
        Ok(name) => (
            0,
            format!("Hello, {name}! You are visitor #{}.", host::visits(1)),
        ),
        Err(_) => (1, "the name is not UTF-8".to_string()),
    };
    let out = Box::into_raw(text.into_bytes().into_boxed_slice());
    // SAFETY: single-threaded instance; nothing else touches RESULT during
    // the call, and the host reads it before `cabi_post_hello`.
    unsafe {
        RESULT = [tag, out as *mut u8 as u32, out.len() as u32];
        &raw const RESULT as *const u32
    }
}

/// Frees `hello`'s output once the host has copied it.
///
/// # Safety
///
/// `area` is what the last `hello` returned, and this is called once for it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_post_hello(area: *const u32) {
    // SAFETY: `area` is the RESULT that `hello` returned, whose ptr/len are a
    // boxed slice that `hello` leaked and nothing has freed since.
    unsafe {
        let (ptr, len) = (*area.add(1) as *mut u8, *area.add(2) as usize);
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)));
    }
}

/// Naive Fibonacci: real work to time and to interrupt.
#[unsafe(no_mangle)]
pub extern "C" fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

/// Never returns; the host's deadline ends it.
#[unsafe(no_mangle)]
pub extern "C" fn spin() {
    let mut x = 0u64;
    loop {
        // Keep the optimiser from removing the loop.
        x = core::hint::black_box(x.wrapping_add(1));
    }
}
