//! Resumable calls: host functions suspend a plugin call and hand a value to
//! the application, which resumes it later. Limits, errors and cancellation
//! across suspensions.

use crate::common::*;
use spindle_runtime::{
    BoxError, Call, Ctx, Error, ErrorKind, HostBuilder, Instance, Limits, Step, TrapCode,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What the plugin asks the application.
#[derive(Debug, PartialEq, Eq)]
struct Question(i32);

const ASKER: &str = r#"
(module $asker
  (import "host" "ask" (func $ask (param i32) (result i64)))
  (import "host" "fail_late" (func $fail_late (result i64)))
  (import "host" "panic_late" (func $panic_late (result i64)))
  (import "host" "accumulate" (func $acc (param i64) (result i64)))
  (memory (export "memory") 1)
  ;; The sum of the answers to questions 1..=n.
  (func $sum (export "sum") (param $n i32) (result i64) (local $i i32) (local $total i64)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $total (i64.add (local.get $total) (call $ask (local.get $i))))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $total))
  (func $ask_once (export "ask_once") (result i64) (call $ask (i32.const 7)))
  ;; Asks, then adds the answer to the host-side total (a sync host function).
  (func (export "ask_and_accumulate") (result i64) (call $acc (call $ask (i32.const 1))))
  (func $ask_then_trap (export "ask_then_trap") (drop (call $ask (i32.const 0))) unreachable)
  (func $ask_then_spin (export "ask_then_spin") (drop (call $ask (i32.const 0))) (loop $l (br $l)))
  (func $ask_then_grow (export "ask_then_grow")
    (drop (call $ask (i32.const 0))) (drop (memory.grow (i32.const 16))))
  ;; Forever: count to $n, then ask.
  (func $burn_and_ask (export "burn_and_ask") (param $n i32) (local $i i32)
    (loop $outer
      (local.set $i (i32.const 0))
      (loop $inner
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $i) (local.get $n))))
      (drop (call $ask (i32.const 0)))
      (br $outer)))
  (func $fail (export "fail") (result i64) (call $fail_late))
  (func $boom (export "boom") (result i64) (call $panic_late))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
)"#;

/// Counts the host futures that were dropped: each one lives on the plugin's
/// fiber, so a drop proves the suspended call was unwound.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn resumable_builder(dropped: Arc<AtomicUsize>) -> HostBuilder<Journal> {
    builder()
        .func_async(
            "host",
            "ask",
            move |mut cx: Ctx<'_, Journal>, (q,): (i32,)| {
                let guard = DropCount(dropped.clone());
                Box::new(async move {
                    let answer: i64 = cx.suspend::<Question, i64>(Question(q)).await?;
                    // The Ctx is usable again after the resume.
                    cx.state_mut().lines.push(format!("{q} -> {answer}"));
                    drop(guard);
                    Ok::<i64, BoxError>(answer)
                })
            },
        )
        .func_async("host", "fail_late", |mut cx: Ctx<'_, Journal>, (): ()| {
            Box::new(async move {
                let _: i64 = cx.suspend::<Question, i64>(Question(-1)).await?;
                Err::<i64, BoxError>("no answer is good enough".into())
            })
        })
        .func_async("host", "panic_late", |mut cx: Ctx<'_, Journal>, (): ()| {
            Box::new(async move {
                let answer: i64 = cx.suspend::<Question, i64>(Question(-2)).await?;
                if answer >= 0 {
                    panic!("host exploded after resume");
                }
                Ok::<i64, BoxError>(answer)
            })
        })
}

fn resumable_host() -> spindle_runtime::Host<Journal> {
    resumable_builder(Arc::default()).build().unwrap()
}

fn asker(host: &spindle_runtime::Host<Journal>) -> Instance<Journal> {
    let plugin = host.load_wat("asker", ASKER).unwrap();
    assert!(plugin.needs_async());
    plugin.instantiate(Journal::default()).unwrap()
}

type Asking<'i, R> = Call<'i, R, Question, i64>;

