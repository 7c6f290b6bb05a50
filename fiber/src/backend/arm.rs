//! 32-bit Arm (AAPCS, ARMv7-A hard-float) stack switch, Linux (ELF), in
//! both instruction sets: A32 (`armv7-unknown-linux-gnueabihf`) and
//! Thumb-2 (`thumbv7neon-unknown-linux-gnueabihf`).
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning), moved
//! to Arm's return predictor: `bl` pushes a return-stack entry and `bx lr`
//! pops one, `bx` through any other register touches neither. So:
//!
//! * the parent enters `resume` with `bl` (inline asm in [`Asm::resume`]);
//! * `resume` enters the fiber with `bx r12`;
//! * the fiber leaves with inline asm that stores its continuation address
//!   (`adr`) and branches with a plain `b` to `suspend`;
//! * `suspend` restores the parent and returns with `bx lr` through the lr
//!   that the parent's `bl` wrote: one `bl`, one `bx lr` per round trip.
//!
//! # Interworking (A32 and Thumb-2)
//!
//! Every indirect branch here is a `bx`, which switches instruction set on
//! bit 0 of the target address (1: Thumb), so a routine may be entered from
//! and return to code of either state: `bl` from a caller in the other
//! state is turned into `blx` by the linker (the routines are typed as
//! functions, and `.thumb_func` marks them in Thumb builds), and `bx lr`
//! returns to the state the caller was in. The addresses this file makes
//! itself carry the right bit: the trampoline's (a function symbol) from
//! the linker, and the continuation label's from `thumb_bit!`, which
//! adds 1 in Thumb builds (a local label's address is even).
//! The instruction set is the target's: build.rs sets `spindle_arm_thumb`
//! for `thumb*` targets.
//!
//! # Registers
//!
//! Callee-saved by the AAPCS: r4–r11, sp and d8–d15 (the VFP registers
//! s16–s31; d16–d31 and q0–q3 are caller-saved). lr holds the return
//! address; r12 (ip) is the scratch register the linker's veneers may use.
//! Both sides reach the routines from inline asm that declares r4, r5,
//! r8–r10, lr, d8–d15 and everything caller-saved clobbered, so the
//! compiler saves those only where live. What asm may not declare — r6
//! (LLVM's base pointer), r7 (the Thumb frame pointer) and r11 (the A32
//! frame pointer) — the routines save themselves, all three in both
//! states: `resume` saves them and lr on the parent stack, the fiber's
//! inline asm saves them on the fiber stack. r9 is an ordinary callee-saved
//! register on Linux. The FPSCR (VFP rounding mode and flags), like MXCSR on
//! x86_64, is shared thread state that is not switched; TPIDRURO (the
//! thread pointer) is never touched.
//!
//! Soft-float targets (`*-gnueabi`) and ARMv6 (`arm-unknown-linux-gnueabihf`)
//! do not get this backend: a soft-float build may not name d8–d15 in asm,
//! and ARMv6 has no Thumb-2. Both keep the portable ucontext backend (glibc).
//!
//! # Stack discipline and unwinding
//!
//! sp is 8-byte aligned at every call (the AAPCS's public-interface rule)
//! and at every instruction boundary here. No red zone: nothing is stored
//! below sp. Arm Linux unwinds with the EHABI tables (`.ARM.exidx`), not
//! `.eh_frame`, so the trampoline carries both: EHABI directives for the
//! unwinder `std::backtrace` and panics use, and DWARF CFI in
//! `.debug_frame` for debuggers.
//!
//! # Stack layout
//!
//! Control block (top 16 bytes of every stack) and initial stack:
//!
//! ```text
//!          top ──► +----------------------+
//!                  | (unused)             |  top - 8 .. top - 4
//!                  | entry fn address     |  top - 12, read by trampoline
//!   control=link ─►+----------------------+
//!                  | parent link          |  top - 16, written by resume
//!                  +----------------------+  <── obj (16-aligned)
//!                  ~ start object         ~
//!          obj ──► +----------------------+
//!                  | trampoline address   |  obj - 4: first continuation
//!                  | (r11, r7, r6 slots,  |  obj - 8 .. obj - 16, never
//!                  |  unused)             |  read for a fresh fiber
//!   handle(sp) ──► +----------------------+
//! ```
//!
//! Parent stack while the fiber runs (`X` is what the link slot holds:
//! the parent's sp after `resume`'s push):
//!
//! ```text
//!   X + 16   (the parent's sp at `bl resume`)
//!   X + 12   saved lr: return address into Fiber::resume
//!   X + 8    saved r11
//!   X + 4    saved r7
//!   X        saved r6                           <── *link
//! ```
//!
//! Fiber stack while the parent runs (the inline asm in [`Asm::suspend`],
//! one `push`, the same shape):
//!
//! ```text
//!   S - 4    continuation address (label 2, with the Thumb bit)
//!   S - 8    saved r11
//!   S - 12   saved r7
//!   S - 16   saved r6                           <── handle
//! ```

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written 32-bit Arm (AAPCS, hard-float) switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

