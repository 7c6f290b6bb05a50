//! The behaviour every backend must have, run once per backend compiled for
//! this target (the assembly one and the portable ucontext one on
//! x86_64-linux), plus the tests that only make sense for one of them.
//!
//! Tests that must crash (stack overflow, aborts) run this same binary as a
//! child process: see `run_child` and the `#[ignore]`d `child_*` tests.

use crate::common::*;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use spindle_fiber::{Backend, Fiber, FiberResult, FiberStack, Stack, Suspender};

/// Debug builds copy large values several times per switch: be generous.
const STACK: usize = 256 * 1024;

/// Counts drops, to prove destructors ran (or did not).
struct DropCounter(Rc<Cell<usize>>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// Creates a fiber on a fresh stack with backend `B`; it may borrow from
/// the test (`Fiber::with_stack_unchecked`).
fn fiber_on<'a, B: Backend, I, Y, R>(
    f: impl FnOnce(I, &Suspender<I, Y, B>) -> R + 'a,
) -> Fiber<'a, I, Y, R, Stack, B> {
    // SAFETY: no test leaks a fiber from here: each is dropped, finished or
    // given to into_stack before what it borrows goes away.
    unsafe { Fiber::with_stack_unchecked(Stack::new(STACK).unwrap(), f) }.unwrap()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}

/// Memory this process has mapped, in bytes: the sum of the ranges in
/// `/proc/self/maps` (which qemu-user emulates for the guest, unlike VmSize).
#[cfg(unix)]
fn mapped_bytes() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .map(|line| {
            let range = line.split_whitespace().next().unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            usize::from_str_radix(hi, 16).unwrap() - usize::from_str_radix(lo, 16).unwrap()
        })
        .sum()
}

/// Address space this process has reserved or committed, in bytes, from a
/// `VirtualQuery` walk (Windows, also under Wine).
#[cfg(windows)]
fn mapped_bytes() -> usize {
    #[repr(C)]
    struct MemoryBasicInformation {
        base: usize,
        allocation_base: usize,
        allocation_protect: u32,
        partition: u16,
        region_size: usize,
        state: u32,
        protect: u32,
        kind: u32,
    }
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn VirtualQuery(address: usize, info: *mut MemoryBasicInformation, len: usize) -> usize;
    }
    const MEM_FREE: u32 = 0x10000;
    let (mut address, mut total) = (0usize, 0usize);
    loop {
        let mut info = std::mem::MaybeUninit::<MemoryBasicInformation>::uninit();
        let len = std::mem::size_of::<MemoryBasicInformation>();
        // SAFETY: VirtualQuery only writes the struct we pass.
        if unsafe { VirtualQuery(address, info.as_mut_ptr(), len) } == 0 {
            return total;
        }
        // SAFETY: a non-zero return means the struct was filled in.
        let info = unsafe { info.assume_init() };
        if info.state != MEM_FREE {
            total += info.region_size;
        }
        match info.base.checked_add(info.region_size) {
            Some(next) if next > address => address = next,
            _ => return total,
        }
    }
}

