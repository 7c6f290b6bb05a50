//! Leaking a fiber is sound: the reproductions of issue 18, item 1.
//!
//! Each child runs a fiber whose frames are borrowed by another thread (a
//! `std::thread::scope` suspended inside the fiber), then lets go of the
//! fiber without unwinding it. Where Spindle may leak (an owned `Stack`, a
//! `'static` fiber) the frames must stay intact; where it may not (a
//! `RawStack`, a fiber that borrows from its creator) it must abort before
//! anything can reuse the memory. The borrowed-stack variants
//! (`Fiber::with_stack(&mut stack, …)`) no longer compile: see the
//! `compile_fail` examples on `FiberStack` and `Fiber`. The same under
//! `panic = "abort"` is `drop_under_panic_abort` below.

#![cfg(unix)] // not on Windows: see tests/all/unix_only.rs

use crate::common::*;

use std::panic::{self, AssertUnwindSafe};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use spindle_fiber::{Fiber, FiberStack, RawStack, Stack, Suspender};

const PATTERN: u64 = 0x1111_1111_1111_1111;

fn output_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[cfg(unix)]
fn signal_of(out: &std::process::Output) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal()
}

/// On the running fiber's stack: an immutable array read in a loop by a
/// scoped thread, which exits the process with status 3 if it ever changes;
/// then suspends inside the scope (through `suspend`, which may loop).
fn borrowed_by_a_scoped_thread(started: &'static AtomicBool, suspend: impl FnOnce()) {
    let local = [PATTERN; 64];
    let local = &local;
    std::thread::scope(|sc| {
        sc.spawn(move || {
            started.store(true, Ordering::SeqCst);
            loop {
                for (i, &w) in local.iter().enumerate() {
                    if w != PATTERN {
                        println!("scoped thread: immutable borrowed local[{i}] changed to {w:#x}");
                        std::process::exit(3);
                    }
                }
                std::thread::yield_now();
            }
        });
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        suspend();
    });
}

/// Suspends, swallowing every panic (ForcedUnwind included) and suspending
/// again: a fiber Spindle cannot unwind.
fn swallow_forever(s: &Suspender<(), ()>) -> ! {
    loop {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| s.suspend(())));
    }
}

/// Maps and scribbles over fresh fiber stacks while the scoped thread keeps
/// reading, then ends the process with the verdict (the thread never ends).
fn scribble_then_exit() -> ! {
    for _ in 0..8 {
        let mut f = Fiber::with_stack_size(64 * 1024, |(), _: &Suspender<(), ()>| {
            std::hint::black_box([0x2222_2222_2222_2222u64; 1024]);
        })
        .unwrap();
        f.resume(());
    }
    std::thread::sleep(Duration::from_millis(300));
    println!("frames intact");
    std::process::exit(0);
}

fn assert_frames_intact(child: &str) {
    let out = run_child(child!(child));
    let text = output_of(&out);
    assert!(
        out.status.success(),
        "child {child} failed ({:?}):\n{text}",
        out.status
    );
    assert!(text.contains("frames intact"), "{text}");
}

fn assert_aborts_before_reuse(child: &str, message: &str) {
    let out = run_child(child!(child));
    let text = output_of(&out);
    assert_eq!(
        signal_of(&out),
        Some(libc::SIGABRT),
        "child {child} ({:?}):\n{text}",
        out.status
    );
    assert!(text.contains(message), "{text}");
    assert!(!text.contains("changed to"), "{text}");
}

/// Control (`audit_borrowed_stack owned-forget`): forgetting a `'static`
/// fiber on an owned `Stack` leaks the mapping, so the frames stay valid.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn forgetting_a_fiber_on_an_owned_stack_keeps_its_frames() {
    assert_frames_intact("child_forget_owned");
}

#[test]
#[ignore = "run as a child process by forgetting_a_fiber_on_an_owned_stack_keeps_its_frames"]
fn child_forget_owned() {
    if !in_child(child!("child_forget_owned")) {
        return;
    }
    static STARTED: AtomicBool = AtomicBool::new(false);
    let mut fiber = Fiber::with_stack(
        Stack::new(64 * 1024).unwrap(),
        |(), s: &Suspender<(), ()>| borrowed_by_a_scoped_thread(&STARTED, || s.suspend(())),
    )
    .unwrap();
    fiber.resume(());
    std::mem::forget(fiber);
    scribble_then_exit();
}

/// `audit_borrowed_stack swallow-*` on an owned stack: the documented leak
/// and panic, with the frames left intact.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn swallowed_forced_unwind_on_an_owned_stack_leaks_and_keeps_its_frames() {
    assert_frames_intact("child_swallow_owned");
}

#[test]
#[ignore = "run as a child process by swallowed_forced_unwind_on_an_owned_stack_leaks_and_keeps_its_frames"]
fn child_swallow_owned() {
    if !in_child(child!("child_swallow_owned")) {
        return;
    }
    static STARTED: AtomicBool = AtomicBool::new(false);
    let mut fiber = Fiber::with_stack(
        Stack::new(64 * 1024).unwrap(),
        |(), s: &Suspender<(), ()>| borrowed_by_a_scoped_thread(&STARTED, || swallow_forever(s)),
    )
    .unwrap();
    fiber.resume(());
    let err = panic::catch_unwind(AssertUnwindSafe(|| drop(fiber))).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("its stack has been leaked"), "{msg}");
    scribble_then_exit();
}

/// The same on a `RawStack`, whose owner frees the memory once the fiber is
/// dropped: at 9b1ab03 Spindle leaked and panicked, the owner unmapped the
/// memory, and the scoped thread faulted. Now it aborts first.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn swallowed_forced_unwind_on_a_raw_stack_aborts() {
    assert_aborts_before_reuse("child_swallow_raw", "it may not be leaked");
}

