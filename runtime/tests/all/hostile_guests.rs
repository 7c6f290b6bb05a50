//! Plugins that break the guest contract (docs/guest-contract.md): each
//! violation is its own `ErrorKind` with a clear message, and the instance,
//! its neighbours and the host go on working afterwards. Plus a test that a
//! well-behaved plugin's memory stays flat over 10^5 bytes calls.

use spindle_runtime::{AllocatorProblem, ErrorKind, Host, Instance, Limits, TrapCode};

/// A plugin whose allocator and result area are rigged from the host:
/// `rig_alloc(mode)` picks what `cabi_realloc` does, `rig(area, tag, ptr,
/// len)` what `ret` returns. `echo` follows the contract.
const RIGGED: &str = r#"(module
  (memory (export "memory") 1)
  (global $mode (mut i32) (i32.const 0))
  (global $area (mut i32) (i32.const 16))
  (global $tag (mut i32) (i32.const 0))
  (global $ptr (mut i32) (i32.const 0))
  (global $len (mut i32) (i32.const 0))
  (data (i32.const 512) "\ff\fe not UTF-8")
  (data (i32.const 600) "oops")
  (func (export "rig_alloc") (param i32) (global.set $mode (local.get 0)))
  (func (export "rig") (param i32 i32 i32 i32)
    (global.set $area (local.get 0)) (global.set $tag (local.get 1))
    (global.set $ptr (local.get 2)) (global.set $len (local.get 3)))
  (func $cabi_realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 1)) (then unreachable))
    (if (i32.eq (global.get $mode) (i32.const 2)) (then (return (i32.const 0))))
    (if (i32.eq (global.get $mode) (i32.const 3)) (then (return (i32.const 0xFFFFFF00))))
    (if (i32.eq (global.get $mode) (i32.const 4)) (then (return (i32.const 65530))))
    (if (i32.eq (global.get $mode) (i32.const 5)) (then (loop $spin (br $spin))))
    ;; Well-behaved: one block at 1024, reused by every call (inputs here
    ;; are small and never outlive the call).
    (i32.const 1024))
  (func (export "ret") (param i32 i32) (result i32)
    ;; Writes the rigged area when it fits in memory; a rigged area outside
    ;; it is returned as is, for the host to refuse.
    (if (i32.le_u (global.get $area) (i32.const 65524))
      (then
        (i32.store8 (global.get $area) (global.get $tag))
        (i32.store offset=4 (global.get $area) (global.get $ptr))
        (i32.store offset=8 (global.get $area) (global.get $len))))
    (global.get $area))
  (func (export "echo") (param i32 i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get 0))
    (i32.store (i32.const 24) (local.get 1))
    (i32.const 16))
)"#;

fn host() -> Host<()> {
    Host::<()>::builder().enable_fuel().build().unwrap()
}

struct Rig {
    host: Host<()>,
    inst: Instance<()>,
    neighbour: Instance<()>,
}

fn rig_with(limits: Limits) -> Rig {
    let host = host();
    let plugin = host.load_wat("rigged", RIGGED).unwrap();
    let inst = plugin.instantiate_with((), limits.clone()).unwrap();
    let neighbour = plugin.instantiate_with((), limits).unwrap();
    Rig {
        host,
        inst,
        neighbour,
    }
}

fn rig() -> Rig {
    rig_with(Limits::new().fuel(1_000_000))
}

impl Rig {
    fn result(&mut self, area: u32, tag: u32, ptr: u32, len: u32) {
        self.inst
            .call::<(u32, u32, u32, u32), ()>("rig", (area, tag, ptr, len))
            .unwrap();
    }

    fn allocator(&mut self, mode: u32) {
        self.inst.call::<u32, ()>("rig_alloc", mode).unwrap();
    }

    /// After the failure: the same instance (set right again), another
    /// instance of the plugin and a new plugin on the same host all work.
    fn goes_on(mut self) {
        self.allocator(0);
        assert_eq!(
            self.inst.call_bytes("echo", b"still here").unwrap(),
            b"still here"
        );
        self.result(16, 0, 512 + 3, 5);
        assert_eq!(self.inst.call_str("ret", "").unwrap(), "not U");
        assert_eq!(
            self.neighbour.call_str("echo", "next door").unwrap(),
            "next door"
        );
        let fresh = self.host.load_wat("again", RIGGED).unwrap();
        let mut fresh = fresh.instantiate(()).unwrap();
        assert_eq!(fresh.call_bytes("echo", b"new").unwrap(), b"new");
    }
}

