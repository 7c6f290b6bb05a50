//! One implementation's fiber round trip, `rounds` times:
//!
//! ```text
//! spindle-cross-switch <implementation> <rounds> [time]
//! spindle-cross-switch list
//! ```
//!
//! A round trip is one `resume` of a running fiber plus the `suspend` that
//! comes straight back with the input + 1 (two stack switches and a value
//! each way), the workload of `benches/benches/fiber.rs`' `round_trip`.
//! Without `time` the program only runs them, so that an instruction count
//! of the whole process for two values of `rounds` gives the count of one
//! round trip (scripts/cross-switch.sh); with `time` it prints the mean
//! nanoseconds of a round trip. Implementations: `spindle-asm`,
//! `spindle-ucontext` (glibc), `corosensei` and `wasmtime-fiber` where they
//! exist for the target (`list` prints them).

use std::hint::black_box;
use std::time::Instant;

const STOP: u64 = u64::MAX;
const STACK: usize = 64 * 1024;

/// Runs `rounds` round trips of a started fiber and finishes it: `resume`
/// is the round trip, `finish` hands the fiber STOP.
fn drive(rounds: u64, time: bool, mut resume: impl FnMut(u64) -> u64, finish: impl FnOnce()) {
    assert_eq!(resume(1), 2, "the first resume starts the fiber");
    let started = Instant::now();
    let mut x = 0;
    for _ in 0..rounds {
        x = resume(black_box(x));
    }
    let elapsed = started.elapsed();
    assert_eq!(x, rounds, "every round trip added one");
    finish();
    if time {
        println!(
            "{:.1}",
            elapsed.as_nanos() as f64 / rounds.max(1) as f64
        );
    }
}

fn spindle<B: spindle_fiber::Backend>(rounds: u64, time: bool) {
    use spindle_fiber::{Fiber, FiberResult, Stack, Suspender};
    let mut fiber = Fiber::with_stack(
        Stack::new(STACK).expect("stack"),
        |mut x: u64, s: &Suspender<u64, u64, B>| {
            while x != STOP {
                x = s.suspend(x.wrapping_add(1));
            }
            x
        },
    )
    .expect("fiber");
    let fiber = std::cell::RefCell::new(&mut fiber);
    drive(
        rounds,
        time,
        |x| fiber.borrow_mut().resume(x).into_yield().expect("a yield"),
        || assert_eq!(fiber.borrow_mut().resume(STOP), FiberResult::Return(STOP)),
    );
}

#[cfg(any(
    target_arch = "arm",
    target_arch = "x86",
    target_arch = "powerpc64",
    target_arch = "loongarch64"
))]
fn corosensei(rounds: u64, time: bool) {
    use corosensei::{Coroutine, CoroutineResult, Yielder};
    let co = std::cell::RefCell::new(Coroutine::new(|y: &Yielder<u64, u64>, mut x: u64| {
        while x != STOP {
            x = y.suspend(x.wrapping_add(1));
        }
        x
    }));
    drive(
        rounds,
        time,
        |x| match co.borrow_mut().resume(x) {
            CoroutineResult::Yield(y) => y,
            CoroutineResult::Return(_) => panic!("returned early"),
        },
        || assert!(matches!(co.borrow_mut().resume(STOP), CoroutineResult::Return(STOP))),
    );
}

#[cfg(any(
    target_arch = "s390x",
    target_arch = "arm",
    target_arch = "x86",
    target_arch = "loongarch64"
))]
fn wasmtime_fiber(rounds: u64, time: bool) {
    use wasmtime_internal_fiber::{Fiber, FiberStack, Suspend};
    let stack = FiberStack::new(STACK, false).expect("stack");
    let fiber = Fiber::new(stack, |mut x: u64, s: &mut Suspend<u64, u64, u64>| {
        while x != STOP {
            x = s.suspend(x.wrapping_add(1));
        }
        x
    })
    .expect("fiber");
    drive(
        rounds,
        time,
        |x| fiber.resume(x).expect_err("a yield"),
        || assert_eq!(fiber.resume(STOP), Ok(STOP)),
    );
}

fn available() -> Vec<&'static str> {
    let mut list = vec!["spindle-asm"];
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        list.push("spindle-ucontext");
    }
    if cfg!(any(
        target_arch = "arm",
        target_arch = "x86",
        target_arch = "powerpc64",
        target_arch = "loongarch64"
    )) {
        list.push("corosensei");
    }
    if cfg!(any(
        target_arch = "s390x",
        target_arch = "arm",
        target_arch = "x86",
        target_arch = "loongarch64"
    )) {
        list.push("wasmtime-fiber");
    }
    list
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("list");
    if which == "list" {
        println!("{}", available().join(" "));
        return;
    }
    let rounds: u64 = args
        .get(1)
        .and_then(|r| r.parse().ok())
        .expect("usage: spindle-cross-switch <implementation> <rounds> [time]");
    let time = args.get(2).map(String::as_str) == Some("time");
    assert!(
        spindle_fiber::backend().is_asm(),
        "Spindle's native backend here is {}, not its assembly",
        spindle_fiber::backend()
    );
    match which {
        "spindle-asm" => spindle::<spindle_fiber::Asm>(rounds, time),
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        "spindle-ucontext" => spindle::<spindle_fiber::Ucontext>(rounds, time),
        #[cfg(any(
            target_arch = "arm",
            target_arch = "x86",
            target_arch = "powerpc64",
            target_arch = "loongarch64"
        ))]
        "corosensei" => corosensei(rounds, time),
        #[cfg(any(
            target_arch = "s390x",
            target_arch = "arm",
            target_arch = "x86",
            target_arch = "loongarch64"
        ))]
        "wasmtime-fiber" => wasmtime_fiber(rounds, time),
        other => panic!(
            "{other} is not available on this target (here: {})",
            available().join(", ")
        ),
    }
}
