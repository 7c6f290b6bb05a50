//! The drop-in's own logic: stack addresses for each kind of stack, and
//! resume/suspend/done/into_stack/drop as wasmtime relies on them. Shared
//! by every drop-in in Spindle's repository: each one's crate root includes
//! this file as its test module, so the tests run on that epoch's API (its
//! `Epoch`, error types and the `Fiber::new` failure).

use super::*;
use crate::Epoch;
use core::cell::Cell;
use core::ops::Range;
use spindle_fiber::FiberStack as _;
use spindle_wasmtime_fiber::{page_size, spindle_fiber};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

const MIB: usize = 1024 * 1024;

fn stack(size: usize) -> FiberStack {
    FiberStack::new(size, false).unwrap()
}

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Where on the running stack `local` lives. Under ASan a local whose
/// address is taken is moved to the running side's *fake stack*; each fake
/// frame records the real stack address it stands in for.
fn stack_address(local: &u8) -> usize {
    let addr = local as *const u8 as usize;
    #[cfg(asan)]
    {
        unsafe extern "C" {
            fn __asan_get_current_fake_stack() -> *mut u8;
            fn __asan_addr_is_in_fake_stack(
                fake_stack: *mut u8,
                addr: *mut u8,
                beg: *mut *mut u8,
                end: *mut *mut u8,
            ) -> *mut u8;
        }
        // SAFETY: both calls only read ASan's bookkeeping of this thread.
        let real = unsafe {
            __asan_addr_is_in_fake_stack(
                __asan_get_current_fake_stack(),
                addr as *mut u8,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        };
        if !real.is_null() {
            return real as usize;
        }
    }
    addr
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic>")
    }
}

#[test]
fn mapped_stack_addresses() {
    let page = page_size();
    let s = stack(MIB);
    let range = s.range().unwrap();
    let top = s.top().unwrap() as usize;
    assert_eq!(top, range.end);
    assert!(range.len() >= MIB, "{} usable bytes", range.len());
    assert_eq!(range.start % page, 0);
    assert_eq!(range.end % page, 0);
    let guard = s.guard_range().unwrap();
    assert_eq!(guard.end as usize, range.start, "guard directly below");
    assert_eq!(guard.end as usize - guard.start as usize, page);
    assert!(!s.is_from_raw_parts());
}

#[test]
fn tiny_and_huge_sizes() {
    // Sizes the original rounds up to a page still make a usable stack.
    for size in [0, 1] {
        let fiber = Fiber::<(), (), u32>::new(stack(size), |(), _| 7).unwrap();
        assert_eq!(fiber.resume(()), Ok(7));
    }
    assert!(FiberStack::new(usize::MAX, true).is_err());
    assert!(FiberStack::new(usize::MAX, false).is_err());
}

/// Whether this build refuses custom and raw-parts stacks (spindle-fiber's
/// Win32 Fibers backend: see `refuse_caller_memory_on_win32_fibers`). The
/// tests of those stacks then stop at once, and this one checks the refusal.
fn caller_memory_refused() -> bool {
    let refused =
        cfg!(windows) && spindle_fiber::backend() == spindle_fiber::BackendKind::WindowsFibers;
    if refused {
        eprintln!(
            "does not apply on the Win32 Fibers backend, which refuses caller memory \
             (refuse_caller_memory_on_win32_fibers checks that)"
        );
    }
    refused
}

#[test]
fn caller_memory_is_refused_exactly_on_win32_fibers() {
    let backing = spindle_fiber::Stack::new(64 * 1024).unwrap();
    // SAFETY: all of `backing` is usable and outlives the stack; no guard.
    let raw = unsafe { FiberStack::from_raw_parts(backing.limit(), 0, backing.size()) };
    let custom = FiberStack::from_custom(Box::new(Custom {
        mem: spindle_fiber::Stack::new(64 * 1024).unwrap(),
        dropped: Default::default(),
    }));
    if caller_memory_refused() {
        for err in [raw.unwrap_err(), custom.unwrap_err()] {
            let os = Epoch::raw_os_error(&err);
            assert_eq!(os, Some(50), "not ERROR_NOT_SUPPORTED: {err}");
        }
    } else {
        assert!(raw.is_ok() && custom.is_ok());
    }
}