#[test]
fn output_outside_memory() {
    let mut r = rig();
    r.result(16, 0, 65_000, 1_000);
    let err = r.inst.call_bytes("ret", b"in").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::GuestBounds { what: "output", ptr: 65_000, len: 1_000, memory_size: 65_536, function }
                if function == "ret"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "`ret`: the plugin's output [0xfde8, +1000) is outside its 65536-byte memory"
    );
    r.goes_on();
}

#[test]
fn output_pointer_plus_length_overflows() {
    let mut r = rig();
    // 0xFFFFFFF0 + 0x20 wraps to 0x10 in 32 bits: in bounds if added carelessly.
    r.result(16, 0, 0xFFFF_FFF0, 0x20);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::GuestBounds {
                what: "output",
                ptr: 0xFFFF_FFF0,
                len: 0x20,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("(pointer + length wraps past 4 GiB)"),
        "{err}"
    );
    r.goes_on();
}

#[test]
fn result_area_outside_memory() {
    let mut r = rig();
    r.result(65_528, 0, 0, 0);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::GuestBounds {
                what: "return area",
                ptr: 65_528,
                len: 12,
                ..
            }
        ),
        "{err:?}"
    );
    r.result(0xFFFF_FFFC, 0, 0, 0);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::GuestBounds {
                what: "return area",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("wraps past 4 GiB"), "{err}");
    r.goes_on();
}

#[test]
fn misaligned_result_area_and_unknown_tag() {
    let mut r = rig();
    r.result(18, 0, 512, 1);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestContract { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "`ret`: the plugin does not follow the guest contract (docs/guest-contract.md): \
         its result area pointer 0x12 is not 4-byte aligned"
    );
    r.result(16, 7, 512, 1);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestContract { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("its result tag is 7; 0 (ok) and 1 (error) are the only tags"),
        "{err}"
    );
    r.goes_on();
}

#[test]
fn error_message_outside_memory() {
    let mut r = rig();
    r.result(16, 1, 70_000, 5);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::GuestBounds {
                what: "error message",
                ptr: 70_000,
                len: 5,
                ..
            }
        ),
        "{err:?}"
    );
    // In bounds it is an ordinary GuestError.
    r.result(16, 1, 600, 4);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestError { message, .. } if message == "oops"),
        "{err:?}"
    );
    r.goes_on();
}

#[test]
fn allocator_traps() {
    let mut r = rig();
    r.allocator(1);
    let err = r.inst.call_bytes("echo", b"abc").unwrap_err();
    match err.kind() {
        ErrorKind::Allocator {
            function,
            size: 3,
            problem: AllocatorProblem::Trapped { code, backtrace },
        } => {
            assert_eq!(function, "echo");
            assert_eq!(*code, TrapCode::UnreachableCodeReached);
            assert!(backtrace.contains("cabi_realloc"), "{backtrace}");
        }
        other => panic!("expected Allocator/Trapped, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with(
            "`echo`: the plugin's cabi_realloc failed to allocate 3 bytes: it trapped: "
        ),
        "{err}"
    );
    r.goes_on();
}

#[test]
fn allocator_returns_null() {
    let mut r = rig();
    r.allocator(2);
    let err = r.inst.call_bytes("echo", b"abc").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Allocator {
                size: 3,
                problem: AllocatorProblem::Null,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().ends_with("it returned a null pointer"),
        "{err}"
    );
    // For an empty input nothing is written, so 0 is a fine pointer.
    assert_eq!(r.inst.call_bytes("echo", b"").unwrap(), b"");
    r.goes_on();
}

