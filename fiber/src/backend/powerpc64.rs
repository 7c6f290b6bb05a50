//! powerpc64le (64-bit ELF V2 ABI) stack switch, Linux.
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning), moved
//! to POWER's link stack, which `bl` pushes and `blr` pops; `bctr` and the
//! `bcl 20, 31, $+4` idiom (the ISA's recommended way to read the address
//! of the next instruction) touch neither. So:
//!
//! * the parent enters `resume` with `bl` (inline asm in [`Asm::resume`]);
//! * `resume` enters the fiber with `bctr`;
//! * the fiber leaves with inline asm that stores its continuation address
//!   (found with `bcl 20, 31`) and branches with a plain `b` to `suspend`;
//! * `suspend` restores the parent and `blr`s through the LR that the
//!   parent's `bl` wrote: one `bl`, one `blr` per round trip.
//!
//! # Registers
//!
//! Non-volatile in the ELF V2 ABI: r1 (the stack pointer), r2 (the TOC
//! pointer), r14–r31, f14–f31, v20–v31 and CR2–CR4. r13 is the thread
//! pointer (never touched: fibers stay on their thread), LR, CTR, XER, r0,
//! r3–r12, f0–f13, v0–v19 and the other CR fields are volatile.
//!
//! Both sides reach the routines from inline asm that declares r14–r29,
//! f14–f31, v20–v31, CR2–CR4, LR and everything volatile clobbered, so the
//! compiler saves those only where live. What asm may not declare — r2
//! (the TOC pointer), r30 (LLVM's base pointer) and r31 (the frame pointer)
//! — the routines save themselves: `resume` saves them and LR for the
//! parent, the fiber's inline asm for the fiber. r2 is switched although a
//! program's TOC is usually one value: the parent and the fiber may run
//! code of different shared objects (or of different TOC groups of one
//! large binary), each with its own TOC. The FPSCR and VSCR, like MXCSR on
//! x86_64, are shared thread state that is not switched.
//!
//! VRSAVE is neither saved nor restored, nor read: the ELF V2 ABI
//! (OpenPOWER, "64-Bit ELF V2 ABI Specification", section "Registers",
//! table "Register Roles") gives it the preservation rule *Reserved*, not
//! *Nonvolatile*: "Reserved for system use. This register should not be
//! read or written by application software." A callee owes its caller
//! nothing for it, so a switch, which is a call on each side, owes nothing
//! either; and since Linux keeps it per thread and fibers never leave
//! their thread, both sides see the one value the system gave the thread.
//! (The `fallback` backend does write it: glibc's `swapcontext` restores
//! vector registers only for a context saved with VRSAVE non-zero, so
//! `ucontext.rs` sets it to all ones before each switch.)
//!
//! # The stack: protected zone, frames, pages
//!
//! The ABI keeps the 288 bytes below r1 safe from signal handlers (the
//! kernel builds its frames below them), and inline asm without `nostack`
//! may use them (the compiler keeps nothing there around it). Every routine
//! here saves what it must in the 32 bytes right below r1 and never moves
//! r1 except to switch stacks, so a suspended side's r1 is exactly what its
//! code had: the fiber's handle is its r1 itself. r1 is 16-aligned at
//! every call.
//!
//! A caller's frame starts with a 32-byte header that its callees use: the
//! back chain (the caller's own r1) at 0, CR at 8, LR at 16, the TOC at
//! 24. The entry function is the one real callee here, so [`Asm::init`]
//! gives the trampoline such a header, whose back chain points at the
//! control block, itself laid out as a header: its back chain is the link
//! slot (the parent's r1, so a back-chain walker goes on into the parent's
//! frames) and its LR slot is zero. The trampoline's CFI follows the same
//! two words: CFA = *(*(r1)). Nothing here depends on the page size: stacks come from
//! `Stack`, which rounds to the OS page (64 KiB on Debian's ppc64el
//! kernels, and under the qemu runner here).
//!
//! # Stack layout
//!
//! Control block (top 32 bytes of every stack, a frame header) and
//! initial stack:
//!
//! ```text
//!          top ──► +----------------------+
//!                  | (unused)             |  top - 8
//!                  | LR slot = 0          |  top - 16
//!                  | entry fn address     |  top - 24, read by trampoline
//!   control=link ─►+----------------------+
//!                  | parent link          |  top - 32, written by resume:
//!                  +----------------------+  the back chain of this header
//!                  ~ start object         ~  <── obj (16-aligned) above
//!          obj ──► +----------------------+
//!                  | TOC / LR / CR slots  |  the entry function's 32-byte
//!                  | back chain = control |  header (obj - 32)
//!   handle(r1) ──► +----------------------+
//!                  | trampoline address   |  handle - 8: first continuation
//!                  | (register slots)     |  handle - 16 .. - 32, unused
//! ```
//!
//! Parent stack while the fiber runs (`X` is what the link slot holds: the
//! parent's r1 at `bl resume`, which stays its r1):
//!
//! ```text
//!   X        the parent's frame (untouched)     <── *link, parent r1
//!   X - 8    saved LR: return address into Fiber::resume
//!   X - 16   saved r31
//!   X - 24   saved r30
//!   X - 32   saved r2
//! ```
//!
//! Fiber stack while the parent runs: the same four slots below the
//! fiber's r1 (the handle), with the continuation address (label 2 of the
//! inline asm in [`Asm::suspend`]) in place of LR.

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written powerpc64le (ELF V2) switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

