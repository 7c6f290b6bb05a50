//! An application's view of spindle-fiber on Windows: ping-pong, a panic
//! inside a fiber re-raised by `resume`, and a suspended fiber dropped with
//! destructors pending. Prints one line the harness checks, or exits
//! non-zero.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use spindle_fiber::{Fiber, FiberResult, Suspender};

struct CountOnDrop(Rc<Cell<u32>>);
impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

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
    assert_eq!(fiber.resume(1), FiberResult::Yield(1));
    for i in 1..=1000 {
        expected = expected.wrapping_mul(31).wrapping_add(i);
        assert_eq!(fiber.resume(i), FiberResult::Yield(expected), "round {i}");
    }
    assert_eq!(fiber.resume(0), FiberResult::Return(expected));

    // A panic deep inside a fiber comes out of resume with its payload.
    panic::set_hook(Box::new(|_| {}));
    let mut panicking = Fiber::new(|depth: u32, _: &Suspender<u32, ()>| {
        fn dive(n: u32) -> u32 {
            if n == 0 {
                panic!("from the fiber");
            }
            dive(n - 1) + 1
        }
        dive(depth);
    })
    .expect("create fiber");
    let payload = panic::catch_unwind(AssertUnwindSafe(|| panicking.resume(50))).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"from the fiber"));
    let _ = panic::take_hook();

    // Dropped while suspended: the forced unwind runs every destructor.
    let drops = Rc::new(Cell::new(0));
    let (a, b) = (CountOnDrop(drops.clone()), CountOnDrop(drops.clone()));
    let mut pending = Fiber::new(move |(): (), s: &Suspender<(), ()>| {
        let _a = a;
        let _b = b;
        s.suspend(());
        unreachable!("never resumed again");
    })
    .expect("create fiber");
    assert_eq!(pending.resume(()), FiberResult::Yield(()));
    drop(pending);
    assert_eq!(drops.get(), 2, "both destructors ran");

    println!(
        "spindle-windows-probe ok: backend={} total={expected:#018x} panic=propagated unwind=2-drops",
        spindle_fiber::backend()
    );
}