macro_rules! backend_tests {
    ($module:ident, $backend:ty) => {
        mod $module {
            use super::*;
            type B = $backend;

            #[test]
            fn ping_pong_u64() {
                let mut fiber = fiber_on::<B, u64, u64, u64>(|first, s| {
                    let mut sum = first;
                    for i in 0..100 {
                        sum += s.suspend(sum + i);
                    }
                    sum
                });
                // `sum` mirrors the fiber's running total: every resume adds
                // its input, every yield reports total + round.
                let mut sum = 0;
                let mut input = 1;
                for i in 0..100 {
                    sum += input;
                    match fiber.resume(input) {
                        FiberResult::Yield(y) => assert_eq!(y, sum + i),
                        FiberResult::Return(_) => panic!("returned early"),
                    }
                    input = i * 3;
                }
                assert_eq!(fiber.resume(7), FiberResult::Return(sum + 7));
                assert!(fiber.is_finished());
            }

            #[test]
            fn ping_pong_non_copy_values() {
                let mut fiber = fiber_on::<B, String, Vec<String>, Box<str>>(|first, s| {
                    let mut seen = vec![first];
                    loop {
                        let next = s.suspend(seen.clone());
                        if next == "stop" {
                            return seen.join("+").into_boxed_str();
                        }
                        seen.push(next);
                    }
                });
                assert_eq!(fiber.resume("a".into()).into_yield().unwrap(), ["a"]);
                assert_eq!(fiber.resume("b".into()).into_yield().unwrap(), ["a", "b"]);
                assert_eq!(&*fiber.resume("stop".into()).into_return().unwrap(), "a+b");
            }

            #[test]
            fn ping_pong_zero_sized_values() {
                let count = Cell::new(0);
                let mut fiber = fiber_on::<B, (), (), ()>(|(), s| {
                    for _ in 0..3 {
                        count.set(count.get() + 1);
                        s.suspend(());
                    }
                });
                for _ in 0..3 {
                    assert_eq!(fiber.resume(()), FiberResult::Yield(()));
                }
                assert_eq!(fiber.resume(()), FiberResult::Return(()));
                assert_eq!(count.get(), 3);
            }

            #[test]
            fn ping_pong_large_values() {
                // 8 KiB each way, more than fits in registers or a red zone.
                let mut fiber = fiber_on::<B, [u64; 1024], [u64; 1024], u64>(|first, s| {
                    let mut doubled = first;
                    doubled.iter_mut().for_each(|x| *x *= 2);
                    let back = s.suspend(doubled);
                    back.iter().sum()
                });
                let input: [u64; 1024] = core::array::from_fn(|i| i as u64);
                let out = fiber.resume(input).into_yield().unwrap();
                assert!(out.iter().enumerate().all(|(i, &x)| x == 2 * i as u64));
                assert_eq!(fiber.resume([1; 1024]), FiberResult::Return(1024));
            }

            #[test]
            fn over_aligned_closure_state() {
                #[repr(align(64))]
                struct Aligned([u8; 64]);
                let state = Aligned([7; 64]);
                let mut fiber = fiber_on::<B, (), usize, u8>(move |(), s| {
                    s.suspend(&state as *const Aligned as usize % 64);
                    state.0[63]
                });
                assert_eq!(fiber.resume(()), FiberResult::Yield(0));
                assert_eq!(fiber.resume(()), FiberResult::Return(7));
            }

            #[test]
            fn borrows_from_the_caller_without_static() {
                let mut log = Vec::new();
                {
                    let log = &mut log;
                    let mut fiber = fiber_on::<B, i32, (), ()>(move |x, s| {
                        log.push(x);
                        let y = s.suspend(());
                        log.push(y);
                    });
                    fiber.resume(1);
                    fiber.resume(2);
                }
                assert_eq!(log, [1, 2]);
            }

            #[test]
            fn nested_fibers() {
                let mut outer = fiber_on::<B, u32, u32, u32>(|x, outer_s| {
                    let mut inner = fiber_on::<B, u32, u32, u32>(|y, inner_s| {
                        let z = inner_s.suspend(y * 10);
                        z * 100
                    });
                    let a = inner.resume(x).into_yield().unwrap();
                    let b = outer_s.suspend(a);
                    let c = inner.resume(b).into_return().unwrap();
                    c + 1
                });
                assert_eq!(outer.resume(2), FiberResult::Yield(20));
                assert_eq!(outer.resume(3), FiberResult::Return(301));
            }

            #[test]
            fn thousands_of_live_fibers() {
                // Under Miri each live fiber is an interpreted thread: fewer,
                // still all alive at once.
                const N: u64 = if cfg!(miri) { 64 } else { 5_000 };
                let mut fibers: Vec<_> = (0..N)
                    .map(|i| {
                        fiber_on::<B, u64, u64, u64>(move |x, s| {
                            let y = s.suspend(x + i);
                            y * 2 + i
                        })
                    })
                    .collect();
                for (i, f) in fibers.iter_mut().enumerate() {
                    assert_eq!(f.resume(1), FiberResult::Yield(1 + i as u64));
                }
                // Resume in reverse order: each fiber's stack kept its state.
                for (i, f) in fibers.iter_mut().enumerate().rev() {
                    assert_eq!(f.resume(i as u64), FiberResult::Return(3 * i as u64));
                }
            }

            #[test]
            fn panic_propagates_out_of_resume() {
                let mut fiber = fiber_on::<B, u32, u32, u32>(|x, s| {
                    let y = s.suspend(x);
                    if y == 13 {
                        panic!("unlucky {y}");
                    }
                    y
                });
                assert_eq!(fiber.resume(1), FiberResult::Yield(1));
                let err = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(13))).unwrap_err();
                assert_eq!(panic_message(&*err), "unlucky 13");
                assert!(fiber.is_finished());
                // The caller's stack is intact and the fiber stays finished.
                let again = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(1))).unwrap_err();
                assert!(panic_message(&*again).contains("already returned or panicked"));
            }

            #[test]
            fn panic_on_first_resume_keeps_payload_type() {
                struct Custom(u32);
                let mut fiber =
                    fiber_on::<B, (), (), ()>(|(), _| panic::panic_any(Custom(99)));
                let err = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(()))).unwrap_err();
                assert_eq!(err.downcast_ref::<Custom>().map(|c| c.0), Some(99));
            }

            #[test]
            fn resume_after_return_is_a_clear_panic() {
                let mut fiber = fiber_on::<B, (), (), u8>(|(), _| 5);
                assert_eq!(fiber.resume(()), FiberResult::Return(5));
                let err = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(()))).unwrap_err();
                assert_eq!(
                    panic_message(&*err),
                    "Fiber::resume called on a fiber that has already returned or panicked"
                );
            }

            #[test]
            fn dropping_a_suspended_fiber_runs_destructors() {
                let drops = Rc::new(Cell::new(0));
                let after_suspend = Rc::new(Cell::new(false));
                {
                    let d = drops.clone();
                    let after = after_suspend.clone();
                    let mut fiber = fiber_on::<B, (), (), ()>(move |(), s| {
                        let _a = DropCounter(d.clone());
                        let _b = vec![DropCounter(d.clone()), DropCounter(d.clone())];
                        s.suspend(());
                        after.set(true); // never reached: the fiber is dropped
                    });
                    fiber.resume(());
                    assert_eq!(drops.get(), 0);
                }
                assert_eq!(drops.get(), 3, "every value on the fiber's stack was dropped");
                assert!(!after_suspend.get());
            }

            #[test]
            fn dropping_a_fresh_fiber_drops_its_closure() {
                let drops = Rc::new(Cell::new(0));
                let captured = DropCounter(drops.clone());
                let ran = Cell::new(false);
                let fiber = fiber_on::<B, (), (), ()>(|(), _| {
                    ran.set(true);
                    drop(captured);
                });
                drop(fiber);
                assert_eq!(drops.get(), 1);
                assert!(!ran.get());
            }

            #[test]
            fn into_stack_unwinds_and_the_stack_is_reusable() {
                let drops = Rc::new(Cell::new(0));
                let d = drops.clone();
                let mut fiber = fiber_on::<B, (), u8, ()>(move |(), s| {
                    let _guard = DropCounter(d);
                    loop {
                        s.suspend(1);
                    }
                });
                fiber.resume(());
                let stack = fiber.into_stack();
                assert_eq!(drops.get(), 1);
                let top = stack.top();
                let mut again = Fiber::<_, _, _, _, B>::with_stack(stack, |x: u8, _: &Suspender<u8, (), B>| x + 1).unwrap();
                assert_eq!(again.resume(1), FiberResult::Return(2));
                assert_eq!(again.into_stack().top(), top);
            }

            #[test]
            fn forced_unwind_caught_and_resumed_by_user_code() {
                // Code that catches panics inside a fiber and re-raises
                // ForcedUnwind lets the fiber unwind normally.
                let drops = Rc::new(Cell::new(0));
                let d = drops.clone();
                let mut fiber = fiber_on::<B, (), (), ()>(move |(), s| {
                    let _outer = DropCounter(d.clone());
                    let r = panic::catch_unwind(AssertUnwindSafe(|| {
                        let _inner = DropCounter(d.clone());
                        s.suspend(());
                    }));
                    if let Err(payload) = r {
                        assert!(payload.is::<spindle_fiber::ForcedUnwind>());
                        panic::resume_unwind(payload);
                    }
                });
                fiber.resume(());
                drop(fiber);
                assert_eq!(drops.get(), 2);
            }

            #[test]
            #[cfg_attr(miri, ignore = "leaks a suspended fiber on purpose: under Miri its thread never ends, which Miri reports as a leak")]
            fn swallowed_forced_unwind_is_a_clear_panic_and_leaks_the_stack() {
                // A 'static fiber on an owned Stack: the one kind Spindle may
                // leak (tests/all/leaking.rs has the kinds it must abort for).
                let mut fiber = Fiber::<_, _, _, _, B>::with_stack(Stack::new(STACK).unwrap(), |(), s: &Suspender<(), (), B>| loop {
                    // Swallows everything, including ForcedUnwind.
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| s.suspend(())));
                }).unwrap();
                fiber.resume(());
                let err = panic::catch_unwind(AssertUnwindSafe(|| drop(fiber))).unwrap_err();
                assert!(
                    panic_message(&*err).contains("caught its ForcedUnwind and suspended again"),
                    "{}",
                    panic_message(&*err)
                );
            }

            #[test]
            fn suspender_used_from_another_fiber_panics() {
                let mut outer = fiber_on::<B, (), (), String>(|(), outer_s| {
                    let mut inner = fiber_on::<B, (), (), ()>(|(), _| {
                        outer_s.suspend(());
                    });
                    let err = panic::catch_unwind(AssertUnwindSafe(|| inner.resume(()))).unwrap_err();
                    panic_message(&*err)
                });
                let msg = outer.resume(()).into_return().unwrap();
                assert!(msg.contains("outside its own fiber"), "{msg}");
            }

            /// In a child process: other tests' fibers would move VmSize.
            #[test]
            #[cfg_attr(miri, ignore = "Miri cannot start child processes or read /proc")]
            fn many_create_resume_drop_cycles_do_not_grow_mapped_memory() {
                let out = run_child(child!("child_cycles_without_growth"));
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr)
                );
                assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
            }

            #[test]
            #[ignore = "run as a child process by many_create_resume_drop_cycles_do_not_grow_mapped_memory"]
            fn child_cycles_without_growth() {
                if !in_child(child!("child_cycles_without_growth")) {
                    return;
                }
                let cycle = |i: u64| {
                    let mut f = fiber_on::<B, u64, u64, u64>(|x, s| s.suspend(x) + 1);
                    assert_eq!(f.resume(i), FiberResult::Yield(i));
                    if i % 2 == 0 {
                        assert_eq!(f.resume(i), FiberResult::Return(i + 1));
                    } // odd: dropped while suspended (forced unwind)
                };
                for i in 0..1_000 {
                    cycle(i);
                }
                let before = mapped_bytes();
                for i in 0..100_000 {
                    cycle(i);
                }
                let after = mapped_bytes();
                assert!(
                    after <= before + 1024 * 1024,
                    "mapped memory grew from {before} to {after} bytes over 10^5 fibers"
                );
            }

            #[test]
            fn user_supplied_stack_memory() {
                // Memory owned by someone else: a heap buffer, no guard page.
                let mut buffer = vec![0u128; 8 * 1024]; // 128 KiB, 16-aligned
                let range = buffer.as_mut_ptr_range();
                let len = range.end as usize - range.start as usize;
                // SAFETY: the buffer outlives the fiber and nothing else uses it;
                // the fiber uses a few hundred bytes of its 128 KiB.
                let stack = unsafe { spindle_fiber::RawStack::from_raw_parts_unguarded(range.start.cast(), len) };
                let mut fiber = Fiber::<_, _, _, _, B>::with_stack(stack, |x: u32, s: &Suspender<u32, u32, B>| {
                    let local = [x; 16];
                    let y = s.suspend(local.iter().sum());
                    y + 1
                })
                .unwrap();
                assert_eq!(fiber.resume(2), FiberResult::Yield(32));
                assert_eq!(fiber.resume(9), FiberResult::Return(10));
                drop(fiber);
                if matches!(B::KIND, spindle_fiber::BackendKind::WindowsFibers | spindle_fiber::BackendKind::MiriThreads) {
                    // Win32 fibers always run on a stack Windows allocates,
                    // Miri's on a thread's: the buffer holds only the
                    // control block.
                    println!("NOTE: {} runs on its own stack; buffer use not checked", B::KIND);
                } else {
                    assert!(buffer.iter().any(|&w| w != 0), "the fiber really ran on the buffer");
                }
            }

            #[test]
            fn stack_too_small_is_an_error() {
                let mut buffer = vec![0u128; 64];
                let range = buffer.as_mut_ptr_range();
                let len = range.end as usize - range.start as usize;
                // SAFETY: as above; the fiber is never created.
                let stack = unsafe { spindle_fiber::RawStack::from_raw_parts_unguarded(range.start.cast(), len) };
                let err = Fiber::<_, _, _, _, B>::with_stack(stack, |(): (), _: &Suspender<(), (), B>| ()).unwrap_err();
                assert!(matches!(err, spindle_fiber::Error::StackTooSmall { .. }), "{err}");
                assert!(err.to_string().contains("fiber stack too small"));
            }

            #[test]
            fn values_are_not_dropped_twice_or_leaked() {
                let drops = Rc::new(Cell::new(0));
                let mut fiber = fiber_on::<B, DropCounter, DropCounter, DropCounter>(|first, s| {
                    let second = s.suspend(first);
                    drop(second);
                    DropCounter(Rc::new(Cell::new(0)))
                });
                let y = fiber.resume(DropCounter(drops.clone())).into_yield().unwrap();
                assert_eq!(drops.get(), 0);
                drop(y);
                assert_eq!(drops.get(), 1);
                let _ = fiber.resume(DropCounter(drops.clone()));
                assert_eq!(drops.get(), 2);
            }

            #[test]
            fn recursion_on_the_fiber_stack() {
                fn depth(n: u64) -> u64 {
                    let pad = std::hint::black_box([n; 8]);
                    if n == 0 { pad[0] } else { depth(n - 1) + pad[7] - n + 1 }
                }
                let mut fiber = fiber_on::<B, u64, (), u64>(|n, _| depth(n));
                assert_eq!(fiber.resume(500), FiberResult::Return(500));
            }

            #[test]
            fn shared_state_through_refcell() {
                let shared = RefCell::new(Vec::new());
                let mut a = fiber_on::<B, (), (), ()>(|(), s| {
                    shared.borrow_mut().push("a1");
                    s.suspend(());
                    shared.borrow_mut().push("a2");
                });
                let mut b = fiber_on::<B, (), (), ()>(|(), s| {
                    shared.borrow_mut().push("b1");
                    s.suspend(());
                    shared.borrow_mut().push("b2");
                });
                a.resume(());
                b.resume(());
                b.resume(());
                a.resume(());
                drop((a, b));
                assert_eq!(*shared.borrow(), ["a1", "b1", "b2", "a2"]);
            }
        }
    };
}

