//! AddressSanitizer and fibers (issue 15): built with `-Zsanitizer=address`
//! (the `spindle_asan` cfg), every switch is announced to ASan. These tests
//! check what that buys, on both backends: no warning that ASan lost track
//! of the stack, real bugs on a fiber stack still reported, and stacks handed
//! back without leftover poison. Without ASan they are ignored, saying so.
//!
//! ```sh
//! RUSTFLAGS=-Zsanitizer=address RUSTDOCFLAGS=-Zsanitizer=address \
//!     cargo +nightly test -p spindle-fiber --target x86_64-unknown-linux-gnu
//! ```
// Not under Miri, which is a sanitizer of its own (tests/all/miri_only.rs).
#![cfg(all(unix, not(miri)))]

use crate::common::*;

use spindle_fiber::{
    Backend, Fiber, FiberResult, FiberStack, RawStack, Stack, StackPool, Suspender,
};

#[cfg(spindle_asan)]
unsafe extern "C" {
    fn __asan_region_is_poisoned(beg: *mut u8, size: usize) -> *mut u8;
}

/// The first poisoned byte of `stack`'s usable range, if any.
#[cfg(spindle_asan)]
fn first_poisoned(stack: &impl FiberStack) -> Option<usize> {
    // SAFETY: only reads ASan's shadow of memory the stack describes.
    let p = unsafe { __asan_region_is_poisoned(stack.limit(), stack.size()) };
    (!p.is_null()).then_some(p as usize)
}
#[cfg(not(spindle_asan))]
fn first_poisoned(_: &impl FiberStack) -> Option<usize> {
    unreachable!("only the ASan build looks at poison")
}

/// Everything that switches: values both ways, nesting, a panic out of
/// `resume`, a forced unwind of a suspended fiber (whose destructors run
/// on the fiber), a fiber that never started, and stacks reused through a
/// pool and `into_stack`.
fn exercise<B: Backend>() {
    type S<B> = Suspender<u64, u64, B>;
    let mut pool = StackPool::new(64 * 1024);
    for round in 0..3u64 {
        let stack = pool.take().unwrap();
        let mut outer = Fiber::<_, _, _, _, B>::with_stack(stack, move |x: u64, s: &S<B>| {
            let mut inner = on(move |y: u64, t: &S<B>| {
                let local = std::hint::black_box([y; 32]);
                t.suspend(local.iter().sum()) * 2
            });
            let a = inner.resume(x).into_yield().unwrap();
            let b = s.suspend(a + round);
            inner.resume(b).into_return().unwrap()
        })
        .unwrap();
        assert_eq!(outer.resume(1), FiberResult::Yield(32 + round));
        assert_eq!(outer.resume(5), FiberResult::Return(10));
        pool.give(outer.into_stack());
    }

    let mut panicking = on(|(): (), _: &Suspender<(), (), B>| {
        let _keep = std::hint::black_box(vec![1u8; 16]);
        panic!("deliberate panic in a fiber");
    });
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| panicking.resume(())))
        .expect_err("the panic propagates");
    assert_eq!(
        err.downcast_ref::<&str>(),
        Some(&"deliberate panic in a fiber")
    );
    drop(panicking);

    struct Flag<'a>(&'a std::cell::Cell<bool>);
    impl Drop for Flag<'_> {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = dropped.clone();
    let mut suspended = on(move |(): (), s: &Suspender<(), (), B>| {
        let _flag = Flag(&seen);
        let locals = std::hint::black_box([7u64; 64]);
        s.suspend(());
        locals[3]
    });
    assert_eq!(suspended.resume(()), FiberResult::Yield(()));
    drop(suspended);
    assert!(
        dropped.get(),
        "the forced unwind ran the fiber's destructors"
    );

    let fresh = on(|(): (), _: &Suspender<(), (), B>| 1);
    drop(fresh);
}

/// A fiber on a fresh 64 KiB [`Stack`] for backend `B`.
fn on<I: 'static, Y, R, B: Backend>(
    f: impl FnOnce(I, &Suspender<I, Y, B>) -> R + 'static,
) -> Fiber<'static, I, Y, R, Stack, B> {
    Fiber::with_stack(Stack::new(64 * 1024).unwrap(), f).unwrap()
}

fn child_exercise() {
    for backend in ["asm", "ucontext"] {
        if !in_child(child!(&format!("child_exercise_{backend}"))) {
            continue;
        }
        match backend {
            #[cfg(spindle_asm)]
            "asm" => exercise::<spindle_fiber::Asm>(),
            #[cfg(spindle_ucontext)]
            "ucontext" => exercise::<spindle_fiber::Ucontext>(),
            _ => panic!("no {backend} backend on this target"),
        }
        println!("exercise done");
    }
}

#[test]
#[ignore = "run as a child process by switches_leave_asan_no_warnings_asm"]
fn child_exercise_asm() {
    child_exercise();
}

#[test]
#[ignore = "run as a child process by switches_leave_asan_no_warnings_ucontext"]
fn child_exercise_ucontext() {
    child_exercise();
}

/// ASan's warnings go to stderr and do not fail a test, so they are read
/// from a child: a switch ASan was not told about makes it say it is
/// "ignoring requested __asan_handle_no_return" (the stack it sees spans two
/// stacks) at the first unwind, and that false reports may follow.
fn assert_no_asan_warnings(child: &str) {
    let out = run_child(child!(child));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("exercise done"),
        "{child}: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for line in stderr.lines().filter(|l| l.starts_with("==")) {
        // The one warning that is not about us: ASan's swapcontext
        // interceptor says this once per process, whatever the caller does.
        let generic = "WARNING: ASan doesn't fully support makecontext/swapcontext";
        assert!(
            line.contains(generic),
            "{child}: ASan said: {line}\n{stderr}"
        );
    }
}

