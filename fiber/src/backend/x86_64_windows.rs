//! x86_64 Microsoft x64 stack switch (Windows: MinGW and MSVC targets).
//!
//! The same shape as the System V switch in `x86_64.rs` — read that first —
//! with three Windows differences: the Thread Environment Block's stack
//! fields are swapped on every switch, unwind info is SEH rather than CFI,
//! and the fiber's entry is called with the Microsoft x64 convention.
//!
//! # Symbols (what "hidden" means on COFF)
//!
//! The three routines are `spindle_fiber_<version>_{resume,suspend,trampoline}`
//! as on unix: `.globl` with a COFF `.def` (storage class external, type
//! function), reached from Rust only through `extern "C"` + `#[link_name]`
//! and `sym`, anchored by the `#[used]` static in `symbol.rs`. COFF has no
//! symbol visibility; what ELF's `.hidden` achieves — the symbol never
//! leaves the image — follows on Windows from never exporting it: no
//! `dllexport`, no `-export:` directive, and rustc always passes the linker
//! an explicit export list, which disables MinGW ld's export-everything
//! default. x86_64 COFF names carry no leading underscore, on MinGW and
//! MSVC alike, and both assemble this Intel-syntax `global_asm!` with LLVM.
//!
//! # Return-stack-buffer balance
//!
//! As in `x86_64.rs`: one `call` into `resume`, answered by the one `ret` at
//! the end of `suspend`; the fiber side enters `suspend` and its entry
//! function with `push` + `jmp`.
//!
//! # Register contract: who saves what
//!
//! The Microsoft x64 ABI's callee-saved set is rbx, rbp, rdi, rsi, r12-r15
//! and xmm6-xmm15. Both inline asm blocks declare `clobber_abi("sysv64")`
//! (which counts rdi, rsi and all of xmm0-xmm15 as clobbered, unlike the
//! Windows ABI) plus r12-r15, so the compiler saves every one of those it
//! has live around the switch — once per function, not per switch, and
//! none when nothing is live. That leaves rbx and rbp, which LLVM never lets
//! inline asm clobber: the routines save those two (on the parent stack in
//! `resume`, on the fiber stack in `Asm::suspend`). MXCSR and the x87
//! control word are shared with the thread, as in every fiber library we
//! know of.
//!
//! # The Thread Environment Block
//!
//! Windows (and Wine) read the running stack's bounds from the TEB, at
//! `gs:`: StackBase (`0x08`), StackLimit (`0x10`, lowest committed byte,
//! moved down as the guard page is hit), DeallocationStack (`0x1478`, bottom
//! of the reservation), GuaranteedStackBytes (`0x1748`, the overflow
//! reserve set by `SetThreadStackGuarantee`). Guard-page growth, the stack
//! overflow exception, `__chkstk` and the exception dispatcher (which stops
//! at any frame outside StackLimit..StackBase, so a panic would not unwind)
//! all depend on them. ExceptionList (`0x00`) is unused by Win64 itself but
//! walked by Wine, so a fresh fiber gets the end-of-chain value `!0`.
//!
//! `resume` pushes all five of the parent's values on the parent stack and
//! installs the fiber's from its control block; `suspend` writes the three
//! that change while a fiber runs (StackLimit, GuaranteedStackBytes,
//! ExceptionList) back into the control block and pops the parent's.
//! StackLimit and GuaranteedStackBytes live in words that persist at the top
//! of a Windows [`Stack`](crate::Stack) (see `stack/windows.rs`), so a
//! fiber started on a reused stack starts from what the last one left.

use core::arch::{asm, global_asm};

use super::symbol::{spindle_fiber_resume, spindle_fiber_suspend, spindle_fiber_trampoline};
use super::{Backend, BackendKind, EntryFn, Sealed};
use crate::stack::windows::{
    DEALLOCATION_FROM_TOP, GUARANTEED_FROM_TOP, STACK_LIMIT_FROM_TOP, commit_down_to, teb_stack,
};

