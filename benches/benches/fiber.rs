//! Fiber benchmarks: Spindle against its peers, side by side in one run.
//!
//! ```text
//! cargo bench -p spindle-benches --bench fiber
//! ```
//!
//! One criterion group per measurement, so that the HTML report
//! (`target/criterion/report/index.html`) plots the implementations of each
//! measurement together:
//!
//! | group                 | what one iteration is                              |
//! |-----------------------|----------------------------------------------------|
//! | `round_trip`          | resume a running fiber, which suspends right back  |
//! | `round_trip_interleaved` | the same for spindle-asm and corosensei, each timed in chunks that alternate with the other's |
//! | `create_fresh_stack`  | map a new stack, create, run to return, drop all   |
//! | `create_reused_stack` | create on a stack kept from the last iteration, run to return, take the stack back |
//!
//! Every implementation runs the same workload: the fiber is resumed with a
//! `u64` and answers with that value plus one (as a yield in `round_trip`, as
//! its return value in the `create_*` groups). Inputs go through
//! [`black_box`] and criterion black-boxes what each iteration returns.
//!
//! The implementations (criterion's function names):
//!
//! * `spindle-asm`: [`spindle_fiber::Fiber`] on the x86_64 assembly backend
//!   ([`spindle_fiber::Asm`], the native one here).
//! * `spindle-ucontext`: the same fiber on the portable backend
//!   ([`spindle_fiber::Ucontext`], glibc `swapcontext`).
//! * `corosensei`: `corosensei::Coroutine`.
//! * `wasmtime-fiber`: `wasmtime_internal_fiber::Fiber` (=48.0.8, the fiber
//!   wasmtime itself runs async calls on).
//! * `context`: `context::Context`, the Rust port of Boost.Context's
//!   `fcontext` (raw `jump_fcontext`, no closure or value plumbing of its own).
//! * `generator`: `generator::Generator` (`Gn::new_scoped`).
//! * `os-thread`: two OS threads handing the value back and forth (see
//!   [`Mailbox`] for the primitive), the baseline fibers exist to beat.
//!
//! The spindle overflow handler is not installed (so `Fiber::resume` does not
//! touch its thread-local), as in a program that does not opt in.

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

/// Resuming with this value makes every round-trip fiber return, so each one
/// is finished (not dropped while suspended) when its benchmark ends. The
/// check costs every implementation the same compare per round trip.
const STOP: u64 = u64::MAX;

/// Input of every resume (black-boxed, so nothing is constant-folded).
const INPUT: u64 = 1;

/// Stack size of the `create_reused_stack` group, the same for everyone.
const REUSED_STACK_SIZE: usize = 64 * 1024;

/// The stack size spindle's `Fiber::new` maps; also used for the peers whose
/// fiber has no default stack of its own (wasmtime-fiber).
const DEFAULT_STACK_SIZE: usize = spindle_fiber::DEFAULT_STACK_SIZE;

// ---------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------

