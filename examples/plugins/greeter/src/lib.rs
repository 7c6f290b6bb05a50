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