#[cfg(spindle_asm)]
backend_tests!(asm, spindle_fiber::Asm);
#[cfg(spindle_ucontext)]
backend_tests!(ucontext, spindle_fiber::Ucontext);
#[cfg(windows)]
backend_tests!(windows_fibers, spindle_fiber::WindowsFibers);
#[cfg(miri)]
backend_tests!(miri_threads, spindle_fiber::MiriThreads);

#[test]
fn backend_reports_what_is_compiled_in() {
    let kind = spindle_fiber::backend();
    if cfg!(miri) {
        assert_eq!(kind, spindle_fiber::BackendKind::MiriThreads);
        assert_eq!(kind.to_string(), "miri-threads");
    } else if cfg!(all(windows, feature = "fallback")) {
        assert_eq!(kind, spindle_fiber::BackendKind::WindowsFibers);
        assert_eq!(kind.to_string(), "windows-fibers");
    } else if cfg!(feature = "fallback") {
        assert_eq!(kind, spindle_fiber::BackendKind::Ucontext);
    } else if cfg!(all(target_arch = "x86_64", windows)) {
        assert_eq!(kind, spindle_fiber::BackendKind::X86_64WindowsAsm);
        assert_eq!(kind.to_string(), "x86_64-windows-asm");
    } else if cfg!(target_arch = "x86_64") {
        assert_eq!(kind, spindle_fiber::BackendKind::X86_64Asm);
        assert_eq!(kind.to_string(), "x86_64-asm");
    } else if cfg!(target_arch = "aarch64") {
        assert_eq!(kind, spindle_fiber::BackendKind::Aarch64Asm);
        assert_eq!(kind.to_string(), "aarch64-asm");
    } else if cfg!(target_arch = "riscv64") {
        assert_eq!(kind, spindle_fiber::BackendKind::Riscv64Asm);
        assert_eq!(kind.to_string(), "riscv64-asm");
    } else if cfg!(all(target_arch = "s390x", target_os = "linux")) {
        assert_eq!(kind, spindle_fiber::BackendKind::S390xAsm);
        assert_eq!(kind.to_string(), "s390x-asm");
    } else if cfg!(all(target_arch = "x86", target_os = "linux")) {
        assert_eq!(kind, spindle_fiber::BackendKind::X86Asm);
        assert_eq!(kind.to_string(), "x86-asm");
    } else if cfg!(all(target_arch = "arm", spindle_asm)) {
        // ARMv7-A hard-float, A32 or Thumb-2 (build.rs reads the target
        // name: stable cfg has no Arm target features).
        assert_eq!(kind, spindle_fiber::BackendKind::ArmAsm);
        assert_eq!(kind.to_string(), "arm-asm");
    } else if cfg!(all(
        target_arch = "powerpc64",
        target_endian = "little",
        target_os = "linux"
    )) {
        assert_eq!(kind, spindle_fiber::BackendKind::Powerpc64Asm);
        assert_eq!(kind.to_string(), "powerpc64-asm");
    } else if cfg!(all(target_arch = "loongarch64", target_os = "linux")) {
        assert_eq!(kind, spindle_fiber::BackendKind::Loongarch64Asm);
        assert_eq!(kind.to_string(), "loongarch64-asm");
    } else if cfg!(all(target_os = "linux", target_env = "gnu")) {
        // Everywhere else with glibc the portable backend is the native one.
        assert_eq!(kind, spindle_fiber::BackendKind::Ucontext);
        assert_eq!(kind.to_string(), "ucontext");
    }
    assert_eq!(<spindle_fiber::Native as Backend>::KIND, kind);
}

