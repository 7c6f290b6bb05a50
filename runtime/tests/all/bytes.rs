//! Bytes and strings in and out through the guest contract
//! (docs/guest-contract.md), with a plugin written by hand in WAT.

use spindle_runtime::{BoxError, Ctx, ErrorKind, Host, Limits};

const UPPER: &str = include_str!("../data/upper.wat");

fn upper_host() -> Host<()> {
    Host::<()>::builder().build().unwrap()
}

#[test]
fn strings_and_bytes_round_trip() {
    let host = upper_host();
    let plugin = host.load_wat("upper.wat", UPPER).unwrap();
    let mut inst = plugin.instantiate(()).unwrap();
    assert_eq!(
        inst.call_str("upper", "hello, world").unwrap(),
        "HELLO, WORLD"
    );
    assert_eq!(inst.call_str("upper", "").unwrap(), "");
    // Non-ASCII passes through untouched (only a-z are changed).
    assert_eq!(inst.call_str("upper", "grüße").unwrap(), "GRüßE");
    let all: Vec<u8> = (0..=255u8).collect();
    assert_eq!(inst.call_bytes("echo", &all).unwrap(), all);
    let mut out = vec![1, 2, 3];
    inst.call_bytes_into("echo", b"abc", &mut out).unwrap();
    assert_eq!(out, b"abc");
    // An input bigger than the plugin's first page: its allocator grows memory.
    let big = vec![b'x'; 200_000];
    assert_eq!(inst.call_bytes("upper", &big).unwrap(), vec![b'X'; 200_000]);
}

#[test]
fn a_guest_error_result_is_its_own_kind_with_the_message() {
    let host = upper_host();
    let plugin = host.load_wat("upper.wat", UPPER).unwrap();
    let mut inst = plugin.instantiate(()).unwrap();
    let err = inst.call_str("fail", "xyz").unwrap_err();
    match err.kind() {
        ErrorKind::GuestError { function, message } => {
            assert_eq!(function, "fail");
            assert_eq!(message, "bad input: xyz");
        }
        other => panic!("expected GuestError, got {other:?}"),
    }
    assert_eq!(err.to_string(), "`fail` returned an error: bad input: xyz");
    // The same through call_bytes, and the instance goes on.
    assert!(matches!(
        inst.call_bytes("fail", b"").unwrap_err().kind(),
        ErrorKind::GuestError { message, .. } if message == "bad input: "
    ));
    assert_eq!(inst.call_str("upper", "on").unwrap(), "ON");
}

#[test]
fn missing_exports_and_wrong_signatures_are_named() {
    let host = upper_host();
    let mut inst = host
        .load_wat("upper.wat", UPPER)
        .unwrap()
        .instantiate(())
        .unwrap();
    let err = inst.call_bytes("uper", b"x").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MissingExport { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upper"), "{err}");
    let err = inst.call_bytes("heap_top", b"x").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::ExportSignature { .. }),
        "{err}"
    );

    let no_alloc = host
        .load_wat(
            "noalloc",
            r#"(module (memory (export "memory") 1)
                 (func (export "f") (param i32 i32) (result i32) (i32.const 0)))"#,
        )
        .unwrap();
    let err = no_alloc
        .instantiate(())
        .unwrap()
        .call_bytes("f", b"x")
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestContract { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("no function `cabi_realloc`"),
        "{err}"
    );

    let no_memory = host
        .load_wat(
            "nomem",
            r#"(module
                 (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0))
                 (func (export "f") (param i32 i32) (result i32) (i32.const 0)))"#,
        )
        .unwrap();
    let err = no_memory
        .instantiate(())
        .unwrap()
        .call_bytes("f", b"x")
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestContract { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("no memory named `memory`"),
        "{err}"
    );

    let bad_post = host
        .load_wat(
            "badpost",
            r#"(module (memory (export "memory") 1)
                 (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64))
                 (func (export "f") (param i32 i32) (result i32) (i32.const 0))
                 (func (export "cabi_post_f") (param i64)))"#,
        )
        .unwrap();
    let err = bad_post
        .instantiate(())
        .unwrap()
        .call_bytes("f", b"x")
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestContract { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`cabi_post_f` is not"), "{err}");
}

