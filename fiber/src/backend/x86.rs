//! x86 (i686, 32-bit) System V stack switch, Linux (ELF).
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning): one
//! `call` answered by one `ret` per round trip, so the return-stack buffer
//! stays balanced.
//!
//! * the parent enters `resume` with `call` (inline asm in [`Asm::resume`]);
//! * `resume` enters the fiber with an indirect `jmp`;
//! * the fiber leaves with inline asm that pushes its continuation address
//!   and `jmp`s to `suspend`;
//! * `suspend` ends with the `ret` that answers `resume`'s `call`.
//!
//! 32-bit x86 has no instruction-pointer-relative `lea`. Position-
//! independent code finds a label's address with a call to the very next
//! instruction (a "zero-length call"), which pushes that instruction's
//! address; Intel's optimization manual says its cores do not take it for a
//! subroutine call in return prediction. On a core without that special
//! case it leaves one unmatched return-stack-buffer entry per suspend: a
//! possible mispredict later, never a wrong result. (The other way, through
//! the GOT, must find the GOT with the same call.) Here the pushed address
//! is moved to the continuation label in place (`add` of a label difference
//! to the stack slot) and the trampoline's fake return address is computed
//! the same way, without a text relocation. The routines are written in
//! AT&T syntax because LLVM's Intel-syntax parser takes `add ecx, 2f - 3b`
//! for a memory operand.
//!
//! # Registers
//!
//! Callee-saved by the i386 System V ABI: ebx, esi, edi, ebp and esp.
//! Both sides reach the routines from inline asm that declares ebx, edi and
//! everything caller-saved (eax, ecx, edx, every x87, MMX and SSE register)
//! clobbered, so the compiler saves those only where live. What asm may not
//! declare — ebp (the frame pointer) and esi (LLVM's base pointer on
//! 32-bit x86) — the routines save themselves: `resume` saves ebp and esi
//! on the parent stack, the fiber's inline asm saves them on the fiber
//! stack. The x87 control word and MXCSR are not switched: as on x86_64,
//! fibers share the thread's floating-point environment. The direction flag
//! is clear at every call and return here, as the ABI requires (nothing
//! sets it). gs (the thread pointer) is never touched.
//!
//! # Stack alignment
//!
//! Linux's i386 ABI (as GCC and LLVM implement it) wants esp 16-byte
//! aligned at every `call`, i.e. `esp + 4` 16-aligned on function entry:
//! the arguments of a call start at a 16-byte boundary. [`Asm::init`] lays
//! out the entry function's arguments that way. There is no red zone:
//! nothing here is stored below esp or read from below it.
//!
//! # Intel CET
//!
//! As on x86_64: the two targets of indirect jumps (the trampoline and the
//! continuation label in [`Asm::suspend`]) start with `endbr32`, a no-op
//! on CPUs without CET; shadow stacks are not supported.
//!
//! # Stack layout
//!
//! Control block, the top 16 bytes of every stack:
//!
//! ```text
//!            top ──► +----------------------+
//!                    | (unused)             |  top - 4 .. top - 8
//!                    | entry fn address     |  top - 12  read by trampoline
//!  control = link ─► +----------------------+
//!                    | parent link          |  top - 16  written by resume
//!                    +----------------------+
//! ```
//!
//! Parent stack while the fiber runs (`X` is what the link slot holds: the
//! address of the saved ebp, right below the return address, which makes
//! the pair a valid frame record for frame-pointer unwinders):
//!
//! ```text
//!   X + 4    return address into Fiber::resume   (pushed by `call resume`)
//!   X        saved ebp                            <── *link
//!   X - 4    saved esi                            <── parent esp
//! ```

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written i686 System V switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

const LINK_FROM_TOP: usize = 16;

// resume(msg: eax, fiber_sp: ecx, link: edx) -> (msg: eax, fiber_sp: ecx)
//   -- custom convention, called only from the inline asm in `Asm::resume`
//
// Saves the parent's ebp and esi on the parent stack (every other register
// is declared clobbered by the caller), records X (the address of the
// saved ebp) in the fiber's link slot, switches to the fiber's stack
// (popping its continuation word) and jumps to the continuation: the label
// after the inline asm in `Asm::suspend`, or `trampoline` for a fresh
// fiber. eax (message) and edx (link) reach the fiber unchanged.
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "pushl %ebp",
    ".cfi_adjust_cfa_offset 4",
    ".cfi_rel_offset %ebp, 0",
    "movl %esp, (%edx)",
    "pushl %esi",
    ".cfi_adjust_cfa_offset 4",
    ".cfi_rel_offset %esi, 0",
    // From here esp belongs to the fiber; the frame above is described by
    // the fiber's own CFI (see trampoline), not by this routine's.
    "leal 4(%ecx), %esp",
    ".cfi_undefined %eip",
    "jmpl *(%ecx)",
    ".cfi_endproc",
    asm_end!("resume"),
    options(att_syntax),
);

// suspend(msg: eax, link: edx)   -- custom convention, reached only by `jmp`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's continuation address on top of the fiber
// stack. Hands the fiber's stack pointer back as resume's second result
// (the message stays in eax), moves esp straight to the parent's saved esi
// (X - 4: one instruction, so no saved word is ever below esp), pops esi
// and ebp and `ret`s: that `ret` pops the return address pushed by the
// parent's `call resume`.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined %eip",
    "movl %esp, %ecx",
    "movl (%edx), %edx",
    "leal -4(%edx), %esp",
    "popl %esi",
    "popl %ebp",
    "retl",
    ".cfi_endproc",
    asm_end!("suspend"),
    options(att_syntax),
);