#[test]
fn the_documented_minimal_api() {
    use spindle_fiber::{Fiber, FiberResult, Suspender};
    let mut fiber =
        Fiber::new(|first: u64, s: &Suspender<u64, u64>| -> u64 { s.suspend(first + 1) }).unwrap();
    match fiber.resume(1) {
        FiberResult::Yield(y) => assert_eq!(y, 2),
        FiberResult::Return(_) => panic!("expected a yield"),
    }
    assert_eq!(fiber.resume(5), FiberResult::Return(5));
}

#[test]
fn unsupported_backend_is_an_error_not_a_link_failure() {
    let stack = Stack::new(STACK).unwrap();
    let err = Fiber::<_, _, _, _, spindle_fiber::Unsupported>::with_stack(
        stack,
        |(): (), _: &Suspender<(), (), spindle_fiber::Unsupported>| (),
    )
    .unwrap_err();
    assert!(matches!(err, spindle_fiber::Error::Unsupported { .. }));
    assert!(
        err.to_string().contains("not supported on this target"),
        "{err}"
    );
}

/// The OS page size (64 KiB on ppc64le under the runner in
/// .cargo/config.toml, as on Debian's ppc64el kernels).
#[cfg(unix)]
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    assert!(page > 0, "sysconf(_SC_PAGESIZE) failed");
    page as usize
}