#[test]
fn limits_cover_the_whole_exchange() {
    // One fuel budget for allocation, export and post-return together.
    let host = Host::<()>::builder().enable_fuel().build().unwrap();
    let plugin = host.load_wat("upper.wat", UPPER).unwrap();
    let mut inst = plugin
        .instantiate_with((), Limits::new().fuel(200_000))
        .unwrap();
    assert_eq!(inst.call_str("upper", "abc").unwrap(), "ABC");
    let err = inst.call_bytes("upper", &vec![b'a'; 100_000]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::OutOfFuel { .. }), "{err}");
    // Fuel is per call: the next call has its budget again. The arena was
    // not reset by the failed call (no post-return after a trap), so the
    // plugin's heap kept the 100 KB: documented in the contract.
    assert_eq!(inst.call_str("upper", "abc").unwrap(), "ABC");
}

/// A plugin that calls string and bytes host functions through the
/// contract: `greet` passes its input to `app::shout` and returns its answer.
const CALLER: &str = r#"(module
  (import "app" "shout" (func $shout (param i32 i32 i32)))
  (import "app" "reverse" (func $reverse (param i32 i32 i32)))
  (import "app" "gift" (func $gift (result i32)))
  (func (export "gift") (result i32) (call $gift))
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $top))
    (global.set $top (i32.add (global.get $top) (local.get 3)))
    (local.get $p))
  (func (export "cabi_post_greet") (param i32) (global.set $top (i32.const 4096)))
  (func $result (param $area i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.load (local.get $area)))
    (i32.store (i32.const 24) (i32.load offset=4 (local.get $area)))
    (i32.const 16))
  (func (export "greet") (param i32 i32) (result i32)
    (call $shout (local.get 0) (local.get 1) (i32.const 32))
    (call $result (i32.const 32)))
  (func (export "flip") (param i32 i32) (result i32)
    (call $reverse (local.get 0) (local.get 1) (i32.const 32))
    (call $result (i32.const 32)))
  ;; hostile calls of the import
  (func (export "shout_at") (param $ptr i32) (param $len i32) (param $area i32)
    (call $shout (local.get $ptr) (local.get $len) (local.get $area)))
)"#;

fn caller_host() -> Host<u32> {
    Host::<u32>::builder()
        .func_str("app", "shout", |cx: &mut Ctx<'_, u32>, s: &str| {
            *cx.state_mut() += 1;
            if s == "boom" {
                return Err::<String, BoxError>("no booms".into());
            }
            Ok(format!("{}!", s.to_uppercase()))
        })
        .func("app", "gift", |mut cx: Ctx<'_, u32>| {
            Ok::<u32, BoxError>(cx.copy_to_guest(b"a present")?)
        })
        .func_bytes("app", "reverse", |_cx: &mut Ctx<'_, u32>, b: &[u8]| {
            Ok::<Vec<u8>, BoxError>(b.iter().rev().copied().collect())
        })
        .build()
        .unwrap()
}

#[test]
fn host_functions_take_and_return_strings_and_bytes() {
    let host = caller_host();
    let plugin = host.load_wat("caller", CALLER).unwrap();
    let mut inst = plugin.instantiate(0).unwrap();
    assert_eq!(inst.call_str("greet", "world").unwrap(), "WORLD!");
    assert_eq!(inst.call_str("greet", "").unwrap(), "!");
    assert_eq!(
        inst.call_bytes("flip", &[1, 2, 3, 255]).unwrap(),
        [255, 3, 2, 1]
    );
    assert_eq!(*inst.state(), 2);
    // The host function's own error is a HostFunction error.
    let err = inst.call_str("greet", "boom").unwrap_err();
    match err.kind() {
        ErrorKind::HostFunction {
            function, error, ..
        } => {
            assert_eq!(function, "app::shout");
            assert_eq!(error.to_string(), "no booms");
        }
        other => panic!("expected HostFunction, got {other:?}"),
    }
    assert_eq!(inst.call_str("greet", "again").unwrap(), "AGAIN!");
    // A host function with its own signature hands bytes over with
    // `Ctx::copy_to_guest`: in the plugin's allocator's memory (4096 up).
    let at = inst.call::<(), u32>("gift", ()).unwrap() as usize;
    assert!(at >= 4096, "{at}");
    assert_eq!(&inst.memory()[at..at + 9], b"a present");
}

