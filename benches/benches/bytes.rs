//! Bytes in and out: 1 KiB in and 1 KiB out through `Instance::call_bytes`
//! against the same exchange written by hand on raw wasmtime (allocate with
//! `cabi_realloc`, copy in, call, decode and bounds-check the result area,
//! copy out, `cabi_post_*`), in the same run, on the same engine and the
//! same plugin (`runtime/tests/data/upper.wat`, docs/guest-contract.md).
//!
//! Groups (criterion function names in brackets):
//! - `bytes/echo_1KiB`: the export returns its input, so the guest does no
//!   work and the exchange itself is measured [`wasmtime_by_hand` a fresh
//!   `Vec` per call, `spindle_call_bytes`; `wasmtime_by_hand_reused` and
//!   `spindle_call_bytes_into` into a reused buffer].
//! - `bytes/upper_1KiB`: the export uppercases into a new block, for scale.
//!
//! Run: `cargo bench -p spindle-benches --bench bytes` (paired ratios first,
//! then criterion; `SPINDLE_PAIRED_ONLY=1` for the ratios alone;
//! `SPINDLE_BYTES_CALLS` for instruction counts under callgrind, see
//! [`calls_only`]).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use spindle_benches::paired_ratio;
use spindle_runtime::{Host, Instance};
use wasmtime::{Engine, Memory, Module, Store, TypedFunc};

const PLUGIN: &str = include_str!("../../runtime/tests/data/upper.wat");

/// The exchange by hand, as a careful embedder writes it against raw
/// wasmtime: every pointer from the guest bounds-checked, errors returned.
struct ByHand {
    store: Store<()>,
    memory: Memory,
    realloc: TypedFunc<(u32, u32, u32, u32), u32>,
    export: TypedFunc<(u32, u32), u32>,
    post: TypedFunc<u32, ()>,
}

impl ByHand {
    fn new(engine: &Engine, export: &str) -> Self {
        let module = Module::new(engine, PLUGIN).unwrap();
        let mut store = Store::new(engine, ());
        // The engine has epoch interruption on (spindle's does).
        store.set_epoch_deadline(u64::MAX / 2);
        let inst = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        ByHand {
            memory: inst.get_memory(&mut store, "memory").unwrap(),
            realloc: inst.get_typed_func(&mut store, "cabi_realloc").unwrap(),
            export: inst.get_typed_func(&mut store, export).unwrap(),
            post: inst
                .get_typed_func(&mut store, &format!("cabi_post_{export}"))
                .unwrap(),
            store,
        }
    }

    fn call_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> wasmtime::Result<()> {
        let len = u32::try_from(input.len())?;
        let ptr = self.realloc.call(&mut self.store, (0, 0, 1, len))?;
        self.memory.write(&mut self.store, ptr as usize, input)?;
        let area = self.export.call(&mut self.store, (ptr, len))? as usize;
        let mem = self.memory.data(&self.store);
        let head = mem
            .get(
                area..area
                    .checked_add(12)
                    .ok_or_else(|| wasmtime::format_err!("area"))?,
            )
            .ok_or_else(|| wasmtime::format_err!("result area out of bounds"))?;
        let tag = head[0];
        let p = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
        let l = u32::from_le_bytes(head[8..12].try_into().unwrap()) as usize;
        let payload = mem
            .get(
                p..p.checked_add(l)
                    .ok_or_else(|| wasmtime::format_err!("payload"))?,
            )
            .ok_or_else(|| wasmtime::format_err!("payload out of bounds"))?;
        if tag != 0 {
            wasmtime::bail!("guest error");
        }
        out.clear();
        out.extend_from_slice(payload);
        self.post.call(&mut self.store, area as u32)?;
        Ok(())
    }

    fn call(&mut self, input: &[u8]) -> wasmtime::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.call_into(input, &mut out)?;
        Ok(out)
    }
}

fn setup(export: &str) -> (ByHand, Instance<()>) {
    let host = Host::<()>::builder().build().unwrap();
    let plugin = host.load_wat("upper.wat", PLUGIN).unwrap();
    let raw = ByHand::new(host.engine(), export);
    (raw, plugin.instantiate(()).unwrap())
}

fn input() -> Vec<u8> {
    (0..1024).map(|i| b'a' + (i % 26) as u8).collect()
}