/// Windows' page size is fixed by the architecture: 4 KiB on x86_64 and
/// aarch64 (its 64 KiB is the allocation granularity, not the page).
#[cfg(windows)]
fn page_size() -> usize {
    4096
}

#[test]
#[cfg_attr(miri, ignore = "under Miri a Stack is heap memory with no guard page")]
fn stack_sizes_round_up_to_pages_with_a_guard() {
    let page = page_size();
    println!("page size {page}");
    for request in [10_000, 64 * 1024 + 1, 300_000] {
        let stack = Stack::new(request).unwrap();
        assert_eq!(stack.size() % page, 0, "request {request}");
        assert!(stack.size() >= request.max(16 * 1024), "request {request}");
        assert!(
            stack.size() < request.max(16 * 1024) + page,
            "request {request}"
        );
        assert_eq!(stack.limit() as usize % page, 0);
        let guard = stack.guard_range();
        assert_eq!(guard.end, stack.limit());
        assert_eq!(
            guard.end as usize - guard.start as usize,
            page,
            "one whole page"
        );
        assert_eq!(stack.top() as usize % 16, 0);
    }
}

#[test]
fn stack_pool_reuses_stacks() {
    let mut pool = spindle_fiber::StackPool::new(STACK);
    let first = pool.take().unwrap();
    let top = first.top();
    pool.give(first);
    let mut fiber =
        Fiber::with_stack(pool.take().unwrap(), |x: u8, _: &Suspender<u8, ()>| x).unwrap();
    assert_eq!(fiber.resume(3), FiberResult::Return(3));
    let stack = fiber.into_stack();
    assert_eq!(stack.top(), top, "the same mapping came back");
    pool.give(stack);
    assert_eq!(pool.len(), 1);
}