#[test]
fn hostile_calls_of_a_bytes_host_function() {
    let host = caller_host();
    let plugin = host.load_wat("caller", CALLER).unwrap();
    let mut inst = plugin.instantiate(0).unwrap();
    let shout = |inst: &mut spindle_runtime::Instance<u32>, ptr: u32, len: u32, area: u32| {
        inst.call::<(u32, u32, u32), ()>("shout_at", (ptr, len, area))
            .unwrap_err()
    };
    // Input outside memory, and one whose end wraps past 4 GiB.
    let err = shout(&mut inst, 65_000, 1_000, 32);
    assert!(
        matches!(err.kind(), ErrorKind::GuestBounds { what: "input", ptr: 65_000, len: 1_000, function, .. } if function == "app::shout"),
        "{err}"
    );
    let err = shout(&mut inst, 0xFFFF_FFF0, 0x20, 32);
    assert!(
        matches!(err.kind(), ErrorKind::GuestBounds { what: "input", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("wraps past 4 GiB"), "{err}");
    // Return area out of bounds, and misaligned.
    let err = shout(&mut inst, 0, 4, 65_532);
    assert!(
        matches!(
            err.kind(),
            ErrorKind::GuestBounds {
                what: "return area",
                ..
            }
        ),
        "{err}"
    );
    let err = shout(&mut inst, 0, 4, 33);
    assert!(
        matches!(err.kind(), ErrorKind::GuestContract { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("not 4-byte aligned"), "{err}");
    // Invalid UTF-8 input to a string host function.
    inst.write_memory(200, &[b'o', b'k', 0xff]).unwrap();
    let err = shout(&mut inst, 200, 3, 32);
    assert!(
        matches!(
            err.kind(),
            ErrorKind::InvalidUtf8 {
                what: "input",
                valid_up_to: 2,
                len: 3,
                ..
            }
        ),
        "{err}"
    );
    // None of these reached the host function; the instance goes on.
    assert_eq!(*inst.state(), 0);
    assert_eq!(inst.call_str("greet", "fine").unwrap(), "FINE!");
}

/// A contract plugin that also imports an async host function, so every
/// call runs on a wasmtime fiber.
const ASYNC_CALLER: &str = r#"(module
  (import "app" "tick" (func $tick (param i32) (result i32)))
  (import "app" "shout" (func $shout (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "echo") (param i32 i32) (result i32)
    (drop (call $tick (i32.const 1)))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get 0))
    (i32.store (i32.const 24) (local.get 1))
    (i32.const 16))
  (func (export "greet") (param i32 i32) (result i32)
    (call $shout (local.get 0) (local.get 1) (i32.const 32))
    (i32.const 16))
)"#;

#[test]
fn bytes_calls_work_on_plugins_that_import_async_host_functions() {
    let host = Host::<u32>::builder()
        .func_async("app", "tick", |mut cx: Ctx<'_, u32>, (by,): (u32,)| {
            Box::new(async move {
                *cx.state_mut() += by;
                Ok::<u32, BoxError>(*cx.state())
            })
        })
        .func_str("app", "shout", |_cx: &mut Ctx<'_, u32>, s: &str| {
            Ok::<String, BoxError>(s.to_uppercase())
        })
        .build()
        .unwrap();
    let plugin = host.load_wat("async", ASYNC_CALLER).unwrap();
    assert!(plugin.needs_async());
    let mut inst = plugin.instantiate(0).unwrap();
    assert_eq!(
        inst.call_bytes("echo", b"on a fiber").unwrap(),
        b"on a fiber"
    );
    assert_eq!(inst.call_str("echo", "twice").unwrap(), "twice");
    assert_eq!(*inst.state(), 2);
    // A bytes host function allocates with a synchronous call into the
    // plugin, which wasmtime refuses on a fiber: an error, as documented.
    let err = inst.call_str("greet", "x").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("`app::shout` hands bytes to the plugin through a synchronous call"),
        "{err}"
    );
    assert_eq!(inst.call_str("echo", "after").unwrap(), "after");
}
