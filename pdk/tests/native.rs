//! The macros' expansions compiled natively and driven the way the host
//! drives them on wasm: an input block from the global allocator, the
//! export's result area read back, `cabi_post_NAME` freeing it, and host
//! functions (defined here under their import names) answering through the
//! contract's `(ptr, len, ret)`. The wasm behaviour proper is tested in
//! examples/tests/pdk.rs; this keeps the expansions under the workspace's
//! clippy and tests.

use spindle_pdk::{export, import};

#[import(module = "app")]
unsafe extern "C" {
    /// Doc comments carry over to the safe function.
    fn native_visits(delta: u32) -> u32;
    fn native_shout(text: &str) -> String;
    fn native_bytes(data: Vec<u8>) -> Vec<u8>;
}

static VISITS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[unsafe(export_name = "native_visits")]
extern "C" fn host_visits(delta: u32) -> u32 {
    VISITS.fetch_add(delta, std::sync::atomic::Ordering::SeqCst) + delta
}

/// Answers the way spindle's host does: the output in a block from the
/// plugin's allocator (here: the global one, align 1), `(ptr, len)` at
/// `ret`.
///
/// # Safety
///
/// `[ptr, ptr + len)` is readable; `ret` points to two writable words.
unsafe fn answer(ptr: *const u8, len: usize, ret: *mut usize, f: impl Fn(&[u8]) -> Vec<u8>) {
    // SAFETY: the caller's promise about `ptr` and `len`.
    let input = unsafe { std::slice::from_raw_parts(ptr, len) };
    let out = Box::into_raw(f(input).into_boxed_slice());
    // SAFETY: the caller's promise about `ret`.
    unsafe {
        *ret = out as *mut u8 as usize;
        *ret.add(1) = out.len();
    }
}

#[unsafe(export_name = "native_shout")]
unsafe extern "C" fn host_shout(ptr: *const u8, len: usize, ret: *mut usize) {
    // SAFETY: called by `native_shout`'s wrapper with its input and area.
    unsafe { answer(ptr, len, ret, |b| b.to_ascii_uppercase()) }
}

#[unsafe(export_name = "native_bytes")]
unsafe extern "C" fn host_bytes(ptr: *const u8, len: usize, ret: *mut usize) {
    // SAFETY: as above. An empty input gets an empty output.
    unsafe { answer(ptr, len, ret, |b| b.iter().rev().copied().collect()) }
}

#[export(name = "native_greet")]
fn greet(name: String) -> String {
    format!("Hello, {}! #{}", native_shout(&name), native_visits(1))
}

#[export(name = "native_check")]
fn check(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.is_empty() {
        return Err("empty".into());
    }
    Ok(native_bytes(data.to_vec()))
}

unsafe extern "C" {
    #[link_name = "native_greet"]
    fn raw_greet(ptr: *mut u8, len: usize) -> *const usize;
    #[link_name = "cabi_post_native_greet"]
    fn post_greet(area: *const usize);
    #[link_name = "native_check"]
    fn raw_check(ptr: *mut u8, len: usize) -> *const usize;
    #[link_name = "cabi_post_native_check"]
    fn post_check(area: *const usize);
}

/// One call as the host makes it: (tag, payload).
fn call(
    f: unsafe extern "C" fn(*mut u8, usize) -> *const usize,
    post: unsafe extern "C" fn(*const usize),
    input: &[u8],
) -> (usize, Vec<u8>) {
    let len = input.len();
    let block = Box::into_raw(input.to_vec().into_boxed_slice()) as *mut u8;
    // SAFETY: the block is from the global allocator with Layout(len, 1)
    // and handed over, as the contract's `cabi_realloc` would; the area and
    // payload are read before `post`, which is called once.
    unsafe {
        let area = f(block, len);
        let [tag, ptr, len] = *(area as *const [usize; 3]);
        let payload = std::slice::from_raw_parts(ptr as *const u8, len).to_vec();
        post(area);
        (tag, payload)
    }
}

#[test]
fn exports_and_imports_round_trip_natively() {
    let (tag, out) = call(raw_greet, post_greet, b"ada");
    assert_eq!((tag, out.as_slice()), (0, &b"Hello, ADA! #1"[..]));
    let (tag, out) = call(raw_greet, post_greet, b"\xff");
    assert_eq!(tag, 1);
    assert!(
        String::from_utf8(out)
            .unwrap()
            .starts_with("the input is not UTF-8")
    );
    let (tag, out) = call(raw_check, post_check, b"");
    assert_eq!((tag, out.as_slice()), (1, &b"empty"[..]));
    let (tag, out) = call(raw_check, post_check, &[1, 2, 3]);
    assert_eq!((tag, out.as_slice()), (0, &[3u8, 2, 1][..]));
    // Called from Rust, the functions are plain functions.
    assert_eq!(greet("x".into()), "Hello, X! #2");
}
