//! Every kind of bad plugin gets a clear, matchable error, and the same host
//! then loads and runs a good plugin.

use crate::common::*;
use spindle_runtime::{Error, ErrorKind, Limits, TrapCode};

fn good_binary() -> Vec<u8> {
    wat::parse_str(GOOD).unwrap()
}

#[test]
fn malformed_bytes() {
    let host = host();
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x60]);
    let err = host
        .load_bytes("junk.wasm", &bytes)
        .err()
        .expect("must fail");
    match err.kind() {
        ErrorKind::InvalidModule { plugin, reason } => {
            assert_eq!(plugin, "junk.wasm");
            assert!(!reason.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("junk.wasm"), "{err}");
    assert_good_plugin_runs(&host);
}

#[test]
fn truncated_module() {
    let host = host();
    let good = good_binary();
    for cut in [3, 6, good.len() / 2, good.len() - 1] {
        let err = host
            .load_bytes("cut.wasm", &good[..cut])
            .err()
            .expect("must fail");
        let ErrorKind::InvalidModule { reason, .. } = err.kind() else {
            panic!("cut at {cut}: unexpected {err:?}")
        };
        if cut < 8 {
            assert!(reason.contains("truncated"), "cut at {cut}: {reason}");
        } else {
            assert!(reason.contains("end"), "cut at {cut}: {reason}");
        }
    }
    assert_good_plugin_runs(&host);
}

#[test]
fn wrong_magic() {
    let host = host();
    let err = host
        .load_bytes("elf", b"\x7fELF\x02\x01\x01\0")
        .err()
        .unwrap();
    let ErrorKind::InvalidModule { reason, .. } = err.kind() else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("wrong magic") && reason.contains("7f 45 4c 46"),
        "{reason}"
    );

    // WAT passed as bytes: the error says how to load it instead.
    let err = host.load_bytes("text", GOOD.as_bytes()).err().unwrap();
    assert!(err.to_string().contains("load_wat"), "{err}");

    let err = host.load_bytes("short", b"abc").err().unwrap();
    assert!(err.to_string().contains("wrong magic"), "{err}");
    let err = host.load_bytes("prefix", b"\0as").err().unwrap();
    assert!(err.to_string().contains("truncated"), "{err}");

    let err = host.load_bytes("empty", b"").err().unwrap();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidModule { .. }),
        "{err:?}"
    );

    // A component (binary version 0x0d) is not a core module.
    let err = host
        .load_bytes("component", b"\0asm\x0d\0\x01\0")
        .err()
        .unwrap();
    assert!(err.to_string().contains("components"), "{err}");
    assert_good_plugin_runs(&host);
}

#[test]
fn wat_syntax_error() {
    let host = host();
    let err = host
        .load_wat(
            "broken.wat",
            "(module\n  (func (export \"f\")\n    i32.const nope))",
        )
        .err()
        .unwrap();
    let ErrorKind::InvalidModule { reason, .. } = err.kind() else {
        panic!("{err:?}")
    };
    assert!(reason.contains("WAT syntax error"), "{reason}");
    // Points at the line of the mistake.
    assert!(reason.contains("broken.wat:3"), "{reason}");
    assert_good_plugin_runs(&host);
}

#[test]
fn invalid_module_fails_validation() {
    let host = host();
    // Well-formed but ill-typed: i32.add with one operand.
    let err = host
        .load_wat(
            "illtyped",
            "(module (func (result i32) i32.const 1 i32.add))",
        )
        .err()
        .unwrap();
    let ErrorKind::InvalidModule { reason, .. } = err.kind() else {
        panic!("{err:?}")
    };
    assert!(reason.contains("type mismatch"), "{reason}");
    assert_good_plugin_runs(&host);
}

