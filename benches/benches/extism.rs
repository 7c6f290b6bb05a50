//! spindle-runtime against Extism (1.x, on its own wasmtime 49) doing the
//! same job, in the same process, against the "≤ 0.5× Extism" targets.
//!
//! Each side runs its own natural plugin for the job, written the way its
//! users write one: spindle's `echo` in runtime/tests/data/upper.wat (the
//! guest contract, docs/guest-contract.md) and Extism's `echo` in
//! benches/plugins/extism-echo (extism-pdk's `#[plugin_fn]`). Both return
//! their 1 KiB input unchanged, so the exchange is what is measured.
//!
//! Groups (criterion function names in brackets):
//! - `extism/echo_1KiB`: one call, 1 KiB in and 1 KiB out
//!   [`spindle_call_bytes`, `extism_call`].
//! - `extism/instantiate`: a fresh instance ready to call, from an already
//!   compiled plugin [`spindle_instantiate`; `extism_new_from_compiled`
//!   without WASI; `extism_new_from_compiled_wasi`].
//!
//! Run (builds a second wasmtime, so never in CI):
//! `cargo bench -p spindle-benches --features extism --bench extism`
//! (paired ratios first, then criterion; `SPINDLE_PAIRED_ONLY=1` for the
//! ratios alone).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use spindle_benches::paired_ratio;
use spindle_runtime::{Host, Instance, Plugin};

const SPINDLE_PLUGIN: &str = include_str!("../../runtime/tests/data/upper.wat");
const EXTISM_PLUGIN: &[u8] = include_bytes!(env!("EXTISM_ECHO_WASM"));

fn input() -> Vec<u8> {
    (0..1024).map(|i| b'a' + (i % 26) as u8).collect()
}

fn spindle_plugin() -> Plugin<()> {
    let host = Host::<()>::builder().build().unwrap();
    host.load_wat("upper.wat", SPINDLE_PLUGIN).unwrap()
}

fn extism_compiled(wasi: bool) -> extism::CompiledPlugin {
    extism::CompiledPlugin::new(
        extism::PluginBuilder::new(extism::Manifest::new([extism::Wasm::data(EXTISM_PLUGIN)]))
            .with_wasi(wasi),
    )
    .unwrap()
}

fn instances() -> (Instance<()>, extism::Plugin) {
    let ours = spindle_plugin().instantiate(()).unwrap();
    let theirs = extism::Plugin::new_from_compiled(&extism_compiled(false)).unwrap();
    (ours, theirs)
}

fn extism_echo(p: &mut extism::Plugin, input: &[u8]) -> Vec<u8> {
    p.call::<&[u8], &[u8]>("echo", input).unwrap().to_vec()
}

fn echo(c: &mut Criterion) {
    let input = input();
    let (mut ours, mut theirs) = instances();
    assert_eq!(ours.call_bytes("echo", &input).unwrap(), input);
    assert_eq!(extism_echo(&mut theirs, &input), input);
    let mut g = c.benchmark_group("extism/echo_1KiB");
    g.bench_function("spindle_call_bytes", |b| {
        b.iter(|| black_box(ours.call_bytes("echo", black_box(&input)).unwrap()))
    });
    g.bench_function("extism_call", |b| {
        b.iter(|| black_box(extism_echo(&mut theirs, black_box(&input))))
    });
    g.finish();
}

fn instantiate(c: &mut Criterion) {
    let plugin = spindle_plugin();
    let plain = extism_compiled(false);
    let wasi = extism_compiled(true);
    let mut g = c.benchmark_group("extism/instantiate");
    g.bench_function("spindle_instantiate", |b| {
        b.iter(|| black_box(plugin.instantiate(()).unwrap()))
    });
    g.bench_function("extism_new_from_compiled", |b| {
        b.iter(|| black_box(extism::Plugin::new_from_compiled(&plain).unwrap()))
    });
    g.bench_function("extism_new_from_compiled_wasi", |b| {
        b.iter(|| black_box(extism::Plugin::new_from_compiled(&wasi).unwrap()))
    });
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
    targets = echo, instantiate
}

/// Interleaved ratios (spindle time / Extism time; below 1 is spindle
/// faster), robust to this machine's drifting load; see `paired_ratio`.
fn paired() {
    let input = input();
    let (mut ours, mut theirs) = instances();
    let call = paired_ratio(
        41,
        2_000,
        || {
            black_box(extism_echo(&mut theirs, black_box(&input)));
        },
        || {
            black_box(ours.call_bytes("echo", black_box(&input)).unwrap());
        },
    );
    println!(
        "paired  echo 1 KiB in + out   spindle call_bytes / Extism call          = {call:.3}x"
    );
    let plugin = spindle_plugin();
    for (label, compiled) in [
        ("", extism_compiled(false)),
        ("_wasi", extism_compiled(true)),
    ] {
        let inst = paired_ratio(
            21,
            100,
            || {
                black_box(extism::Plugin::new_from_compiled(&compiled).unwrap());
            },
            || {
                black_box(plugin.instantiate(()).unwrap());
            },
        );
        println!(
            "paired  instantiate            spindle / Extism new_from_compiled{label:<5}  = {inst:.3}x"
        );
    }
}

fn main() {
    // `cargo bench -- <filter>` and criterion's --list/--test modes skip the
    // paired run; a plain `cargo bench --bench extism` prints it first.
    if std::env::args().skip(1).all(|a| a == "--bench") {
        paired();
        if std::env::var_os("SPINDLE_PAIRED_ONLY").is_some() {
            return;
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