/// `round_trip`: one `resume` into an already running fiber plus the
/// `suspend` that comes straight back, i.e. two stack switches and the value
/// plumbing around them. Each fiber is created once, outside the timing, and
/// loops suspending `input + 1` until it gets [`STOP`].
///
/// `os-thread` is one message to a second thread and its answer back (two
/// [`Mailbox`] hand-offs).
fn round_trip(c: &mut Criterion) {
    // `Fiber::new` (used by `create_fresh_stack`) takes the native backend;
    // make sure that is the assembly one (no `fallback` feature unified in).
    assert!(
        spindle_fiber::backend().is_asm(),
        "the fiber benchmarks expect spindle's native backend to be its assembly, not {}",
        spindle_fiber::backend()
    );
    let mut group = c.benchmark_group("round_trip");

    group.bench_function("spindle-asm", |b| {
        use spindle_fiber::{Asm, Fiber, FiberResult, Stack, Suspender};
        let stack = Stack::new(DEFAULT_STACK_SIZE).expect("stack");
        let mut fiber = Fiber::with_stack(stack, |mut x: u64, s: &Suspender<u64, u64, Asm>| {
            while x != STOP {
                x = s.suspend(x.wrapping_add(1));
            }
            x
        })
        .expect("fiber");
        b.iter(|| fiber.resume(black_box(INPUT)));
        assert_eq!(fiber.resume(STOP), FiberResult::Return(STOP));
    });

    group.bench_function("spindle-ucontext", |b| {
        use spindle_fiber::{Fiber, FiberResult, Stack, Suspender, Ucontext};
        let stack = Stack::new(DEFAULT_STACK_SIZE).expect("stack");
        let mut fiber =
            Fiber::with_stack(stack, |mut x: u64, s: &Suspender<u64, u64, Ucontext>| {
                while x != STOP {
                    x = s.suspend(x.wrapping_add(1));
                }
                x
            })
            .expect("fiber");
        b.iter(|| fiber.resume(black_box(INPUT)));
        assert_eq!(fiber.resume(STOP), FiberResult::Return(STOP));
    });

    group.bench_function("corosensei", |b| {
        use corosensei::{Coroutine, CoroutineResult, Yielder};
        let mut co = Coroutine::new(|y: &Yielder<u64, u64>, mut x: u64| {
            while x != STOP {
                x = y.suspend(x.wrapping_add(1));
            }
            x
        });
        b.iter(|| co.resume(black_box(INPUT)));
        assert!(matches!(co.resume(STOP), CoroutineResult::Return(STOP)));
    });

    group.bench_function("wasmtime-fiber", |b| {
        use wasmtime_internal_fiber::{Fiber, FiberStack, Suspend};
        let stack = FiberStack::new(DEFAULT_STACK_SIZE, false).expect("stack");
        let fiber = Fiber::new(stack, |mut x: u64, s: &mut Suspend<u64, u64, u64>| {
            while x != STOP {
                x = s.suspend(x.wrapping_add(1));
            }
            x
        })
        .expect("fiber");
        b.iter(|| fiber.resume(black_box(INPUT)));
        assert_eq!(fiber.resume(STOP), Ok(STOP));
    });

    group.bench_function("context", |b| {
        use context::Context;
        use context::stack::ProtectedFixedSizeStack;
        let stack = ProtectedFixedSizeStack::default();
        // SAFETY: `stack` outlives every use of the context (it is dropped at
        // the end of this closure, after the fiber has been sent STOP and
        // switched away for good), and `context_echo` never returns.
        let mut ctx = Some(unsafe { Context::new(&stack, context_echo) });
        b.iter(|| {
            let current = ctx.take().expect("context is suspended");
            // SAFETY: `current` is the fiber's context as it last suspended;
            // nothing on its stack needs dropping (it holds only integers).
            let t = unsafe { current.resume(black_box(INPUT as usize)) };
            ctx = Some(t.context);
            t.data as u64
        });
        let current = ctx.take().expect("context is suspended");
        // SAFETY: as above; after STOP the fiber switches back and is never
        // resumed again, so its stack may be freed.
        let t = unsafe { current.resume(STOP as usize) };
        assert_eq!(t.data, STOP as usize);
    });

    group.bench_function("generator", |b| {
        use generator::Gn;
        let mut g = Gn::<u64>::new_scoped(|mut s| {
            let mut x = s.get_yield().unwrap_or(STOP);
            while x != STOP {
                x = s.yield_(x.wrapping_add(1)).unwrap_or(STOP);
            }
            x
        });
        b.iter(|| g.send(black_box(INPUT)));
        assert_eq!(g.raw_send(Some(STOP)), Some(STOP));
        assert!(g.is_done());
    });

    group.bench_function("os-thread", |b| {
        let pair = Arc::new((Mailbox::new(), Mailbox::new()));
        let (to_worker, to_main) = (&pair.0, &pair.1);
        to_main.register_receiver();
        let worker = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                let (to_worker, to_main) = (&pair.0, &pair.1);
                to_worker.register_receiver();
                loop {
                    let x = to_worker.recv();
                    if x == STOP {
                        to_main.send(STOP);
                        break;
                    }
                    to_main.send(x.wrapping_add(1));
                }
            })
        };
        b.iter(|| {
            to_worker.send(black_box(INPUT));
            to_main.recv()
        });
        to_worker.send(STOP);
        assert_eq!(to_main.recv(), STOP);
        worker.join().expect("worker thread");
    });

    group.finish();
}