#[test]
fn missing_export_and_wrong_signature() {
    let host = host();
    let plugin = host.load_wat("good", GOOD).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();

    let err = inst.call::<(i32, i32), i32>("ad", (1, 2)).unwrap_err();
    match err.kind() {
        ErrorKind::MissingExport { name, available } => {
            assert_eq!(name, "ad");
            assert_eq!(
                available.first().map(String::as_str),
                Some("add"),
                "{available:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("`ad`"), "{err}");

    // Exists, but is a memory, not a function.
    assert!(matches!(
        inst.call::<(), ()>("memory", ()).unwrap_err().kind(),
        ErrorKind::MissingExport { .. }
    ));

    let err = inst.call::<(i64, i64), i64>("add", (1, 2)).unwrap_err();
    let ErrorKind::ExportSignature {
        expected, found, ..
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(expected.to_string(), "(func (param i64 i64) (result i64))");
    assert_eq!(found.to_string(), "(func (param i32 i32) (result i32))");
    let text = err.to_string();
    assert!(
        text.contains("(param i64 i64)") && text.contains("(param i32 i32)"),
        "{text}"
    );

    // The same instance still works after the refused calls.
    assert_eq!(inst.call::<(i32, i32), i32>("add", (1, 2)).unwrap(), 3);
    assert_good_plugin_runs(&host);
}

const TRAPS: &str = r#"
(module $traps
  (memory (export "memory") 1)
  (func $boom (export "boom") unreachable)
  (func $outer (export "outer") (call $boom))
  (func $div (export "div") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.div_s)
  (func $oob (export "oob") (result i32)
    i32.const 0x7ffffff0 i32.load)
  (func $recurse (export "recurse") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $recurse)
)"#;

#[test]
fn traps_carry_code_and_named_backtrace() {
    let host = host();
    let plugin = host.load_wat("traps", TRAPS).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();

    let err = inst.call::<(), ()>("outer", ()).unwrap_err();
    let ErrorKind::Trap { code, backtrace } = err.kind() else {
        panic!("{err:?}")
    };
    assert_eq!(*code, TrapCode::UnreachableCodeReached);
    let names: Vec<_> = backtrace
        .frames()
        .iter()
        .map(|f| f.func_name.as_deref())
        .collect();
    assert_eq!(names, [Some("boom"), Some("outer")], "{backtrace}");
    // The backtrace is shown by the report, not by Display.
    assert_eq!(
        err.to_string(),
        "plugin trapped: wasm `unreachable` instruction executed"
    );
    let text = err.report().to_string();
    assert!(
        text.contains("unreachable") && text.contains("traps!boom"),
        "{text}"
    );

    let err = inst.call::<(i32, i32), i32>("div", (1, 0)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Trap { code: TrapCode::IntegerDivisionByZero, backtrace } if backtrace.contains("div")),
        "{err:?}"
    );
    let err = inst
        .call::<(i32, i32), i32>("div", (i32::MIN, -1))
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Trap {
                code: TrapCode::IntegerOverflow,
                ..
            }
        ),
        "{err:?}"
    );

    let err = inst.call::<(), i32>("oob", ()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Trap { code: TrapCode::MemoryOutOfBounds, backtrace } if backtrace.contains("oob")),
        "{err:?}"
    );

    let err = inst.call::<i32, i32>("recurse", 0).unwrap_err();
    let ErrorKind::StackOverflow { backtrace } = err.kind() else {
        panic!("{err:?}")
    };
    assert!(backtrace.contains("recurse"), "{backtrace}");

    // The trapped instance is still callable for functions that don't trap.
    assert_eq!(inst.call::<(i32, i32), i32>("div", (9, 3)).unwrap(), 3);
    assert_good_plugin_runs(&host);
}

#[test]
fn smaller_max_stack_overflows_sooner() {
    let host = builder().max_wasm_stack(64 << 10).build().unwrap();
    let plugin = host.load_wat("depth", DEPTH).unwrap();
    let mut small = plugin.instantiate(Journal::default()).unwrap();
    assert!(matches!(
        small.call::<(), i32>("down", ()).map_err(Error::into_kind),
        Err(ErrorKind::StackOverflow { .. })
    ));
    let small_depth = small.call::<(), i32>("depth", ()).unwrap();

    let big_host = builder().max_wasm_stack(1 << 20).build().unwrap();
    let plugin = big_host.load_wat("depth", DEPTH).unwrap();
    let mut big = plugin.instantiate(Journal::default()).unwrap();
    assert!(matches!(
        big.call::<(), i32>("down", ()).map_err(Error::into_kind),
        Err(ErrorKind::StackOverflow { .. })
    ));
    let big_depth = big.call::<(), i32>("depth", ()).unwrap();
    assert!(
        big_depth > small_depth * 4,
        "1 MiB: {big_depth} frames, 64 KiB: {small_depth}"
    );
    assert_good_plugin_runs(&host);
}

