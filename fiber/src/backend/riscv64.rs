//! RISC-V 64 (RV64GC, LP64D calling convention) stack switch, ELF.
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning), moved
//! to RISC-V's return-address stack (RAS). The ISA manual's hint table for
//! `jalr`/`jal` says what the predictor does, keyed on whether rd and rs1
//! are "link" registers (x1 = ra, x5 = t0):
//!
//! * `jal`/`jalr` with rd = ra pushes (the `call` pseudo-instruction is
//!   `auipc ra` + `jalr ra, ra`, relaxed by the linker to `jal ra` when in
//!   range, and pushes either way);
//! * `jalr x0, 0(ra)` (`ret`) pops;
//! * `jalr x0, 0(rs1)` with rs1 not a link register (`jr t1`, and the
//!   `tail` pseudo-instruction, which jumps through t1 or t2) neither
//!   pushes nor pops. So no indirect jump here ever goes through t0.
//!
//! Hence, as on the other architectures, one push and one pop per round
//! trip:
//!
//! * the parent enters `resume` with `call` (inline asm in [`Asm::resume`]);
//! * `resume` enters the fiber with `jr t1`;
//! * the fiber leaves with inline asm that stores its continuation address
//!   (`lla`) and `tail`-jumps to `suspend`;
//! * `suspend` restores the parent and `ret`s through the restored ra: the
//!   return address of the parent's `call resume`.
//!
//! # Registers
//!
//! Callee-saved by LP64D: s0–s11 (x8, x9, x18–x27), fs0–fs11 (f8, f9,
//! f18–f27, as doubles), sp and ra (as the return address). Both sides
//! reach the routines from inline asm that declares s2–s11, fs0–fs11, ra
//! and everything caller-saved clobbered, so the compiler saves those only
//! where live. What asm may not declare — s0 (the frame pointer) and s1
//! (LLVM's base pointer) — the routines save themselves: `resume` saves ra,
//! s0 and s1 on the parent stack; the fiber's inline asm saves s0 and s1 on
//! the fiber stack. gp (the global pointer, fixed for the whole program
//! once the startup code set it) and tp (the thread pointer: fibers stay on
//! their thread) are never touched. The vector registers are all
//! caller-saved (clobber_abi), and fcsr, like MXCSR on x86_64, is shared
//! thread state that is not switched.
//!
//! The stack pointer is 16-byte aligned at every instruction boundary here
//! (the ABI asks for it at calls; these routines keep it throughout). There
//! is no red zone: memory below sp may be overwritten at any time (by a
//! signal handler, for one), so every routine moves sp down *before* it
//! stores below the old value.
//!
//! # Stack layout
//!
//! Control block (top 16 bytes of every stack) and initial stack, as on
//! aarch64:
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
//! Parent stack while the fiber runs. `X` is what the link slot holds: the
//! parent's sp before `resume` moved it, which is the canonical frame
//! address of `resume`'s frame. RISC-V frame pointers point just above the
//! saved pair (ra at fp - 8, caller's fp at fp - 16), so X is also a valid
//! frame pointer value for frame-pointer unwinders:
//!
//! ```text
//!   X        (the parent's sp at `call resume`)   <── *link
//!   X - 8    saved ra: return address into Fiber::resume
//!   X - 16   saved s0 (fp)
//!   X - 24   (padding, keeps sp 16-aligned)
//!   X - 32   saved s1                  <── parent sp
//! ```

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written RISC-V 64 (LP64D) switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

// resume(msg: a0, fiber_sp: a1, link: a2) -> (msg: a0, fiber_sp: a1)
//   -- custom convention, called only with `call` from `Asm::resume`'s asm
//
// Reserves 32 bytes first (no red zone), saves the parent's ra, s0 and s1
// (layout above; the caller declared everything else clobbered), stores X
// in the link slot, switches to the fiber stack (popping its 16-byte
// continuation slot) and jumps to the continuation through t1, which the
// return-address stack ignores. a0 (message) and a2 (link) reach the fiber
// unchanged.
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "addi sp, sp, -32",
    ".cfi_def_cfa_offset 32",
    "sd ra, 24(sp)",
    "sd s0, 16(sp)",
    "sd s1, 0(sp)",
    ".cfi_offset ra, -8",
    ".cfi_offset s0, -16",
    ".cfi_offset s1, -32",
    "addi t2, sp, 32",
    "sd t2, 0(a2)",
    "ld t1, 0(a1)",
    // From here sp belongs to the fiber; its frames are described by the
    // trampoline's CFI, not this routine's.
    "addi sp, a1, 16",
    ".cfi_undefined ra",
    "jr t1",
    ".cfi_endproc",
    asm_end!("resume"),
);