#[test]
fn generator_round_trip() {
    let host = resumable_host();
    let mut inst = asker(&host);
    let mut call: Asking<'_, i64> = inst.start("sum", 3).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    assert_eq!(call.resume(10).unwrap(), Step::Suspended(Question(2)));
    assert_eq!(call.resume(200).unwrap(), Step::Suspended(Question(3)));
    assert!(!call.is_finished());
    assert_eq!(call.resume(3000).unwrap(), Step::Returned(3210));
    assert!(call.is_finished());
    drop(call);
    assert_eq!(inst.state().lines, ["1 -> 10", "2 -> 200", "3 -> 3000"]);
    // Sync host functions work inside a resumable call too.
    let mut call: Asking<'_, i64> = inst.start("ask_and_accumulate", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    assert_eq!(call.resume(5).unwrap(), Step::Returned(5));
    drop(call);
    assert_eq!(inst.state().total, 5);
}

#[test]
fn resume_misuse_is_an_error() {
    let host = resumable_host();
    let mut inst = asker(&host);
    let mut call: Asking<'_, i64> = inst.start("sum", 1).unwrap();
    let err = call.resume(1).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NotSuspended { .. }),
        "{err:?}"
    );
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    assert!(matches!(
        call.run().map_err(Error::into_kind),
        Err(ErrorKind::NotSuspended { .. })
    ));
    assert_eq!(call.resume(4).unwrap(), Step::Returned(4));
    let err = call.resume(4).unwrap_err();
    assert!(err.to_string().contains("finished"), "{err}");
    assert!(matches!(
        call.run().map_err(Error::into_kind),
        Err(ErrorKind::NotSuspended { .. })
    ));
}

#[test]
fn many_suspended_calls_resumed_in_any_order() {
    let host = resumable_host();
    let mut instances: Vec<Instance<Journal>> = (0..5).map(|_| asker(&host)).collect();
    let mut calls: Vec<Asking<'_, i64>> = instances
        .iter_mut()
        .map(|inst| inst.start("sum", 3).unwrap())
        .collect();
    for call in &mut calls {
        assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    }
    // Instance k answers question q with k * 100 + q, in a scrambled order.
    let mut asked = [1i32; 5];
    let mut results = [None; 5];
    let order = [3, 0, 4, 4, 1, 2, 0, 3, 2, 1, 1, 4, 0, 2, 3];
    for k in order {
        let answer = (k * 100) as i64 + asked[k] as i64;
        match calls[k].resume(answer).unwrap() {
            Step::Suspended(Question(q)) => {
                assert_eq!(q, asked[k] + 1);
                asked[k] = q;
            }
            Step::Returned(sum) => results[k] = Some(sum),
        }
    }
    drop(calls);
    for (k, r) in results.iter().enumerate() {
        let k = k as i64;
        assert_eq!(*r, Some(3 * k * 100 + 1 + 2 + 3), "instance {k}");
    }
    for (k, inst) in instances.iter().enumerate() {
        assert_eq!(inst.state().lines.len(), 3, "instance {k}");
    }
}

#[test]
fn a_call_can_be_resumed_on_another_thread() {
    let host = resumable_host();
    let mut inst = asker(&host);
    let mut call: Asking<'_, i64> = inst.start("sum", 2).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    let step = std::thread::scope(|s| s.spawn(|| call.resume(1).unwrap()).join().unwrap());
    assert_eq!(step, Step::Suspended(Question(2)));
    assert_eq!(call.resume(2).unwrap(), Step::Returned(3));
}

#[test]
fn dropping_a_suspended_call_unwinds_it_and_the_instance_stays_usable() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let host = resumable_builder(dropped.clone()).build().unwrap();
    let mut inst = asker(&host);
    const ROUNDS: usize = 200;
    for round in 0..ROUNDS {
        let mut call: Asking<'_, i64> = inst.start("sum", 3).unwrap();
        assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
        if round % 2 == 1 {
            assert_eq!(call.resume(1).unwrap(), Step::Suspended(Question(2)));
        }
        // Suspended inside `host::ask`, wasm frames of `sum` below it.
        drop(call);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            round + 1 + round.div_ceil(2)
        );
    }
    // Never run: nothing to unwind.
    let call: Asking<'_, i64> = inst.start("sum", 3).unwrap();
    drop(call);
    // The same instance keeps working, for plain and resumable calls.
    assert_eq!(inst.call::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);
    let mut call: Asking<'_, i64> = inst.start("sum", 1).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    assert_eq!(call.resume(9).unwrap(), Step::Returned(9));
    drop(call);
    assert_eq!(inst.state().lines.last().unwrap(), "1 -> 9");
    assert_good_plugin_runs(&host);
}