/// Spindle's hand-written x86_64 switch for the Microsoft x64 ABI.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

/// The control block, the top 64 bytes of every stack:
///
/// ```text
///             top ──► +-------------------------+  = TEB StackBase of the fiber
///                     | tag                     |  +56 ┐ kept by a Windows Stack
///                     | DeallocationStack       |  +48 │ across fibers; the fiber
///                     | StackLimit              |  +40 │ writes the last two back
///                     | GuaranteedStackBytes    |  +32 ┘ on every suspend
///                     | ExceptionList           |  +24   !0 fresh; saved by suspend
///                     | (unused)                |  +16
///                     | entry fn address        |  +8    read by trampoline
///  control = link ──► | parent link             |  +0    written by resume
///                     +-------------------------+
/// ```
///
/// The parent link points at the lowest of the words `resume` pushed on the
/// parent stack, which `suspend` pops in order and the trampoline's unwind
/// info describes:
///
/// ```text
///   parent stack while the fiber runs (high to low)
///   +--------------------------+
///   | return address into      |  pushed by `call resume`
///   | Fiber::resume            |
///   +--------------------------+
///   | saved rbp                |
///   | saved rbx                |
///   | GuaranteedStackBytes     |  the parent's TEB fields
///   | DeallocationStack        |
///   | StackLimit               |
///   | StackBase                |
///   | ExceptionList            |  <── *link, the parent's rsp
///   +--------------------------+
/// ```
const CONTROL_SIZE: usize = 64;
const ENTRY: usize = 8;
const EXCEPTION_LIST: usize = 24;
const GUARANTEED: usize = CONTROL_SIZE - GUARANTEED_FROM_TOP;
const STACK_LIMIT: usize = CONTROL_SIZE - STACK_LIMIT_FROM_TOP;
const DEALLOCATION: usize = CONTROL_SIZE - DEALLOCATION_FROM_TOP;
const _: () = assert!(GUARANTEED == 32 && STACK_LIMIT == 40 && DEALLOCATION == 48);

// resume(msg: rcx, fiber_sp: rdx, control: r8) -> (msg: rcx, fiber_sp: rdx)
//   -- custom convention, called only from the inline asm in `Asm::resume`
//
// Pushes the parent's rbp, rbx and TEB stack fields (every other register is
// declared clobbered by the caller), records the parent's stack pointer in
// the link slot, installs the fiber's TEB fields from the control block,
// switches to the fiber's stack and jumps to the continuation on top of it:
// the label after the inline asm in `Asm::suspend`, or `trampoline`. rcx
// (message) and r8 (control) reach the fiber unchanged. "Returns" only when
// the fiber jumps to `suspend`, with its message in rcx and its stack
// pointer in rdx.
//
// The SEH prologue describes the pushes, which is true until the stack
// switch; nothing unwinds through here after it (a backtrace from the fiber
// goes through the trampoline's unwind info instead).
global_asm!(
    ".text",
    asm_begin!("resume"),
    concat!(".seh_proc ", asm_name!("resume")),
    "push rbp",
    ".seh_pushreg rbp",
    "push rbx",
    ".seh_pushreg rbx",
    "push qword ptr gs:[0x1748]",
    "push qword ptr gs:[0x1478]",
    "push qword ptr gs:[0x10]",
    "push qword ptr gs:[0x8]",
    "push qword ptr gs:[0x0]",
    ".seh_stackalloc 40",
    ".seh_endprologue",
    "mov qword ptr [r8], rsp",
    "mov rax, qword ptr [r8 + 24]",
    "mov qword ptr gs:[0x0], rax",
    "lea rax, [r8 + 64]",
    "mov qword ptr gs:[0x8], rax",
    "mov rax, qword ptr [r8 + 40]",
    "mov qword ptr gs:[0x10], rax",
    "mov rax, qword ptr [r8 + 48]",
    "mov qword ptr gs:[0x1478], rax",
    "mov rax, qword ptr [r8 + 32]",
    "mov qword ptr gs:[0x1748], rax",
    "lea rsp, [rdx + 8]",
    "jmp qword ptr [rdx]",
    ".seh_endproc",
    asm_end!("resume"),
);

