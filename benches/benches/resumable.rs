//! Resumable plugin calls (spindle-runtime on wasmtime's async support), to
//! compare the fibers wasmtime switches stacks with: its own
//! (`wasmtime-internal-fiber` from crates.io) or Spindle's drop-in
//! (`fiber/wasmtime-compat`, applied with `[patch.crates-io]`).
//!
//! The two cannot share one binary (the patch replaces the crate for the
//! whole build), so `scripts/bench-resumable.sh` builds and runs this bench
//! twice in one go, saving a criterion baseline for each, and prints the
//! ratio. The function names carry the fiber implementation this binary was
//! built with (read from its own symbol table, see [`fibers`]).
//!
//! Groups:
//! - `resumable/yield_round_trip`: `Call::resume` of a suspended call whose
//!   plugin loops calling a host function that suspends again: host future
//!   polled, two stack switches, wasm loop, host call, suspension handed to
//!   the application.
//! - `resumable/async_host_call`: a whole plain `Instance::call` of an export
//!   that makes one call to an async host function that completes at once
//!   (each call runs on a fresh async stack taken from wasmtime's pool).
//! - `resumable/sync_host_call`: the same export shape calling an ordinary
//!   host function, on a host without async functions (no fiber at all), as
//!   the yardstick.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use spindle_runtime::{BoxError, Call, Ctx, Host, Step};

const LOOPER: &str = r#"
(module
  (import "app" "next" (func $next (param i64) (result i64)))
  (import "app" "now" (func $now (param i64) (result i64)))
  (func (export "forever") (local $x i64)
    (loop $again
      (local.set $x (call $next (local.get $x)))
      (br $again)))
  (func (export "once") (param i64) (result i64)
    (call $now (local.get 0)))
)"#;

const PLAIN: &str = r#"
(module
  (import "app" "now" (func $now (param i64) (result i64)))
  (func (export "once") (param i64) (result i64)
    (call $now (local.get 0)))
)"#;

/// Which fibers wasmtime uses in this binary, from its own symbol table:
/// wasmtime's switch (`wasmtime_fiber_switch_`, a Rust-mangled naked
/// function) is linked exactly when the patch is not applied.
fn fibers() -> &'static str {
    use object::{Object, ObjectSymbol};
    let exe = std::env::current_exe().expect("current exe");
    let data = std::fs::read(exe).expect("read own executable");
    let file = object::File::parse(&*data).expect("parse own executable");
    let wasmtime_switch = file
        .symbols()
        .any(|s| s.name().is_ok_and(|n| n.contains("wasmtime_fiber_switch")));
    if wasmtime_switch {
        "wasmtime-fibers"
    } else {
        "spindle-fibers"
    }
}

fn resumable(c: &mut Criterion) {
    let fibers = fibers();
    let mut group = c.benchmark_group("resumable");

    let host = Host::<()>::builder()
        .func_async("app", "next", |mut cx: Ctx<'_, ()>, (x,): (i64,)| {
            Box::new(async move {
                let answer: i64 = cx.suspend::<i64, i64>(x).await?;
                Ok::<i64, BoxError>(answer)
            })
        })
        .func_async("app", "now", |_cx: Ctx<'_, ()>, (x,): (i64,)| {
            Box::new(async move { Ok::<i64, BoxError>(x + 1) })
        })
        .build()
        .expect("host");
    let plugin = host.load_wat("looper.wat", LOOPER).expect("plugin");

    group.bench_function(format!("yield_round_trip/{fibers}"), |b| {
        let mut instance = plugin.instantiate(()).expect("instance");
        let mut call: Call<'_, (), i64, i64> = instance.start("forever", ()).expect("start");
        assert!(matches!(call.run().expect("run"), Step::Suspended(0)));
        b.iter(|| call.resume(black_box(1)).expect("resume"));
        // Dropping the suspended call cancels it (wasm frames unwound).
    });

    group.bench_function(format!("async_host_call/{fibers}"), |b| {
        let mut instance = plugin.instantiate(()).expect("instance");
        b.iter(|| {
            instance
                .call::<i64, i64>("once", black_box(1))
                .expect("call")
        });
    });

    let plain = Host::<()>::builder()
        .func("app", "now", |_cx: Ctx<'_, ()>, x: i64| x + 1)
        .build()
        .expect("host");
    let plain = plain.load_wat("plain.wat", PLAIN).expect("plugin");
    group.bench_function(format!("sync_host_call/{fibers}"), |b| {
        let mut instance = plain.instantiate(()).expect("instance");
        b.iter(|| {
            instance
                .call::<i64, i64>("once", black_box(1))
                .expect("call")
        });
    });
    group.finish();
}

criterion_group!(benches, resumable);
criterion_main!(benches);