#[test]
fn trap_after_resume_is_an_ordinary_error() {
    let host = resumable_host();
    let mut inst = asker(&host);
    let mut call: Asking<'_, ()> = inst.start("ask_then_trap", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(0)));
    let err = call.resume(0).unwrap_err();
    let ErrorKind::Trap { code, backtrace } = err.kind() else {
        panic!("{err:?}")
    };
    assert_eq!(*code, TrapCode::UnreachableCodeReached);
    assert!(backtrace.contains("ask_then_trap"), "{backtrace}");
    assert!(call.is_finished());
    drop(call);
    assert_eq!(inst.call::<(i32, i32), i32>("add", (1, 1)).unwrap(), 2);
}

#[test]
fn host_error_and_panic_after_resume() {
    let host = resumable_host();
    let mut inst = asker(&host);
    let mut call: Asking<'_, i64> = inst.start("fail", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(-1)));
    let err = call.resume(0).unwrap_err();
    let ErrorKind::HostFunction {
        function,
        error,
        backtrace,
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(function, "host::fail_late");
    assert_eq!(error.to_string(), "no answer is good enough");
    assert!(backtrace.contains("fail"), "{backtrace}");
    drop(call);

    let mut call: Asking<'_, i64> = inst.start("boom", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(-2)));
    let err = call.resume(0).unwrap_err();
    let ErrorKind::HostPanic {
        function, message, ..
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(function, "host::panic_late");
    assert_eq!(message, "host exploded after resume");
    drop(call);
    assert_eq!(inst.call::<(i32, i32), i32>("add", (1, 1)).unwrap(), 2);
}

#[test]
fn plain_call_on_an_async_plugin() {
    let host = resumable_host();
    let mut inst = asker(&host);
    // Calls that do not suspend work as usual, by name or through `func`.
    assert_eq!(inst.call::<(i32, i32), i32>("add", (20, 22)).unwrap(), 42);
    assert_eq!(
        inst.func::<(i32, i32), i32>("add")
            .unwrap()
            .call((1, 2))
            .unwrap(),
        3
    );
    // A suspension inside a plain call has nobody to go to.
    let err = inst.call::<(), i64>("ask_once", ()).unwrap_err();
    let ErrorKind::CannotSuspend {
        function,
        backtrace,
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(function, "host::ask");
    assert!(backtrace.contains("ask_once"), "{backtrace}");
    assert!(err.to_string().contains("Instance::start"), "{err}");
    let err = inst
        .func::<(), i64>("ask_once")
        .unwrap()
        .call(())
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::CannotSuspend { .. }),
        "{err:?}"
    );
    // Still usable, and resumable calls still work.
    let mut call: Asking<'_, i64> = inst.start("ask_once", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(7)));
    assert_eq!(call.resume(70).unwrap(), Step::Returned(70));
}

#[test]
fn start_works_on_plugins_without_async_imports() {
    let host = resumable_host();
    let plugin = host.load_wat("good", GOOD).unwrap();
    assert!(!plugin.needs_async());
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let mut call: Call<'_, i32, Question, i64> = inst.start("add", (2, 3)).unwrap();
    assert_eq!(call.run().unwrap(), Step::Returned(5));
    drop(call);
    // Plain calls keep their direct path afterwards.
    assert_eq!(inst.call::<(i32, i32), i32>("add", (2, 2)).unwrap(), 4);
}

#[test]
fn mismatched_suspension_types_end_the_call() {
    let host = resumable_host();
    let mut inst = asker(&host);
    // The host yields `Question` and wants an `i64`; this call says otherwise.
    let mut call: Call<'_, i64, String, i64> = inst.start("ask_once", ()).unwrap();
    let err = call.run().unwrap_err();
    let ErrorKind::SuspendType {
        host_yields,
        call_yields,
        ..
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert!(host_yields.ends_with("Question"), "{host_yields}");
    assert!(call_yields.ends_with("String"), "{call_yields}");
    assert!(call.is_finished());
    drop(call);
    let mut call: Call<'_, i64, Question, i32> = inst.start("ask_once", ()).unwrap();
    let err = call.run().unwrap_err();
    assert!(err.to_string().contains("resumes with `i64`"), "{err}");
    drop(call);
    assert_eq!(inst.call::<(i32, i32), i32>("add", (1, 1)).unwrap(), 2);
}

#[test]
fn suspending_start_function_cannot_suspend() {
    let host = resumable_host();
    let plugin = host
        .load_wat(
            "start",
            r#"(module
                 (import "host" "ask" (func $ask (param i32) (result i64)))
                 (func $init (drop (call $ask (i32.const 1))))
                 (start $init))"#,
        )
        .unwrap();
    let Err(err) = plugin.instantiate(Journal::default()) else {
        panic!("instantiated")
    };
    assert!(
        matches!(err.kind(), ErrorKind::CannotSuspend { function, .. } if function == "host::ask"),
        "{err:?}"
    );
}

#[test]
fn deadline_counts_running_time_not_suspended_time() {
    let host = resumable_builder(Arc::default())
        .epoch_tick(Duration::from_millis(5))
        .build()
        .unwrap();
    let plugin = host.load_wat("asker", ASKER).unwrap();
    let deadline = Duration::from_millis(80);
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().deadline(deadline))
        .unwrap();
    // Suspended for longer than the deadline, then finishes fine.
    let mut call: Asking<'_, i64> = inst.start("ask_once", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(7)));
    std::thread::sleep(deadline * 3);
    assert_eq!(call.resume(1).unwrap(), Step::Returned(1));
    drop(call);
    // Running after a long suspension still gets the full deadline, and it
    // is still enforced.
    let mut call: Asking<'_, ()> = inst.start("ask_then_spin", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(0)));
    std::thread::sleep(deadline * 2);
    let resumed = Instant::now();
    let err = call.resume(0).unwrap_err();
    let ran = resumed.elapsed();
    let ErrorKind::DeadlineExceeded { backtrace, .. } = err.kind() else {
        panic!("{err:?}")
    };
    assert!(backtrace.contains("ask_then_spin"), "{backtrace}");
    // It ran before the suspension too, but only for microseconds.
    assert!(
        ran >= deadline - Duration::from_millis(10),
        "stopped after {ran:?}"
    );
    assert!(
        ran < deadline + Duration::from_millis(500),
        "stopped after {ran:?}"
    );
}