// suspend(msg: rcx, control: r8)   -- custom convention, reached only by `jmp`
//
// Entered from the inline asm in `Asm::suspend` (and the entry function's
// final suspend) with the fiber's continuation address on top of the fiber
// stack. Saves the fiber's mutable TEB fields in the control block, hands
// the fiber's stack pointer back as resume's second result (the message
// stays in rcx), pops the parent's TEB fields, rbx and rbp off the parent
// stack (layout on CONTROL_SIZE) and `ret`s into the parent's
// `call resume`.
//
// No SEH entry on purpose: an address without one is unwound as a leaf
// function (return address at [rsp]), which is exactly right while rsp is
// still the fiber's: the continuation in `Asm::suspend`.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    "mov rdx, rsp",
    "mov rax, qword ptr gs:[0x0]",
    "mov qword ptr [r8 + 24], rax",
    "mov rax, qword ptr gs:[0x10]",
    "mov qword ptr [r8 + 40], rax",
    "mov rax, qword ptr gs:[0x1748]",
    "mov qword ptr [r8 + 32], rax",
    "mov rsp, qword ptr [r8]",
    "pop qword ptr gs:[0x0]",
    "pop qword ptr gs:[0x8]",
    "pop qword ptr gs:[0x10]",
    "pop qword ptr gs:[0x1478]",
    "pop qword ptr gs:[0x1748]",
    "pop rbx",
    "pop rbp",
    "ret",
    asm_end!("suspend"),
);

// trampoline   -- custom convention, reached only from `resume`'s `jmp`
//
// First code a fresh fiber runs. On entry: rsp = obj - 32 (see the diagram
// on `Asm::init`), rcx = the first message, r8 = control. Calls
// `entry(msg: rcx, control: rdx, obj: r8)` with the Microsoft x64
// convention — 32 bytes of home space above the return address, rsp = 8
// mod 16 at entry — as `push` + `jmp` to keep the return-stack buffer
// balanced, and never comes back: the entry function ends with a final
// suspend.
//
// Its SEH unwind info lets `std::backtrace` and debuggers walk from a fiber
// into its resumer. rbp holds the control block address for the whole life
// of the fiber (Rust frames preserve it, and their unwind info restores it).
// The prologue below has no instructions, only directives; an unwinder
// applies them in reverse, starting from frame = rbp = control:
//   .seh_setframe rbp, 0   rsp = control
//   .seh_savereg rsp, 0    rsp = [control + 0], the parent link: the parent
//                          stack's ExceptionList word
//   .seh_stackalloc 40     skip the five TEB words
//   .seh_pushreg rbx       rbx = pop
//   .seh_pushreg rbp       rbp = pop
// and then pops the return address `call resume` pushed: the walk goes on in
// Fiber::resume with the parent's rsp, rbx and rbp. (Only for walking: an
// exception is never dispatched across, because panics are caught in
// `entry`, and the dispatcher would not swap the TEB back anyway.)
//
// The `int3` after the jump keeps the return address inside this routine
// and stops unwinders that scan forward from a return address for an
// epilogue (`ret`, `jmp`, `add rsp`) from finding one.
global_asm!(
    ".text",
    asm_begin!("trampoline"),
    concat!(".seh_proc ", asm_name!("trampoline")),
    ".seh_pushreg rbp",
    ".seh_pushreg rbx",
    ".seh_stackalloc 40",
    ".seh_savereg rsp, 0",
    ".seh_setframe rbp, 0",
    ".seh_endprologue",
    "mov rbp, r8",
    "mov rdx, r8",
    "lea r8, [rsp + 32]",
    "lea rax, [rip + 2f]",
    "push rax",
    "jmp qword ptr [rbp + 8]",
    "2:",
    "int3",
    ".seh_endproc",
    asm_end!("trampoline"),
);