// resume(msg: r3, fiber_sp: r4, link: r5) -> (msg: r3, fiber_sp: r5)
//   -- custom convention, called only with `bl` from `Asm::resume`'s asm
//
// Saves the parent's LR, r31, r30 and r2 below its r1 (the caller
// declared everything else clobbered), stores X = r1 in the link slot,
// switches to the fiber's r1 and `bctr`s to the continuation stored below
// it. r3 (message) and r5 (link) reach the fiber unchanged. The routine
// uses no TOC, so its local and global entry points are one.
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "mflr 0",
    "std 0, -8(1)",
    "std 31, -16(1)",
    "std 30, -24(1)",
    "std 2, -32(1)",
    ".cfi_offset lr, -8",
    ".cfi_offset r31, -16",
    ".cfi_offset r30, -24",
    ".cfi_offset r2, -32",
    "std 1, 0(5)",
    "ld 12, -8(4)",
    "mtctr 12",
    // From here r1 belongs to the fiber; its frames are described by the
    // trampoline's CFI, not this routine's.
    "mr 1, 4",
    ".cfi_undefined lr",
    "bctr",
    ".cfi_endproc",
    asm_end!("resume"),
);

// suspend(msg: r3, link: r4)   -- custom convention, reached only by `b`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's registers and continuation saved below
// its r1. Returns the message and the fiber's r1 as resume's r3 and r5,
// sets r1 to X (the link slot's value) first and then reloads the parent's
// LR, r31, r30 and r2 from below it, so no register has to carry X: the
// slots are inside X's protected zone from that instruction on. Ends with
// the `blr` that answers the parent's `bl`.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined lr",
    "mr 5, 1",
    "ld 1, 0(4)",
    "ld 0, -8(1)",
    "mtlr 0",
    "ld 31, -16(1)",
    "ld 30, -24(1)",
    "ld 2, -32(1)",
    "blr",
    ".cfi_endproc",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only by `resume`'s `bctr`
//
// First code of a fresh fiber: r1 = obj - 32 (the entry function's frame
// header, 16-aligned), r3 = first message, r5 = link slot. Calls
// entry(msg, link, obj) at its global entry point (r12 = its address, from
// which it derives its TOC) with LR pointing at the `trap` below (never
// executed: entry never returns) and `bctr`, so the link stack sees no
// call.
//
// Unwind info: the trampoline's r1 (entry's CFA, which every unwinder
// computes) holds the back chain to the link slot, so the parent's CFA (its
// r1 at the call) is *(*(r1)), with LR, r31, r30 and r2 below it where
// `resume` stored them (r14-r29, f14-f31, v20-v31 and
// CR2-CR4 are dead in the parent across the switch). Marked as a signal
// frame for the same reasons as on x86_64 (GDB's monotonic-frame check; the
// return address is looked up as is, so the `trap` keeps it inside the
// routine).
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    ".cfi_startproc",
    ".cfi_signal_frame",
    // DW_CFA_def_cfa_expression, 4 bytes: DW_OP_breg1 (0x70 + 1) 0,
    // DW_OP_deref, DW_OP_deref.
    ".cfi_escape 0x0f, 4, 0x71, 0x00, 0x06, 0x06",
    ".cfi_offset lr, -8",
    ".cfi_offset r31, -16",
    ".cfi_offset r30, -24",
    ".cfi_offset r2, -32",
    "mr 4, 5",
    "addi 5, 1, 32",
    "ld 12, 8(4)",
    "mtctr 12",
    "bcl 20, 31, 3f",
    "3:",
    // r11, not r0: `addi` reads r0 as the constant 0.
    "mflr 11",
    "addi 11, 11, 2f - 3b",
    "mtlr 11",
    "bctr",
    "2:",
    "trap",
    ".cfi_endproc",
    asm_end!("trampoline"),
);

