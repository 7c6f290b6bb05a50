//! The application of `spindle patch`'s proof cells: the cheapest wasmtime
//! build whose async support still switches stacks. wasmtime is built with
//! `runtime`, `async` and `std` only (no compiler, so no wasm): the host
//! calls its own async host function with `call_async`, which wasmtime runs
//! on a fiber; the function's future is pending once before it answers, so
//! the fiber suspends back to `main` and is resumed from it. The program
//! checks the answer and the number of pending polls, and prints one line
//! for the harness (tests/tests/patch_cells.rs), or exits non-zero.
//!
//! The same source builds on every wasmtime from 36 to 51 (the API used here
//! did not change); the harness writes the manifest for each release.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use wasmtime::{Caller, Config, Engine, Func, Store};

/// How many async calls main makes; each suspends its fiber once.
const CALLS: u32 = 1000;

/// Pending once (waking itself), then ready: the smallest real yield.
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
    // Required before 44 (an error without it), a no-op after.
    #[allow(deprecated)]
    config.async_support(true);
    let engine = Engine::new(&config)?;
    let mut store = Store::new(&engine, 0u32);
    let next = Func::wrap_async(&mut store, |mut caller: Caller<'_, u32>, (x,): (i32,)| {
        Box::new(async move {
            // Suspends the fiber this call runs on, back to `block_on`.
            YieldOnce(false).await;
            *caller.data_mut() += 1;
            x.wrapping_mul(3).wrapping_add(1)
        })
    });
    let next = next.typed::<i32, i32>(&store)?;
    let mut pending_total = 0;
    let mut x = 1i32;
    for _ in 0..CALLS {
        let (answer, pending) = block_on(next.call_async(&mut store, x));
        let answer = answer?;
        if answer != x.wrapping_mul(3).wrapping_add(1) {
            eprintln!("wrong answer {answer} for {x}");
            std::process::exit(2);
        }
        x = answer % 1_000_003;
        pending_total += pending;
    }
    if pending_total != CALLS || *store.data() != CALLS {
        eprintln!(
            "expected {CALLS} suspensions and host calls, saw {pending_total} and {}",
            store.data()
        );
        std::process::exit(3);
    }
    println!(
        "patch-cell: {CALLS} async host calls, each suspended its fiber once and resumed (final {x})"
    );
    Ok(())
}
