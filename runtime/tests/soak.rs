//! Soak: many instantiations, suspended calls and hostile plugins on one
//! host, with the process's resident memory read from /proc at the start,
//! after a warm-up and at the end (the harness: `spindle_test_support::soak`).
//! Ignored by default; `scripts/soak.sh` runs them in release mode and
//! prints the figures (RELIABILITY.md). `SPINDLE_SOAK_SCALE` (a factor,
//! default 1) scales the counts down for CI.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use spindle_runtime::{BoxError, Call, Ctx, Error, ErrorKind, Host, Limits, Step, TrapCode};
use spindle_test_support::fixture_host::*;
use spindle_test_support::soak::Soak;

/// The fewest runs however small `SPINDLE_SOAK_SCALE` is: 10 after the
/// warm-up of 10.
const MIN_COUNT: u64 = 20;

#[test]
#[ignore = "soak: run with scripts/soak.sh"]
fn soak_instantiate_call_drop_on_one_host() {
    let host = host();
    let plugin = host.load_wat("good.wat", GOOD).expect("good plugin loads");
    Soak {
        what: "plugin instantiate + call + drop (one Host)",
        count: 100_000,
        min_count: MIN_COUNT,
        max_rss_growth_kib: 8 << 10,
        max_map_growth: 16,
    }
    .run(|i| {
        let mut inst = plugin
            .instantiate(Journal::default())
            .expect("instantiates");
        let a = (i % 1000) as i32;
        assert_eq!(inst.call::<(i32, i32), i32>("add", (a, 2)).unwrap(), a + 2);
        inst.call::<(), ()>("greet", ()).unwrap();
        assert_eq!(inst.state().lines, ["hello from wasm"]);
    });
    assert_good_plugin_runs(&host);
}

const ASKER: &str = r#"
(module $asker
  (import "host" "ask" (func $ask (param i32) (result i64)))
  (func (export "ask") (param i32) (result i64) (call $ask (local.get 0)))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
)"#;

/// Counts host futures dropped: each lives on the plugin's fiber, so a drop
/// proves the suspended call was unwound.
struct DropCount(Arc<AtomicU64>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
#[ignore = "soak: run with scripts/soak.sh"]
fn soak_resumable_calls_dropped_while_suspended() {
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = dropped.clone();
    let host = builder()
        .func_async(
            "host",
            "ask",
            move |mut cx: Ctx<'_, Journal>, (q,): (i32,)| {
                let guard = DropCount(counter.clone());
                Box::new(async move {
                    let answer: i64 = cx.suspend::<i32, i64>(q).await?;
                    drop(guard);
                    Ok::<i64, BoxError>(answer)
                })
            },
        )
        .build()
        .expect("host builds");
    let plugin = host.load_wat("asker.wat", ASKER).expect("asker loads");
    let mut inst = plugin
        .instantiate(Journal::default())
        .expect("instantiates");
    let mut started = 0u64;
    Soak {
        what: "resumable call started, suspended, dropped (one Instance)",
        count: 10_000,
        min_count: MIN_COUNT,
        max_rss_growth_kib: 8 << 10,
        max_map_growth: 16,
    }
    .run(|i| {
        let q = (i % 1000) as i32;
        let mut call: Call<'_, i64, i32, i64> = inst.start("ask", q).expect("starts");
        assert_eq!(call.run().unwrap(), Step::Suspended(q));
        drop(call);
        started += 1;
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            started,
            "call {i} was not unwound"
        );
    });
    // The instance that had all those calls dropped still answers, resumably
    // and plainly.
    let mut call: Call<'_, i64, i32, i64> = inst.start("ask", 5).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(5));
    assert_eq!(call.resume(37).unwrap(), Step::Returned(37));
    drop(call);
    assert_eq!(inst.call::<(i32, i32), i32>("add", (40, 2)).unwrap(), 42);
}

