//! s390x (z/Architecture ELF ABI, 64-bit) stack switch, Linux.
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning), moved
//! to z/Architecture's branch prediction, which pairs a `brasl`/`basr` that
//! writes r14 (a call) with the `br %r14` that later returns through it:
//!
//! * the parent enters `resume` with `brasl %r14` (inline asm in
//!   [`Asm::resume`]);
//! * `resume` enters the fiber with `br %r1`, a plain indirect branch;
//! * the fiber leaves with inline asm that stores its continuation address
//!   (`larl`) and branches with `jg` (a relative branch that writes no
//!   register) to `suspend`;
//! * `suspend` restores the parent and returns with `br %r14` through the
//!   r14 that the parent's `brasl` wrote: one call, one return per round
//!   trip.
//!
//! # Registers
//!
//! Callee-saved by the ABI: r6–r13, r15 (the stack pointer) and f8–f15
//! (the floating-point registers, which are also the left halves of vector
//! registers v8–v15; the other halves and v16–v31 are volatile). r14 holds
//! the return address and is volatile. r0–r5 and f0–f7 are volatile.
//!
//! Both sides reach the routines from inline asm that declares r6–r10,
//! r12, r13, r14, f8–f15 and everything caller-saved clobbered, so the
//! compiler saves those only where live (once per function for a loop of
//! switches). The two registers asm may not declare — r11 (the frame
//! pointer) and r15 (the stack pointer) — the routines save themselves:
//! `resume` saves r11 and r14 on the parent stack, the fiber's inline asm
//! saves r11 on the fiber stack. Access registers a0/a1 (the thread pointer)
//! are never touched: fibers stay on their thread. The floating-point
//! control register, like MXCSR on x86_64, is shared thread state that is
//! not switched.
//!
//! # Stack discipline
//!
//! The stack pointer is 8-byte aligned at all times (the ABI's rule; the
//! routines keep 16 where they can). There is no red zone: the kernel
//! builds signal frames right below r15, so every routine moves r15 down
//! *before* it stores below the old value and never reads below r15.
//!
//! The ABI's **register save area**: a caller provides 160 bytes at r15 in
//! which its callee may store its own callee-saved registers (r6–r15 at
//! 48–127, f0/f2/f4/f6 at 128–159) and the back chain (at 0). Inline asm is
//! not a caller in the compiler's eyes, so the routines here never write
//! into the 160 bytes at the r15 they are entered with; they store only
//! below it, in space they reserved. The one real call made here — the
//! trampoline's call of the Rust entry function — gets a 160-byte save
//! area of its own, reserved by [`Asm::init`] below the start object.
//!
//! The **back chain** (0 of the save area: the caller's r15) is only kept
//! by code built with `-mbackchain`, which Rust's s390x target does not
//! use; unwinding uses DWARF CFI. The entry function's back chain slot is
//! zero, the terminator a back-chain walker stops at.
//!
//! # Stack layout
//!
//! Control block (top 16 bytes of every stack) and initial stack:
//!
//! ```text
//!          top ──► +----------------------+
//!                  | entry fn address     |  top - 8, read by trampoline
//!   control=link ─►+----------------------+
//!                  | parent link          |  top - 16, written by resume
//!                  +----------------------+  <── obj (16-aligned)
//!                  ~ start object         ~
//!          obj ──► +----------------------+
//!                  | 160-byte register    |  the entry function's save
//!                  | save area            |  area (its r15 on entry)
//!                  | back chain = 0       |  obj - 160
//!                  +----------------------+
//!                  | trampoline address   |  obj - 168: first continuation
//!   handle(sp) ──► +----------------------+
//! ```
//!
//! Parent stack while the fiber runs. `X` is what the link slot holds: the
//! parent's r15 at `brasl resume`. DWARF's canonical frame address on
//! s390x is the caller's r15 + 160, so the parent's CFA is X + 160:
//!
//! ```text
//!   X        (the parent's r15 at `brasl resume`; its own save area
//!             above, left untouched)                   <── *link
//!   X - 8    saved r14: return address into Fiber::resume
//!   X - 16   saved r11 (frame pointer)                <── parent r15
//! ```
//!
//! Fiber stack while the parent runs (built by the inline asm in
//! [`Asm::suspend`]):
//!
//! ```text
//!   S        the fiber's r15 before the asm
//!   S - 8    saved r11
//!   S - 16   continuation address (label 2 of the asm) <── handle
//! ```

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written s390x switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

// resume(msg: r2, fiber_sp: r3, link: r4) -> (msg: r2, fiber_sp: r3)
//   -- custom convention, called only with `brasl %r14` from `Asm::resume`
//
// Reserves 16 bytes below the parent's r15 (never its save area above),
// saves the parent's r14 and r11 there (layout above; the caller declared
// everything else clobbered), stores X in the link slot, switches to the
// fiber stack (popping its continuation word) and branches to the
// continuation. r2 (message) and r4 (link) reach the fiber unchanged.
// CFA = r15 + 160 on entry (the ABI's rule; the CIE says so).
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "aghi %r15, -16",
    ".cfi_adjust_cfa_offset 16",
    "stg %r14, 8(%r15)",
    "stg %r11, 0(%r15)",
    ".cfi_offset %r14, -168",
    ".cfi_offset %r11, -176",
    ".cfi_val_offset %r15, -160",
    "la %r0, 16(%r15)",
    "stg %r0, 0(%r4)",
    "lg %r1, 0(%r3)",
    // From here r15 belongs to the fiber; its frames are described by the
    // trampoline's CFI, not this routine's.
    "la %r15, 8(%r3)",
    ".cfi_undefined %r14",
    "br %r1",
    ".cfi_endproc",
    asm_end!("resume"),
);