/// Resumes per chunk in `round_trip_interleaved`: long enough that reading
/// the clock (about 20 ns) is lost in it, short enough (tens of
/// microseconds) that both sides see the same state of the machine.
const INTERLEAVE_CHUNK: u64 = 10_000;

/// `round_trip_interleaved`: the `round_trip` of spindle-asm and corosensei
/// again, measured so that the two can be compared within one run on a
/// noisy machine. Each measurement resumes its own fiber for a chunk of
/// [`INTERLEAVE_CHUNK`] iterations, then the other's for as many (untimed),
/// and so on, and reports only its own chunks. Host noise that comes and
/// goes over seconds (on the VMs we measure on, the clock itself moves by
/// 15%) then falls on both alike instead of on whichever ran at the time.
fn round_trip_interleaved(c: &mut Criterion) {
    use corosensei::{Coroutine, CoroutineResult, Yielder};
    use spindle_fiber::{Asm, Fiber, FiberResult, Stack, Suspender};

    let stack = Stack::new(DEFAULT_STACK_SIZE).expect("stack");
    let mut fiber = Fiber::with_stack(stack, |mut x: u64, s: &Suspender<u64, u64, Asm>| {
        while x != STOP {
            x = s.suspend(x.wrapping_add(1));
        }
        x
    })
    .expect("fiber");
    let mut co = Coroutine::new(|y: &Yielder<u64, u64>, mut x: u64| {
        while x != STOP {
            x = y.suspend(x.wrapping_add(1));
        }
        x
    });

    // Runs `iters` iterations of `timed` in chunks, each followed by as
    // many of `other`, and returns the time spent in `timed` alone.
    fn alternate(iters: u64, mut timed: impl FnMut(), mut other: impl FnMut()) -> Duration {
        let mut own = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(INTERLEAVE_CHUNK);
            let start = Instant::now();
            for _ in 0..n {
                timed();
            }
            own += start.elapsed();
            for _ in 0..n {
                other();
            }
            left -= n;
        }
        own
    }

    let mut group = c.benchmark_group("round_trip_interleaved");
    group.bench_function("spindle-asm", |b| {
        b.iter_custom(|iters| {
            alternate(
                iters,
                || {
                    black_box(fiber.resume(black_box(INPUT)));
                },
                || {
                    black_box(co.resume(black_box(INPUT)));
                },
            )
        })
    });
    group.bench_function("corosensei", |b| {
        b.iter_custom(|iters| {
            alternate(
                iters,
                || {
                    black_box(co.resume(black_box(INPUT)));
                },
                || {
                    black_box(fiber.resume(black_box(INPUT)));
                },
            )
        })
    });
    group.finish();

    assert_eq!(fiber.resume(STOP), FiberResult::Return(STOP));
    assert!(matches!(co.resume(STOP), CoroutineResult::Return(STOP)));
}

/// The fiber body of the `context` round trip: answers every value with
/// value + 1 until it gets [`STOP`], then switches back for good.
extern "C" fn context_echo(mut t: context::Transfer) -> ! {
    loop {
        let x = t.data as u64;
        let answer = if x == STOP { STOP } else { x.wrapping_add(1) };
        // SAFETY: `t.context` is the parent that resumed us; we hold nothing
        // that needs dropping. After STOP the parent never resumes us.
        t = unsafe { t.context.resume(answer as usize) };
    }
}

/// The fiber body of the `context` create benchmarks: answers once with
/// value + 1 and is never resumed again (the fcontext analogue of returning).
extern "C" fn context_once(t: context::Transfer) -> ! {
    let answer = (t.data as u64).wrapping_add(1);
    // SAFETY: `t.context` is the parent that started us; nothing on this stack
    // needs dropping, and the parent never resumes us again.
    unsafe { t.context.resume(answer as usize) };
    unreachable!("a finished context benchmark fiber was resumed")
}

// ---------------------------------------------------------------------------
// OS-thread ping-pong primitive
// ---------------------------------------------------------------------------

const EMPTY: u8 = 0;
const FULL: u8 = 1;
const PARKED: u8 = 2;

/// A waiting receiver calls `yield_now` after every this many `spin_loop`
/// rounds...
const SPINS_PER_YIELD: u32 = 64;
/// ...and parks after this many rounds in all.
const SPIN_LIMIT: u32 = 64 * 256;