// The instruction set of the routines and of the inline asm: Thumb-2 on
// `thumb*` targets (`spindle_arm_thumb`, build.rs), A32 otherwise.
#[cfg(spindle_arm_thumb)]
macro_rules! instruction_set {
    () => {
        ".thumb\n.thumb_func\n"
    };
}
#[cfg(not(spindle_arm_thumb))]
macro_rules! instruction_set {
    () => {
        ".arm\n"
    };
}
/// The address of a local label, plus the Thumb bit in Thumb code, so that
/// `bx` to it stays in (or returns to) the state the label is in.
///
/// Thumb code does not use `adr`: it adds its offset to the pc aligned
/// down to 4, and the assembler resolves it against the instruction's
/// offset in its section, which is only 2-aligned once each function has a
/// section of its own; the linker may then place the `adr` 2 bytes off
/// (seen here: the continuation address came out 2 bytes past the label).
/// `mov reg, pc` reads the instruction's own address + 4, unaligned, so
/// the label difference is exact wherever the code lands.
#[cfg(spindle_arm_thumb)]
macro_rules! thumb_bit {
    ($reg:literal, $label:literal) => {
        concat!(
            "3:\n",
            "mov ",
            $reg,
            ", pc\n",
            "add ",
            $reg,
            ", ",
            $reg,
            ", #(",
            $label,
            " - 3b - 4 + 1)"
        )
    };
}
#[cfg(not(spindle_arm_thumb))]
macro_rules! thumb_bit {
    ($reg:literal, $label:literal) => {
        concat!("adr ", $reg, ", ", $label)
    };
}

// resume(msg: r0, fiber_sp: r1, link: r2) -> (msg: r0, fiber_sp: r1)
//   -- custom convention, called only with `bl` from `Asm::resume`'s asm
//
// Pushes the parent's r6, r7, r11 and lr (the caller declared everything
// else clobbered), stores X (sp after the push) in the link slot, switches
// to the fiber's stack and `bx`es to the continuation stored at
// handle + 12 (the fiber's continuation label pops the whole 16-byte
// record). r0 (message) and r2 (link) reach the fiber unchanged. No unwind
// table entry of its own is useful mid-switch: `.cantunwind`.
global_asm!(
    ".text",
    instruction_set!(),
    asm_begin!("resume"),
    ".fnstart",
    ".cantunwind",
    "push {{r6, r7, r11, lr}}",
    "str sp, [r2]",
    "ldr r12, [r1, #12]",
    "mov sp, r1",
    "bx r12",
    ".fnend",
    asm_end!("resume"),
);