// trampoline   -- custom convention, reached only from `resume`'s `jmp`
//
// First code a fresh fiber runs. On entry: esp = obj - 20 (see the diagram
// on `Asm::init`), eax = the first message, edx = link slot. Completes the
// entry function's cdecl arguments (msg; link and obj were written by
// init), stores a return address pointing at the `ud2` below in the slot
// at esp, and `jmp`s to entry(msg, link, obj): on entry `esp + 4` is
// 16-aligned, as the ABI wants, and the return-stack buffer saw no call.
// Entry never returns: it ends with a final suspend.
//
// Unwind info: ebp holds the link slot address for the whole life of the
// fiber (callee-saved through entry's frames, whose CFI says where), so
// the parent's frame is found by reading the link: CFA = *(ebp) + 8 (just
// above the return address pushed by the parent's `call resume`), with
// ebp and esi right below it where `resume` pushed them. ebx and edi are
// dead in the parent across the switch (its asm declares them clobbered).
// Marked as a signal frame for the same reasons as on x86_64 (GDB's
// monotonic-frame check; the return address is looked up as is, so `ud2`
// keeps it inside the routine).
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    ".cfi_startproc",
    ".cfi_signal_frame",
    // DW_CFA_def_cfa_expression, 5 bytes: DW_OP_breg5 (ebp) 0, DW_OP_deref,
    // DW_OP_plus_uconst 8.
    ".cfi_escape 0x0f, 5, 0x75, 0x00, 0x06, 0x23, 0x08",
    ".cfi_offset %eip, -4",
    ".cfi_offset %ebp, -8",
    ".cfi_offset %esi, -12",
    // An indirect-jump target (IBT, see the module docs).
    "endbr32",
    "movl %edx, %ebp",
    "movl %eax, 4(%esp)",
    "calll 3f",
    "3:",
    "popl %ecx",
    "addl $(2f - 3b), %ecx",
    "movl %ecx, (%esp)",
    "jmpl *4(%ebp)",
    "2:",
    "ud2",
    ".cfi_endproc",
    asm_end!("trampoline"),
    options(att_syntax),
);

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::X86Asm;
    const CONTROL_SIZE: usize = LINK_FROM_TOP;

    /// Builds the initial stack (4-byte words):
    ///
    /// ```text
    ///        top ──► +----------------------+
    ///                | entry fn address     |  control + 4
    ///    control ──► +----------------------+
    ///                | parent link          |  filled in by every resume
    ///                +----------------------+  <── obj (16-aligned)
    ///                ~ start object         ~  placed by fiber.rs
    ///        obj ──► +----------------------+
    ///                | (padding)            |  obj - 4
    ///                | arg 3: obj           |  obj - 8
    ///                | arg 2: link          |  obj - 12
    ///                | arg 1: msg           |  obj - 16 (16-aligned), by trampoline
    ///                +----------------------+
    ///                | fake return address  |  obj - 20, by trampoline
    ///                | trampoline address   |  obj - 24: first continuation
    ///  handle(sp) ─► +----------------------+
    ///                ~ free                 ~  down to limit
    /// ```
    unsafe fn init(control: *mut u8, _limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        debug_assert_eq!(obj as usize % 16, 0);
        // SAFETY: the caller guarantees control + 16 == top and that the
        // words above control and the 24 bytes below obj are ours to write.
        unsafe {
            (control.add(4) as *mut usize).write(entry as *const () as usize);
            (obj.sub(8) as *mut usize).write(obj as usize);
            (obj.sub(12) as *mut usize).write(control as usize);
            let sp = obj.sub(24);
            (sp as *mut usize).write(spindle_fiber_trampoline as *const () as usize);
            sp
        }
    }

    #[inline(always)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let (back, fiber_sp): (*mut u8, *mut u8);
        // SAFETY: `*handle` is the fiber's saved stack pointer with a
        // continuation address on top (from `init` or a suspend) and
        // `control` is its link slot. `resume` preserves esi and ebp; every
        // other register is declared clobbered. The asm pushes (the return
        // address), so it is not `nostack`.
        unsafe {
            asm!(
                "calll {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("eax") msg => back,
                inlateout("ecx") *handle => fiber_sp,
                inlateout("edx") control => _,
                lateout("ebx") _,
                lateout("edi") _,
                clobber_abi("C"),
                options(att_syntax),
            );
        }
        *handle = fiber_sp;
        back
    }

    #[inline(always)]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        let back: *mut u8;
        // SAFETY: we run on the fiber whose link slot is `control`, so the
        // slot holds X as `suspend` expects. We push ebp, esi and our
        // continuation address (pushed by a call to the next instruction,
        // which the return-stack buffer ignores, and moved to label 2 by a
        // label difference), and every other register is declared clobbered
        // because the parent runs before we continue.
        unsafe {
            asm!(
                "pushl %ebp",
                "pushl %esi",
                // Pushes the address of 3, which becomes that of 2 in place.
                "calll 3f",
                "3:",
                "addl $(2f - 3b), (%esp)",
                "jmp {suspend}",
                // Reached by resume's indirect `jmp`: an IBT landing pad.
                "2:",
                "endbr32",
                "popl %esi",
                "popl %ebp",
                suspend = sym spindle_fiber_suspend,
                inlateout("eax") msg => back,
                in("edx") control,
                lateout("ebx") _,
                lateout("edi") _,
                clobber_abi("C"),
                options(att_syntax),
            );
        }
        back
    }
}
