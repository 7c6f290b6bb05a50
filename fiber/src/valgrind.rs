//! Valgrind's view of fiber stacks.
//!
//! Valgrind follows the stack pointer to tell stack memory from the rest:
//! when it moves into memory that is not a known stack, memcheck takes
//! every access there for one below the stack pointer ("Invalid read ...
//! in a rw- anonymous segment") and the suite drowns in false reports. A
//! stack it is told about (the `VALGRIND_STACK_REGISTER` client request) is
//! one it switches to like any other. So each fiber's stack is registered
//! when the fiber is made and deregistered when the fiber lets go of it.
//! Then its whole range is marked defined again: memcheck marks the frames
//! a stack pops as inaccessible, and the memory goes back to an owner (a
//! pool, a heap buffer) for whom it is plain memory again, as `asan.rs`
//! unpoisons it for AddressSanitizer.
//!
//! Always compiled in, no cargo feature: a client request is a "special
//! instruction sequence" that Valgrind's JIT recognises and that a real CPU
//! runs as a few rotations of one register by a total of a whole turn, so
//! it changes nothing. It runs once per process (to ask whether Valgrind is
//! there); after that a fiber pays one relaxed load and a predictable
//! branch when it is made and when it is released, and nothing per switch.
//!
//! Client requests exist on x86_64 and aarch64 here (the two sequences
//! below); elsewhere, and under Miri, this module does nothing.

use core::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::FiberStack;

const RUNNING_ON_VALGRIND: usize = 0x1001;
const STACK_REGISTER: usize = 0x1501;
const STACK_DEREGISTER: usize = 0x1502;
/// Memcheck's own (tool base `'M' 'C'`, then NOACCESS, UNDEFINED, DEFINED).
const MAKE_MEM_DEFINED: usize = 0x4d43_0002;

/// Sends one client request (`args[0]` is its code); returns Valgrind's
/// answer, or `default` when not running under Valgrind.
#[cfg(all(target_arch = "x86_64", unix, not(miri)))]
#[inline(always)]
fn request(default: usize, args: &[usize; 6]) -> usize {
    let result: usize;
    // SAFETY: the four rotations of rdi add up to 128 bits, a no-op on a
    // real CPU, and `xchg rbx, rbx` changes nothing; Valgrind recognises
    // the sequence, reads the request at [rax] and answers in rdx.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inout("rdx") default => result,
            options(nostack),
        );
    }
    result
}

#[cfg(all(target_arch = "aarch64", unix, not(miri)))]
#[inline(always)]
fn request(default: usize, args: &[usize; 6]) -> usize {
    let result: usize;
    // SAFETY: the four rotations of x12 add up to 128 bits, a no-op on a
    // real CPU, and `orr x10, x10, x10` changes nothing; Valgrind
    // recognises the sequence, reads the request at [x4] and answers in x3.
    unsafe {
        core::arch::asm!(
            "ror x12, x12, #3",
            "ror x12, x12, #13",
            "ror x12, x12, #51",
            "ror x12, x12, #61",
            "orr x10, x10, x10",
            in("x4") args.as_ptr(),
            inout("x3") default => result,
            options(nostack, preserves_flags),
        );
    }
    result
}

#[cfg(not(all(any(target_arch = "x86_64", target_arch = "aarch64"), unix, not(miri))))]
#[inline(always)]
fn request(default: usize, _args: &[usize; 6]) -> usize {
    default
}

/// 0: not asked yet; 1: no; 2: yes.
static ON_VALGRIND: AtomicU8 = AtomicU8::new(0);

#[inline(always)]
fn on_valgrind() -> bool {
    match ON_VALGRIND.load(Ordering::Relaxed) {
        0 => ask(),
        state => state == 2,
    }
}

#[cold]
#[inline(never)]
fn ask() -> bool {
    let yes = request(0, &[RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0]) != 0;
    ON_VALGRIND.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
    yes
}

/// Valgrind's stack ids, by the address of the fiber's control block
/// (only ever used under Valgrind, so the lock costs nothing elsewhere).
static IDS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// Tells Valgrind that `[limit, top)` is the stack of the fiber whose
/// control block is at `control`.
#[inline(always)]
pub(crate) fn register(control: *mut u8, limit: *mut u8, top: *mut u8) {
    if on_valgrind() {
        register_slow(control as usize, limit as usize, top as usize);
    }
}

#[cold]
#[inline(never)]
fn register_slow(control: usize, limit: usize, top: usize) {
    // The request takes the lowest and the highest stack byte.
    let id = request(0, &[STACK_REGISTER, limit, top - 1, 0, 0, 0]);
    let mut ids = IDS.lock().unwrap_or_else(|e| e.into_inner());
    ids.push((control, id));
}

/// Forgets the stack registered for `control` and gives its memory back as
/// plain, defined memory; nothing runs on `stack` any more.
#[inline(always)]
pub(crate) fn hand_back(control: *mut u8, stack: &impl FiberStack) {
    if on_valgrind() {
        hand_back_slow(control as usize, stack.limit() as usize, stack.size());
    }
}

#[cold]
#[inline(never)]
fn hand_back_slow(control: usize, limit: usize, size: usize) {
    let mut ids = IDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = ids.iter().position(|&(c, _)| c == control) {
        let (_, id) = ids.swap_remove(i);
        request(0, &[STACK_DEREGISTER, id, 0, 0, 0, 0]);
    }
    request(0, &[MAKE_MEM_DEFINED, limit, size, 0, 0, 0]);
}
