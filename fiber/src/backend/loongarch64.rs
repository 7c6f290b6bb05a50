//! LoongArch64 (LP64D calling convention) stack switch, Linux (ELF).
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning), moved
//! to LoongArch's return-address stack. The ISA manual's branch hints key
//! on `jirl`'s registers: `bl` and `jirl $ra, ...` are calls (push),
//! `jirl $zero, $ra, 0` (`ret`) is a return (pop), and `jirl $zero, rj, 0`
//! with rj other than `$ra` (`jr $t1`) is a plain indirect jump. So, as on
//! the other architectures, one push and one pop per round trip:
//!
//! * the parent enters `resume` with `bl` (inline asm in [`Asm::resume`]);
//! * `resume` enters the fiber with `jr $t1`;
//! * the fiber leaves with inline asm that stores its continuation address
//!   (`la.local`, pc-relative) and branches with a plain `b` to `suspend`;
//! * `suspend` restores the parent and `ret`s through the restored `$ra`:
//!   the return address of the parent's `bl resume`.
//!
//! # Registers
//!
//! Callee-saved by LP64D: s0–s8 (r23–r31), fp (r22), sp (r3) and fs0–fs7
//! (f24–f31, as doubles); ra (r1) holds the return address. Both sides
//! reach the routines from inline asm that declares s0–s7, fs0–fs7, ra and
//! everything caller-saved clobbered, so the compiler saves those only
//! where live. What asm may not declare — fp (the frame pointer) and s8
//! (LLVM's base pointer) — the routines save themselves: `resume` saves
//! ra, fp and s8 on the parent stack; the fiber's inline asm saves fp and
//! s8 on the fiber stack. tp (r2, the thread pointer: fibers stay on their
//! thread) and r21 (reserved by the ABI) are never touched. The vector
//! registers (LSX/LASX) above the fs halves are caller-saved, and fcsr0,
//! like MXCSR on x86_64, is shared thread state that is not switched.
//!
//! The stack pointer is 16-byte aligned at every instruction boundary here
//! (the ABI asks for it at calls). There is no red zone: every routine
//! moves sp down *before* it stores below the old value.
//!
//! # Stack layout
//!
//! Control block (top 16 bytes of every stack) and initial stack, as on
//! riscv64:
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
//! parent's sp at `bl resume`, the canonical frame address of `resume`'s
//! frame:
//!
//! ```text
//!   X        (the parent's sp at `bl resume`)    <── *link
//!   X - 8    saved ra: return address into Fiber::resume
//!   X - 16   saved fp
//!   X - 24   saved s8
//!   X - 32   (padding, keeps sp 16-aligned)      <── parent sp
//! ```

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written LoongArch64 (LP64D) switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

// resume(msg: a0, fiber_sp: a1, link: a2) -> (msg: a0, fiber_sp: a1)
//   -- custom convention, called only with `bl` from `Asm::resume`'s asm
//
// Reserves 32 bytes first (no red zone), saves the parent's ra, fp and s8
// (layout above; the caller declared everything else clobbered), stores X
// in the link slot, switches to the fiber stack (popping its 16-byte
// continuation slot) and jumps to the continuation through $t1, which the
// return-address stack ignores. a0 (message) and a2 (link) reach the fiber
// unchanged.
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "addi.d $sp, $sp, -32",
    ".cfi_def_cfa_offset 32",
    "st.d $ra, $sp, 24",
    "st.d $fp, $sp, 16",
    "st.d $s8, $sp, 8",
    ".cfi_offset 1, -8",
    ".cfi_offset 22, -16",
    ".cfi_offset 31, -24",
    "addi.d $t2, $sp, 32",
    "st.d $t2, $a2, 0",
    "ld.d $t1, $a1, 0",
    // From here sp belongs to the fiber; its frames are described by the
    // trampoline's CFI, not this routine's.
    "addi.d $sp, $a1, 16",
    ".cfi_undefined 1",
    "jr $t1",
    ".cfi_endproc",
    asm_end!("resume"),
);