/// Counts how deep it recursed before the stack ran out.
const DEPTH: &str = r#"(module
    (global $depth (mut i32) (i32.const 0))
    (func $down (export "down") (result i32)
      (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
      (drop (call $down)) (i32.const 0))
    (func (export "depth") (result i32) (global.get $depth)))"#;

const CALLS_HOST: &str = r#"
(module $caller
  (import "host" "fail" (func $fail (param i32) (result i32)))
  (import "host" "panic" (func $panic))
  (func $via_fail (export "via_fail") (param i32) (result i32) (call $fail (local.get 0)))
  (func $via_panic (export "via_panic") (call $panic))
)"#;

#[test]
fn host_function_error_and_panic() {
    let host = builder()
        .func(
            "host",
            "fail",
            |_cx: spindle_runtime::Ctx<'_, Journal>, x: i32| {
                if x < 0 {
                    Err(format!("negative input {x}"))
                } else {
                    Ok(x * 2)
                }
            },
        )
        .func(
            "host",
            "panic",
            |_cx: spindle_runtime::Ctx<'_, Journal>| -> () { panic!("host bug: invariant broken") },
        )
        .build()
        .unwrap();
    let plugin = host.load_wat("caller", CALLS_HOST).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();

    assert_eq!(inst.call::<i32, i32>("via_fail", 21).unwrap(), 42);
    let err = inst.call::<i32, i32>("via_fail", -1).unwrap_err();
    let ErrorKind::HostFunction {
        function,
        error,
        backtrace,
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(function, "host::fail");
    assert_eq!(error.to_string(), "negative input -1");
    assert!(backtrace.contains("via_fail"), "{backtrace}");
    // Display is this error's own words; the host function's error is its
    // source, and the report tells both.
    assert_eq!(err.to_string(), "host function `host::fail` failed");
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "negative input -1"
    );
    assert!(
        err.report()
            .to_string()
            .starts_with("host function `host::fail` failed: negative input -1\nwasm backtrace:"),
        "{}",
        err.report()
    );

    let err = inst.call::<(), ()>("via_panic", ()).unwrap_err();
    let ErrorKind::HostPanic {
        function, message, ..
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(function, "host::panic");
    assert_eq!(message, "host bug: invariant broken");

    // Same instance, same host: still fine.
    assert_eq!(inst.call::<i32, i32>("via_fail", 1).unwrap(), 2);
    assert_good_plugin_runs(&host);
}

#[test]
fn host_memory_access_is_bounds_checked() {
    let host = host();
    let plugin = host
        .load_wat(
            "badptr",
            r#"(module
                (import "host" "log" (func $log (param i32 i32)))
                (memory (export "memory") 1)
                (func (export "run") (call $log (i32.const 65530) (i32.const 100))))"#,
        )
        .unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let err = inst.call::<(), ()>("run", ()).unwrap_err();
    let ErrorKind::HostFunction { error, .. } = err.kind() else {
        panic!("{err:?}")
    };
    assert!(
        error.to_string().contains("outside its 65536 bytes"),
        "{error}"
    );
    assert!(inst.state().lines.is_empty());
    assert_good_plugin_runs(&host);
}

#[test]
fn start_function_trap_fails_instantiation_only() {
    let host = host();
    let plugin = host
        .load_wat("start", "(module (func $init unreachable) (start $init))")
        .unwrap();
    let err = plugin.instantiate(Journal::default()).err().unwrap();
    assert!(
        matches!(err.kind(), ErrorKind::Trap { code: TrapCode::UnreachableCodeReached, backtrace } if backtrace.contains("init")),
        "{err:?}"
    );
    assert_good_plugin_runs(&host);
}

#[test]
fn fuel_limit_without_metering_is_a_config_error() {
    let host = host();
    let plugin = host.load_wat("good", GOOD).unwrap();
    let err = plugin
        .instantiate_with(Journal::default(), Limits::new().fuel(10))
        .err()
        .unwrap();
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    assert_good_plugin_runs(&host);
}
