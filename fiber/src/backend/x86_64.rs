//! x86_64 System V stack switch (Linux, the BSDs, macOS).
//!
//! # Symbols
//!
//! Three routines live in `global_asm!` below, each a real symbol with global
//! binding and hidden visibility (ELF: `.globl` + `.hidden` + `.type` +
//! `.size`; Mach-O: `_` prefix, `.globl` + `.private_extern`), named
//! `spindle_fiber_<version>_{resume,suspend,trampoline}`. Rust reaches them
//! only through the `extern "C"` block with `#[link_name]` at the bottom of
//! `symbol.rs`, named by `sym` operands of the inline asm that enters and
//! leaves the switch (and by address in `init`), so every use is an ordinary
//! IR-level symbol reference that LTO sees and keeps, and
//! the `#[used]` static `KEEP_SWITCH_SYMBOLS` anchors all three in the rlib.
//! Hidden visibility keeps them out of dynamic symbol tables; the version in
//! the name lets two copies of the crate share one binary.
//!
//! # Why the switch is shaped this way (return-stack-buffer balance)
//!
//! CPUs predict `ret` targets with a small stack of the addresses pushed by
//! recent `call`s. A switch that is `call`ed from both sides and ends in a
//! `ret` on the other stack mispredicts twice per round trip (each `ret` lands
//! on the other side's return address). Here every round trip is exactly one
//! `call` answered by one `ret`:
//!
//! ```text
//!   parent: call resume ──► resume saves the parent, jmp ──► fiber continues
//!                                                               │
//!   parent continues ◄── ret ◄── suspend restores parent ◄── jmp (fake call)
//! ```
//!
//! * `resume` is called with a real `call` (from inline asm in
//!   [`Asm::resume`]), which pushes the parent's return address. It enters the
//!   fiber with an indirect `jmp`, pushing nothing.
//! * The fiber leaves with inline asm in [`Asm::suspend`] that pushes its own
//!   continuation address and `jmp`s (not `call`s) to `suspend`.
//! * `suspend` ends with the `ret` that answers `resume`'s `call`.
//! * A fresh fiber starts in `trampoline`, which enters the Rust entry
//!   function with `push` + `jmp` for the same reason.
//!
//! # Register contract
//!
//! Both sides reach the routines from inline asm that declares every register
//! clobbered except `rbx` and `rbp`, which LLVM will not let asm clobber:
//! those two are the only registers the routines save (on the parent stack
//! in `resume`, on the fiber stack in `Asm::suspend`). Everything else is
//! saved by the compiler around the asm, only where live, and for a loop of
//! switches once per function rather than once per switch. The x87 control
//! word and MXCSR are not switched: like every fiber library we know of,
//! fibers share the thread's FP environment.
//!
//! # Intel CET
//!
//! *Indirect branch tracking* (IBT): the two targets of indirect jumps carry
//! `endbr64` (a no-op on CPUs without CET), as the aarch64 ones carry `bti`:
//! `trampoline` (reached by `resume`'s `jmp [rsi]` for a fresh fiber) and the
//! continuation label in [`Asm::suspend`] (reached the same way afterwards).
//! The entry function, reached by `trampoline`'s `jmp [rbp + 8]`, is Rust
//! code whose `endbr64` the compiler emits under `-Z cf-protection=branch`.
//! `resume` and `suspend` are reached by direct `call`/`jmp` only.
//!
//! *Shadow stacks* (SHSTK) are not supported: a thread has one shadow stack,
//! and the switch does not give each fiber its own (that would take
//! `map_shadow_stack` plus `rstorssp`/`saveprevssp` on every switch). The
//! first `ret` in `suspend` after the fiber made any call finds the fiber's
//! return address on the shadow stack instead of the parent's and raises a
//! control-protection fault (SIGSEGV, `SEGV_CPERR` on Linux). So a binary
//! built with `-Z cf-protection=return` or `full` and run where the kernel
//! and glibc enforce shadow stacks (Linux 6.6+, opted in with
//! `GLIBC_TUNABLES=glibc.cpu.x86_shstk=on`) dies on the first suspend. Not
//! tested: no CET hardware or shadow-stack kernel here.

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written x86_64 System V switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

