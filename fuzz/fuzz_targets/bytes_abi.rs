#![no_main]
//! The plugin host's bytes ABI (docs/guest-contract.md) against a guest whose
//! allocator and result area answer whatever the fuzzer says.
//!
//! The guest's `cabi_realloc` behaves well, traps, spins until its fuel runs
//! out, or returns an arbitrary pointer (after growing its memory, in one
//! mode); its export `ret` writes an arbitrary result area (tag, pointer,
//! length) wherever the fuzzer says and returns its address. The target
//! keeps a byte-exact shadow of the guest's memory, so it knows what every
//! call must give:
//!
//! * `call_bytes` / `call_str` never panic;
//! * the allocator's answer is refused exactly when it is out of bounds
//!   (or null for a non-empty input), and the input lands where it said;
//! * a call succeeds exactly when nothing in the result breaks the contract
//!   or `max_output_bytes`, and then returns exactly the payload bytes; when
//!   it fails, the error is one of the kinds the broken rules name;
//! * afterwards the same instance still answers a well-behaved `echo`.

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use spindle_runtime::{ErrorKind, Host, Instance, Limits, Plugin};

const PAGE: usize = 65536;
/// Where the well-behaved allocator puts every input (reused by each call).
const BLOCK: u32 = 1024;
/// The largest input a call makes (the well-behaved block fits in page 0).
const MAX_INPUT: usize = 4096;

const GUEST: &str = r#"(module
  (memory (export "memory") 1)
  (global $mode (mut i32) (i32.const 0))
  (global $value (mut i32) (i32.const 0))
  (global $area (mut i32) (i32.const 16))
  (global $tag (mut i32) (i32.const 0))
  (global $ptr (mut i32) (i32.const 0))
  (global $len (mut i32) (i32.const 0))
  (func (export "rig_alloc") (param i32 i32)
    (global.set $mode (local.get 0)) (global.set $value (local.get 1)))
  (func (export "rig") (param i32 i32 i32 i32)
    (global.set $area (local.get 0)) (global.set $tag (local.get 1))
    (global.set $ptr (local.get 2)) (global.set $len (local.get 3)))
  (func (export "fill") (param $at i32) (param $n i32) (param $byte i32)
    (memory.fill (local.get $at) (local.get $byte) (local.get $n)))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 1)) (then unreachable))
    (if (i32.eq (global.get $mode) (i32.const 2)) (then (return (global.get $value))))
    (if (i32.eq (global.get $mode) (i32.const 3)) (then (loop $spin (br $spin))))
    (if (i32.eq (global.get $mode) (i32.const 4))
      (then
        (drop (memory.grow (i32.and (global.get $value) (i32.const 3))))
        (return (global.get $value))))
    (i32.const 1024))
  (func (export "ret") (param i32 i32) (result i32)
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

#[derive(Arbitrary, Debug)]
enum Op {
    /// What `cabi_realloc` does next: 0 well, 1 trap, 2 return `value`,
    /// 3 spin, 4 grow by `value & 3` pages and return `value`.
    Alloc {
        mode: u8,
        value: u32,
    },
    /// The result area `ret` writes (when `area <= 65524`) and returns.
    Rig {
        area: u32,
        tag: u8,
        ptr: u32,
        len: u32,
    },
    /// A payload to point at: `n` bytes of `byte` from `at`, in page 0.
    Fill {
        at: u16,
        n: u16,
        byte: u8,
    },
    CallBytes(Vec<u8>),
    CallStr(String),
}

/// At most this many operations per input, so the guest's memory (at most
/// 3 pages of growth per call) stays far below `max_memory_bytes`.
const MAX_OPS: usize = 24;

thread_local! {
    /// One host and one compiled guest for the whole run (libFuzzer runs
    /// inputs on one thread); each input gets a fresh instance.
    static PLUGIN: Plugin<()> = {
        let host = Host::<()>::builder().enable_fuel().build().expect("host");
        host.load_wat("rigged", GUEST).expect("load the guest")
    };
}

/// The guest's memory as the target knows it, and its rigging.
struct Shadow {
    mem: Vec<u8>,
    mode: u8,
    value: u32,
    area: u32,
    tag: u8,
    ptr: u32,
    len: u32,
}

impl Shadow {
    fn region(&self, ptr: u32, len: u32) -> Option<std::ops::Range<usize>> {
        let end = (ptr as u64).checked_add(len as u64)?;
        (end <= self.mem.len() as u64).then(|| ptr as usize..end as usize)
    }

    fn word(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.mem[at..at + 4].try_into().unwrap())
    }
}

fn kind_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::GuestBounds { .. } => "GuestBounds",
        ErrorKind::Allocator { .. } => "Allocator",
        ErrorKind::OutputLimit { .. } => "OutputLimit",
        ErrorKind::InvalidUtf8 { .. } => "InvalidUtf8",
        ErrorKind::GuestError { .. } => "GuestError",
        ErrorKind::GuestContract { .. } => "GuestContract",
        ErrorKind::OutOfFuel { .. } => "OutOfFuel",
        other => panic!("an error outside the contract's kinds: {other:?}"),
    }
}

