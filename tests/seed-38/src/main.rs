//! The seed application: one async call into a plugin whose host function
//! is async and yields to the executor before it answers, so every host call
//! suspends the plugin's fiber and the call comes back `Pending` to `main`.
//! A second async call never suspends. Every answer is checked against the
//! same arithmetic done here, and so is the number of times the call was
//! pending; the program prints one line for the harness or exits non-zero.
//!
//! Shared, as source, by tests/seed-38 and tests/seed-36 (their manifests
//! differ in the wasmtime version only): the API used here is the same in
//! both.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use wasmtime::{Caller, Config, Engine, Linker, Module, Store};

const PLUGIN: &str = r#"
(module
  (import "host" "next" (func $next (param i32) (result i32)))
  ;; Folds `count` answers of the host into an accumulator.
  (func (export "fold") (param $count i32) (result i32) (local $i i32) (local $acc i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_s (local.get $i) (local.get $count)))
        (local.set $acc (i32.add (local.get $acc) (call $next (local.get $acc))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (local.get $acc))
  (func (export "double") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 2)))
)"#;

/// How many host calls `fold` makes.
const COUNT: i32 = 100;

/// The host's answer to `next(acc)`, in one place so the check below is the
/// same function the host runs.
fn answer(acc: i32) -> i32 {
    acc % 13 + 1
}

/// A future that is pending once (waking itself), then ready: the smallest
/// real yield to the executor.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Polls `future` to completion on this thread; returns its output and how
/// many polls came back pending.
fn block_on<F: Future>(future: F) -> (F::Output, u32) {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    let mut pending = 0;
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return (output, pending),
            Poll::Pending => pending += 1,
        }
    }
}

fn main() -> wasmtime::Result<()> {
    let mut config = Config::new();
    config.async_support(true);
    let engine = Engine::new(&config)?;
    let module = Module::new(&engine, PLUGIN)?;
    let mut linker = Linker::<u32>::new(&engine);
    linker.func_wrap_async(
        "host",
        "next",
        |mut caller: Caller<'_, u32>, (acc,): (i32,)| {
            Box::new(async move {
                YieldOnce(false).await;
                *caller.data_mut() += 1;
                Ok(answer(acc))
            })
        },
    )?;
    let mut store = Store::new(&engine, 0u32);

    let (result, pending) = block_on(async {
        let instance = linker.instantiate_async(&mut store, &module).await?;
        let fold = instance.get_typed_func::<i32, i32>(&mut store, "fold")?;
        let double = instance.get_typed_func::<i32, i32>(&mut store, "double")?;
        let folded = fold.call_async(&mut store, COUNT).await?;
        let doubled = double.call_async(&mut store, 21).await?;
        wasmtime::Result::<_>::Ok((folded, doubled))
    });
    let (folded, doubled) = result?;

    let mut expected = 0i32;
    for _ in 0..COUNT {
        expected += answer(expected);
    }
    let host_calls = *store.data();
    let mut wrong = Vec::new();
    if folded != expected {
        wrong.push(format!("fold returned {folded}, expected {expected}"));
    }
    if host_calls != COUNT as u32 {
        wrong.push(format!(
            "the host function ran {host_calls} times, expected {COUNT}"
        ));
    }
    // Each host call yields once, and only a fiber that really switched
    // stacks can carry that yield out of the plugin to this loop.
    if pending != COUNT as u32 {
        wrong.push(format!(
            "the call was pending {pending} times, expected {COUNT}"
        ));
    }
    if doubled != 42 {
        wrong.push(format!("double returned {doubled}, expected 42"));
    }
    if !wrong.is_empty() {
        eprintln!("seed: WRONG: {}", wrong.join("; "));
        std::process::exit(1);
    }
    println!(
        "seed ok: {} fold={folded} host_calls={host_calls} pending={pending} double={doubled}",
        env!("CARGO_PKG_NAME")
    );
    Ok(())
}