/// Layout of the control block, the top 16 bytes of every stack:
///
/// ```text
///            top ──► +----------------------+  (16-aligned, highest address)
///                    | entry fn address     |  top - 8   read by trampoline
///  control = link ─► +----------------------+
///                    | parent link          |  top - 16  written by resume:
///                    +----------------------+  the parent's stack pointer
/// ```
///
/// The parent link always points at the parent's saved `rbp`, which sits
/// right below the return address `resume`'s caller pushed, so the link slot
/// is also a valid frame record for frame-pointer unwinders:
///
/// ```text
///   parent stack while the fiber runs (high to low)
///   +--------------------------+
///   | return address into      |  pushed by `call resume`
///   | Fiber::resume            |
///   +--------------------------+  <── *link (X)
///   | saved rbp                |  X
///   | saved rbx                |  X - 8    <── parent rsp
///   +--------------------------+
/// ```
const LINK_FROM_TOP: usize = 16;

// resume(msg: rdi, fiber_sp: rsi, link: rdx) -> (msg: rdi, fiber_sp: rdx)
//   -- custom convention, called only from the inline asm in `Asm::resume`
//
// Saves the parent's rbp and rbx on the parent stack (every other register
// is declared clobbered by the caller), records the parent's stack pointer
// in the fiber's link slot, switches to the fiber's stack and jumps to the
// continuation address found on top of it: the label after the inline asm
// in `Asm::suspend`, or `trampoline` for a fresh fiber. rdi (message) and rdx
// (link) reach the fiber unchanged. "Returns" only when the fiber jumps to
// `suspend`, with the fiber's message in rdi and its stack pointer in rdx.
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "push rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset rbp, 0",
    "mov qword ptr [rdx], rsp",
    "push rbx",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset rbx, 0",
    // From here rsp belongs to the fiber; the frame above is described by the
    // fiber's own CFI (see trampoline), not by this routine's.
    "lea rsp, [rsi + 8]",
    ".cfi_undefined rip",
    "jmp qword ptr [rsi]",
    ".cfi_endproc",
    asm_end!("resume"),
);

// suspend(msg: rdi, link: rsi)   -- custom convention, reached only by `jmp`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's continuation address on top of the fiber
// stack. Hands the fiber's stack pointer back as resume's second result
// (the message stays in rdi, its first), restores the parent's rbx and rbp
// from the parent stack (layout in LINK_FROM_TOP's diagram) and `ret`s: that
// `ret` pops the return address pushed by the parent's `call resume`.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined rip",
    "mov rdx, rsp",
    "mov rsp, qword ptr [rsi]",
    "mov rbx, qword ptr [rsp - 8]",
    "pop rbp",
    "ret",
    ".cfi_endproc",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only from `resume`'s `jmp`
