//! Soak: a million fibers made, resumed and dropped, with the process's
//! resident memory and number of mappings read from /proc at the start,
//! after a warm-up and at the end (the harness: `spindle_test_support::soak`).
//! Ignored by default; `scripts/soak.sh` runs them in release mode and
//! prints the figures (RELIABILITY.md). `SPINDLE_SOAK_SCALE` (a factor,
//! default 1) scales the counts down for CI.

use spindle_fiber::{Fiber, FiberResult, StackPool, Suspender};
use spindle_test_support::soak::Soak;

/// The fewest runs however small `SPINDLE_SOAK_SCALE` is: 90 after the
/// warm-up of 10.
const MIN_COUNT: u64 = 100;

type Ping = Suspender<u64, u64>;

/// Every fiber suspends once; even ones are resumed to the end, odd ones are
/// dropped while suspended (unwound), so both ways of freeing a stack run.
fn one_fiber(fiber: &mut Fiber<'static, u64, u64, u64, impl spindle_fiber::FiberStack>, i: u64) {
    assert_eq!(fiber.resume(i), FiberResult::Yield(i + 1));
    if i % 2 == 0 {
        assert_eq!(fiber.resume(2), FiberResult::Return(i + 3));
    }
}

fn body(first: u64, s: &Ping) -> u64 {
    // Something on the fiber's stack with a destructor, for the unwinding.
    let owned = Box::new([first; 4]);
    let more = s.suspend(first + 1);
    owned[0] + more + 1
}

#[test]
#[ignore = "soak: run with scripts/soak.sh"]
fn soak_fresh_fibers_create_resume_drop() {
    Soak {
        what: "fiber create/resume/drop (fresh mmap'd Stack each)",
        count: 1_000_000,
        min_count: MIN_COUNT,
        max_rss_growth_kib: 4 << 10,
        max_map_growth: 8,
    }
    .run(|i| {
        let mut fiber = Fiber::new(body).expect("fiber");
        one_fiber(&mut fiber, i);
    });
}

#[test]
#[ignore = "soak: run with scripts/soak.sh"]
fn soak_pooled_fibers_create_resume_into_stack() {
    let mut pool = StackPool::new(64 * 1024).with_max_idle(4);
    Soak {
        what: "fiber create/resume/into_stack (StackPool)",
        count: 1_000_000,
        min_count: MIN_COUNT,
        max_rss_growth_kib: 4 << 10,
        max_map_growth: 8,
    }
    .run(|i| {
        let stack = pool.take().expect("stack");
        let mut fiber = Fiber::with_stack(stack, body).expect("fiber");
        one_fiber(&mut fiber, i);
        pool.give(fiber.into_stack());
    });
    assert!(pool.len() <= 4);
}