const LINK_FROM_TOP: usize = 32;
/// The frame header a caller gives its callee (back chain, CR, LR, TOC).
const FRAME_HEADER: usize = 32;

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::Powerpc64Asm;
    const CONTROL_SIZE: usize = LINK_FROM_TOP;

    unsafe fn init(control: *mut u8, _limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        debug_assert_eq!(obj as usize % 16, 0);
        // SAFETY: control + 32 == top; the words above control and the 40
        // bytes below obj (the header and the first continuation) are ours
        // to write (Backend::init contract).
        unsafe {
            (control.add(8) as *mut usize).write(entry as *const () as usize);
            (control.add(16) as *mut usize).write(0);
            let sp = obj.sub(FRAME_HEADER);
            (sp as *mut usize).write(control as usize);
            (sp.sub(8) as *mut usize).write(spindle_fiber_trampoline as *const () as usize);
            sp
        }
    }

    #[inline(always)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let (back, fiber_sp): (*mut u8, *mut u8);
        // SAFETY: `*handle` is the fiber's saved r1 with its continuation
        // below it and `control` its link slot. `resume` preserves r1, r2,
        // r30 and r31 and writes only the 32 bytes below r1, which asm
        // without `nostack` may use; every other register (LR included:
        // `bl` writes it) is declared clobbered.
        unsafe {
            asm!(
                "bl {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("r3") msg => back,
                inlateout("r4") *handle => _,
                inlateout("r5") control => fiber_sp,
                lateout("r14") _, lateout("r15") _, lateout("r16") _, lateout("r17") _,
                lateout("r18") _, lateout("r19") _, lateout("r20") _, lateout("r21") _,
                lateout("r22") _, lateout("r23") _, lateout("r24") _, lateout("r25") _,
                lateout("r26") _, lateout("r27") _, lateout("r28") _, lateout("r29") _,
                lateout("f14") _, lateout("f15") _, lateout("f16") _, lateout("f17") _,
                lateout("f18") _, lateout("f19") _, lateout("f20") _, lateout("f21") _,
                lateout("f22") _, lateout("f23") _, lateout("f24") _, lateout("f25") _,
                lateout("f26") _, lateout("f27") _, lateout("f28") _, lateout("f29") _,
                lateout("f30") _, lateout("f31") _,
                lateout("v20") _, lateout("v21") _, lateout("v22") _, lateout("v23") _,
                lateout("v24") _, lateout("v25") _, lateout("v26") _, lateout("v27") _,
                lateout("v28") _, lateout("v29") _, lateout("v30") _, lateout("v31") _,
                lateout("cr2") _, lateout("cr3") _, lateout("cr4") _,
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
        // stores r31, r30, r2 and its continuation address in the 32 bytes
        // below r1 (the protected zone, which asm without `nostack`
        // may use) and never moves r1; `resume` comes back to label 2 with
        // r1 unchanged, where they are reloaded. `bcl 20, 31` reads the
        // address of the next instruction without a link-stack push. All
        // other registers are declared clobbered.
        unsafe {
            asm!(
                "std 31, -16(1)",
                "std 30, -24(1)",
                "std 2, -32(1)",
                "bcl 20, 31, 3f",
                "3:",
                "mflr 12",
                "addi 12, 12, 2f - 3b",
                "std 12, -8(1)",
                "b {suspend}",
                "2:",
                "ld 31, -16(1)",
                "ld 30, -24(1)",
                "ld 2, -32(1)",
                suspend = sym spindle_fiber_suspend,
                inlateout("r3") msg => back,
                in("r4") control,
                lateout("r14") _, lateout("r15") _, lateout("r16") _, lateout("r17") _,
                lateout("r18") _, lateout("r19") _, lateout("r20") _, lateout("r21") _,
                lateout("r22") _, lateout("r23") _, lateout("r24") _, lateout("r25") _,
                lateout("r26") _, lateout("r27") _, lateout("r28") _, lateout("r29") _,
                lateout("f14") _, lateout("f15") _, lateout("f16") _, lateout("f17") _,
                lateout("f18") _, lateout("f19") _, lateout("f20") _, lateout("f21") _,
                lateout("f22") _, lateout("f23") _, lateout("f24") _, lateout("f25") _,
                lateout("f26") _, lateout("f27") _, lateout("f28") _, lateout("f29") _,
                lateout("f30") _, lateout("f31") _,
                lateout("v20") _, lateout("v21") _, lateout("v22") _, lateout("v23") _,
                lateout("v24") _, lateout("v25") _, lateout("v26") _, lateout("v27") _,
                lateout("v28") _, lateout("v29") _, lateout("v30") _, lateout("v31") _,
                lateout("cr2") _, lateout("cr3") _, lateout("cr4") _,
                clobber_abi("C"),
            );
        }
        back
    }
}