#[test]
fn fuel_is_one_budget_across_suspensions() {
    let host = resumable_builder(Arc::default())
        .enable_fuel()
        .build()
        .unwrap();
    let plugin = host.load_wat("asker", ASKER).unwrap();
    let rounds = |fuel: u64| -> usize {
        let mut inst = plugin
            .instantiate_with(Journal::default(), Limits::new().fuel(fuel))
            .unwrap();
        let mut call: Asking<'_, ()> = inst.start("burn_and_ask", 1000).unwrap();
        let mut step = call.run();
        let mut suspensions = 0;
        loop {
            match step {
                Ok(Step::Suspended(_)) => suspensions += 1,
                Ok(Step::Returned(())) => panic!("burn_and_ask never returns"),
                Err(e) => {
                    assert!(
                        matches!(e.kind(), ErrorKind::OutOfFuel { fuel: f, .. } if *f == fuel),
                        "{e:?}"
                    );
                    return suspensions;
                }
            }
            // Were the budget per resume, this would go on forever.
            assert!(suspensions < 1000, "fuel is not spent across resumes");
            step = call.resume(0);
        }
    };
    let small = rounds(10_000);
    let large = rounds(100_000);
    // Deterministic, and proportional to the budget.
    assert_eq!(rounds(10_000), small);
    assert!(small >= 1, "{small}");
    assert!(large >= 5 * small, "{small} vs {large}");
}