#[test]
fn raw_parts_report_exact_addresses() {
    if caller_memory_refused() {
        return;
    }
    let page = page_size();
    // Borrow a mapping to lay out [guard | stack] like the pooling allocator.
    let backing = spindle_fiber::Stack::new(4 * page).unwrap();
    let bottom = backing.limit();
    // SAFETY: the first page is only described, never touched; the rest is
    // usable memory of `backing`, which outlives the stack.
    let s = unsafe { FiberStack::from_raw_parts(bottom, page, backing.size() - page) }.unwrap();
    assert!(s.is_from_raw_parts());
    assert_eq!(
        s.range().unwrap(),
        bottom as usize + page..backing.top() as usize
    );
    assert_eq!(s.top().unwrap(), backing.top());
    assert_eq!(s.guard_range().unwrap(), bottom..bottom.wrapping_add(page));
}

#[test]
fn fiber_runs_on_raw_parts_stack() {
    if caller_memory_refused() {
        return;
    }
    let backing = spindle_fiber::Stack::new(64 * 1024).unwrap();
    // SAFETY: all of `backing` is usable and outlives the stack; no guard.
    let s = unsafe { FiberStack::from_raw_parts(backing.limit(), 0, backing.size()) }.unwrap();
    let range = s.range().unwrap();
    let fiber = Fiber::<(), usize, ()>::new(s, |(), s| {
        let local = 0u8;
        s.suspend(stack_address(&local));
    })
    .unwrap();
    let sp = fiber.resume(()).unwrap_err();
    assert!(range.contains(&sp), "{sp:#x} not in {range:x?}");
    assert_eq!(fiber.resume(()), Ok(()));
    let back = fiber.into_stack();
    assert!(back.is_from_raw_parts());
    assert_eq!(back.range().unwrap(), range);
}

#[test]
fn raw_parts_too_small_is_refused_as_the_version_does() {
    if caller_memory_refused() {
        return;
    }
    let backing = spindle_fiber::Stack::new(16 * 1024).unwrap();
    // SAFETY: usable memory of `backing`, which outlives the stack; 256
    // bytes is far too little for a fiber, which `new` must notice.
    let s = unsafe { FiberStack::from_raw_parts(backing.limit(), 0, 256) }.unwrap();
    let Err(failed) = Fiber::<(), (), ()>::new(s, |(), _| {}) else {
        panic!("a 256-byte stack was accepted");
    };
    let (err, back) = Epoch::split_new_error(failed);
    assert!(err.to_string().contains("too small"), "{err}");
    // Since 47 the stack comes back with the error; before, it is dropped.
    assert_eq!(back.is_some(), Epoch::HANDS_STACK_BACK);
    if let Some(back) = back {
        assert_eq!(back.range().unwrap().len(), 256);
    }
}