// suspend(msg: a0, link: a1)   -- custom convention, reached only by `b`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's continuation stored at 0($sp). Returns
// the message and the fiber's stack pointer as resume's a0:a1, restores the
// parent's s8, fp and ra from below X and its sp (= X, which pops resume's
// 32-byte frame), and `ret`s: the pop that answers the parent's `bl`. The
// loads come before sp moves to X, so nothing is read below sp.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined 1",
    "move $t2, $sp",
    "ld.d $t0, $a1, 0",
    "ld.d $s8, $t0, -24",
    "ld.d $fp, $t0, -16",
    "ld.d $ra, $t0, -8",
    "move $sp, $t0",
    "move $a1, $t2",
    "ret",
    ".cfi_endproc",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only by `resume`'s `jr $t1`
//
// First code of a fresh fiber: sp = start object (16-aligned, as the ABI
// wants at a call), a0 = first message, a2 = link slot. Calls
// entry(msg, link, obj) with ra pointing at the `break` below (never
// executed: entry never returns) and `jr $t1`, which keeps the return-
// address stack balanced.
//
// Unwind info: fp holds the link slot address for the fiber's whole life
// (callee-saved through entry's frames, whose CFI says where), so
// CFA = *(fp) = X and the parent's ra, fp and s8 sit below it as `resume`
// stored them (s0-s7 and fs0-fs7 are dead in the parent across the
// switch). Marked as a signal frame for the same reasons as on x86_64
// (GDB's monotonic-frame check; the return address is looked up as is, so
// `break` keeps it inside the routine).
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    ".cfi_startproc",
    ".cfi_signal_frame",
    // DW_CFA_def_cfa_expression, 3 bytes: DW_OP_breg22 (fp = r22; 0x70 +
    // 22) 0, DW_OP_deref.
    ".cfi_escape 0x0f, 3, 0x86, 0x00, 0x06",
    ".cfi_offset 1, -8",
    ".cfi_offset 22, -16",
    ".cfi_offset 31, -24",
    "move $fp, $a2",
    "move $a1, $a2",
    "move $a2, $sp",
    "la.local $ra, 2f",
    "ld.d $t1, $fp, 8",
    "jr $t1",
    "2:",
    "break 0",
    ".cfi_endproc",
    asm_end!("trampoline"),
);

const LINK_FROM_TOP: usize = 16;

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::Loongarch64Asm;
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
        // on top and `control` its link slot. `resume` preserves fp, s8,
        // sp, tp and r21; every other register (ra included: `bl` writes
        // it) is declared clobbered.
        unsafe {
            asm!(
                "bl {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("$a0") msg => back,
                inlateout("$a1") *handle => fiber_sp,
                inlateout("$a2") control => _,
                lateout("$s0") _, lateout("$s1") _, lateout("$s2") _, lateout("$s3") _,
                lateout("$s4") _, lateout("$s5") _, lateout("$s6") _, lateout("$s7") _,
                lateout("$fs0") _, lateout("$fs1") _, lateout("$fs2") _, lateout("$fs3") _,
                lateout("$fs4") _, lateout("$fs5") _, lateout("$fs6") _, lateout("$fs7") _,
                lateout("$ra") _,
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
        // 16-aligned): the continuation address at 0(sp) and fp/s8 at
        // 16(sp)/24(sp); `resume` pops the first 16 bytes before jumping
        // back to label 2, where the rest is popped. `b` writes no
        // register, so the return-address stack is untouched. All other
        // registers are declared clobbered.
        unsafe {
            asm!(
                "addi.d $sp, $sp, -32",
                "st.d $fp, $sp, 16",
                "st.d $s8, $sp, 24",
                "la.local $t1, 2f",
                "st.d $t1, $sp, 0",
                "b {suspend}",
                "2:",
                "ld.d $fp, $sp, 0",
                "ld.d $s8, $sp, 8",
                "addi.d $sp, $sp, 16",
                suspend = sym spindle_fiber_suspend,
                inlateout("$a0") msg => back,
                in("$a1") control,
                lateout("$s0") _, lateout("$s1") _, lateout("$s2") _, lateout("$s3") _,
                lateout("$s4") _, lateout("$s5") _, lateout("$s6") _, lateout("$s7") _,
                lateout("$fs0") _, lateout("$fs1") _, lateout("$fs2") _, lateout("$fs3") _,
                lateout("$fs4") _, lateout("$fs5") _, lateout("$fs6") _, lateout("$fs7") _,
                lateout("$ra") _,
                clobber_abi("C"),
            );
        }
        back
    }
}
