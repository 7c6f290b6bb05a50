//! AUDIT: odd value types (ZST, over-aligned) and stack alignment in fibers.
//!
//! From the audit of issue 18 (found nothing at 9b1ab03); kept so these
//! claims stay tested on both backends, natively and under qemu on the
//! other architectures with an assembly backend.
//!
//! "Aligned" is the ABI's stack alignment at a call: 16 bytes on x86_64,
//! aarch64, x86 (i686 Linux), powerpc64 and loongarch64, 8 on s390x and
//! arm (AAPCS).
#![cfg(all(
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "s390x",
        target_arch = "x86",
        target_arch = "arm",
        target_arch = "powerpc64",
        target_arch = "loongarch64"
    ),
    unix
))]
use spindle_fiber::{Backend, Fiber, FiberResult, Stack, Suspender};
use std::hint::black_box;

#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(4096))]
struct Page(u8);
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(4096))]
struct PageZst;
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(64))]
struct Line([u8; 64]);

#[cfg(all(target_arch = "x86_64", not(miri)))]
#[inline(always)]
fn sp_misalignment() -> usize {
    let sp: usize;
    // no `nostack`: the compiler guarantees call alignment here
    // SAFETY: reads a register, touches nothing.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) sp) };
    sp % 16
}
#[cfg(all(target_arch = "s390x", not(miri)))]
#[inline(always)]
fn sp_misalignment() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches nothing.
    unsafe { core::arch::asm!("lgr {}, %r15", out(reg) sp) };
    sp % 8
}
#[cfg(all(target_arch = "x86", not(miri)))]
#[inline(always)]
fn sp_misalignment() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches nothing.
    unsafe { core::arch::asm!("mov {}, esp", out(reg) sp) };
    sp % 16
}
#[cfg(all(target_arch = "arm", not(miri)))]
#[inline(always)]
fn sp_misalignment() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches nothing.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp) };
    sp % 8
}
#[cfg(all(target_arch = "powerpc64", not(miri)))]
#[inline(always)]
fn sp_misalignment() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches nothing.
    unsafe { core::arch::asm!("mr {}, 1", out(reg) sp) };
    sp % 16
}
#[cfg(all(target_arch = "loongarch64", not(miri)))]
#[inline(always)]
fn sp_misalignment() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches nothing.
    unsafe { core::arch::asm!("move {}, $sp", out(reg) sp) };
    sp % 16
}
/// Under Miri the fiber runs on a thread that Miri lays out (and Miri runs
/// no assembly to read the register): the alignment the real switches set
/// up is checked by the other backends' runs, not here.
#[cfg(miri)]
fn sp_misalignment() -> usize {
    0
}
#[cfg(all(target_arch = "aarch64", not(miri)))]
#[inline(always)]
fn sp_misalignment() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches nothing (sp must stay 16-aligned
    // on aarch64 at all times, so any value read is a real check).
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp) };
    sp % 16
}

fn run<B: Backend>() {
    // ZST yields/resumes/returns, including an over-aligned ZST.
    let mut f = Fiber::<_, _, _, _, B>::with_stack(
        Stack::new(256 * 1024).unwrap(),
        |a: PageZst, s: &Suspender<PageZst, PageZst, B>| {
            assert_eq!(sp_misalignment(), 0);
            let b = s.suspend(a);
            assert_eq!(sp_misalignment(), 0);
            s.suspend(b);
            PageZst
        },
    )
    .unwrap();
    assert_eq!(f.resume(PageZst), FiberResult::Yield(PageZst));
    assert_eq!(f.resume(PageZst), FiberResult::Yield(PageZst));
    assert_eq!(f.resume(PageZst), FiberResult::Return(PageZst));

    // Over-aligned non-ZST values both ways, and checked addresses.
    let mut f = Fiber::<_, _, _, _, B>::with_stack(
        Stack::new(256 * 1024).unwrap(),
        |a: Page, s: &Suspender<Page, Line, B>| {
            assert_eq!(&a as *const Page as usize % 4096, 0);
            let b = s.suspend(Line([a.0; 64]));
            assert_eq!(&b as *const Page as usize % 4096, 0);
            Page(b.0 + 1)
        },
    )
    .unwrap();
    let y = f.resume(Page(3)).into_yield().unwrap();
    assert_eq!(y, Line([3; 64]));
    assert_eq!(f.resume(Page(9)), FiberResult::Return(Page(10)));

    // Closure state of many sizes and alignments: entry alignment holds.
    macro_rules! cap { ($($n:literal),*) => {$({
        #[repr(align(32))] struct C([u8; $n]);
        let c = C([1; $n]);
        let mut f = Fiber::<_, _, _, _, B>::with_stack(Stack::new(64 * 1024).unwrap(), move |(): (), _: &Suspender<(), (), B>| {
            assert_eq!(sp_misalignment(), 0);
            assert_eq!(&c as *const C as usize % 32, 0);
            black_box(c.0[$n - 1]) as usize
        }).unwrap();
        assert_eq!(f.resume(()), FiberResult::Return(1));
    })*}}
    cap!(
        1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 48, 63, 100, 1000
    );
}

#[cfg(spindle_asm)]
#[test]
fn odd_values_asm() {
    run::<spindle_fiber::Asm>()
}
#[cfg(spindle_ucontext)]
#[test]
fn odd_values_ucontext() {
    run::<spindle_fiber::Ucontext>()
}
#[cfg(miri)]
#[test]
fn odd_values_miri_threads() {
    run::<spindle_fiber::MiriThreads>()
}
