//! spindle-runtime against raw wasmtime, in the same run and on the same
//! engine configuration, so the difference is spindle's own overhead.
//!
//! Groups (criterion function names in brackets):
//! - `runtime/call_nop`: call an export that does nothing
//!   [`wasmtime_typed_func` raw `TypedFunc::call`, `spindle_func` a looked-up
//!   `Func::call`, `spindle_call_by_name` `Instance::call` with lookup,
//!   `wasmtime_default_engine` raw call on wasmtime's default engine, i.e.
//!   without the epoch checks spindle always enables].
//! - `runtime/guest_to_host`: one export call that makes one host call
//!   [`wasmtime_func_wrap` vs `spindle_host_fn`].
//! - `runtime/instantiate`: instantiate a small plugin (one memory page, a
//!   data segment, two imports) with `InstancePre`, on-demand and pooling
//!   allocators [`wasmtime_*` vs `spindle_*`].
//!
//! Run: `cargo bench -p spindle-benches --bench runtime`
//!
//! `SPINDLE_CALLS=<raw|func|name>:<calls>` runs only that many `nop` calls
//! of one side (raw `TypedFunc::call`, spindle's looked-up `Func::call`, or
//! `Instance::call` by name), for instruction counts under callgrind
//! (BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use spindle_benches::paired_ratio;
use spindle_runtime::{Ctx, Host, Limits};
use wasmtime::{
    Caller, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig, Store,
};

const PLUGIN: &str = r#"
(module $small
  (import "host" "nop" (func $host_nop))
  (import "host" "add" (func $host_add (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "a small plugin with some data")
  (func (export "nop"))
  (func (export "call_host") (call $host_nop))
  (func (export "add_via_host") (param i32 i32) (result i32)
    (call $host_add (local.get 0) (local.get 1)))
)"#;

fn spindle_host(pooling: bool) -> Host<u64> {
    let mut b = Host::<u64>::builder()
        .func("host", "nop", |_cx: Ctx<'_, u64>| {})
        .func("host", "add", |_cx: Ctx<'_, u64>, a: i32, b: i32| {
            a.wrapping_add(b)
        })
        .limits(Limits::new().max_memory_bytes(1 << 20));
    if pooling {
        b = b.pooling(16);
    }
    b.build().unwrap()
}

/// Raw wasmtime set up the way a careful embedder would, on `engine`.
fn raw_linker(engine: &Engine) -> Linker<u64> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "nop", |_: Caller<'_, u64>| {})
        .unwrap();
    linker
        .func_wrap("host", "add", |_: Caller<'_, u64>, a: i32, b: i32| {
            a.wrapping_add(b)
        })
        .unwrap();
    linker
}