#[test]
fn allocator_returns_a_block_outside_memory() {
    let mut r = rig();
    r.allocator(3);
    let err = r.inst.call_bytes("echo", b"abc").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Allocator {
                problem: AllocatorProblem::OutOfBounds {
                    ptr: 0xFFFF_FF00,
                    memory_size: 65_536
                },
                ..
            }
        ),
        "{err:?}"
    );
    // Starts inside, ends outside.
    r.allocator(4);
    let err = r.inst.call_bytes("echo", b"0123456789").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Allocator {
                size: 10,
                problem: AllocatorProblem::OutOfBounds { ptr: 65_530, .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("it returned 0xfffa, and the bytes from there do not fit"),
        "{err}"
    );
    // 6 bytes do fit behind 65530.
    assert_eq!(r.inst.call_bytes("echo", b"012345").unwrap(), b"012345");
    r.goes_on();
}

#[test]
fn allocator_that_never_returns_runs_out_of_fuel_as_usual() {
    let mut r = rig();
    r.allocator(5);
    let err = r.inst.call_bytes("echo", b"abc").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::OutOfFuel {
                fuel: 1_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    r.goes_on();
}

#[test]
fn output_over_max_output_bytes() {
    let mut r = rig_with(Limits::new().fuel(1_000_000).max_output_bytes(100));
    assert_eq!(r.inst.call_bytes("echo", &[7; 100]).unwrap(), [7; 100]);
    let err = r.inst.call_bytes("echo", &[7; 101]).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::OutputLimit { what: "output", len: 101, limit: 100, function } if function == "echo"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "`echo`: the plugin's output is 101 bytes, over the 100-byte max_output_bytes limit"
    );
    // An error message is bounded by the same limit.
    r.result(16, 1, 1024, 5000);
    let err = r.inst.call_bytes("ret", b"").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::OutputLimit {
                what: "error message",
                len: 5000,
                ..
            }
        ),
        "{err:?}"
    );
    r.goes_on();
}

#[test]
fn output_that_is_not_utf8_for_call_str() {
    let mut r = rig();
    r.result(16, 0, 512, 12);
    let err = r.inst.call_str("ret", "").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::InvalidUtf8 { what: "output", valid_up_to: 0, len: 12, function } if function == "ret"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "`ret`: the output is not UTF-8 (invalid from byte 0 of 12)"
    );
    // The same bytes are a fine call_bytes result.
    assert_eq!(&r.inst.call_bytes("ret", b"").unwrap()[2..], b" not UTF-8");
    r.goes_on();
}

const UPPER: &str = include_str!("../data/upper.wat");

/// Pages of the instance's memory and the arena top the plugin reports.
fn footprint(inst: &mut Instance<()>) -> (usize, i32) {
    let pages = inst.memory().len() / 65_536;
    (pages, inst.call::<(), i32>("heap_top", ()).unwrap())
}

#[test]
fn guest_memory_stays_flat_over_100k_calls() {
    const CALLS: usize = 100_000;
    let host = Host::<()>::builder().build().unwrap();
    let plugin = host.load_wat("upper.wat", UPPER).unwrap();
    let mut inst = plugin.instantiate(()).unwrap();
    let base = inst.call::<(), i32>("heap_base", ()).unwrap();
    let input: Vec<u8> = (0..1024).map(|i| b'a' + (i % 26) as u8).collect();
    let expected = input.to_ascii_uppercase();
    let mut out = Vec::new();
    inst.call_bytes_into("upper", &input, &mut out).unwrap();
    let before = footprint(&mut inst);
    assert_eq!(before.1, base, "the arena is reset after each call");
    for i in 0..CALLS {
        inst.call_bytes_into("upper", &input, &mut out).unwrap();
        assert_eq!(out, expected);
        if i % 1000 == 0 {
            assert_eq!(footprint(&mut inst), before, "after call {i}");
        }
    }
    assert_eq!(footprint(&mut inst), before, "after {CALLS} calls");

    // The measurement sees a leak: the same plugin without its post-return
    // export keeps every input and output (2 KiB a call).
    let leaky = UPPER.replace(r#"(export "cabi_post_upper" (func $free_all))"#, "");
    assert_ne!(leaky, UPPER);
    let mut leaky = host
        .load_wat("leaky", &leaky)
        .unwrap()
        .instantiate(())
        .unwrap();
    let start = footprint(&mut leaky);
    for _ in 0..100 {
        leaky.call_bytes("upper", &input).unwrap();
    }
    let end = footprint(&mut leaky);
    assert_eq!(end.1 - start.1, 100 * 2048, "{start:?} -> {end:?}");
    assert!(end.0 > start.0, "{start:?} -> {end:?}");
}
