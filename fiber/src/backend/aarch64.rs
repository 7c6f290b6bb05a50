//! AArch64 (AAPCS64) stack switch, one source for Linux (ELF) and Apple
//! (Mach-O).
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning), moved to
//! AArch64's return predictor: `bl` pushes a return-stack entry and `ret`
//! pops one, `br` touches neither. So:
//!
//! * the parent enters `resume` with `bl` (from inline asm in
//!   [`Asm::resume`]);
//! * `resume` enters the fiber with `br x16`;
//! * the fiber leaves with inline asm that stores its continuation address
//!   (`adr`) and branches with a plain `b` to `suspend`;
//! * `suspend` restores the parent and `ret`s to the address `bl` left in the
//!   parent's saved lr: one `bl`, one `ret` per round trip.
//!
//! # Registers
//!
//! Callee-saved by AAPCS64: x19–x28, x29 (fp), x30 (lr, as the return
//! address), sp and the low halves of v8–v15 (d8–d15). Both sides reach the
//! routines from inline asm that declares x20–x28, v8–v15, lr and everything
//! caller-saved clobbered, so the compiler saves those only where live (once
//! per function for a loop of switches). What asm may not declare — x19
//! (LLVM's base pointer) and x29 (the frame pointer) — the routines save
//! themselves: `resume` saves x29, x30 and x19 on the parent stack; the
//! fiber's inline asm saves x29 and x19 on the fiber stack. x18 is the
//! platform register on Apple (and reserved on Windows): no routine here
//! ever touches it.
//!
//! # Branch target identification (BTI)
//!
//! Where a distribution builds with `-mbranch-protection=standard`, pages can
//! be mapped with BTI enforced, and every indirect branch must land on a
//! `bti` instruction of the right kind. Checked by reading the ARM ARM rules
//! for BTYPE: `br x16`/`br x17` set BTYPE=01, accepted by `bti c`, `bti j`
//! and `bti jc`; any other `br` needs `bti j`/`bti jc`. So every indirect
//! branch here goes through x16, and every indirect target here (the
//! trampoline and the continuation label in `Aarch64::suspend`) starts with
//! `bti jc`, written as `hint #38`, which is a no-op on cores without BTI.
//! The Rust entry function is reached with `br x16`, which its compiler-
//! emitted `bti c` accepts. Pointer authentication is not used: saved
//! return addresses are restored verbatim, never re-signed.
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
//!                  | (unused)             |  obj - 8
//!                  | trampoline address   |  obj - 16: first continuation
//!   handle(sp) ──► +----------------------+
//! ```
//!
//! Parent stack while the fiber runs (`X` is what the link slot holds; the
//! pair at `X` is a valid frame record for frame-pointer unwinders):
//!
//! ```text
//!   X + 8    saved x30 (lr): return address into Fiber::resume
//!   X        saved x29 (fp)             <── *link
//!   X - 8    (padding, keeps sp 16-aligned)
//!   X - 16   saved x19                  <── parent sp
//! ```

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written AArch64 switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

// resume(msg: x0, fiber_sp: x1, link: x2) -> (msg: x0, fiber_sp: x1)
//   -- custom convention, called only with `bl` from `Asm::resume`'s asm
//
// Saves the parent's x29, x30 and x19 (layout above; the caller declared
// everything else clobbered), stores X in the link slot, switches to the
// fiber stack (popping the 16-byte continuation slot) and branches to the
// continuation. x0 (message) and x2 (link) reach the fiber unchanged.
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "sub sp, sp, #32",
    ".cfi_def_cfa_offset 32",
    "stp x29, x30, [sp, #16]",
    "str x19, [sp]",
    ".cfi_offset x29, -16",
    ".cfi_offset x30, -8",
    ".cfi_offset x19, -32",
    "add x9, sp, #16",
    "str x9, [x2]",
    "ldr x16, [x1]",
    // From here sp belongs to the fiber; its frames are described by the
    // trampoline's CFI, not this routine's.
    "add sp, x1, #16",
    ".cfi_undefined x30",
    "br x16",
    ".cfi_endproc",
    asm_end!("resume"),
);

// suspend(msg: x0, link: x1)   -- custom convention, reached only by `b`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's continuation stored at [sp]. Returns the
// message and the fiber's stack pointer as resume's x0:x1, restores the
// parent's x19, x29 and x30 and `ret`s through the restored lr: the return
// address of the parent's `bl resume`.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined x30",
    "mov x9, sp",
    "ldr x10, [x1]",
    "ldr x19, [x10, #-16]",
    "ldp x29, x30, [x10]",
    "add sp, x10, #16",
    "mov x1, x9",
    "ret",
    ".cfi_endproc",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only by `resume`'s `br x16`
