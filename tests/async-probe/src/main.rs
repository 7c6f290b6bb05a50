//! wasmtime's async on the patched fiber crate: see Cargo.toml. Prints one
//! line, `spindle-async-probe ok: ...`, or fails.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use wasmtime::{Engine, Func, Result, Store};

/// Calls made; each is pending `PENDING_PER_CALL` times first.
const CALLS: u32 = 200;
const PENDING_PER_CALL: u32 = 3;

/// A future that is pending `n` times (waking itself) before it is ready.
struct PendingTimes(u32);

impl Future for PendingTimes {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Polls `fut` to completion on this thread; returns its output and how
/// often it was pending.
fn block_on<F: Future>(fut: F) -> (F::Output, u32) {
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let mut pending = 0;
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return (out, pending),
            Poll::Pending => pending += 1,
        }
    }
}

fn main() -> Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, 0u32);
    let host = Func::wrap_async(&mut store, |mut caller, (x,): (u32,)| {
        Box::new(async move {
            PendingTimes(PENDING_PER_CALL).await;
            *caller.data_mut() += 1;
            x.wrapping_mul(3)
        })
    });
    let typed = host.typed::<u32, u32>(&store)?;
    let mut pendings = 0;
    for i in 0..CALLS {
        let (out, pending) = block_on(typed.call_async(&mut store, i));
        assert_eq!(out?, i.wrapping_mul(3));
        pendings += pending;
    }
    assert_eq!(*store.data(), CALLS);
    assert_eq!(
        pendings,
        CALLS * PENDING_PER_CALL,
        "every pending poll of the host future suspends the call's fiber"
    );
    #[cfg(feature = "wasm")]
    let wasm = wasm_calls(&engine, &mut store)?;
    #[cfg(not(feature = "wasm"))]
    let wasm = "not built (feature wasm)".to_string();
    println!(
        "spindle-async-probe ok: backend={} host calls={CALLS} suspends={pendings}; wasm: {wasm}",
        spindle_fiber::backend()
    );
    Ok(())
}

/// A wasm loop calling the async host function: one `call_async` whose
/// fiber suspends on every host call.
#[cfg(feature = "wasm")]
fn wasm_calls(engine: &Engine, store: &mut Store<u32>) -> Result<String> {
    use wasmtime::{Linker, Module};
    let module = Module::new(
        engine,
        r#"(module
            (import "host" "triple" (func $triple (param i32) (result i32)))
            (func (export "run") (param $n i32) (result i32)
              (local $acc i32)
              (block $done
                (loop $next
                  (br_if $done (i32.eqz (local.get $n)))
                  (local.set $acc (i32.add (local.get $acc) (call $triple (local.get $n))))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br $next)))
              (local.get $acc)))"#,
    )?;
    let mut linker = Linker::new(engine);
    linker.func_wrap_async("host", "triple", |_caller, (x,): (u32,)| {
        Box::new(async move {
            PendingTimes(PENDING_PER_CALL).await;
            x.wrapping_mul(3)
        })
    })?;
    let (instance, _) = block_on(linker.instantiate_async(&mut *store, &module));
    let run = instance?.get_typed_func::<u32, u32>(&mut *store, "run")?;
    let n = 50;
    let (out, pending) = block_on(run.call_async(&mut *store, n));
    assert_eq!(out?, 3 * n * (n + 1) / 2);
    assert_eq!(pending, n * PENDING_PER_CALL);
    Ok(format!("{n} calls from wasm, {pending} suspends"))
}