#[test]
fn memory_limit_after_resume() {
    let host = resumable_host();
    let plugin = host.load_wat("asker", ASKER).unwrap();
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().max_memory_bytes(4 << 16))
        .unwrap();
    let mut call: Asking<'_, ()> = inst.start("ask_then_grow", ()).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(0)));
    let err = call.resume(0).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MemoryLimit { limit, backtrace, .. }
            if *limit == 4 << 16 && backtrace.contains("ask_then_grow")),
        "{err:?}"
    );
}

#[test]
fn cancel_while_suspended() {
    let host = resumable_host();
    let mut inst = asker(&host);
    let cancel = inst.cancel_handle();
    let mut call: Asking<'_, i64> = inst.start("sum", 2).unwrap();
    assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    cancel.cancel();
    let err = call.resume(1).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Cancelled { backtrace } if backtrace.contains("sum")),
        "{err:?}"
    );
    drop(call);
    // Each cancel stops one call.
    assert_eq!(inst.call::<(i32, i32), i32>("add", (1, 1)).unwrap(), 2);
}

/// A future completed by another thread after `after`: an async host
/// function that really waits, not a suspension.
struct Delay {
    shared: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Delay {
    fn new(after: Duration) -> Self {
        let shared = Arc::new(Mutex::new((false, None::<Waker>)));
        let other = shared.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let mut s = other.lock().unwrap();
            s.0 = true;
            if let Some(w) = s.1.take() {
                w.wake();
            }
        });
        Delay { shared }
    }
}

impl Future for Delay {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.shared.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn async_host_functions_may_await_other_futures() {
    let host = resumable_builder(Arc::default())
        .func_async("host", "slow", |_cx: Ctx<'_, Journal>, (x,): (i32,)| {
            Box::new(async move {
                Delay::new(Duration::from_millis(30)).await;
                x * 2
            })
        })
        .build()
        .unwrap();
    let plugin = host
        .load_wat(
            "slow",
            r#"(module
                 (import "host" "slow" (func $slow (param i32) (result i32)))
                 (func (export "twice") (param i32) (result i32) (call $slow (local.get 0))))"#,
        )
        .unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let start = Instant::now();
    assert_eq!(inst.call::<i32, i32>("twice", 21).unwrap(), 42);
    assert!(start.elapsed() >= Duration::from_millis(30));
    let mut call: Asking<'_, i32> = inst.start("twice", 4).unwrap();
    assert_eq!(call.run().unwrap(), Step::Returned(8));
}

#[test]
fn resumable_calls_with_the_pooling_allocator() {
    let host = resumable_builder(Arc::default())
        .pooling(4)
        .limits(Limits::new().max_memory_bytes(1 << 20))
        .build()
        .unwrap();
    let plugin = host.load_wat("asker", ASKER).unwrap();
    let mut instances: Vec<Instance<Journal>> = (0..4)
        .map(|_| plugin.instantiate(Journal::default()).unwrap())
        .collect();
    let mut calls: Vec<Asking<'_, i64>> = instances
        .iter_mut()
        .map(|inst| inst.start("sum", 2).unwrap())
        .collect();
    for call in &mut calls {
        assert_eq!(call.run().unwrap(), Step::Suspended(Question(1)));
    }
    for (k, call) in calls.iter_mut().enumerate().rev() {
        assert_eq!(call.resume(k as i64).unwrap(), Step::Suspended(Question(2)));
        assert_eq!(call.resume(1).unwrap(), Step::Returned(k as i64 + 1));
    }
    drop(calls);
    // Every slot is taken: a fifth instance is an error, not a panic.
    assert!(plugin.instantiate(Journal::default()).is_err());
    drop(instances);
    assert!(plugin.instantiate(Journal::default()).is_ok());
}