//
// First code of a fresh fiber: sp = start object, x0 = first message,
// x2 = link slot. Calls entry(msg, link, obj) with lr pointing at the `brk`
// below (never executed: entry never returns) and `br x16`, which keeps the
// return predictor balanced and satisfies the entry function's `bti c`.
//
// Unwind info: x29 holds the link slot address for the fiber's whole life
// (callee-saved through entry's frames), so CFA = *(x29) + 16 and the
// parent's x29, x30 and x19 sit below it as `resume` stored them (x20-x28
// and d8-d15 are dead in the parent across the switch). Marked as a signal
// frame for the same reasons as on x86_64 (GDB's monotonic-frame check; the
// return address is looked up as is, so `brk` keeps it inside the routine).
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    ".cfi_startproc",
    ".cfi_signal_frame",
    // DW_CFA_def_cfa_expression, 5 bytes: DW_OP_breg29 (0x70 + 29) 0,
    // DW_OP_deref, DW_OP_plus_uconst 16.
    ".cfi_escape 0x0f, 5, 0x8d, 0x00, 0x06, 0x23, 0x10",
    ".cfi_offset x30, -8",
    ".cfi_offset x29, -16",
    ".cfi_offset x19, -32",
    "hint #38",
    "mov x29, x2",
    "mov x1, x2",
    "mov x2, sp",
    "adr x30, 2f",
    "ldr x16, [x29, #8]",
    "br x16",
    "2:",
    "brk #1",
    ".cfi_endproc",
    asm_end!("trampoline"),
);

const LINK_FROM_TOP: usize = 16;

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::Aarch64Asm;
    const CONTROL_SIZE: usize = LINK_FROM_TOP;

    unsafe fn init(control: *mut u8, _limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        debug_assert_eq!(obj as usize % 16, 0);
        // SAFETY: control + 16 == top; both words above control and the 16
        // bytes below obj are ours to write (Backend::init contract).
        unsafe {
            (control.add(8) as *mut usize).write(entry as *const () as usize);
            let sp = obj.sub(16);
            (sp as *mut usize).write(spindle_fiber_trampoline as *const () as usize);
            (sp.add(8) as *mut usize).write(0);
            sp
        }
    }

    #[inline(always)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let (back, fiber_sp): (*mut u8, *mut u8);
        // SAFETY: `*handle` is the fiber's saved sp with a continuation slot
        // on top and `control` its link slot. `resume` preserves x19, x29
        // and sp; every other register (lr included: `bl` writes it) is
        // declared clobbered.
        unsafe {
            asm!(
                "bl {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("x0") msg => back,
                inlateout("x1") *handle => fiber_sp,
                inlateout("x2") control => _,
                lateout("x20") _, lateout("x21") _, lateout("x22") _, lateout("x23") _,
                lateout("x24") _, lateout("x25") _, lateout("x26") _, lateout("x27") _,
                lateout("x28") _,
                lateout("v8") _, lateout("v9") _, lateout("v10") _, lateout("v11") _,
                lateout("v12") _, lateout("v13") _, lateout("v14") _, lateout("v15") _,
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
        // reserves 32 bytes (sp stays 16-aligned): the continuation address
        // at [sp] and x29/x19 at [sp+16]; `resume` pops the first 16 bytes
        // before branching back to label 2, where the rest is popped. All
        // other registers are declared clobbered.
        unsafe {
            asm!(
                "sub sp, sp, #32",
                "stp x29, x19, [sp, #16]",
                "adr x16, 2f",
                "str x16, [sp]",
                "b {suspend}",
                "2:",
                "hint #38",
                "ldp x29, x19, [sp]",
                "add sp, sp, #16",
                suspend = sym spindle_fiber_suspend,
                inlateout("x0") msg => back,
                in("x1") control,
                lateout("x20") _, lateout("x21") _, lateout("x22") _, lateout("x23") _,
                lateout("x24") _, lateout("x25") _, lateout("x26") _, lateout("x27") _,
                lateout("x28") _,
                lateout("v8") _, lateout("v9") _, lateout("v10") _, lateout("v11") _,
                lateout("v12") _, lateout("v13") _, lateout("v14") _, lateout("v15") _,
                clobber_abi("C"),
            );
        }
        back
    }
}
