//! AArch64 (AAPCS64) stack switch, one source for Linux (ELF) and Apple
//! (Mach-O).
//!
//! The design is the x86_64 one (see `x86_64.rs` for the reasoning), moved to
//! AArch64's return predictor: `bl` pushes a return-stack entry and `ret`
//! pops one, `br` touches neither. So:
//!
//! * the parent enters `resume` with `bl` (an ordinary `extern "C"` call);
//! * `resume` enters the fiber with `br x16`;
//! * the fiber leaves with inline asm that stores its continuation address
//!   (`adr`) and branches with a plain `b` to `suspend`;
//! * `suspend` restores the parent and `ret`s to the address `bl` left in the
//!   parent's saved lr: one `bl`, one `ret` per round trip.
//!
//! # Registers
//!
//! Callee-saved by AAPCS64: x19–x28, x29 (fp), x30 (lr, as the return
//! address), sp and the low halves of v8–v15 (d8–d15). `resume` saves all of
//! them for the parent and `suspend` restores them. On the fiber side the
//! inline asm declares x20–x28, v8–v15 and everything caller-saved clobbered
//! (the compiler saves only what is live) and saves x19 (LLVM's base pointer,
//! which asm may not declare) and x29 itself. x18 is the platform register on
//! Apple (and reserved on Windows): no routine here ever touches it.
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
//!   X - 16   x19, x20
//!   X - 32   x21, x22
//!   X - 48   x23, x24
//!   X - 64   x25, x26
//!   X - 80   x27, x28
//!   X - 96   d8,  d9
//!   X - 112  d10, d11
//!   X - 128  d12, d13
//!   X - 144  d14, d15                   <── parent sp
//! ```

use core::arch::{asm, global_asm};

use super::{Backend, BackendKind, EntryFn, Sealed};

/// Spindle's hand-written AArch64 switch.
#[derive(Debug)]
pub enum Asm {}

impl Sealed for Asm {}

// resume(msg: x0, fiber_sp: x1, link: x2) -> (msg: x0, fiber_sp: x1)
//
// Called with `bl` as an ordinary C function returning a two-word struct in
// x0:x1. Saves the parent's callee-saved registers (layout above), stores X
// in the link slot, switches to the fiber stack (popping the 16-byte
// continuation slot) and branches to the continuation. x0 (message) and x2
// (link) reach the fiber unchanged.
global_asm!(
    ".text",
    asm_begin!("resume"),
    ".cfi_startproc",
    "sub sp, sp, #160",
    ".cfi_def_cfa_offset 160",
    "stp x29, x30, [sp, #144]",
    "stp x19, x20, [sp, #128]",
    "stp x21, x22, [sp, #112]",
    "stp x23, x24, [sp, #96]",
    "stp x25, x26, [sp, #80]",
    "stp x27, x28, [sp, #64]",
    "stp d8, d9, [sp, #48]",
    "stp d10, d11, [sp, #32]",
    "stp d12, d13, [sp, #16]",
    "stp d14, d15, [sp, #0]",
    ".cfi_offset x29, -16",
    ".cfi_offset x30, -8",
    ".cfi_offset x19, -32",
    ".cfi_offset x20, -24",
    "add x9, sp, #144",
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
// parent's callee-saved registers and `ret`s through the restored lr: the
// return address of the parent's `bl resume`.
global_asm!(
    ".text",
    asm_begin!("suspend"),
    ".cfi_startproc",
    ".cfi_undefined x30",
    "mov x9, sp",
    "ldr x10, [x1]",
    "ldp x19, x20, [x10, #-16]",
    "ldp x21, x22, [x10, #-32]",
    "ldp x23, x24, [x10, #-48]",
    "ldp x25, x26, [x10, #-64]",
    "ldp x27, x28, [x10, #-80]",
    "ldp d8, d9, [x10, #-96]",
    "ldp d10, d11, [x10, #-112]",
    "ldp d12, d13, [x10, #-128]",
    "ldp d14, d15, [x10, #-144]",
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
// parent's registers sit below it as `resume` stored them. Marked as a signal
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
    ".cfi_offset x20, -24",
    ".cfi_offset x21, -48",
    ".cfi_offset x22, -40",
    ".cfi_offset x23, -64",
    ".cfi_offset x24, -56",
    ".cfi_offset x25, -80",
    ".cfi_offset x26, -72",
    ".cfi_offset x27, -96",
    ".cfi_offset x28, -88",
    ".cfi_offset d8, -112",
    ".cfi_offset d9, -104",
    ".cfi_offset d10, -128",
    ".cfi_offset d11, -120",
    ".cfi_offset d12, -144",
    ".cfi_offset d13, -136",
    ".cfi_offset d14, -160",
    ".cfi_offset d15, -152",
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

/// What `resume` hands back in x0:x1.
#[repr(C)]
struct Switched {
    msg: *mut u8,
    fiber_sp: *mut u8,
}

unsafe extern "C" {
    #[link_name = asm_name!("resume")]
    fn spindle_fiber_resume(msg: *mut u8, fiber_sp: *mut u8, link: *mut u8) -> Switched;
    // Custom conventions: never called from Rust, only named by `sym`.
    #[link_name = asm_name!("suspend")]
    fn spindle_fiber_suspend();
    #[link_name = asm_name!("trampoline")]
    fn spindle_fiber_trampoline();
}

/// Keeps all three routines in the rlib's symbol table whatever LTO and the
/// linker's dead-stripping do.
#[used]
static KEEP_SWITCH_SYMBOLS: (
    unsafe extern "C" fn(*mut u8, *mut u8, *mut u8) -> Switched,
    unsafe extern "C" fn(),
    unsafe extern "C" fn(),
) = (
    spindle_fiber_resume,
    spindle_fiber_suspend,
    spindle_fiber_trampoline,
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
        // SAFETY: `*handle` is the fiber's saved sp with a continuation slot
        // on top and `control` its link slot; `resume` preserves every
        // callee-saved register as the C ABI requires.
        let switched = unsafe { spindle_fiber_resume(msg, *handle, control) };
        *handle = switched.fiber_sp;
        switched.msg
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

/// Names of the symbols this backend defines, without any platform prefix.
pub(crate) const SYMBOLS: [&str; 3] = [
    asm_name!("resume"),
    asm_name!("suspend"),
    asm_name!("trampoline"),
];
