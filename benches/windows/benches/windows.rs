//! Fiber switch and creation on Windows, peers side by side in one run:
//!
//! ```text
//! cargo bench --manifest-path benches/windows/Cargo.toml --target x86_64-pc-windows-gnu
//! ```
//!
//! (runs under Wine here: the target's runner is scripts/wine-run.sh).
//!
//! | group                 | what one iteration is                              |
//! |-----------------------|----------------------------------------------------|
//! | `round_trip`          | resume a running fiber, which suspends right back  |
//! | `create_reused_stack` | create on a stack kept from the last iteration, run to return, take the stack back |
//!
//! Implementations: `spindle-asm` (the x86_64 Windows assembly backend),
//! `spindle-windows-fibers` (the same `Fiber` on Win32 Fibers),
//! `corosensei`, `wasmtime-fiber` (`wasmtime-internal-fiber` 48.0.8, which
//! is Win32 Fibers on Windows). Same workload as `benches/benches/fiber.rs`:
//! resumed with a `u64`, answers with it plus one.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

const STOP: u64 = u64::MAX;
const INPUT: u64 = 1;
const STACK_SIZE: usize = 64 * 1024;

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    fn spindle<B: spindle_fiber::Backend>(b: &mut criterion::Bencher<'_>) {
        use spindle_fiber::{Fiber, FiberResult, Stack, Suspender};
        let stack = Stack::new(spindle_fiber::DEFAULT_STACK_SIZE).expect("stack");
        let mut fiber = Fiber::with_stack(stack, |mut x: u64, s: &Suspender<u64, u64, B>| {
            while x != STOP {
                x = s.suspend(x.wrapping_add(1));
            }
            x
        })
        .expect("fiber");
        b.iter(|| fiber.resume(black_box(INPUT)));
        assert_eq!(fiber.resume(STOP), FiberResult::Return(STOP));
    }
    group.bench_function("spindle-asm", spindle::<spindle_fiber::Asm>);
    group.bench_function("spindle-windows-fibers", spindle::<spindle_fiber::WindowsFibers>);
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
        let stack = FiberStack::new(spindle_fiber::DEFAULT_STACK_SIZE, false).expect("stack");
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
    group.finish();
}

fn create_reused_stack(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_reused_stack");
    fn spindle<B: spindle_fiber::Backend>(b: &mut criterion::Bencher<'_>) {
        use spindle_fiber::{Fiber, FiberResult, Stack, Suspender};
        let mut slot = Some(Stack::new(STACK_SIZE).expect("stack"));
        b.iter(|| {
            let stack = slot.take().expect("stack is back");
            let mut fiber =
                Fiber::with_stack(stack, |x: u64, _: &Suspender<u64, u64, B>| x.wrapping_add(1))
                    .expect("fiber");
            let r = match fiber.resume(black_box(INPUT)) {
                FiberResult::Return(r) => r,
                FiberResult::Yield(_) => unreachable!(),
            };
            slot = Some(fiber.into_stack());
            r
        });
    }
    group.bench_function("spindle-asm", spindle::<spindle_fiber::Asm>);
    group.bench_function("spindle-windows-fibers", spindle::<spindle_fiber::WindowsFibers>);
    group.bench_function("corosensei", |b| {
        use corosensei::stack::DefaultStack;
        use corosensei::{Coroutine, CoroutineResult, Yielder};
        let mut slot = Some(DefaultStack::new(STACK_SIZE).expect("stack"));
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
        let mut slot = Some(FiberStack::new(STACK_SIZE, false).expect("stack"));
        b.iter(|| {
            let stack = slot.take().expect("stack is back");
            let fiber = Fiber::new(stack, |x: u64, _: &mut Suspend<u64, u64, u64>| x.wrapping_add(1))
                .expect("fiber");
            let r = fiber.resume(black_box(INPUT)).expect("fiber returns");
            slot = Some(fiber.into_stack());
            r
        });
    });
    group.finish();
}

criterion_group!(benches, round_trip, create_reused_stack);
criterion_main!(benches);