/// A custom stack backed by a spindle `Stack`, counting its drops.
struct Custom {
    mem: spindle_fiber::Stack,
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Custom {
    fn drop(&mut self) {
        self.dropped
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

// SAFETY: the range is the whole usable part of a mapping this value owns;
// the guard is that mapping's guard page. Values never change.
unsafe impl RuntimeFiberStack for Custom {
    fn top(&self) -> *mut u8 {
        self.mem.top()
    }
    fn range(&self) -> Range<usize> {
        self.mem.limit() as usize..self.mem.top() as usize
    }
    fn guard_range(&self) -> Range<*mut u8> {
        spindle_fiber::FiberStack::guard_range(&self.mem)
    }
}

#[test]
fn custom_stack_runs_and_is_dropped_with_its_fiber_stack() {
    if caller_memory_refused() {
        return;
    }
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let custom = Custom {
        mem: spindle_fiber::Stack::new(MIB).unwrap(),
        dropped: dropped.clone(),
    };
    let expect_range = custom.range();
    let expect_guard = custom.guard_range();
    let s = FiberStack::from_custom(Box::new(custom)).unwrap();
    assert!(!s.is_from_raw_parts());
    assert_eq!(s.range().unwrap(), expect_range);
    assert_eq!(s.top().unwrap() as usize, expect_range.end);
    assert_eq!(s.guard_range().unwrap(), expect_guard);

    let hit = Rc::new(Cell::new(0));
    let hit2 = hit.clone();
    let fiber = Fiber::<(), (), ()>::new(s, move |(), s| {
        hit2.set(1);
        s.suspend(());
        hit2.set(2);
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(()));
    assert_eq!(hit.get(), 1);
    assert_eq!(fiber.resume(()), Ok(()));
    assert_eq!(hit.get(), 2);
    let back = fiber.into_stack();
    assert_eq!(back.range().unwrap(), expect_range);
    assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
    drop(back);
    assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn custom_stack_must_be_page_aligned() {
    if caller_memory_refused() {
        return;
    }
    struct Unaligned(Vec<u128>);
    // SAFETY: only `from_custom`'s check is exercised; nothing runs on it.
    unsafe impl RuntimeFiberStack for Unaligned {
        fn top(&self) -> *mut u8 {
            self.range().end as *mut u8
        }
        fn range(&self) -> Range<usize> {
            // Deliberately one 16-byte slot into the buffer: never a page
            // boundary-to-boundary range.
            let base = self.0.as_ptr() as usize + 16;
            base..base + 4096
        }
        fn guard_range(&self) -> Range<*mut u8> {
            core::ptr::null_mut()..core::ptr::null_mut()
        }
    }
    let custom = Box::new(Unaligned(vec![0; 8192 / 16]));
    let err = panic::catch_unwind(AssertUnwindSafe(|| FiberStack::from_custom(custom)))
        .expect_err("an unaligned custom stack was accepted");
    assert!(panic_message(&*err).contains("page aligned"));
}

#[test]
fn resume_suspend_values_and_done() {
    let fiber = Fiber::new(stack(MIB), |first: f64, s| {
        assert_eq!(first, 2.0);
        assert_eq!(s.suspend(4), 3.0);
        assert_eq!(s.suspend(5), 6.0);
        String::from("hello")
    })
    .unwrap();
    assert!(!fiber.done());
    assert_eq!(fiber.resume(2.0), Err(4));
    assert!(!fiber.done());
    assert_eq!(fiber.resume(3.0), Err(5));
    assert!(!fiber.done());
    assert_eq!(fiber.resume(6.0), Ok(String::from("hello")));
    assert!(fiber.done());
    let s = fiber.into_stack();
    // The stack can run another fiber.
    let again = Fiber::<u8, (), u8>::new(s, |x, _| x + 1).unwrap();
    assert_eq!(again.resume(1), Ok(2));
}

#[test]
fn stack_is_readable_while_suspended() {
    let fiber = Fiber::<(), usize, ()>::new(stack(MIB), |(), s| {
        let local = 0u8;
        s.suspend(stack_address(&local));
    })
    .unwrap();
    let sp = fiber.resume(()).unwrap_err();
    // On Win32 Fibers the fiber runs on a stack Windows allocated, so its
    // locals are elsewhere (the stack holds only spindle's control block).
    if !caller_memory_refused() {
        let range = fiber.stack().range().unwrap();
        assert!(range.contains(&sp));
        let guard = fiber.stack().guard_range().unwrap();
        assert!((guard.end as usize) <= sp);
    }
    assert_eq!(fiber.resume(()), Ok(()));
}

#[test]
fn panics_propagate_and_finish_the_fiber() {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let fiber = Fiber::<(), (), ()>::new(stack(MIB), move |(), s| {
        let _flag = flag;
        s.suspend(());
        panic!("boom in fiber");
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(()));
    let err = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(())))
        .expect_err("the panic did not propagate");
    assert_eq!(panic_message(&*err), "boom in fiber");
    assert!(dropped.get(), "the fiber's frames were unwound");
    assert!(fiber.done());
    let err = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(())))
        .expect_err("a finished fiber was resumed");
    assert!(panic_message(&*err).contains("finished fiber"));
    drop(fiber.into_stack());
}

#[test]
#[should_panic(expected = "cannot resume a finished fiber")]
fn resume_after_return_panics() {
    let fiber = Fiber::<(), (), ()>::new(stack(MIB), |(), _| {}).unwrap();
    assert_eq!(fiber.resume(()), Ok(()));
    let _ = fiber.resume(());
}

#[test]
fn into_stack_of_unfinished_fiber_panics_then_aborts_without_unwinding_it() {
    let out = run_child("child_into_stack_unfinished");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_aborted(&out.status, &text);
    assert!(
        text.contains("self.done()") && text.contains("a suspended fiber was dropped"),
        "{text}"
    );
    assert!(!text.contains("was unwound"), "{text}");
}

#[test]
#[ignore = "run as a child process by into_stack_of_unfinished_fiber_panics_then_aborts_without_unwinding_it"]
fn child_into_stack_unfinished() {
    if !in_child("child_into_stack_unfinished") {
        return;
    }
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let fiber = Fiber::<(), (), ()>::new(stack(MIB), move |(), s| {
        let _flag = flag;
        s.suspend(());
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(()));
    let _ = panic::catch_unwind(AssertUnwindSafe(|| fiber.into_stack()));
    println!("the suspended fiber was unwound: {}", dropped.get());
}

#[test]
fn reentrant_resume_is_refused() {
    type Slot = Rc<Cell<Option<*const Fiber<'static, (), (), bool>>>>;
    let slot: Slot = Rc::new(Cell::new(None));
    let slot2 = slot.clone();
    let fiber = Fiber::<(), (), bool>::new(stack(MIB), move |(), _| {
        // SAFETY: the pointer is to the fiber that is running us, alive
        // for the whole call.
        let me = unsafe { &*slot2.get().unwrap() };
        panic::catch_unwind(AssertUnwindSafe(|| me.resume(()))).is_err()
    })
    .unwrap();
    slot.set(Some(&fiber as *const _));
    assert_eq!(fiber.resume(()), Ok(true));
}

#[test]
fn never_started_fiber_drops_its_function() {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let fiber = Fiber::<(), (), ()>::new(stack(MIB), move |(), _| drop(flag)).unwrap();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| drop(fiber)));
    assert!(dropped.get());
    // Like the original, debug builds complain about an unfinished fiber.
    assert_eq!(outcome.is_err(), cfg!(debug_assertions));
}

/// Runs the `#[ignore]`d test `name` of this module in a child process
/// (aborting tests), through the cross runner for a foreign binary.
fn run_child(name: &str) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    // The harness names a test by its path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let full = format!("{module}::{name}");
    let args = [
        &full[..],
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    // A cross-built binary runs under the emulator .cargo/config.toml names
    // for its target, in SPINDLE_CROSS_RUNNER_<ARCH>_<OS>; none is set for
    // native binaries, nor for Windows ones, whose children Wine starts.
    let runner = std::env::var(
        format!(
            "SPINDLE_CROSS_RUNNER_{}_{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        )
        .to_uppercase(),
    )
    .ok();
    let mut cmd = match runner.as_deref().map(str::split_whitespace) {
        Some(mut parts) => {
            let mut cmd = std::process::Command::new(parts.next().unwrap());
            cmd.args(parts).arg(&exe);
            cmd
        }
        None => std::process::Command::new(&exe),
    };
    cmd.args(args).env("SPINDLE_CHILD", name).output().unwrap()
}

/// Checks that a child ended by `std::process::abort`: SIGABRT on unix; on
/// Windows, std aborts with `__fastfail`, whose exit code is
/// STATUS_STACK_BUFFER_OVERRUN (0xC0000409), as on Windows itself so under Wine.
fn assert_aborted(status: &std::process::ExitStatus, text: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}:\n{text}");
    }
    #[cfg(windows)]
    assert_eq!(
        status.code().map(|c| c as u32),
        Some(0xC000_0409),
        "{status:?}:\n{text}"
    );
}