/// A one-slot, single-producer single-consumer mailbox: the receiver spins on
/// an atomic (with `spin_loop` hints), calling `std::thread::yield_now` every
/// [`SPINS_PER_YIELD`] rounds, and after [`SPIN_LIMIT`] rounds parks with
/// `std::thread::park`; the sender calls `unpark` only if the receiver
/// actually parked. When the two threads run on different cores the
/// value is caught while spinning, so a hand-off costs a cache-line transfer
/// and no system call; when the scheduler puts both on one core (it likes to
/// wake a thread next to its waker), yielding lets the other one run at once
/// instead of after a time slice of spinning. That is the fastest reasonable
/// thing std offers (an `mpsc` channel or a `Mutex` + `Condvar` would add
/// locking and a futex wait/wake per hand-off on top).
struct Mailbox {
    value: AtomicU64,
    state: AtomicU8,
    receiver: OnceLock<Thread>,
}

impl Mailbox {
    fn new() -> Mailbox {
        Mailbox {
            value: AtomicU64::new(0),
            state: AtomicU8::new(EMPTY),
            receiver: OnceLock::new(),
        }
    }

    /// Records the calling thread as the (only) receiver; call before `recv`.
    fn register_receiver(&self) {
        self.receiver
            .set(thread::current())
            .expect("a mailbox has one receiver");
    }

    /// Puts `value` in the (empty) slot and wakes the receiver if it parked.
    fn send(&self, value: u64) {
        self.value.store(value, Ordering::Relaxed);
        if self.state.swap(FULL, Ordering::AcqRel) == PARKED {
            // The receiver registered itself before it parked (its PARKED
            // store happens after the registration and we acquired it).
            self.receiver.get().expect("receiver registered").unpark();
        }
    }

    /// Waits for a value and empties the slot.
    fn recv(&self) -> u64 {
        let mut spins = 0;
        while self.state.load(Ordering::Acquire) != FULL {
            if spins < SPIN_LIMIT {
                spins += 1;
                if spins % SPINS_PER_YIELD == 0 {
                    thread::yield_now();
                } else {
                    spin_loop();
                }
                continue;
            }
            // Only the sender sets FULL, so a failed exchange means FULL.
            if self
                .state
                .compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // `park` may wake spuriously; the sender's swap ends it.
                while self.state.load(Ordering::Acquire) != FULL {
                    thread::park();
                }
            }
        }
        let value = self.value.load(Ordering::Relaxed);
        // The sender writes again only after our answer reaches it through
        // the other mailbox, which orders this store before its next swap.
        self.state.store(EMPTY, Ordering::Relaxed);
        value
    }
}

// ---------------------------------------------------------------------------
// Create + run + drop, fresh stack
// ---------------------------------------------------------------------------