#[test]
#[ignore = "run as a child process by swallowed_forced_unwind_on_a_raw_stack_aborts"]
fn child_swallow_raw() {
    if !in_child(child!("child_swallow_raw")) {
        return;
    }
    static STARTED: AtomicBool = AtomicBool::new(false);
    let (page, len) = (4096, 64 * 1024);
    // SAFETY: a fresh anonymous mapping; its first page is made inaccessible.
    let base = unsafe {
        let base = libc::mmap(
            std::ptr::null_mut(),
            page + len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(base, libc::MAP_FAILED);
        assert_eq!(libc::mprotect(base, page, libc::PROT_NONE), 0);
        base
    };
    // SAFETY: [guard | stack] as described; unmapped below only after the
    // fiber (and so the RawStack) was dropped.
    let stack = unsafe { RawStack::from_raw_parts(base.cast(), page, len) };
    let mut fiber = Fiber::with_stack(stack, |(), s: &Suspender<(), ()>| {
        borrowed_by_a_scoped_thread(&STARTED, || swallow_forever(s))
    })
    .unwrap();
    fiber.resume(());
    let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(fiber)));
    println!("drop returned: unmapping the raw stack");
    // SAFETY: the RawStack was dropped with the fiber, so by its contract
    // the memory is ours again.
    unsafe { libc::munmap(base, page + len) };
    scribble_then_exit();
}

/// A fiber that borrows from its creator (`Fiber::scoped`) and swallows its
/// unwind cannot be leaked either: what it borrows ends with the scope.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn swallowed_forced_unwind_in_a_scoped_fiber_aborts() {
    assert_aborts_before_reuse("child_swallow_scoped", "it may not be leaked");
}

#[test]
#[ignore = "run as a child process by swallowed_forced_unwind_in_a_scoped_fiber_aborts"]
fn child_swallow_scoped() {
    if !in_child(child!("child_swallow_scoped")) {
        return;
    }
    let started = AtomicBool::new(false);
    let data = vec![PATTERN; 64];
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        Fiber::scoped(
            Stack::new(64 * 1024).unwrap(),
            |(), s: &Suspender<(), ()>| {
                std::thread::scope(|sc| {
                    sc.spawn(|| {
                        started.store(true, Ordering::SeqCst);
                        loop {
                            if data.iter().any(|&w| w != PATTERN) {
                                println!("scoped thread: borrowed data changed to {:#x}", data[0]);
                                std::process::exit(3);
                            }
                            std::thread::yield_now();
                        }
                    });
                    while !started.load(Ordering::SeqCst) {
                        std::hint::spin_loop();
                    }
                    swallow_forever(s)
                })
            },
            |fiber| {
                fiber.resume(());
            },
        )
    }));
    println!("scope returned: overwriting what the fiber borrowed");
    drop(data);
    scribble_then_exit();
}

/// `Fiber::scoped` unwinds a fiber still suspended when the scope ends, and
/// gives the stack back.
#[test]
fn scoped_fiber_is_unwound_when_the_scope_ends() {
    let mut dropped = false;
    struct SetOnDrop<'a>(&'a mut bool);
    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            *self.0 = true;
        }
    }
    let ((), stack) = Fiber::scoped(
        Stack::new(64 * 1024).unwrap(),
        |(), s: &Suspender<(), ()>| {
            let _guard = SetOnDrop(&mut dropped);
            s.suspend(());
        },
        |fiber| {
            assert!(fiber.resume(()).into_yield().is_some());
            assert!(!fiber.is_finished());
        },
    )
    .unwrap();
    assert!(dropped);
    assert!(stack.size() >= 64 * 1024);
}

/// `audit_borrowed_stack drop-reuse` under `panic = "abort"`: this crate
/// built with `-C panic=abort` (a nested cargo build of the example
/// `panic_abort_drop` into its own target directory). A suspended fiber on
/// an owned stack is leaked with its frames intact; one on a `RawStack`
/// aborts instead of being leaked silently.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn drop_under_panic_abort() {
    if let Some(runner) = cross_runner() {
        println!(
            "SKIPPED drop_under_panic_abort: it builds the crate again with cargo for the \
             host, which this test binary (run under `{runner}`) cannot do; it runs in the \
             host suites"
        );
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("panic-abort");
    let run = |mode: &str| {
        let mut cmd = Command::new(&cargo);
        cmd.args(["run", "--quiet", "--offline", "-p", "spindle-fiber"])
            .args(["--example", "panic_abort_drop", "--target-dir"])
            .arg(&target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUSTFLAGS", "-C panic=abort")
            .env_remove("CARGO_TARGET_DIR");
        if cfg!(feature = "fallback") {
            cmd.args(["--features", "fallback"]);
        }
        let out = cmd.args(["--", mode]).output().expect("run cargo");
        (out.status, signal_of(&out), output_of(&out))
    };
    let (status, _, text) = run("owned");
    assert!(status.success(), "owned ({status:?}):\n{text}");
    assert!(
        text.contains("built with panic=abort") && text.contains("frames intact"),
        "{text}"
    );
    let (status, signal, text) = run("raw");
    // cargo run reports the child's signal as its own failure; the message
    // is the example's.
    assert!(!status.success(), "raw ({status:?}):\n{text}");
    assert!(
        text.contains("cannot be unwound") && text.contains("may not be leaked"),
        "raw ({status:?}, signal {signal:?}):\n{text}"
    );
    assert!(
        !text.contains("changed to") && !text.contains("frames intact"),
        "{text}"
    );
}
