use spindle_fiber::{Fiber, FiberResult, Suspender};
#[test]
fn smoke() {
    let mut fiber = Fiber::new(|first: u64, s: &Suspender<u64, u64>| -> u64 {
        let x = s.suspend(first + 1);
        x * 2
    })
    .unwrap();
    assert_eq!(fiber.resume(1), FiberResult::Yield(2));
    assert_eq!(fiber.resume(5), FiberResult::Return(10));
    println!("{}", spindle_fiber::backend());
}