/// A backtrace taken inside a fiber continues, through the trampoline's
/// unwind info, into the function that resumed the fiber.
#[cfg(spindle_asm)]
#[test]
fn backtrace_walks_from_fiber_into_resumer() {
    use spindle_fiber::Asm;
    #[inline(never)]
    fn spindle_test_resumer_frame(fiber: &mut Fiber<'_, (), String, (), Stack, Asm>) -> String {
        let out = fiber.resume(()).into_yield().unwrap();
        std::hint::black_box(out)
    }
    #[inline(never)]
    fn spindle_test_inside_fiber_frame() -> String {
        std::backtrace::Backtrace::force_capture().to_string()
    }
    let stack = Stack::new(STACK).unwrap();
    let mut fiber = Fiber::with_stack(stack, |(), s: &Suspender<(), String, Asm>| {
        let trace = spindle_test_inside_fiber_frame();
        s.suspend(trace);
    })
    .unwrap();
    let trace = spindle_test_resumer_frame(&mut fiber);
    let inside = trace.find("spindle_test_inside_fiber_frame");
    let resumer = trace.find("spindle_test_resumer_frame");
    assert!(
        inside.is_some() && resumer.is_some(),
        "backtrace did not cross the switch:\n{trace}"
    );
    assert!(inside < resumer, "frames out of order:\n{trace}");
    // And further up, to this test function itself.
    assert!(
        trace.contains("backtrace_walks_from_fiber_into_resumer"),
        "{trace}"
    );
    println!("{trace}");
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn stack_overflow_is_reported_clearly() {
    let out = run_child(child!("child_stack_overflow"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("fatal runtime error: fiber stack overflow, aborting"),
        "child stderr:\n{stderr}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc_sigabrt()),
            "{:?}",
            out.status
        );
    }
}

#[cfg(unix)]
fn libc_sigabrt() -> i32 {
    6
}

#[test]
#[ignore = "run as a child process by stack_overflow_is_reported_clearly"]
fn child_stack_overflow() {
    if !in_child(child!("child_stack_overflow")) {
        return;
    }
    spindle_fiber::install_overflow_handler().unwrap();
    #[inline(never)]
    #[allow(unconditional_recursion)]
    fn recurse(n: u64) -> u64 {
        let pad = std::hint::black_box([n; 64]);
        recurse(n + 1) + pad[3]
    }
    let mut fiber = Fiber::with_stack_size(32 * 1024, |(): (), _: &Suspender<(), ()>| {
        recurse(0);
    })
    .unwrap();
    fiber.resume(());
    unreachable!("the fiber overflowed");
}

fn assert_overflow_reported(child: &str) {
    let out = run_child(child!(child));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fatal runtime error: fiber stack overflow, aborting"),
        "child status {:?}, stderr:\n{stderr}",
        out.status
    );
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn overflow_by_recursion(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 64]);
    overflow_by_recursion(n + 1) + pad[3]
}

