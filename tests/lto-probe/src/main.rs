//! The smallest honest user of `spindle-fiber`: the LTO matrix builds this
//! binary under every LTO mode and codegen-units setting, reads its symbol
//! table, and runs it.
//!
//! It plays ping-pong with a fiber (resume with a number, the fiber answers
//! with a running total), drops one fiber while suspended (forced unwind) and
//! reuses a stack, then checks every answer against the same arithmetic done
//! without fibers. It prints one line the harness checks, or exits non-zero.

use spindle_fiber::{Fiber, FiberResult, Suspender};

const ROUNDS: u64 = 10_000;

fn main() {
    let mut fiber = Fiber::new(|first: u64, s: &Suspender<u64, u64>| -> u64 {
        let mut total = first;
        loop {
            let next = s.suspend(total);
            if next == 0 {
                return total;
            }
            total = total.wrapping_mul(31).wrapping_add(next);
        }
    })
    .expect("create fiber");

    let mut expected = 1u64;
    let mut answer = fiber.resume(1).into_yield().expect("first yield");
    for i in 1..=ROUNDS {
        assert_eq!(answer, expected, "ping-pong diverged at round {i}");
        expected = expected.wrapping_mul(31).wrapping_add(i);
        answer = match fiber.resume(i) {
            FiberResult::Yield(y) => y,
            FiberResult::Return(_) => panic!("fiber returned early"),
        };
    }
    let total = fiber.resume(0).into_return().expect("final return");
    assert_eq!(total, expected);

    // A suspended fiber dropped: its stack is unwound, destructors run.
    let dropped = std::rc::Rc::new(std::cell::Cell::new(false));
    struct SetOnDrop(std::rc::Rc<std::cell::Cell<bool>>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let flag = SetOnDrop(dropped.clone());
    let mut pending = Fiber::new(move |(): (), s: &Suspender<(), ()>| {
        let _flag = flag;
        s.suspend(());
    })
    .expect("create fiber");
    pending.resume(());
    let stack = pending.into_stack();
    assert!(dropped.get(), "forced unwind ran the destructor");

    let mut reused =
        Fiber::with_stack(stack, |x: u64, _: &Suspender<u64, ()>| x + 1).expect("reuse stack");
    assert_eq!(reused.resume(41), FiberResult::Return(42));

    println!(
        "spindle-lto-probe ok: backend={} rounds={ROUNDS} total={total:#018x}",
        spindle_fiber::backend()
    );
}