fn in_child(name: &str) -> bool {
    std::env::var("SPINDLE_CHILD").as_deref() == Ok(name)
}

/// `audit_compat drop-suspended`: a suspended fiber whose frames a scoped
/// thread borrows is dropped. At 9b1ab03 its stack was unmapped under the
/// thread (SIGSEGV, silently in release); now the drop aborts, with the
/// frames neither unwound nor freed.
#[test]
fn dropping_a_suspended_fiber_aborts() {
    let out = run_child("child_drop_suspended");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_aborted(&out.status, &text);
    assert!(text.contains("a suspended fiber was dropped"), "{text}");
    assert!(
        !text.contains("unwound") || text.contains("neither unwound"),
        "{text}"
    );
    assert!(!text.contains("survived"), "{text}");
}

#[test]
#[ignore = "run as a child process by dropping_a_suspended_fiber_aborts"]
fn child_drop_suspended() {
    if !in_child("child_drop_suspended") {
        return;
    }
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    static STARTED: AtomicBool = AtomicBool::new(false);
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let fiber = Fiber::<u32, u32, ()>::new(stack(64 * 1024), move |_, s| {
        let _flag = flag;
        let local = [const { AtomicU64::new(0x1111) }; 64]; // on the fiber stack
        let local = &local;
        std::thread::scope(|sc| {
            sc.spawn(move || {
                STARTED.store(true, Ordering::SeqCst);
                loop {
                    std::hint::black_box(
                        local.iter().map(|w| w.load(Ordering::Relaxed)).sum::<u64>(),
                    );
                    std::thread::yield_now();
                }
            });
            while !STARTED.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            s.suspend(7);
        });
    })
    .unwrap();
    assert_eq!(fiber.resume(0), Err(7));
    let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(fiber)));
    if dropped.get() {
        println!("the suspended fiber was unwound");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    println!("survived the drop");
    std::process::exit(0);
}