/// A stack that is not Spindle's own `Stack` (here a `RawStack` over memory
/// the test maps, guard included) is covered by tracking the running fiber.
#[cfg(unix)] // Windows: tests/all/windows.rs
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn overflow_on_a_raw_stack_is_reported() {
    assert_overflow_reported("child_overflow_on_raw_stack");
}

#[cfg(unix)] // Windows: tests/all/windows.rs
#[test]
#[ignore = "run as a child process by overflow_on_a_raw_stack_is_reported"]
fn child_overflow_on_raw_stack() {
    if !in_child(child!("child_overflow_on_raw_stack")) {
        return;
    }
    spindle_fiber::install_overflow_handler().unwrap();
    // Whole pages: mprotect works on pages, which are 64 KiB on ppc64le.
    let (guard, len) = (page_size(), 64 * 1024usize.max(page_size()));
    // SAFETY: a fresh anonymous mapping; the lowest page stays PROT_NONE.
    let base = unsafe {
        let base = libc::mmap(
            std::ptr::null_mut(),
            guard + len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(base, libc::MAP_FAILED);
        let usable = (base as *mut u8).add(guard);
        assert_eq!(
            libc::mprotect(usable.cast(), len, libc::PROT_READ | libc::PROT_WRITE),
            0
        );
        base as *mut u8
    };
    // SAFETY: [base, base + guard) is inaccessible and the rest is ours
    // for the life of the process.
    let stack = unsafe { spindle_fiber::RawStack::from_raw_parts(base, guard, len) };
    assert!(!stack.guard_registered());
    let mut fiber = Fiber::with_stack(stack, |(): (), _: &Suspender<(), ()>| {
        overflow_by_recursion(0);
    })
    .unwrap();
    fiber.resume(());
    unreachable!("the fiber overflowed");
}

/// `Stack`s register their guard when they are mapped, so a stack mapped
/// before the handler was installed is covered too.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn overflow_on_a_stack_mapped_before_install_is_reported() {
    assert_overflow_reported("child_overflow_on_early_stack");
}

#[test]
#[ignore = "run as a child process by overflow_on_a_stack_mapped_before_install_is_reported"]
fn child_overflow_on_early_stack() {
    if !in_child(child!("child_overflow_on_early_stack")) {
        return;
    }
    let early = Stack::new(64 * 1024).unwrap();
    assert!(early.guard_registered());
    spindle_fiber::install_overflow_handler().unwrap();
    let mut fiber = Fiber::with_stack(early, |(): (), _: &Suspender<(), ()>| {
        overflow_by_recursion(0);
    })
    .unwrap();
    fiber.resume(());
    unreachable!("the fiber overflowed");
}

/// `Stack`s unregister their guard when unmapped: after 10^5 stacks came and
/// went (more than the registry's 64 Ki slots), a new one is still covered.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn overflow_is_reported_after_many_stacks_came_and_went() {
    assert_overflow_reported("child_overflow_after_many_stacks");
}

#[test]
#[ignore = "run as a child process by overflow_is_reported_after_many_stacks_came_and_went"]
fn child_overflow_after_many_stacks() {
    if !in_child(child!("child_overflow_after_many_stacks")) {
        return;
    }
    spindle_fiber::install_overflow_handler().unwrap();
    for i in 0..100_000u64 {
        let stack = Stack::new(16 * 1024).unwrap();
        let mut fiber =
            Fiber::with_stack(stack, |x: u64, s: &Suspender<u64, u64>| s.suspend(x)).unwrap();
        assert_eq!(fiber.resume(i), FiberResult::Yield(i));
        if i % 2 == 0 {
            assert_eq!(fiber.resume(0), FiberResult::Return(0));
        }
        drop(fiber.into_stack()); // unmapped, so its slot is free again
    }
    let mut fiber = Fiber::with_stack(
        Stack::new(64 * 1024).unwrap(),
        |(): (), _: &Suspender<(), ()>| {
            overflow_by_recursion(0);
        },
    )
    .unwrap();
    fiber.resume(());
    unreachable!("the fiber overflowed");
}