/// `create_fresh_stack`: each iteration maps a new stack with each peer's
/// default constructor, creates the fiber, resumes it once (it returns
/// `input + 1` without suspending) and drops fiber and stack (munmap). This
/// is dominated by `mmap`/`mprotect`/`munmap` and the first-touch page fault,
/// which is why every library also offers stack reuse (next group).
///
/// Stack sizes are each constructor's default; address space only, pages are
/// committed when touched, and every fiber here touches the same one or two:
///
/// * `spindle-asm`: `Fiber::new`, [`spindle_fiber::DEFAULT_STACK_SIZE`] (256 KiB);
/// * `spindle-ucontext`: `Fiber::with_stack(Stack::new(DEFAULT_STACK_SIZE))`
///   (`Fiber::new` always picks the native backend);
/// * `corosensei`: `Coroutine::new`, its `DefaultStack` (1 MiB);
/// * `wasmtime-fiber`: `FiberStack::new(256 KiB)` + `Fiber::new` (it has no
///   default size; wasmtime passes its configured async stack size);
/// * `context`: `ProtectedFixedSizeStack::default()` + `Context::new`;
/// * `generator`: `Gn::new_scoped` (its default, 32 KiB);
/// * `os-thread`: `std::thread::spawn` + `join` (std's default 2 MiB thread
///   stack; a thread is the OS's "fiber with a fresh stack").
fn create_fresh_stack(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_fresh_stack");

    group.bench_function("spindle-asm", |b| {
        use spindle_fiber::{Fiber, FiberResult, Suspender};
        b.iter(|| {
            let mut fiber =
                Fiber::new(|x: u64, _: &Suspender<u64, u64>| x.wrapping_add(1)).expect("fiber");
            match fiber.resume(black_box(INPUT)) {
                FiberResult::Return(r) => r,
                FiberResult::Yield(_) => unreachable!(),
            }
        });
    });

    group.bench_function("spindle-ucontext", |b| {
        use spindle_fiber::{Fiber, FiberResult, Stack, Suspender, Ucontext};
        b.iter(|| {
            let stack = Stack::new(DEFAULT_STACK_SIZE).expect("stack");
            let mut fiber =
                Fiber::with_stack(stack, |x: u64, _: &Suspender<u64, u64, Ucontext>| {
                    x.wrapping_add(1)
                })
                .expect("fiber");
            match fiber.resume(black_box(INPUT)) {
                FiberResult::Return(r) => r,
                FiberResult::Yield(_) => unreachable!(),
            }
        });
    });

    group.bench_function("corosensei", |b| {
        use corosensei::{Coroutine, CoroutineResult, Yielder};
        b.iter(|| {
            let mut co = Coroutine::new(|_: &Yielder<u64, u64>, x: u64| x.wrapping_add(1));
            match co.resume(black_box(INPUT)) {
                CoroutineResult::Return(r) => r,
                CoroutineResult::Yield(_) => unreachable!(),
            }
        });
    });

    group.bench_function("wasmtime-fiber", |b| {
        use wasmtime_internal_fiber::{Fiber, FiberStack, Suspend};
        b.iter(|| {
            let stack = FiberStack::new(DEFAULT_STACK_SIZE, false).expect("stack");
            let fiber = Fiber::new(stack, |x: u64, _: &mut Suspend<u64, u64, u64>| {
                x.wrapping_add(1)
            })
            .expect("fiber");
            fiber.resume(black_box(INPUT)).expect("fiber returns")
        });
    });

    group.bench_function("context", |b| {
        use context::Context;
        use context::stack::ProtectedFixedSizeStack;
        b.iter(|| {
            let stack = ProtectedFixedSizeStack::default();
            // SAFETY: `stack` lives until the end of this iteration, after
            // the fiber's last switch; `context_once` never returns.
            let ctx = unsafe { Context::new(&stack, context_once) };
            // SAFETY: a fresh context; its body answers once and is never
            // resumed again, holding nothing that needs dropping.
            let t = unsafe { ctx.resume(black_box(INPUT) as usize) };
            t.data as u64
        });
    });

    group.bench_function("generator", |b| {
        use generator::Gn;
        b.iter(|| {
            let mut g = Gn::<u64>::new_scoped(|mut s| s.get_yield().unwrap_or(0).wrapping_add(1));
            g.raw_send(Some(black_box(INPUT)))
                .expect("generator returns")
        });
    });

    group.bench_function("os-thread", |b| {
        b.iter(|| {
            let x = black_box(INPUT);
            thread::spawn(move || x.wrapping_add(1))
                .join()
                .expect("thread")
        });
    });

    group.finish();
}

// ---------------------------------------------------------------------------
// Create + run + drop, reused stack
// ---------------------------------------------------------------------------