//
// First code a fresh fiber runs. On entry: rsp = the start object (16-aligned,
// see the diagram on `Asm::init`), rdi = the first message, rdx = link slot.
// Calls `entry(msg, link, obj)` — as a `push` of a return address plus `jmp`,
// so the return-stack buffer stays balanced — and never comes back: the
// entry function ends with a final suspend.
//
// Its unwind info is what lets debuggers and `std::backtrace` walk from a
// fiber into the code that resumed it. rbp holds the link slot address for
// the whole life of the fiber (entry's frames preserve it as callee-saved,
// and their CFI says where), so the parent's frame is found by reading the
// link: CFA = *(rbp) + 16 (just above the return address pushed by the
// parent's `call resume`), with rbp and rbx right below it where `resume`
// pushed them. r12-r15 are dead in the parent across the switch (its asm
// declares them clobbered), so nothing needs to describe them.
//
// The frame is marked as a signal frame: GDB refuses backtraces whose frame
// addresses are not monotonic unless a signal frame explains the jump, and
// fiber stacks can live anywhere. A signal frame's return address is looked
// up as is (not minus one), so it must point inside this routine: the `ud2`
// after the `jmp` is never executed and exists for that.
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    ".cfi_startproc",
    ".cfi_signal_frame",
    // An indirect-jump target (IBT, see the module docs).
    "endbr64",
    // DW_CFA_def_cfa_expression, 5 bytes: DW_OP_breg6 (rbp) 0, DW_OP_deref,
    // DW_OP_plus_uconst 16.
    ".cfi_escape 0x0f, 5, 0x76, 0x00, 0x06, 0x23, 0x10",
    ".cfi_offset rip, -8",
    ".cfi_offset rbp, -16",
    ".cfi_offset rbx, -24",
    "mov rbp, rdx",
    "mov rsi, rdx",
    "mov rdx, rsp",
    "lea rax, [rip + 2f]",
    "push rax",
    "jmp qword ptr [rbp + 8]",
    "2:",
    "ud2",
    ".cfi_endproc",
    asm_end!("trampoline"),
);

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::X86_64Asm;
    const CONTROL_SIZE: usize = LINK_FROM_TOP;

    /// Builds the initial stack:
    ///
    /// ```text
    ///        top ──► +----------------------+
    ///                | entry fn address     |  read by trampoline
    ///    control ──► +----------------------+
    ///                | parent link          |  filled in by every resume
    ///                +----------------------+  <── obj (16-aligned)
    ///                ~ start object         ~  placed by fiber.rs
    ///        obj ──► +----------------------+
    ///                | trampoline address   |  the first "continuation"
    ///  handle(sp) ─► +----------------------+
    ///                ~ free                 ~  down to limit
    /// ```
    unsafe fn init(control: *mut u8, _limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        debug_assert_eq!(obj as usize % 16, 0);
        // SAFETY: the caller guarantees control + 16 == top and that both
        // words above control and the word below obj are ours to write.
        unsafe {
            (control.add(8) as *mut usize).write(entry as *const () as usize);
            let sp = obj.sub(8);
            (sp as *mut usize).write(spindle_fiber_trampoline as *const () as usize);
            sp
        }
    }

    #[inline(always)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let (back, fiber_sp): (*mut u8, *mut u8);
        // SAFETY: `*handle` is the fiber's saved stack pointer with a
        // continuation address on top (from `init` or a suspend) and
        // `control` is its link slot. `resume` preserves rbx and rbp; every
        // other register is declared clobbered. The asm pushes (the return
        // address), so it is not `nostack` and the red zone is left alone.
        unsafe {
            asm!(
                "call {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("rdi") msg => back,
                inlateout("rsi") *handle => _,
                inlateout("rdx") control => fiber_sp,
                lateout("r12") _,
                lateout("r13") _,
                lateout("r14") _,
                lateout("r15") _,
                clobber_abi("C"),
            );
        }
        *handle = fiber_sp;
        back
    }

    #[inline(always)]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        let back: *mut u8;
        // SAFETY: we run on the fiber whose link slot is `control`, so the
        // slot holds the parent's stack pointer as `suspend` expects. We push
        // rbx, rbp and our continuation address (asm without `nostack`, so the
        // compiler keeps nothing in the red zone), and every other register
        // is declared clobbered because the parent runs before we continue.
        unsafe {
            asm!(
                "push rbp",
                "push rbx",
                "lea rax, [rip + 2f]",
                "push rax",
                "jmp {suspend}",
                // Reached by resume's indirect `jmp`: an IBT landing pad.
                "2:",
                "endbr64",
                "pop rbx",
                "pop rbp",
                suspend = sym spindle_fiber_suspend,
                inlateout("rdi") msg => back,
                in("rsi") control,
                lateout("r12") _,
                lateout("r13") _,
                lateout("r14") _,
                lateout("r15") _,
                clobber_abi("C"),
            );
        }
        back
    }
}