// SAFETY: each method follows the contract of the routine it calls, written
// above the routine; see also `Backend`'s method docs.
unsafe impl Backend for Asm {
    const KIND: BackendKind = BackendKind::X86_64WindowsAsm;
    const CONTROL_SIZE: usize = CONTROL_SIZE;

    /// Builds the initial stack:
    ///
    /// ```text
    ///        top ──► +----------------------+
    ///                ~ control block        ~  TEB words, entry, link
    ///    control ──► +----------------------+
    ///                ~ start object         ~  placed by fiber.rs
    ///        obj ──► +----------------------+  (16-aligned)
    ///                | home space, 32 bytes |  entry's, per the x64 ABI
    ///                +----------------------+
    ///                | trampoline address   |  the first "continuation"
    ///  handle(sp) ─► +----------------------+
    ///                ~ free                 ~  down to limit
    /// ```
    unsafe fn init(control: *mut u8, limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        debug_assert_eq!(obj as usize % 16, 0);
        let top = control as usize + CONTROL_SIZE;
        let sp = obj.wrapping_sub(40);
        // SAFETY: the caller gives us the stack [limit, top) with control =
        // top - CONTROL_SIZE, whose words we read and write; sp lies above
        // limit (fiber.rs leaves 4 KiB below obj).
        unsafe {
            let mut teb = teb_stack(top, limit as usize);
            // The parent writes the start object before the fiber runs, so
            // that memory must be committed now (Windows grows a stack only
            // for the thread whose TEB describes it).
            if (sp as usize) < teb.stack_limit {
                teb.stack_limit = commit_down_to(teb, sp as usize).unwrap_or_else(|e| {
                    crate::abort_with(&format!("spindle-fiber: committing a fiber stack: {e}"))
                });
            }
            let word =
                |offset: usize, value: usize| (control.add(offset) as *mut usize).write(value);
            word(ENTRY, entry as *const () as usize);
            word(EXCEPTION_LIST, usize::MAX);
            word(GUARANTEED, teb.guaranteed);
            word(STACK_LIMIT, teb.stack_limit);
            word(DEALLOCATION, teb.deallocation);
            (sp as *mut usize).write(spindle_fiber_trampoline as *const () as usize);
        }
        sp
    }

    #[inline(always)]
    unsafe fn resume(control: *mut u8, handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        let (back, fiber_sp): (*mut u8, *mut u8);
        // SAFETY: `*handle` is the fiber's saved stack pointer with a
        // continuation address on top (from `init` or a suspend) and
        // `control` is its control block. `resume` preserves rbx and rbp;
        // every other register is declared clobbered (see the module docs).
        // The asm pushes (the return address), so it is not `nostack`.
        unsafe {
            asm!(
                "call {resume}",
                resume = sym spindle_fiber_resume,
                inlateout("rcx") msg => back,
                inlateout("rdx") *handle => fiber_sp,
                inlateout("r8") control => _,
                lateout("r12") _,
                lateout("r13") _,
                lateout("r14") _,
                lateout("r15") _,
                clobber_abi("sysv64"),
            );
        }
        *handle = fiber_sp;
        back
    }

    #[inline(always)]
    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        let back: *mut u8;
        // SAFETY: we run on the fiber whose control block is `control`, so
        // its link slot holds the parent's stack pointer as `suspend`
        // expects. We push rbx, rbp and our continuation address (Win64 has
        // no red zone, and the asm is not `nostack`), and every other
        // register is declared clobbered because the parent runs before we
        // continue.
        unsafe {
            asm!(
                "push rbp",
                "push rbx",
                "lea rax, [rip + 2f]",
                "push rax",
                "jmp {suspend}",
                "2:",
                "pop rbx",
                "pop rbp",
                suspend = sym spindle_fiber_suspend,
                inlateout("rcx") msg => back,
                in("r8") control,
                lateout("r12") _,
                lateout("r13") _,
                lateout("r14") _,
                lateout("r15") _,
                clobber_abi("sysv64"),
            );
        }
        back
    }
}