/// The smallest executor: polls on this thread, parks until woken.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn call_async_for_applications_with_an_executor() {
    let host = resumable_builder(Arc::default())
        .func_async("host", "slow", |_cx: Ctx<'_, Journal>, (x,): (i32,)| {
            Box::new(async move {
                Delay::new(Duration::from_millis(20)).await;
                x + 1
            })
        })
        .build()
        .unwrap();
    let plugin = host
        .load_wat(
            "slow",
            r#"(module
                 (import "host" "slow" (func $slow (param i32) (result i32)))
                 (import "host" "ask" (func $ask (param i32) (result i64)))
                 (func (export "inc") (param i32) (result i32) (call $slow (local.get 0)))
                 (func $asks (export "asks") (result i64) (call $ask (i32.const 3))))"#,
        )
        .unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    fn assert_send<F: Send>(f: F) -> F {
        f
    }
    let future = assert_send(inst.call_async::<i32, i32>("inc", 41));
    assert_eq!(block_on(future).unwrap(), 42);
    let err = block_on(inst.call_async::<(), i64>("asks", ())).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::CannotSuspend { backtrace, .. } if backtrace.contains("asks")),
        "{err:?}"
    );
    let err = block_on(inst.call_async::<(), i32>("nope", ())).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MissingExport { .. }),
        "{err:?}"
    );
}

/// A plugin on a fiber waiting in an async host function whose future never
/// wakes: the deadline ends the wait (the call future is dropped, which
/// unwinds the plugin), on every way of calling, and so does a cancel.
/// Without a deadline, fuel bounds the wait: a nanosecond per unit.
#[test]
fn waits_in_async_host_functions_end_at_the_limits() {
    let host = spindle_runtime::Host::<()>::builder()
        .func_async("host", "stall", |_cx: Ctx<'_, ()>, (): ()| {
            Box::new(async move {
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            })
        })
        .enable_fuel()
        .build()
        .unwrap();
    let plugin = host
        .load_wat(
            "staller",
            r#"(module (import "host" "stall" (func $s))
                 (func (export "stall") (call $s))
                 (func (export "add") (param i32 i32) (result i32)
                   local.get 0 local.get 1 i32.add))"#,
        )
        .unwrap();
    let deadline = Duration::from_millis(150);
    let mut inst = plugin
        .instantiate_with((), Limits::new().deadline(deadline))
        .unwrap();
    let is_deadline = |e: &Error| matches!(e.kind(), ErrorKind::DeadlineExceeded { deadline: d, .. } if *d == deadline);

    let err = inst.call::<(), ()>("stall", ()).unwrap_err();
    assert!(is_deadline(&err), "{err:?}");
    let mut call = inst.start::<(), (), (), ()>("stall", ()).unwrap();
    let err = call.run().unwrap_err();
    assert!(is_deadline(&err), "{err:?}");
    assert!(call.is_finished());
    drop(call);
    // An application's own executor: the ticker thread wakes the future.
    let err = block_on(inst.call_async::<(), ()>("stall", ())).unwrap_err();
    assert!(is_deadline(&err), "{err:?}");
    // The instance is still usable.
    assert_eq!(inst.call::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);

    // A cancel ends the wait at once, on every way too.
    let mut inst = plugin.instantiate_with((), Limits::new()).unwrap();
    for way in 0..3 {
        let cancel = inst.cancel_handle();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        });
        let err = match way {
            0 => inst.call::<(), ()>("stall", ()).unwrap_err(),
            1 => inst
                .start::<(), (), (), ()>("stall", ())
                .unwrap()
                .run()
                .unwrap_err(),
            _ => block_on(inst.call_async::<(), ()>("stall", ())).unwrap_err(),
        };
        canceller.join().unwrap();
        assert!(
            matches!(err.kind(), ErrorKind::Cancelled { .. }),
            "{way}: {err:?}"
        );
    }

    // Fuel alone: 50 million units allow 50 ms of waiting.
    let mut inst = plugin
        .instantiate_with((), Limits::new().fuel(50_000_000))
        .unwrap();
    let err = inst.call::<(), ()>("stall", ()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WaitLimit { allowed } if *allowed == Duration::from_millis(50)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "plugin call waited in the host longer than its fuel allows (50ms of waiting, one \
         nanosecond per unit of fuel)"
    );
}
