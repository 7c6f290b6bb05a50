//! A WASI reactor plugin: Rust's standard library on wasm32-wasip1, with
//! `println!` going to the host's stdout capture or sink, and one export of
//! the guest contract (docs/guest-contract.md) so `call_str` works on it.

use std::io::Write;

// With the `asker` feature only: `spindle run`'s host has no `app` module.
#[cfg(feature = "asker")]
mod host {
    #[link(wasm_import_module = "app")]
    unsafe extern "C" {
        #[link_name = "ask"]
        fn host_ask(question: i32) -> i64;
    }

    /// Asks the host (which may suspend the call to answer).
    pub fn ask(question: i32) -> i64 {
        // SAFETY: plain integer call into the host; no pointers involved.
        unsafe { host_ask(question) }
    }
}

// What wasi-libc's reactor start file does, written out because stable Rust
// (1.95) links a wasm32-wasip1 cdylib without it (`-Z wasi-exec-model=reactor`
// is nightly-only): wasm-ld then wraps every export in a constructor and
// destructor call of its own (`<name>.command_export`). With the `wrapped`
// feature the plugin is left that way, to test that such modules run too.
#[cfg(not(feature = "wrapped"))]
mod reactor {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }

    /// Runs the static constructors (wasi-libc's among them) once; the host
    /// calls it once per instance, before any other export.
    #[unsafe(no_mangle)]
    pub extern "C" fn _initialize() {
        // SAFETY: called once per instance, before any other export, which
        // is the one time the constructors may run.
        unsafe { __wasm_call_ctors() }
    }
}

/// Prints one line and returns how many times it has been called in this
/// instance: state survives between calls of a reactor.
#[unsafe(no_mangle)]
pub extern "C" fn hello() -> u32 {
    static mut CALLS: u32 = 0;
    // SAFETY: wasm instances are single-threaded; nothing else touches CALLS.
    let n = unsafe {
        CALLS += 1;
        CALLS
    };
    println!("hello from a WASI reactor, call {n}");
    eprintln!("a line on stderr");
    n
}

/// Writes `lines` lines of 64 bytes to stdout.
#[unsafe(no_mangle)]
pub extern "C" fn flood(lines: u32) {
    let line = [b'x'; 63];
    let mut out = std::io::stdout().lock();
    for _ in 0..lines {
        // A write error (none is expected: the host traps instead) ends the
        // plugin, which the test would see.
        out.write_all(&line).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

/// Ends the plugin with `std::process::exit(code)`, i.e. `proc_exit`.
#[unsafe(no_mangle)]
pub extern "C" fn exit_with(code: i32) {
    println!("exiting with {code}");
    std::process::exit(code)
}

/// Never returns; fuel or a deadline ends it.
#[unsafe(no_mangle)]
pub extern "C" fn spin() {
    let mut x = 0u64;
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}

/// Allocates `mib` MiB and touches it: memory limits end it.
#[unsafe(no_mangle)]
pub extern "C" fn grow(mib: u32) -> u32 {
    let v = vec![1u8; mib as usize * 1024 * 1024];
    core::hint::black_box(&v).len() as u32 / 1024
}

/// Prints, asks the host (a suspension point for resumable calls), prints
/// the answer and returns it.
#[cfg(feature = "asker")]
#[unsafe(no_mangle)]
pub extern "C" fn ask_and_print(question: i32) -> i64 {
    println!("asking {question}");
    let answer = host::ask(question);
    println!("answer {answer}");
    answer
}

/// Seconds since 1970 from WASI's wall clock, and 8 random bytes from its
/// random source, both granted to every plugin.
#[unsafe(no_mangle)]
pub extern "C" fn clock_and_random() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut seed = [0u8; 8];
    // Through std's HashMap keys: the only stable std path to random_get.
    let keys = std::collections::hash_map::RandomState::new();
    let h = std::hash::BuildHasher::hash_one(&keys, 0u8);
    seed.copy_from_slice(&h.to_le_bytes());
    println!("random {}", u64::from_le_bytes(seed));
    secs
}

/// Tries what is denied by default and prints what happened: the
/// environment, the arguments, a file read, and whether any directory is
/// visible. Returns how many of them succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn probe() -> u32 {
    let mut granted = 0;
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    println!("env: {env:?}");
    granted += u32::from(!env.is_empty());
    let args: Vec<String> = std::env::args().collect();
    println!("args: {args:?}");
    granted += u32::from(args.len() > 1);
    for path in ["/etc/passwd", "/", ".", "/data/input.txt"] {
        match std::fs::read(path) {
            Ok(b) => {
                println!("read {path}: {} bytes", b.len());
                granted += 1;
            }
            Err(e) => println!("read {path}: {e}"),
        }
    }
    match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => {
            println!("connect: ok");
            granted += 1;
        }
        Err(e) => println!("connect: {e}"),
    }
    granted
}

// --- The guest contract (docs/guest-contract.md), by hand. ---

/// The component model's `cabi_realloc` on Rust's global allocator.
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

/// `greet(name) -> "Hello, {name}!"`, printing a line to stdout as well.
///
/// # Safety
///
/// `[ptr, ptr + len)` is a block from [`cabi_realloc`] with align 1, handed
/// over by the host, as the guest contract promises.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn greet(ptr: *mut u8, len: usize) -> *const u32 {
    // SAFETY: the host allocated `len` bytes at `ptr` with `cabi_realloc`
    // (align 1), filled them, and hands the block over to us.
    let input = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let (tag, text) = match std::str::from_utf8(&input) {
        Ok(name) => {
            println!("greeting {name}");
            (0, format!("Hello, {name}!"))
        }
        Err(_) => (1, "the name is not UTF-8".to_string()),
    };
    let out = Box::into_raw(text.into_bytes().into_boxed_slice());
    // SAFETY: single-threaded instance; nothing else touches RESULT during
    // the call, and the host reads it before `cabi_post_greet`.
    unsafe {
        RESULT = [tag, out as *mut u8 as u32, out.len() as u32];
        &raw const RESULT as *const u32
    }
}

/// Frees `greet`'s output once the host has copied it.
///
/// # Safety
///
/// `area` is what the last `greet` returned, and this is called once for it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_post_greet(area: *const u32) {
    // SAFETY: `area` is the RESULT that `greet` returned, whose ptr/len are
    // a boxed slice that `greet` leaked and nothing has freed since.
    unsafe {
        let (ptr, len) = (*area.add(1) as *mut u8, *area.add(2) as usize);
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)));
    }
}
