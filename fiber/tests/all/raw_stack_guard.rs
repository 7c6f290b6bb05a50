//! `RawStack` without a guard (issue 18, item 7, `audit_rawstack_noguard`):
//! at 9b1ab03 `from_raw_parts(base, 0, len)` was accepted, and a fiber that
//! recursed past `len` overwrote 384 of the 512 words below `limit` with no
//! fault. Now that call is refused, and a stack without a guard must be
//! described with `from_raw_parts_unguarded`, whose contract makes the
//! caller bound the fiber's stack use.

use std::panic::{self, AssertUnwindSafe};

use spindle_fiber::{Fiber, FiberResult, FiberStack, RawStack, Suspender};

const PAGE: usize = 4096;
const LEN: usize = 64 * 1024;
const VICTIM: u64 = 0x5a5a_5a5a_5a5a_5a5a;

fn layout() -> std::alloc::Layout {
    std::alloc::Layout::from_size_align(PAGE + LEN, PAGE).unwrap()
}

/// `[victim page | stack]`, all read/write, the victim page filled; given
/// back with `free` once no fiber lives on it.
fn victim_and_stack() -> *mut u8 {
    // SAFETY: the layout has a non-zero size; the block is used only by this
    // test.
    unsafe {
        let base = std::alloc::alloc(layout());
        assert!(!base.is_null());
        std::slice::from_raw_parts_mut(base.cast::<u64>(), PAGE / 8).fill(VICTIM);
        base
    }
}

/// # Safety
///
/// `base` is from `victim_and_stack`, and no fiber on it is alive.
unsafe fn free(base: *mut u8) {
    // SAFETY: allocated with this layout; the caller guarantees nothing
    // uses it any more.
    unsafe { std::alloc::dealloc(base, layout()) }
}

#[test]
fn raw_stack_with_a_zero_guard_is_refused() {
    let base = victim_and_stack();
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: [base + PAGE, base + PAGE + LEN) is ours; the call is
        // expected to refuse the empty guard before anything runs on it.
        let stack = unsafe { RawStack::from_raw_parts(base.wrapping_add(PAGE), 0, LEN) };
        #[inline(never)]
        fn depth(n: u64) -> u64 {
            let pad = std::hint::black_box([n; 32]);
            if n == 0 {
                0
            } else {
                depth(n - 1) + pad[1] - n + 1
            }
        }
        let mut f = Fiber::with_stack(stack, |n: u64, _: &Suspender<u64, ()>| depth(n)).unwrap();
        f.resume(110)
    }))
    .expect_err("a RawStack with no guard was accepted");
    let msg = err
        .downcast_ref::<&str>()
        .copied()
        .map(String::from)
        .or(err.downcast_ref::<String>().cloned());
    assert!(msg.unwrap_or_default().contains("from_raw_parts_unguarded"));
    // SAFETY: the victim page is ours and initialised.
    let victim = unsafe { std::slice::from_raw_parts(base as *const u64, PAGE / 8) };
    assert!(
        victim.iter().all(|&w| w == VICTIM),
        "memory below the stack was overwritten"
    );
    // SAFETY: no fiber was made on it.
    unsafe { free(base) };
}

#[test]
fn unguarded_raw_stack_runs_a_bounded_fiber_and_leaves_the_memory_below_alone() {
    let base = victim_and_stack();
    // SAFETY: [base + PAGE, base + PAGE + LEN) is ours for the whole test,
    // and the fiber below uses well under LEN bytes.
    let stack = unsafe { RawStack::from_raw_parts_unguarded(base.wrapping_add(PAGE), LEN) };
    assert!(stack.guard_range().is_empty());
    let mut f = Fiber::with_stack(stack, |n: u64, s: &Suspender<u64, u64>| {
        let local = std::hint::black_box([n; 64]);
        s.suspend(local.iter().sum()) + 1
    })
    .unwrap();
    assert_eq!(f.resume(2), FiberResult::Yield(128));
    assert_eq!(f.resume(9), FiberResult::Return(10));
    drop(f);
    // SAFETY: as above.
    let victim = unsafe { std::slice::from_raw_parts(base as *const u64, PAGE / 8) };
    assert!(victim.iter().all(|&w| w == VICTIM));
    // SAFETY: the fiber was dropped above.
    unsafe { free(base) };
}