/// One call through the contract, checked against the shadow.
fn call(inst: &mut Instance<()>, s: &mut Shadow, input: &[u8], as_str: bool, max_output: usize) {
    let got: std::result::Result<Vec<u8>, spindle_runtime::Error> = if as_str {
        let text = std::str::from_utf8(input).expect("CallStr inputs are strings");
        inst.call_str("ret", text).map(String::into_bytes)
    } else {
        inst.call_bytes("ret", input)
    };
    let len = input.len() as u32;

    // The allocator.
    let placed = match s.mode % 5 {
        0 => Some(BLOCK),
        1 | 3 => None,
        mode => {
            if mode == 4 {
                // Always within max_memory_bytes: at most 3 pages a call.
                let grow = (s.value & 3) as usize;
                s.mem.resize(s.mem.len() + grow * PAGE, 0);
            }
            let ok = s.region(s.value, len).is_some() && (len == 0 || s.value != 0);
            ok.then_some(s.value)
        }
    };
    let Some(at) = placed else {
        let err = got.expect_err("the call went on past a failing allocator");
        let kind = kind_name(err.kind());
        let expected = if s.mode % 5 == 3 {
            "OutOfFuel"
        } else {
            "Allocator"
        };
        assert_eq!(kind, expected, "allocator mode {}: {err}", s.mode % 5);
        return;
    };
    if let Err(e) = &got {
        assert_ne!(
            kind_name(e.kind()),
            "Allocator",
            "a valid allocation was refused: {e}"
        );
    }
    let r = s.region(at, len).expect("checked above");
    s.mem[r].copy_from_slice(input);

    // `ret` writes the area where the guest's own check lets it.
    if s.area <= 65524 {
        let a = s.area as usize;
        s.mem[a] = s.tag;
        s.mem[a + 4..a + 8].copy_from_slice(&s.ptr.to_le_bytes());
        s.mem[a + 8..a + 12].copy_from_slice(&s.len.to_le_bytes());
    }

    // What the host must make of it.
    let mut broken: Vec<&str> = Vec::new();
    let mut payload = None;
    if s.area % 4 != 0 {
        broken.extend(["GuestContract", "GuestBounds"]);
    } else if s.region(s.area, 12).is_none() {
        broken.push("GuestBounds");
    } else {
        let a = s.area as usize;
        let (tag, ptr, plen) = (s.mem[a], s.word(a + 4), s.word(a + 8));
        match (tag, s.region(ptr, plen)) {
            (0 | 1, None) => broken.push("GuestBounds"),
            (0, Some(r)) => {
                if as_str && std::str::from_utf8(&s.mem[r.clone()]).is_err() {
                    broken.push("InvalidUtf8");
                }
                payload = Some(s.mem[r].to_vec());
            }
            (1, Some(_)) => broken.push("GuestError"),
            _ => broken.push("GuestContract"),
        }
        if tag <= 1 && plen as usize > max_output {
            broken.push("OutputLimit");
        }
    }
    match got {
        Ok(out) => {
            assert!(broken.is_empty(), "accepted a result breaking {broken:?}");
            assert_eq!(Some(out), payload, "not the payload the guest pointed at");
        }
        Err(e) => {
            let kind = kind_name(e.kind());
            assert!(
                broken.contains(&kind),
                "refused with {kind} ({e}), the result broke only {broken:?}"
            );
        }
    }
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let max_output = u.int_in_range(0..=2 * MAX_INPUT)?;
    let limits = Limits::new()
        .fuel(200_000)
        .max_output_bytes(max_output)
        .max_memory_bytes(2 * (1 + 3 * MAX_OPS) * PAGE);
    let mut inst = PLUGIN
        .with(|p| p.instantiate_with((), limits))
        .expect("instantiate");
    let mut s = Shadow {
        mem: vec![0; PAGE],
        mode: 0,
        value: 0,
        area: 16,
        tag: 0,
        ptr: 0,
        len: 0,
    };
    for _ in 0..u.int_in_range(1..=MAX_OPS)? {
        match Op::arbitrary(u)? {
            Op::Alloc { mode, value } => {
                (s.mode, s.value) = (mode, value);
                inst.call::<(u32, u32), ()>("rig_alloc", ((mode % 5) as u32, value))
                    .expect("rig_alloc");
            }
            Op::Rig {
                area,
                tag,
                ptr,
                len,
            } => {
                (s.area, s.tag, s.ptr, s.len) = (area, tag, ptr, len);
                inst.call::<(u32, u32, u32, u32), ()>("rig", (area, tag as u32, ptr, len))
                    .expect("rig");
            }
            Op::Fill { at, n, byte } => {
                let (at, n) = (at as usize, (n as usize).min(PAGE - at as usize));
                s.mem[at..at + n].fill(byte);
                inst.call::<(u32, u32, u32), ()>("fill", (at as u32, n as u32, byte as u32))
                    .expect("fill");
            }
            Op::CallBytes(mut input) => {
                input.truncate(MAX_INPUT);
                call(&mut inst, &mut s, &input, false, max_output);
            }
            Op::CallStr(mut input) => {
                while input.len() > MAX_INPUT {
                    input.pop();
                }
                call(&mut inst, &mut s, input.as_bytes(), true, max_output);
            }
        }
    }
    // The host goes on: a well-behaved allocator and export on the same
    // instance still answer exactly.
    inst.call::<(u32, u32), ()>("rig_alloc", (0, 0))
        .expect("rig_alloc");
    let echo = inst.call_bytes("echo", b"still here");
    if max_output >= 10 {
        assert_eq!(echo.expect("echo after the run"), b"still here");
    } else {
        let err = echo.expect_err("echo over max_output_bytes");
        assert_eq!(kind_name(err.kind()), "OutputLimit", "{err}");
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