#[cfg(unix)] // Windows: tests/all/windows.rs
#[test]
#[cfg_attr(miri, ignore = "Miri cannot start child processes")]
fn overflow_handler_chains_to_the_previous_handler() {
    let out = run_child(child!("child_foreign_fault"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(42), "child stderr:\n{stderr}");
    assert!(
        stderr.contains("previous handler saw the fault"),
        "{stderr}"
    );
    assert!(!stderr.contains("fiber stack overflow"), "{stderr}");
}

#[cfg(unix)] // Windows: tests/all/windows.rs
#[test]
#[ignore = "run as a child process by overflow_handler_chains_to_the_previous_handler"]
fn child_foreign_fault() {
    if !in_child(child!("child_foreign_fault")) {
        return;
    }
    extern "C" fn previous(_: i32) {
        let msg = b"previous handler saw the fault\n";
        // SAFETY: write and _exit are async-signal-safe.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(42);
        }
    }
    // SAFETY: installing a plain handler; the test process is ours.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = previous as *const () as usize;
        libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
    }
    spindle_fiber::install_overflow_handler().unwrap();
    // A fault that is not a fiber overflow: an inaccessible page of our own
    // (not a Stack's guard, which the handler knows), touched while a fiber
    // runs so that the handler's guard check is live.
    // SAFETY: an anonymous PROT_NONE mapping with no address hint.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    let guard = page as *const u8;
    let mut fiber = Fiber::new(move |(): (), _: &Suspender<(), ()>| {
        // SAFETY: deliberately faulting on a PROT_NONE page we mapped.
        unsafe { std::ptr::read_volatile(guard) };
    })
    .unwrap();
    fiber.resume(());
    unreachable!("the read faulted");
}

/// gdb, stopped inside a fiber, walks through the trampoline's CFI into the
/// function that resumed the fiber (run on this same binary as a child).
#[cfg(all(
    spindle_asm,
    any(target_arch = "x86_64", target_arch = "x86"),
    target_os = "linux"
))]
#[test]
fn gdb_backtrace_walks_from_fiber_into_resumer() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("gdb")
        .args(["-nx", "-batch", "-ex", "set breakpoint pending on"])
        .args([
            "-ex",
            "break spindle_gdb_inside_fiber",
            "-ex",
            "run",
            "-ex",
            "bt",
        ])
        .arg("--args")
        .arg(&exe)
        .args(child_args(child!("child_gdb_target")))
        .env(CHILD, child!("child_gdb_target"))
        .output()
        .expect("gdb is needed for this test (scripts/setup.sh installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let bt: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    let pos = |needle: &str| bt.iter().position(|l| l.contains(needle));
    let inside = pos("spindle_gdb_inside_fiber");
    // The trampoline is marked as a signal frame (so gdb accepts the jump
    // between stacks), which gdb prints as "<signal handler called>".
    let trampoline = pos("_trampoline").or(pos("<signal handler called>"));
    let resumer = pos("spindle_gdb_resumer");
    assert!(
        inside.is_some()
            && trampoline.is_some()
            && resumer.is_some()
            && inside < trampoline
            && trampoline < resumer,
        "gdb did not walk from the fiber through the trampoline into the resumer:\n{text}"
    );
}

#[cfg(all(
    spindle_asm,
    any(target_arch = "x86_64", target_arch = "x86"),
    target_os = "linux"
))]
#[unsafe(no_mangle)]
#[inline(never)]
extern "C" fn spindle_gdb_inside_fiber(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

#[cfg(all(
    spindle_asm,
    any(target_arch = "x86_64", target_arch = "x86"),
    target_os = "linux"
))]
#[unsafe(no_mangle)]
#[inline(never)]
extern "C" fn spindle_gdb_resumer(
    fiber: &mut Fiber<'_, u64, (), u64, Stack, spindle_fiber::Asm>,
) -> u64 {
    fiber
        .resume(std::hint::black_box(41))
        .into_return()
        .unwrap()
}

#[cfg(all(
    spindle_asm,
    any(target_arch = "x86_64", target_arch = "x86"),
    target_os = "linux"
))]
#[test]
#[ignore = "run under gdb by gdb_backtrace_walks_from_fiber_into_resumer"]
fn child_gdb_target() {
    if !in_child(child!("child_gdb_target")) {
        return;
    }
    let stack = Stack::new(STACK).unwrap();
    let mut fiber = Fiber::with_stack(
        stack,
        |x: u64, _: &Suspender<u64, (), spindle_fiber::Asm>| spindle_gdb_inside_fiber(x),
    )
    .unwrap();
    assert_eq!(spindle_gdb_resumer(&mut fiber), 42);
}