// suspend(msg: a0, link: a1)   -- custom convention, reached only by `tail`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's continuation stored at 0(sp). Returns the
// message and the fiber's stack pointer as resume's a0:a1, restores the
// parent's s1, s0 and ra from below X and its sp (= X, which pops resume's
// 32-byte frame), and `ret`s: the pop that answers the parent's `call`.
// The loads come before sp moves to X, so nothing is read below sp.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined ra",
    "mv t2, sp",
    "ld t0, 0(a1)",
    "ld s1, -32(t0)",
    "ld s0, -16(t0)",
    "ld ra, -8(t0)",
    "mv sp, t0",
    "mv a1, t2",
    "ret",
    ".cfi_endproc",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only by `resume`'s `jr t1`
//
// First code of a fresh fiber: sp = start object (16-aligned, as the ABI
// wants at a call), a0 = first message, a2 = link slot. Calls
// entry(msg, link, obj) with ra pointing at the `unimp` below (never
// executed: entry never returns) and `jr t1`, which keeps the return-
// address stack balanced.
//
// Unwind info: s0 holds the link slot address for the fiber's whole life
// (callee-saved through entry's frames, whose CFI says where), so
// CFA = *(s0) = X and the parent's ra, s0 and s1 sit below it as `resume`
// stored them (s2-s11 and fs0-fs11 are dead in the parent across the
// switch). Marked as a signal frame for the same reasons as on x86_64
// (GDB's monotonic-frame check; the return address is looked up as is, so
// `unimp` keeps it inside the routine).
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    ".cfi_startproc",
    ".cfi_signal_frame",
    // DW_CFA_def_cfa_expression, 3 bytes: DW_OP_breg8 (s0 = x8; 0x70 + 8)
    // 0, DW_OP_deref.
    ".cfi_escape 0x0f, 3, 0x78, 0x00, 0x06",
    ".cfi_offset ra, -8",
    ".cfi_offset s0, -16",
    ".cfi_offset s1, -32",
    "mv s0, a2",
    "mv a1, a2",
    "mv a2, sp",
    "lla ra, 2f",
    "ld t1, 8(s0)",
    "jr t1",
    "2:",
    "unimp",
    ".cfi_endproc",
    asm_end!("trampoline"),
);

const LINK_FROM_TOP: usize = 16;

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::Riscv64Asm;
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
        // on top and `control` its link slot. `resume` preserves s0, s1, sp,
        // gp and tp; every other register (ra included: `call` writes it) is
        // declared clobbered.
        unsafe {
            asm!(
                "call {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("a0") msg => back,
                inlateout("a1") *handle => fiber_sp,
                inlateout("a2") control => _,
                lateout("s2") _, lateout("s3") _, lateout("s4") _, lateout("s5") _,
                lateout("s6") _, lateout("s7") _, lateout("s8") _, lateout("s9") _,
                lateout("s10") _, lateout("s11") _,
                lateout("fs0") _, lateout("fs1") _, lateout("fs2") _, lateout("fs3") _,
                lateout("fs4") _, lateout("fs5") _, lateout("fs6") _, lateout("fs7") _,
                lateout("fs8") _, lateout("fs9") _, lateout("fs10") _, lateout("fs11") _,
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
        // moves sp down 32 bytes before storing (no red zone; sp stays
        // 16-aligned): the continuation address at 0(sp) and s0/s1 at
        // 16(sp)/24(sp); `resume` pops the first 16 bytes before jumping
        // back to label 2, where the rest is popped. `tail` jumps through a
        // temporary (t1 or t2, both caller-saved and declared clobbered by
        // clobber_abi), never through ra or t0, so the return-address stack
        // is untouched. All other registers are declared clobbered.
        unsafe {
            asm!(
                "addi sp, sp, -32",
                "sd s0, 16(sp)",
                "sd s1, 24(sp)",
                "lla t1, 2f",
                "sd t1, 0(sp)",
                "tail {suspend}",
                "2:",
                "ld s0, 0(sp)",
                "ld s1, 8(sp)",
                "addi sp, sp, 16",
                suspend = sym spindle_fiber_suspend,
                inlateout("a0") msg => back,
                in("a1") control,
                lateout("s2") _, lateout("s3") _, lateout("s4") _, lateout("s5") _,
                lateout("s6") _, lateout("s7") _, lateout("s8") _, lateout("s9") _,
                lateout("s10") _, lateout("s11") _,
                lateout("fs0") _, lateout("fs1") _, lateout("fs2") _, lateout("fs3") _,
                lateout("fs4") _, lateout("fs5") _, lateout("fs6") _, lateout("fs7") _,
                lateout("fs8") _, lateout("fs9") _, lateout("fs10") _, lateout("fs11") _,
                clobber_abi("C"),
            );
        }
        back
    }
}
