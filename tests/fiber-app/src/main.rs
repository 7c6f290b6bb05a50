//! A user of spindle-fiber from outside its workspace: the three behaviours
//! a fiber library must keep on every target and under every LTO mode, each
//! checked against an answer computed without fibers.
//!
//! * ping-pong: 10 000 resumes, each answer folding in the last input;
//! * panic propagation: a panic inside the fiber comes out of `resume` with
//!   its payload, the fiber is finished, the caller's stack is intact;
//! * forced unwind: dropping a fiber suspended three frames deep runs every
//!   destructor on its stack, innermost first, and nothing after the
//!   suspend point.
//!
//! Prints one line for the harness, or exits non-zero.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use spindle_fiber::{Fiber, FiberResult, Suspender};

const ROUNDS: u64 = 10_000;

fn ping_pong() -> u64 {
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
    let mut expected = 7u64;
    let mut answer = fiber.resume(7).into_yield().expect("first yield");
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
    total
}

fn panic_propagation() {
    let mut fiber = Fiber::new(|x: u32, s: &Suspender<u32, u32>| -> u32 {
        let y = s.suspend(x * 2);
        if y == 13 {
            panic!("unlucky {y}");
        }
        y
    })
    .expect("create fiber");
    assert_eq!(fiber.resume(21), FiberResult::Yield(42));
    let payload = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(13)))
        .expect_err("the fiber's panic comes out of resume");
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert_eq!(message, "unlucky 13");
    assert!(fiber.is_finished());
}

struct Logged(&'static str, Rc<RefCell<Vec<&'static str>>>);
impl Drop for Logged {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

fn forced_unwind() -> usize {
    let log = Rc::new(RefCell::new(Vec::new()));
    #[inline(never)]
    fn deeper(depth: u32, log: &Rc<RefCell<Vec<&'static str>>>, s: &Suspender<(), ()>) {
        let _frame = Logged(
            ["frame 0", "frame 1", "frame 2"][depth as usize],
            log.clone(),
        );
        if depth == 2 {
            s.suspend(());
            log.borrow_mut().push("after suspend (must not run)");
        } else {
            deeper(depth + 1, log, s);
        }
    }
    let inner = log.clone();
    let mut fiber = Fiber::new(move |(): (), s: &Suspender<(), ()>| {
        let _outer = Logged("closure", inner.clone());
        deeper(0, &inner, s);
    })
    .expect("create fiber");
    assert_eq!(fiber.resume(()), FiberResult::Yield(()));
    assert!(log.borrow().is_empty());
    drop(fiber);
    assert_eq!(
        *log.borrow(),
        ["frame 2", "frame 1", "frame 0", "closure"],
        "every destructor ran, innermost first"
    );
    log.borrow().len()
}

fn main() {
    let total = ping_pong();
    panic::set_hook(Box::new(|_| {})); // the expected panic stays quiet
    panic_propagation();
    let _ = panic::take_hook();
    let dropped = forced_unwind();
    println!(
        "spindle-fiber-app ok: backend={} ping-pong rounds={ROUNDS} total={total:#018x}, \
         panic propagated, forced unwind ran {dropped} destructors",
        spindle_fiber::backend()
    );
}