/// `create_reused_stack`: like `create_fresh_stack`, but the stack
/// ([`REUSED_STACK_SIZE`] for everyone) is mapped once and handed from one
/// iteration's fiber to the next, so no system call is made:
///
/// * `spindle-asm`/`spindle-ucontext`: `Fiber::with_stack` + `into_stack`;
/// * `corosensei`: `Coroutine::with_stack` + `into_stack`;
/// * `wasmtime-fiber`: `Fiber::new(stack)` + `into_stack`;
/// * `context`: `Context::new` on the same `ProtectedFixedSizeStack` (the
///   context only borrows its stack);
/// * `generator`: `Generator::scoped_init` on the same, finished generator,
///   which installs a new body on its existing stack (generator's way of
///   reusing a stack; it has no separate stack-in/stack-out API).
///
/// Skipped: `os-thread`, which cannot start a new thread on an existing
/// stack (reusing the thread itself is a thread pool, i.e. `round_trip`).
fn create_reused_stack(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_reused_stack");

    group.bench_function("spindle-asm", |b| {
        use spindle_fiber::{Asm, Fiber, FiberResult, Stack, Suspender};
        let mut slot = Some(Stack::new(REUSED_STACK_SIZE).expect("stack"));
        b.iter(|| {
            let stack = slot.take().expect("stack is back");
            let mut fiber = Fiber::with_stack(stack, |x: u64, _: &Suspender<u64, u64, Asm>| {
                x.wrapping_add(1)
            })
            .expect("fiber");
            let r = match fiber.resume(black_box(INPUT)) {
                FiberResult::Return(r) => r,
                FiberResult::Yield(_) => unreachable!(),
            };
            slot = Some(fiber.into_stack());
            r
        });
    });

    group.bench_function("spindle-ucontext", |b| {
        use spindle_fiber::{Fiber, FiberResult, Stack, Suspender, Ucontext};
        let mut slot = Some(Stack::new(REUSED_STACK_SIZE).expect("stack"));
        b.iter(|| {
            let stack = slot.take().expect("stack is back");
            let mut fiber =
                Fiber::with_stack(stack, |x: u64, _: &Suspender<u64, u64, Ucontext>| {
                    x.wrapping_add(1)
                })
                .expect("fiber");
            let r = match fiber.resume(black_box(INPUT)) {
                FiberResult::Return(r) => r,
                FiberResult::Yield(_) => unreachable!(),
            };
            slot = Some(fiber.into_stack());
            r
        });
    });

    group.bench_function("corosensei", |b| {
        use corosensei::stack::DefaultStack;
        use corosensei::{Coroutine, CoroutineResult, Yielder};
        let mut slot = Some(DefaultStack::new(REUSED_STACK_SIZE).expect("stack"));
        b.iter(|| {
            let stack = slot.take().expect("stack is back");
            let mut co =
                Coroutine::with_stack(stack, |_: &Yielder<u64, u64>, x: u64| x.wrapping_add(1));
            let r = match co.resume(black_box(INPUT)) {
                CoroutineResult::Return(r) => r,
                CoroutineResult::Yield(_) => unreachable!(),
            };
            slot = Some(co.into_stack());
            r
        });
    });

    group.bench_function("wasmtime-fiber", |b| {
        use wasmtime_internal_fiber::{Fiber, FiberStack, Suspend};
        let mut slot = Some(FiberStack::new(REUSED_STACK_SIZE, false).expect("stack"));
        b.iter(|| {
            let stack = slot.take().expect("stack is back");
            let fiber = Fiber::new(stack, |x: u64, _: &mut Suspend<u64, u64, u64>| {
                x.wrapping_add(1)
            })
            .expect("fiber");
            let r = fiber.resume(black_box(INPUT)).expect("fiber returns");
            slot = Some(fiber.into_stack());
            r
        });
    });

    group.bench_function("context", |b| {
        use context::Context;
        use context::stack::ProtectedFixedSizeStack;
        let stack = ProtectedFixedSizeStack::new(REUSED_STACK_SIZE).expect("stack");
        b.iter(|| {
            // SAFETY: `stack` outlives the benchmark; the previous fiber on it
            // finished (switched away for good) holding nothing to drop, so
            // the memory is free for a new one.
            let ctx = unsafe { Context::new(&stack, context_once) };
            // SAFETY: a fresh context; see `context_once`.
            let t = unsafe { ctx.resume(black_box(INPUT) as usize) };
            t.data as u64
        });
    });

    group.bench_function("generator", |b| {
        use generator::Gn;
        // Sized in words; the first body runs once to leave it finished.
        let mut g = Gn::<u64>::new_scoped_opt(REUSED_STACK_SIZE / size_of::<usize>(), |mut s| {
            s.get_yield().unwrap_or(0).wrapping_add(1)
        });
        assert_eq!(g.raw_send(Some(INPUT)), Some(INPUT + 1));
        b.iter(|| {
            g.scoped_init(|mut s| s.get_yield().unwrap_or(0).wrapping_add(1));
            g.raw_send(Some(black_box(INPUT)))
                .expect("generator returns")
        });
    });

    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = fiber;
    config = config();
    targets = round_trip, round_trip_interleaved, create_fresh_stack, create_reused_stack
}
criterion_main!(fiber);