#[cfg(spindle_asm)]
#[test]
#[cfg_attr(
    not(spindle_asan),
    ignore = "needs -Zsanitizer=address (see fiber/README.md)"
)]
fn switches_leave_asan_no_warnings_asm() {
    assert_no_asan_warnings("child_exercise_asm");
}

#[cfg(spindle_ucontext)]
#[test]
#[cfg_attr(
    not(spindle_asan),
    ignore = "needs -Zsanitizer=address (see fiber/README.md)"
)]
fn switches_leave_asan_no_warnings_ucontext() {
    assert_no_asan_warnings("child_exercise_ucontext");
}

/// A stack given back by `into_stack` (or freed and mapped again) holds no
/// poison from the frames that never returned (the fiber's entry frame and
/// its final switch): the next fiber, or whoever owns the memory next, can
/// use every byte.
fn stacks_come_back_clean<B: Backend>() {
    // A finished fiber, a suspended one that is unwound, a panicking one.
    let stack = Stack::new(64 * 1024).unwrap();
    let mut f = Fiber::<_, _, _, _, B>::with_stack(stack, |x: u64, s: &Suspender<u64, u64, B>| {
        let local = std::hint::black_box([x; 16]);
        s.suspend(local[1]) + 1
    })
    .unwrap();
    assert_eq!(f.resume(3), FiberResult::Yield(3));
    assert_eq!(f.resume(4), FiberResult::Return(5));
    let stack = f.into_stack();
    assert_eq!(first_poisoned(&stack), None, "after a return");

    let mut f = Fiber::<_, _, _, _, B>::with_stack(stack, |x: u64, s: &Suspender<u64, u64, B>| {
        let local = std::hint::black_box([x; 16]);
        s.suspend(local[1])
    })
    .unwrap();
    assert_eq!(f.resume(3), FiberResult::Yield(3));
    let stack = f.into_stack();
    assert_eq!(first_poisoned(&stack), None, "after a forced unwind");

    let mut f = Fiber::<_, _, _, _, B>::with_stack(stack, |x: u64, _: &Suspender<u64, (), B>| {
        let local = std::hint::black_box([x; 16]);
        if local[0] == 3 {
            panic!("deliberate");
        }
    })
    .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.resume(3)));
    assert!(caught.is_err());
    let stack = f.into_stack();
    assert_eq!(first_poisoned(&stack), None, "after a panic");

    // Memory someone else owns (a pooling allocator's slab) and frees.
    let mut memory = vec![0u8; 64 * 1024];
    // SAFETY: the vector outlives the fiber, which is dropped below, and is
    // not touched while it lives.
    let raw = unsafe { RawStack::from_raw_parts_unguarded(memory.as_mut_ptr(), memory.len()) };
    let mut f = Fiber::<_, _, _, _, B>::with_stack(raw, |x: u64, s: &Suspender<u64, u64, B>| {
        let local = std::hint::black_box([x; 16]);
        s.suspend(local[1]) + 1
    })
    .unwrap();
    assert_eq!(f.resume(3), FiberResult::Yield(3));
    let raw = f.into_stack();
    assert_eq!(first_poisoned(&raw), None, "a raw stack");
    // An instrumented read of every byte: a leftover redzone would be
    // reported right here as a bad access to this heap block.
    let sum: u64 = memory.iter().map(|&b| u64::from(b)).sum();
    std::hint::black_box(sum);
}

#[cfg(spindle_asm)]
#[test]
#[cfg_attr(
    not(spindle_asan),
    ignore = "needs -Zsanitizer=address (see fiber/README.md)"
)]
fn stacks_come_back_unpoisoned_asm() {
    stacks_come_back_clean::<spindle_fiber::Asm>();
}

#[cfg(spindle_ucontext)]
#[test]
#[cfg_attr(
    not(spindle_asan),
    ignore = "needs -Zsanitizer=address (see fiber/README.md)"
)]
fn stacks_come_back_unpoisoned_ucontext() {
    stacks_come_back_clean::<spindle_fiber::Ucontext>();
}

/// The annotations must not hide real bugs: an out-of-bounds read of a
/// fiber's local is still an ASan report, naming the fiber's function.
#[test]
#[ignore = "run as a child process by a_bug_on_a_fiber_stack_is_still_reported"]
fn child_overflowing_local() {
    if !in_child(child!("child_overflowing_local")) {
        return;
    }
    let mut f = Fiber::new(|_: usize, s: &Suspender<usize, u64>| {
        let local = std::hint::black_box([1u64; 4]);
        let again = s.suspend(local[0]);
        // SAFETY: none: reading past the array on purpose, for ASan to
        // catch (the index is opaque to the compiler).
        unsafe { *local.as_ptr().add(std::hint::black_box(again)) }
    })
    .unwrap();
    assert_eq!(f.resume(0), FiberResult::Yield(1));
    let _ = f.resume(4);
    println!("the out-of-bounds read was not reported");
}

#[test]
#[cfg_attr(
    not(spindle_asan),
    ignore = "needs -Zsanitizer=address (see fiber/README.md)"
)]
fn a_bug_on_a_fiber_stack_is_still_reported() {
    let out = run_child(child!("child_overflowing_local"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR: AddressSanitizer: stack-buffer-overflow")
            || stderr.contains("ERROR: AddressSanitizer: stack-use-after-return"),
        "{:?}\n{stderr}",
        out.status
    );
    assert!(stderr.contains("child_overflowing_local"), "{stderr}");
    assert!(!out.status.success());
}
