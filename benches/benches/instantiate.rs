//! Instantiation: a WASI preview 1 plugin against a plain one, through
//! spindle-runtime and on raw wasmtime (+ wasmtime-wasi) for reference, on
//! engines configured alike (epoch interruption on, default allocator).
//!
//! The WASI plugin is the real Rust reactor `runtime/tests/plugins/wasi-plugin`
//! (built for wasm32-wasip1 at bench start, like the tests do); instantiating
//! it means creating its WASI context (nothing granted, stdout and stderr
//! captured), the instance, and running its `_initialize`. The plain plugin
//! is `runtime/tests/data/upper.wat` (one memory, no imports). Each sample
//! drops what it created, so freeing is measured too.
//!
//! Groups (criterion function names in brackets): `instantiate/plain`
//! [`wasmtime`, `spindle`] and `instantiate/wasi` [`wasmtime_wasi`,
//! `spindle`]; and, once instantiated, one call of the WASI plugin's
//! `clock_and_random` (two WASI host calls), `call/wasi`
//! [`wasmtime_wasi_sync`: wasmtime-wasi's synchronous functions and a plain
//! `TypedFunc::call`; `wasmtime_wasi_async`: its async ones and
//! `call_async` polled to completion, what wasmtime's own CLI does;
//! `spindle`: `Instance::call`, which runs WASI plugins on a fiber so a
//! deadline can end their waits]. Extism's plugin creation, with and without WASI, is in
//! benches/extism.rs (`--features extism`).
//!
//! Run: `cargo bench -p spindle-benches --bench instantiate`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use spindle_runtime::{Host, Output, Wasi};
use spindle_test_support::wasi_plugins;
use wasmtime::{Config, Engine, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

const PLAIN: &str = include_str!("../../runtime/tests/data/upper.wat");

fn raw_engine() -> Engine {
    let mut config = Config::new();
    config.epoch_interruption(true);
    Engine::new(&config).unwrap()
}

fn plain(c: &mut Criterion) {
    let mut g = c.benchmark_group("instantiate/plain");
    let engine = raw_engine();
    let module = Module::new(&engine, PLAIN).unwrap();
    let pre = Linker::<()>::new(&engine).instantiate_pre(&module).unwrap();
    g.bench_function("wasmtime", |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            store.set_epoch_deadline(u64::MAX / 2);
            black_box(pre.instantiate(&mut store).unwrap());
        })
    });
    let host = Host::<()>::builder().build().unwrap();
    let plugin = host.load_wat("upper", PLAIN).unwrap();
    g.bench_function("spindle", |b| {
        b.iter(|| black_box(plugin.instantiate(()).unwrap()))
    });
    g.finish();
}

fn wasi(c: &mut Criterion) {
    let path = &wasi_plugins::plugins(Path::new(env!("CARGO_TARGET_TMPDIR"))).plain;
    let bytes = std::fs::read(path).unwrap();
    let mut g = c.benchmark_group("instantiate/wasi");
    let engine = raw_engine();
    let module = Module::new(&engine, &bytes).unwrap();
    let mut linker = Linker::<WasiP1Ctx>::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx).unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    g.bench_function("wasmtime_wasi", |b| {
        b.iter(|| {
            let mut wasi = WasiCtxBuilder::new();
            wasi.arg("plugin")
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .stdout(wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20))
                .stderr(wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20));
            let mut store = Store::new(&engine, wasi.build_p1());
            store.set_epoch_deadline(u64::MAX / 2);
            let inst = pre.instantiate(&mut store).unwrap();
            let init = inst
                .get_typed_func::<(), ()>(&mut store, "_initialize")
                .unwrap();
            init.call(&mut store, ()).unwrap();
            black_box(inst);
        })
    });
    let host = Host::<()>::builder().wasi(Wasi::new()).build().unwrap();
    let plugin = host.load_bytes("wasi-plugin", &bytes).unwrap();
    g.bench_function("spindle", |b| {
        b.iter(|| black_box(plugin.instantiate(()).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("call/wasi");
    let ctx = || {
        let mut wasi = WasiCtxBuilder::new();
        wasi.arg("plugin");
        wasi.build_p1()
    };
    let mut store = Store::new(&engine, ctx());
    store.set_epoch_deadline(u64::MAX / 2);
    let inst = pre.instantiate(&mut store).unwrap();
    let f = inst
        .get_typed_func::<(), u64>(&mut store, "clock_and_random")
        .unwrap();
    g.bench_function("wasmtime_wasi_sync", |b| {
        b.iter(|| black_box(f.call(&mut store, ()).unwrap()))
    });
    let mut async_linker = Linker::<WasiP1Ctx>::new(&engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut async_linker, |cx| cx).unwrap();
    let mut store = Store::new(&engine, ctx());
    store.set_epoch_deadline(u64::MAX / 2);
    let inst = poll_to_end(async_linker.instantiate_async(&mut store, &module)).unwrap();
    let f = inst
        .get_typed_func::<(), u64>(&mut store, "clock_and_random")
        .unwrap();
    g.bench_function("wasmtime_wasi_async", |b| {
        b.iter(|| {
            black_box(wasmtime_wasi::runtime::with_ambient_tokio_runtime(|| {
                poll_to_end(f.call_async(&mut store, ())).unwrap()
            }))
        })
    });
    // It prints a line per call: thrown away, as the raw contexts above do.
    let discard = Wasi::new().stdout(Output::Discard).stderr(Output::Discard);
    let mut inst = plugin
        .instantiate_with_wasi((), spindle_runtime::Limits::new(), &discard)
        .unwrap();
    let mut func = inst.func::<(), u64>("clock_and_random").unwrap();
    g.bench_function("spindle", |b| b.iter(|| black_box(func.call(()).unwrap())));
    g.finish();
}

/// Polls a future that completes without waiting (these calls never wait).
fn poll_to_end<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = plain, wasi
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