const HOSTILE: &str = r#"
(module $hostile
  (memory (export "memory") 1)
  (func $spin (export "spin") (loop $l (br $l)))
  (func $bomb (export "bomb") (loop $l (drop (memory.grow (i32.const 16))) (br $l)))
  (func $deep (export "deep") (param i32) (result i32)
    (i32.add (i32.const 1) (call $deep (local.get 0))))
  (func $trap (export "trap") unreachable)
)"#;

/// What a hostile plugin's run ended with, by kind.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Ending {
    Fuel,
    Memory,
    Stack,
    Unreachable,
    Invalid,
}

fn ending(what: &str, err: &Error) -> Ending {
    match err.kind() {
        ErrorKind::OutOfFuel { .. } => Ending::Fuel,
        ErrorKind::MemoryLimit { .. } => Ending::Memory,
        ErrorKind::StackOverflow { .. } => Ending::Stack,
        ErrorKind::Trap {
            code: TrapCode::UnreachableCodeReached,
            ..
        } => Ending::Unreachable,
        ErrorKind::InvalidModule { .. } => Ending::Invalid,
        other => panic!("{what}: unexpected error {other:?}"),
    }
}

#[test]
#[ignore = "soak: run with scripts/soak.sh"]
fn soak_hostile_plugins_on_one_host() {
    let host: Host<Journal> = builder().enable_fuel().build().expect("host builds");
    let hostile = host
        .load_wat("hostile.wat", HOSTILE)
        .expect("hostile loads");
    let limits = Limits::new().fuel(200_000).max_memory_bytes(4 << 20);
    // A module whose type section claims more than it holds.
    let mut malformed = b"\0asm\x01\0\0\0".to_vec();
    malformed.extend_from_slice(&[0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x60]);
    let mut counts = std::collections::BTreeMap::new();
    Soak {
        what: "hostile plugins: infinite loop (fuel), memory bomb, deep recursion, trap, malformed",
        count: 1_000 * 5,
        min_count: MIN_COUNT,
        max_rss_growth_kib: 16 << 10,
        max_map_growth: 16,
    }
    .run(|i| {
        let (expected, err) = match i % 5 {
            0 => {
                let mut inst = hostile
                    .instantiate_with(Journal::default(), limits.clone())
                    .expect("instantiates");
                (Ending::Fuel, inst.call::<(), ()>("spin", ()).unwrap_err())
            }
            1 => {
                let mut inst = hostile
                    .instantiate_with(Journal::default(), limits.clone())
                    .expect("instantiates");
                let err = inst.call::<(), ()>("bomb", ()).unwrap_err();
                assert!(inst.memory().len() <= 4 << 20, "memory grew past the cap");
                (Ending::Memory, err)
            }
            2 => {
                // Deep recursion runs out of wasm stack before it runs
                // out of this much fuel.
                let mut inst = hostile
                    .instantiate_with(Journal::default(), Limits::new().fuel(u64::MAX / 2))
                    .expect("instantiates");
                (Ending::Stack, inst.call::<i32, i32>("deep", 0).unwrap_err())
            }
            3 => {
                let mut inst = hostile
                    .instantiate_with(Journal::default(), limits.clone())
                    .expect("instantiates");
                (
                    Ending::Unreachable,
                    inst.call::<(), ()>("trap", ()).unwrap_err(),
                )
            }
            _ => (
                Ending::Invalid,
                host.load_bytes("malformed.wasm", &malformed)
                    .err()
                    .expect("a malformed module must not load"),
            ),
        };
        assert_eq!(ending(&format!("run {i}"), &err), expected, "{err}");
        *counts.entry(expected).or_insert(0u64) += 1;
    });
    println!("SOAK hostile endings: {counts:?}");
    assert_eq!(
        counts.len(),
        5,
        "every kind of hostile plugin ran: {counts:?}"
    );
    assert_good_plugin_runs(&host);
}