fn raw_store(engine: &Engine) -> Store<u64> {
    let mut store = Store::new(engine, 0u64);
    // Engines with epoch interruption trap at once unless a deadline is set.
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

fn call_nop(c: &mut Criterion) {
    let host = spindle_host(false);
    let plugin = host.load_wat("small", PLUGIN).unwrap();
    let mut g = c.benchmark_group("runtime/call_nop");

    let engine = host.engine().clone();
    let module = Module::new(&engine, PLUGIN).unwrap();
    let pre = raw_linker(&engine).instantiate_pre(&module).unwrap();
    let mut store = raw_store(&engine);
    let inst = pre.instantiate(&mut store).unwrap();
    let nop = inst.get_typed_func::<(), ()>(&mut store, "nop").unwrap();
    g.bench_function("wasmtime_typed_func", |b| {
        b.iter(|| nop.call(&mut store, ()).unwrap())
    });

    let mut inst = plugin.instantiate(0).unwrap();
    let mut f = inst.func::<(), ()>("nop").unwrap();
    g.bench_function("spindle_func", |b| b.iter(|| f.call(()).unwrap()));

    let mut inst = plugin.instantiate(0).unwrap();
    g.bench_function("spindle_call_by_name", |b| {
        b.iter(|| inst.call::<(), ()>(black_box("nop"), ()).unwrap())
    });

    let engine = Engine::default();
    let module = Module::new(&engine, PLUGIN).unwrap();
    let mut store = Store::new(&engine, 0u64);
    let inst = raw_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let nop = inst.get_typed_func::<(), ()>(&mut store, "nop").unwrap();
    g.bench_function("wasmtime_default_engine", |b| {
        b.iter(|| nop.call(&mut store, ()).unwrap())
    });
    g.finish();
}

fn guest_to_host(c: &mut Criterion) {
    let host = spindle_host(false);
    let plugin = host.load_wat("small", PLUGIN).unwrap();
    let mut g = c.benchmark_group("runtime/guest_to_host");

    let engine = host.engine().clone();
    let module = Module::new(&engine, PLUGIN).unwrap();
    let mut store = raw_store(&engine);
    let inst = raw_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let add = inst
        .get_typed_func::<(i32, i32), i32>(&mut store, "add_via_host")
        .unwrap();
    g.bench_function("wasmtime_func_wrap", |b| {
        b.iter(|| add.call(&mut store, black_box((2, 3))).unwrap())
    });

    let mut inst = plugin.instantiate(0).unwrap();
    let mut add = inst.func::<(i32, i32), i32>("add_via_host").unwrap();
    g.bench_function("spindle_host_fn", |b| {
        b.iter(|| add.call(black_box((2, 3))).unwrap())
    });
    g.finish();
}

fn instantiate(c: &mut Criterion) {
    let mut g = c.benchmark_group("runtime/instantiate");
    for pooling in [false, true] {
        let suffix = if pooling { "pooling" } else { "on_demand" };

        let host = spindle_host(pooling);
        let plugin = host.load_wat("small", PLUGIN).unwrap();
        g.bench_function(format!("spindle_{suffix}"), |b| {
            b.iter(|| plugin.instantiate(black_box(0)).unwrap())
        });

        let engine = raw_engine(pooling);
        let module = Module::new(&engine, PLUGIN).unwrap();
        let pre = raw_linker(&engine).instantiate_pre(&module).unwrap();
        g.bench_function(format!("wasmtime_{suffix}"), |b| {
            b.iter(|| {
                let mut store = raw_store(&engine);
                let inst = pre.instantiate(&mut store).unwrap();
                (store, inst)
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60)
}

criterion_group! {
    name = benches;
    config = config();
    targets = call_nop, guest_to_host, instantiate
}

/// A raw wasmtime instance of `PLUGIN` on `engine`, with its own store.
fn raw_instance(engine: &Engine) -> (Store<u64>, wasmtime::Instance) {
    let module = Module::new(engine, PLUGIN).unwrap();
    let mut store = raw_store(engine);
    let inst = raw_linker(engine).instantiate(&mut store, &module).unwrap();
    (store, inst)
}

fn paired() {
    let host = spindle_host(false);
    let plugin = host.load_wat("small", PLUGIN).unwrap();
    let engine = host.engine().clone();

    let nop = {
        let (mut store, inst) = raw_instance(&engine);
        let raw = inst.get_typed_func::<(), ()>(&mut store, "nop").unwrap();
        let mut ours = plugin.instantiate(0).unwrap();
        paired_ratio(
            41,
            20_000,
            || raw.call(&mut store, ()).unwrap(),
            || ours.call::<(), ()>("nop", ()).unwrap(),
        )
    };
    println!("paired  call_nop        spindle call-by-name / wasmtime TypedFunc::call = {nop:.3}x");
    let nop_func = {
        let (mut store, inst) = raw_instance(&engine);
        let raw = inst.get_typed_func::<(), ()>(&mut store, "nop").unwrap();
        let mut ours = plugin.instantiate(0).unwrap();
        let mut f = ours.func::<(), ()>("nop").unwrap();
        paired_ratio(
            41,
            20_000,
            || raw.call(&mut store, ()).unwrap(),
            || f.call(()).unwrap(),
        )
    };
    println!(
        "paired  call_nop        spindle Func::call / wasmtime TypedFunc::call    = {nop_func:.3}x"
    );
    let host_call = {
        let (mut store, inst) = raw_instance(&engine);
        let raw = inst
            .get_typed_func::<(i32, i32), i32>(&mut store, "add_via_host")
            .unwrap();
        let mut ours = plugin.instantiate(0).unwrap();
        let mut f = ours.func::<(i32, i32), i32>("add_via_host").unwrap();
        paired_ratio(
            41,
            20_000,
            || {
                black_box(raw.call(&mut store, black_box((2, 3))).unwrap());
            },
            || {
                black_box(f.call(black_box((2, 3))).unwrap());
            },
        )
    };
    println!(
        "paired  guest_to_host   spindle host fn / wasmtime func_wrap             = {host_call:.3}x"
    );
    for pooling in [false, true] {
        let host = spindle_host(pooling);
        let plugin = host.load_wat("small", PLUGIN).unwrap();
        let engine = raw_engine(pooling);
        let module = Module::new(&engine, PLUGIN).unwrap();
        let pre = raw_linker(&engine).instantiate_pre(&module).unwrap();
        let r = paired_ratio(
            41,
            300,
            || {
                let mut store = raw_store(&engine);
                black_box(pre.instantiate(&mut store).unwrap());
            },
            || {
                black_box(plugin.instantiate(0).unwrap());
            },
        );
        let kind = if pooling { "pooling  " } else { "on-demand" };
        println!(
            "paired  instantiate     spindle / wasmtime InstancePre ({kind})        = {r:.3}x"
        );
    }
}

/// A raw engine configured like `spindle_host(pooling)`'s.
fn raw_engine(pooling: bool) -> Engine {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(16)
            .total_memories(16)
            .total_tables(16)
            .max_memory_size(1 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).unwrap()
}

/// `SPINDLE_CALLS=<side>:<n>`: `n` nop calls of one side alone, so that two
/// callgrind runs of different `n` give the instructions of one call.
fn calls_only(spec: &str) {
    let Some((side, n)) = spec.split_once(':') else {
        panic!("SPINDLE_CALLS is <raw|func|name>:<calls>, not {spec:?}");
    };
    let n: usize = n.parse().expect("SPINDLE_CALLS: calls is a number");
    let host = spindle_host(false);
    let plugin = host.load_wat("small", PLUGIN).unwrap();
    match side {
        "raw" => {
            let engine = host.engine().clone();
            let module = Module::new(&engine, PLUGIN).unwrap();
            let pre = raw_linker(&engine).instantiate_pre(&module).unwrap();
            let mut store = raw_store(&engine);
            let inst = pre.instantiate(&mut store).unwrap();
            let nop = inst.get_typed_func::<(), ()>(&mut store, "nop").unwrap();
            for _ in 0..n {
                nop.call(&mut store, ()).unwrap();
            }
        }
        "func" => {
            let mut inst = plugin.instantiate(0).unwrap();
            let mut f = inst.func::<(), ()>("nop").unwrap();
            for _ in 0..n {
                f.call(()).unwrap();
            }
        }
        "name" => {
            let mut inst = plugin.instantiate(0).unwrap();
            for _ in 0..n {
                inst.call::<(), ()>(black_box("nop"), ()).unwrap();
            }
        }
        _ => panic!("SPINDLE_CALLS: side is raw, func or name, not {side:?}"),
    }
}

fn main() {
    if let Some(spec) = std::env::var_os("SPINDLE_CALLS") {
        calls_only(spec.to_str().expect("SPINDLE_CALLS is UTF-8"));
        return;
    }
    // `cargo bench -- <filter>` and criterion's --list/--test modes skip the
    // paired run; a plain `cargo bench --bench runtime` prints it first.
    if std::env::args().skip(1).all(|a| a == "--bench") {
        paired();
        if std::env::var_os("SPINDLE_PAIRED_ONLY").is_some() {
            return;
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