/// `audit_compat swap`: a nested fiber swaps its `Suspend` with the outer
/// fiber's, ends, and its stack is freed; the outer fiber then suspends
/// through the swapped value. At 9b1ab03 that read the freed stack
/// (SIGSEGV); now it is a clear panic out of the outer `resume`.
#[test]
fn swapped_suspend_is_a_clear_panic() {
    type S = Suspend<u32, u32, ()>;
    let outer = Fiber::<u32, u32, ()>::new(stack(64 * 1024), |_, outer_s: &mut S| {
        {
            let os: &mut S = &mut *outer_s;
            let inner = Fiber::<u32, u32, ()>::new(stack(64 * 1024), move |_, inner_s: &mut S| {
                std::mem::swap(inner_s, os);
            })
            .map_err(|e| Epoch::split_new_error(e).0)
            .unwrap();
            assert!(inner.resume(0).is_ok());
        } // the inner fiber and its stack are freed here
        outer_s.suspend(1);
    })
    .map_err(|e| Epoch::split_new_error(e).0)
    .unwrap();
    let err = panic::catch_unwind(AssertUnwindSafe(|| outer.resume(0))).unwrap_err();
    assert!(
        panic_message(&*err).contains("Suspend::suspend called outside its own fiber"),
        "{}",
        panic_message(&*err)
    );
    assert!(outer.done());
}

/// A `Suspend` smuggled out to the parent panics there instead of switching.
#[test]
fn suspend_used_by_the_parent_panics() {
    type Slot = Rc<Cell<Option<*mut Suspend<(), (), ()>>>>;
    let slot: Slot = Rc::new(Cell::new(None));
    let slot2 = slot.clone();
    let fiber = Fiber::<(), (), ()>::new(stack(MIB), move |(), s| {
        slot2.set(Some(s as *mut _));
        s.suspend(());
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(()));
    // SAFETY: the pointer is to the suspended fiber's Suspend, alive on its
    // stack; the call is expected to panic before touching the fiber.
    let err = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        (*slot.get().unwrap()).suspend(())
    }))
    .unwrap_err();
    assert!(panic_message(&*err).contains("outside its own fiber"));
    assert_eq!(fiber.resume(()), Ok(()));
}

#[test]
fn cross_thread_resume() {
    struct AssertSend<T>(T);
    // SAFETY: the fiber holds nothing thread-bound; it is resumed by one
    // thread at a time.
    unsafe impl<T> Send for AssertSend<T> {}

    let fiber = Fiber::<u32, u32, u32>::new(stack(MIB), |x, s| {
        let y = s.suspend(x + 1);
        x + y
    })
    .unwrap();
    assert_eq!(fiber.resume(1), Err(2));
    let fiber = AssertSend(fiber);
    let result = std::thread::spawn(move || {
        let fiber = fiber;
        fiber.0.resume(10)
    })
    .join()
    .unwrap();
    assert_eq!(result, Ok(11));
}