// suspend(msg: r0, link: r1)   -- custom convention, reached only by `b`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's 16-byte record at sp. Returns the
// message and the fiber's stack pointer as resume's r0:r1, reloads the
// parent's r6, r7, r11 and lr from X (before sp moves there: nothing is
// read below sp), pops resume's record and returns with `bx lr`: the return
// that answers the parent's `bl`.
global_asm!(
    ".text",
    instruction_set!(),
    asm_begin!("suspend"),
    ".fnstart",
    ".cantunwind",
    "ldr r3, [r1]",
    "mov r1, sp",
    // Writeback leaves r3 = X + 16 (Thumb-2 has no `add sp, r3, #16`).
    "ldm r3!, {{r6, r7, r11, lr}}",
    "mov sp, r3",
    "bx lr",
    ".fnend",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only by `resume`'s `bx r12`
//
// First code of a fresh fiber: sp = obj - 16 (8-aligned, as a call
// wants), r0 = first message, r2 = link slot. Calls entry(msg, link, obj)
// with lr pointing at the `udf` below (never executed: entry never
// returns; the Thumb bit set in Thumb code) and `bx r12`, which the return
// predictor does not take for a call.
//
// Unwinding: r11 holds the link slot address for the fiber's whole life
// (callee-saved through entry's frames, whose unwind info says where).
// * EHABI (read bottom-up, as the unwinder applies them): `.movsp r11`
//   sets the virtual sp to the link slot; `.save {sp}` loads X from it;
//   `.save {r6, r7, r11, lr}` pops the parent's registers from X as
//   `resume` pushed them, leaving the virtual sp at X + 16, the parent's sp
//   at its `bl`. The unwinder then continues at lr, in Fiber::resume.
// * DWARF (.debug_frame): CFA = *(r11) + 16, the four registers below it.
// r4, r5, r8-r10 and d8-d15 are dead in the parent across the switch.
// Marked as a signal frame for the same reasons as on x86_64 (GDB's
// monotonic-frame check; the return address is looked up as is).
global_asm!(
    ".cfi_sections .debug_frame",
    ".text",
    instruction_set!(),
    asm_begin!("trampoline"),
    ".fnstart",
    ".cfi_startproc",
    ".cfi_signal_frame",
    // DW_CFA_def_cfa_expression, 5 bytes: DW_OP_breg11 (0x70 + 11) 0,
    // DW_OP_deref, DW_OP_plus_uconst 16.
    ".cfi_escape 0x0f, 5, 0x7b, 0x00, 0x06, 0x23, 0x10",
    ".cfi_offset lr, -4",
    ".cfi_offset r11, -8",
    ".cfi_offset r7, -12",
    ".cfi_offset r6, -16",
    ".save {{r6, r7, r11, lr}}",
    ".save {{sp}}",
    ".movsp r11",
    "mov r11, r2",
    "mov r1, r2",
    "add r2, sp, #16",
    thumb_bit!("lr", "2f"),
    "ldr r12, [r11, #4]",
    "bx r12",
    "2:",
    "udf #0",
    ".cfi_endproc",
    ".fnend",
    asm_end!("trampoline"),
);

const LINK_FROM_TOP: usize = 16;

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::ArmAsm;
    const CONTROL_SIZE: usize = LINK_FROM_TOP;

    unsafe fn init(control: *mut u8, _limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        debug_assert_eq!(obj as usize % 16, 0);
        // SAFETY: control + 16 == top; the words above control and the 16
        // bytes below obj are ours to write (Backend::init contract).
        unsafe {
            (control.add(4) as *mut usize).write(entry as *const () as usize);
            let sp = obj.sub(16);
            (sp.add(12) as *mut usize).write(spindle_fiber_trampoline as *const () as usize);
            sp
        }
    }

    #[inline(always)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let (back, fiber_sp): (*mut u8, *mut u8);
        // SAFETY: `*handle` is the fiber's saved sp with its 16-byte record
        // on top and `control` its link slot. `resume` preserves r6, r7,
        // r11 and sp; every other register (lr included: `bl` writes it)
        // is declared clobbered.
        unsafe {
            asm!(
                "bl {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("r0") msg => back,
                inlateout("r1") *handle => fiber_sp,
                inlateout("r2") control => _,
                lateout("r4") _, lateout("r5") _, lateout("r8") _, lateout("r9") _,
                lateout("r10") _, lateout("lr") _,
                lateout("d8") _, lateout("d9") _, lateout("d10") _, lateout("d11") _,
                lateout("d12") _, lateout("d13") _, lateout("d14") _, lateout("d15") _,
                clobber_abi("C"),
            );
        }
        *handle = fiber_sp;
        back
    }

    #[inline(always)]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        let back: *mut u8;
        // SAFETY: we run on the fiber whose link slot is `control`. One
        // `push` stores r6, r7, r11 and the continuation address (sp stays
        // 8-aligned, nothing below it is written); `resume` branches back
        // to label 2 with sp at that record, and the `pop` there restores
        // all three (and r12, a scratch register). All other registers are
        // declared clobbered.
        unsafe {
            asm!(
                thumb_bit!("r12", "2f"),
                "push {{r6, r7, r11, r12}}",
                "b {suspend}",
                "2:",
                "pop {{r6, r7, r11, r12}}",
                suspend = sym spindle_fiber_suspend,
                inlateout("r0") msg => back,
                in("r1") control,
                lateout("r4") _, lateout("r5") _, lateout("r8") _, lateout("r9") _,
                lateout("r10") _, lateout("lr") _,
                lateout("d8") _, lateout("d9") _, lateout("d10") _, lateout("d11") _,
                lateout("d12") _, lateout("d13") _, lateout("d14") _, lateout("d15") _,
                clobber_abi("C"),
            );
        }
        back
    }
}