fn echo(c: &mut Criterion) {
    let input = input();
    let (mut raw, mut ours) = setup("echo");
    assert_eq!(
        raw.call(&input).unwrap(),
        ours.call_bytes("echo", &input).unwrap()
    );
    let mut g = c.benchmark_group("bytes/echo_1KiB");
    g.bench_function("wasmtime_by_hand", |b| {
        b.iter(|| black_box(raw.call(black_box(&input)).unwrap()))
    });
    g.bench_function("spindle_call_bytes", |b| {
        b.iter(|| black_box(ours.call_bytes("echo", black_box(&input)).unwrap()))
    });
    let mut out = Vec::with_capacity(1024);
    g.bench_function("wasmtime_by_hand_reused", |b| {
        b.iter(|| raw.call_into(black_box(&input), &mut out).unwrap())
    });
    g.bench_function("spindle_call_bytes_into", |b| {
        b.iter(|| {
            ours.call_bytes_into("echo", black_box(&input), &mut out)
                .unwrap()
        })
    });
    g.finish();
}

fn upper(c: &mut Criterion) {
    let input = input();
    let (mut raw, mut ours) = setup("upper");
    let mut g = c.benchmark_group("bytes/upper_1KiB");
    g.bench_function("wasmtime_by_hand", |b| {
        b.iter(|| black_box(raw.call(black_box(&input)).unwrap()))
    });
    g.bench_function("spindle_call_bytes", |b| {
        b.iter(|| black_box(ours.call_bytes("upper", black_box(&input)).unwrap()))
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
    targets = echo, upper
}

fn paired() {
    let input = input();
    for export in ["echo", "upper"] {
        let (mut raw, mut ours) = setup(export);
        let fresh = paired_ratio(
            41,
            5_000,
            || {
                black_box(raw.call(black_box(&input)).unwrap());
            },
            || {
                black_box(ours.call_bytes(export, black_box(&input)).unwrap());
            },
        );
        println!(
            "paired  {export:<5} 1 KiB in + out  call_bytes / by hand on wasmtime (new Vec)      = {fresh:.3}x"
        );
        let mut a = Vec::with_capacity(1024);
        let mut b = Vec::with_capacity(1024);
        let reused = paired_ratio(
            41,
            5_000,
            || raw.call_into(black_box(&input), &mut a).unwrap(),
            || {
                ours.call_bytes_into(export, black_box(&input), &mut b)
                    .unwrap()
            },
        );
        println!(
            "paired  {export:<5} 1 KiB in + out  call_bytes_into / by hand (reused buffer)    = {reused:.3}x"
        );
    }
}

/// `SPINDLE_BYTES_CALLS=<side>:<export>:<n>` (side `hand` or `spindle`):
/// only `n` echo/upper calls of one side, for an instruction count under
/// callgrind (BENCHMARKS.md: two runs of different `n`, the difference
/// divided by the calls, so setup and compilation cancel out).
fn calls_only(spec: &str) {
    let mut parts = spec.split(':');
    let (Some(side), Some(export), Some(n), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("SPINDLE_BYTES_CALLS is <hand|spindle>:<echo|upper>:<calls>, not {spec:?}");
    };
    let n: usize = n.parse().expect("SPINDLE_BYTES_CALLS: calls is a number");
    let input = input();
    let (mut raw, mut ours) = setup(export);
    for _ in 0..n {
        match side {
            "hand" => black_box(raw.call(black_box(&input)).unwrap()),
            "spindle" => black_box(ours.call_bytes(export, black_box(&input)).unwrap()),
            _ => panic!("SPINDLE_BYTES_CALLS: side is hand or spindle, not {side:?}"),
        };
    }
}

fn main() {
    if let Some(spec) = std::env::var_os("SPINDLE_BYTES_CALLS") {
        calls_only(spec.to_str().expect("SPINDLE_BYTES_CALLS is UTF-8"));
        return;
    }
    // `cargo bench -- <filter>` and criterion's --list/--test modes skip the
    // paired run; a plain `cargo bench --bench bytes` prints it first.
    if std::env::args().skip(1).all(|a| a == "--bench") {
        paired();
        if std::env::var_os("SPINDLE_PAIRED_ONLY").is_some() {
            return;
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