// suspend(msg: r2, link: r3)   -- custom convention, reached only by `jg`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's continuation stored at 0(%r15). Returns
// the message and the fiber's stack pointer as resume's r2:r3, restores
// the parent's r11 and r14 from below X and its r15 (= X, which pops
// resume's 16 bytes) and returns through r14: the return that answers the
// parent's `brasl`. The loads come before r15 moves to X, so nothing is
// read below r15. (r0 cannot be a base register, hence r4.)
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined %r14",
    "lg %r4, 0(%r3)",
    "lg %r14, -8(%r4)",
    "lg %r11, -16(%r4)",
    "lgr %r3, %r15",
    "lgr %r15, %r4",
    "br %r14",
    ".cfi_endproc",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only by `resume`'s `br %r1`
//
// First code of a fresh fiber: r15 = obj - 160 (the entry function's save
// area, back chain zeroed by init), r2 = first message, r4 = link slot.
// Calls entry(msg, link, obj) with r14 pointing at the invalid opcode below
// (never executed: entry never returns) and `br %r1`, so the branch
// predictor sees no call.
//
// Unwind info: r11 holds the link slot address for the fiber's whole life
// (callee-saved through entry's frames, whose CFI says where), so the
// parent's CFA = *(r11) + 160 and its r14 and r11 sit below X as `resume`
// stored them (r6-r10, r12, r13 and f8-f15 are dead in the parent across
// the switch). Marked as a signal frame for the same reasons as on x86_64
// (GDB's monotonic-frame check; the return address is looked up as is, so
// the invalid opcode keeps it inside the routine).
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    ".cfi_startproc",
    ".cfi_signal_frame",
    // DW_CFA_def_cfa_expression, 6 bytes: DW_OP_breg11 (0x70 + 11) 0,
    // DW_OP_deref, DW_OP_plus_uconst 160 (ULEB128 0xa0 0x01).
    ".cfi_escape 0x0f, 6, 0x7b, 0x00, 0x06, 0x23, 0xa0, 0x01",
    ".cfi_offset %r14, -168",
    ".cfi_offset %r11, -176",
    // The parent's r15 is X = CFA - 160. Unlike on x86_64 the CFA is not
    // the caller's stack pointer here, and an unwinder told nothing about
    // r15 would take the CFA for it.
    ".cfi_val_offset %r15, -160",
    "lgr %r11, %r4",
    "lgr %r3, %r4",
    "la %r4, 160(%r15)",
    "larl %r14, 2f",
    "lg %r1, 8(%r11)",
    "br %r1",
    "2:",
    // An invalid opcode (operation exception, SIGILL) if ever reached.
    ".word 0x0000",
    ".cfi_endproc",
    asm_end!("trampoline"),
);

const LINK_FROM_TOP: usize = 16;
/// The register save area a caller provides its callee (ABI).
const SAVE_AREA: usize = 160;

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::S390xAsm;
    const CONTROL_SIZE: usize = LINK_FROM_TOP;

    unsafe fn init(control: *mut u8, _limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        debug_assert_eq!(obj as usize % 16, 0);
        // SAFETY: control + 16 == top; both words above control and the 168
        // bytes below obj are ours to write (Backend::init contract).
        unsafe {
            (control.add(8) as *mut usize).write(entry as *const () as usize);
            let save_area = obj.sub(SAVE_AREA);
            (save_area as *mut usize).write(0);
            let sp = save_area.sub(8);
            (sp as *mut usize).write(spindle_fiber_trampoline as *const () as usize);
            sp
        }
    }

    #[inline(always)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let (back, fiber_sp): (*mut u8, *mut u8);
        // SAFETY: `*handle` is the fiber's saved r15 with a continuation
        // word on top and `control` its link slot. `resume` preserves r11
        // and r15; every other register (r14 included: `brasl` writes it)
        // is declared clobbered.
        unsafe {
            asm!(
                "brasl %r14, {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("r2") msg => back,
                inlateout("r3") *handle => fiber_sp,
                inlateout("r4") control => _,
                lateout("r6") _, lateout("r7") _, lateout("r8") _, lateout("r9") _,
                lateout("r10") _, lateout("r12") _, lateout("r13") _,
                lateout("f8") _, lateout("f9") _, lateout("f10") _, lateout("f11") _,
                lateout("f12") _, lateout("f13") _, lateout("f14") _, lateout("f15") _,
                clobber_abi("C"),
            );
        }
        *handle = fiber_sp;
        back
    }

    #[inline(always)]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        let back: *mut u8;
        // SAFETY: we run on the fiber whose link slot is `control`. The asm
        // moves r15 down 16 bytes before storing (no red zone; the 160
        // bytes at the old r15 belong to this function's frame and are not
        // touched): the continuation address at 0(%r15) and r11 at
        // 8(%r15). `resume` pops the first word before branching back to
        // label 2, where the rest is popped. `jg` writes no register. All
        // other registers are declared clobbered.
        unsafe {
            asm!(
                "aghi %r15, -16",
                "stg %r11, 8(%r15)",
                "larl %r1, 2f",
                "stg %r1, 0(%r15)",
                "jg {suspend}",
                "2:",
                "lg %r11, 0(%r15)",
                "aghi %r15, 8",
                suspend = sym spindle_fiber_suspend,
                inlateout("r2") msg => back,
                in("r3") control,
                lateout("r6") _, lateout("r7") _, lateout("r8") _, lateout("r9") _,
                lateout("r10") _, lateout("r12") _, lateout("r13") _, lateout("r14") _,
                lateout("f8") _, lateout("f9") _, lateout("f10") _, lateout("f11") _,
                lateout("f12") _, lateout("f13") _, lateout("f14") _, lateout("f15") _,
                clobber_abi("C"),
            );
        }
        back
    }
}
