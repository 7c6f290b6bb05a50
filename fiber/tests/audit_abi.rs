//! AUDIT: callee-saved registers (and sp) across resume/suspend, checked at
//! the machine level by an assembly helper that loads known values into every
//! callee-saved register, calls a Rust callback that switches stacks, and
//! compares afterwards. Both directions: the parent around `resume`, and the
//! fiber around `suspend`, while the other side runs register-heavy code.
//!
//! From the audit of issue 18 (found nothing at 9b1ab03); kept so the ABI
//! claims stay tested on both backends, natively and under qemu on every
//! other architecture with a helper below: aarch64, s390x, x86 (i686),
//! arm (armv7 hard-float), powerpc64le and loongarch64.
//!
//! Each helper returns a mask with one bit per register (or state) that
//! came back different, in the order it loads them; the seed is folded to
//! a machine word, so parent and fiber checks load different values on
//! 32-bit targets too.
// Not under Miri, which runs no assembly (tests/miri_only.rs says so).
#![cfg(all(
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "s390x",
        target_arch = "x86",
        target_arch = "arm",
        target_arch = "powerpc64",
        target_arch = "loongarch64"
    ),
    target_os = "linux",
    not(miri)
))]

use core::arch::global_asm;
use spindle_fiber::{Backend, Fiber, Stack, Suspender};
use std::hint::black_box;

#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl audit_check_callee",
    "audit_check_callee:", // rdi = cb, rsi = arg, rdx = seed; returns mismatch mask
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 24",
    "mov [rsp], rdx",
    "mov [rsp + 8], rsp",
    "mov rax, rdi",
    "mov rdi, rsi",
    "lea rbx, [rdx + 1]",
    "lea rbp, [rdx + 2]",
    "lea r12, [rdx + 3]",
    "lea r13, [rdx + 4]",
    "lea r14, [rdx + 5]",
    "lea r15, [rdx + 6]",
    "call rax",
    "mov rdx, [rsp]",
    "xor eax, eax",
    "lea rcx, [rdx + 1]",
    "cmp rbx, rcx",
    "setne cl",
    "movzx ecx, cl",
    "or eax, ecx",
    "lea rcx, [rdx + 2]",
    "cmp rbp, rcx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 1",
    "or eax, ecx",
    "lea rcx, [rdx + 3]",
    "cmp r12, rcx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 2",
    "or eax, ecx",
    "lea rcx, [rdx + 4]",
    "cmp r13, rcx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 3",
    "or eax, ecx",
    "lea rcx, [rdx + 5]",
    "cmp r14, rcx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 4",
    "or eax, ecx",
    "lea rcx, [rdx + 6]",
    "cmp r15, rcx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 5",
    "or eax, ecx",
    "cmp rsp, [rsp + 8]",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 6",
    "or eax, ecx",
    // direction flag must be clear
    "pushfq",
    "pop rcx",
    "shr ecx, 10",
    "and ecx, 1",
    "shl ecx, 7",
    "or eax, ecx",
    "add rsp, 24",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
);

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".globl audit_check_callee",
    "audit_check_callee:", // x0 = cb, x1 = arg, x2 = seed; returns mismatch mask
    "stp x29, x30, [sp, #-192]!",
    "stp x19, x20, [sp, #16]",
    "stp x21, x22, [sp, #32]",
    "stp x23, x24, [sp, #48]",
    "stp x25, x26, [sp, #64]",
    "stp x27, x28, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "mov x9, sp",
    "stp x2, x9, [sp, #160]",
    "mov x16, x0",
    "mov x0, x1",
    "add x19, x2, #1",
    "add x20, x2, #2",
    "add x21, x2, #3",
    "add x22, x2, #4",
    "add x23, x2, #5",
    "add x24, x2, #6",
    "add x25, x2, #7",
    "add x26, x2, #8",
    "add x27, x2, #9",
    "add x28, x2, #10",
    "add x29, x2, #11",
    "add x9, x2, #12",
    "fmov d8, x9",
    "add x9, x2, #13",
    "fmov d9, x9",
    "add x9, x2, #14",
    "fmov d10, x9",
    "add x9, x2, #15",
    "fmov d11, x9",
    "add x9, x2, #16",
    "fmov d12, x9",
    "add x9, x2, #17",
    "fmov d13, x9",
    "add x9, x2, #18",
    "fmov d14, x9",
    "add x9, x2, #19",
    "fmov d15, x9",
    "blr x16",
    "ldp x2, x9, [sp, #160]",
    "mov x0, #0",
    "mov x10, sp",
    "cmp x10, x9",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #31",
    "add x10, x2, #1",
    "cmp x19, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #1",
    "add x10, x2, #2",
    "cmp x20, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #2",
    "add x10, x2, #3",
    "cmp x21, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #3",
    "add x10, x2, #4",
    "cmp x22, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #4",
    "add x10, x2, #5",
    "cmp x23, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #5",
    "add x10, x2, #6",
    "cmp x24, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #6",
    "add x10, x2, #7",
    "cmp x25, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #7",
    "add x10, x2, #8",
    "cmp x26, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #8",
    "add x10, x2, #9",
    "cmp x27, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #9",
    "add x10, x2, #10",
    "cmp x28, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #10",
    "add x10, x2, #11",
    "cmp x29, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #11",
    "add x10, x2, #12",
    "fmov x12, d8",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #12",
    "add x10, x2, #13",
    "fmov x12, d9",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #13",
    "add x10, x2, #14",
    "fmov x12, d10",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #14",
    "add x10, x2, #15",
    "fmov x12, d11",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #15",
    "add x10, x2, #16",
    "fmov x12, d12",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #16",
    "add x10, x2, #17",
    "fmov x12, d13",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #17",
    "add x10, x2, #18",
    "fmov x12, d14",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #18",
    "add x10, x2, #19",
    "fmov x12, d15",
    "cmp x12, x10",
    "cset x11, ne",
    "orr x0, x0, x11, lsl #19",
    "ldp x19, x20, [sp, #16]",
    "ldp x21, x22, [sp, #32]",
    "ldp x23, x24, [sp, #48]",
    "ldp x25, x26, [sp, #64]",
    "ldp x27, x28, [sp, #80]",
    "ldp d8, d9, [sp, #96]",
    "ldp d10, d11, [sp, #112]",
    "ldp d12, d13, [sp, #128]",
    "ldp d14, d15, [sp, #144]",
    "ldp x29, x30, [sp], #192",
    "ret",
);

#[cfg(target_arch = "s390x")]
global_asm!(
    ".globl audit_check_callee",
    "audit_check_callee:", // r2 = cb, r3 = arg, r4 = seed; returns mismatch mask,
    "stmg %r6, %r15, 48(%r15)",
    "aghi %r15, -240",
    "std %f8, 160(%r15)",
    "std %f9, 168(%r15)",
    "std %f10, 176(%r15)",
    "std %f11, 184(%r15)",
    "std %f12, 192(%r15)",
    "std %f13, 200(%r15)",
    "std %f14, 208(%r15)",
    "std %f15, 216(%r15)",
    "stg %r4, 224(%r15)",
    "stg %r15, 232(%r15)",
    "lgr %r1, %r2",
    "lgr %r2, %r3",
    "la %r6, 1(%r4)",
    "la %r7, 2(%r4)",
    "la %r8, 3(%r4)",
    "la %r9, 4(%r4)",
    "la %r10, 5(%r4)",
    "la %r11, 6(%r4)",
    "la %r12, 7(%r4)",
    "la %r13, 8(%r4)",
    "la %r0, 9(%r4)",
    "ldgr %f8, %r0",
    "la %r0, 10(%r4)",
    "ldgr %f9, %r0",
    "la %r0, 11(%r4)",
    "ldgr %f10, %r0",
    "la %r0, 12(%r4)",
    "ldgr %f11, %r0",
    "la %r0, 13(%r4)",
    "ldgr %f12, %r0",
    "la %r0, 14(%r4)",
    "ldgr %f13, %r0",
    "la %r0, 15(%r4)",
    "ldgr %f14, %r0",
    "la %r0, 16(%r4)",
    "ldgr %f15, %r0",
    "basr %r14, %r1",
    "lg %r4, 224(%r15)",
    "lghi %r2, 0",
    "la %r5, 1(%r4)",
    "cgr %r6, %r5",
    "je 1f",
    "oilf %r2, 1",
    "1:",
    "la %r5, 2(%r4)",
    "cgr %r7, %r5",
    "je 1f",
    "oilf %r2, 2",
    "1:",
    "la %r5, 3(%r4)",
    "cgr %r8, %r5",
    "je 1f",
    "oilf %r2, 4",
    "1:",
    "la %r5, 4(%r4)",
    "cgr %r9, %r5",
    "je 1f",
    "oilf %r2, 8",
    "1:",
    "la %r5, 5(%r4)",
    "cgr %r10, %r5",
    "je 1f",
    "oilf %r2, 16",
    "1:",
    "la %r5, 6(%r4)",
    "cgr %r11, %r5",
    "je 1f",
    "oilf %r2, 32",
    "1:",
    "la %r5, 7(%r4)",
    "cgr %r12, %r5",
    "je 1f",
    "oilf %r2, 64",
    "1:",
    "la %r5, 8(%r4)",
    "cgr %r13, %r5",
    "je 1f",
    "oilf %r2, 128",
    "1:",
    "la %r5, 9(%r4)",
    "lgdr %r3, %f8",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 256",
    "1:",
    "la %r5, 10(%r4)",
    "lgdr %r3, %f9",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 512",
    "1:",
    "la %r5, 11(%r4)",
    "lgdr %r3, %f10",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 1024",
    "1:",
    "la %r5, 12(%r4)",
    "lgdr %r3, %f11",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 2048",
    "1:",
    "la %r5, 13(%r4)",
    "lgdr %r3, %f12",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 4096",
    "1:",
    "la %r5, 14(%r4)",
    "lgdr %r3, %f13",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 8192",
    "1:",
    "la %r5, 15(%r4)",
    "lgdr %r3, %f14",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 16384",
    "1:",
    "la %r5, 16(%r4)",
    "lgdr %r3, %f15",
    "cgr %r3, %r5",
    "je 1f",
    "oilf %r2, 32768",
    "1:",
    "cg %r15, 232(%r15)",
    "je 1f",
    "oilf %r2, 65536",
    "1:",
    "ld %f8, 160(%r15)",
    "ld %f9, 168(%r15)",
    "ld %f10, 176(%r15)",
    "ld %f11, 184(%r15)",
    "ld %f12, 192(%r15)",
    "ld %f13, 200(%r15)",
    "ld %f14, 208(%r15)",
    "ld %f15, 216(%r15)",
    "lmg %r6, %r15, 288(%r15)",
    "br %r14",
);

#[cfg(target_arch = "x86")]
global_asm!(
    ".globl audit_check_callee",
    // cdecl: [esp+4] = cb, [esp+8] = arg, [esp+12] = seed; returns the mask
    "audit_check_callee:",
    "push ebp",
    "push ebx",
    "push esi",
    "push edi",
    // 16 + 28 bytes below the entry esp (which is 12 mod 16): esp is
    // 16-aligned at the call below, as the ABI requires.
    "sub esp, 28",
    "mov ecx, [esp + 48]",
    "mov edx, [esp + 52]",
    "mov eax, [esp + 56]",
    "mov [esp + 16], eax",
    "mov [esp + 20], esp",
    "mov [esp], edx",
    "lea ebx, [eax + 1]",
    "lea esi, [eax + 2]",
    "lea edi, [eax + 3]",
    "lea ebp, [eax + 4]",
    "call ecx",
    "mov edx, [esp + 16]",
    "xor eax, eax",
    "lea ecx, [edx + 1]",
    "cmp ebx, ecx",
    "setne cl",
    "movzx ecx, cl",
    "or eax, ecx",
    "lea ecx, [edx + 2]",
    "cmp esi, ecx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 1",
    "or eax, ecx",
    "lea ecx, [edx + 3]",
    "cmp edi, ecx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 2",
    "or eax, ecx",
    "lea ecx, [edx + 4]",
    "cmp ebp, ecx",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 3",
    "or eax, ecx",
    "cmp esp, [esp + 20]",
    "setne cl",
    "movzx ecx, cl",
    "shl ecx, 4",
    "or eax, ecx",
    // direction flag must be clear
    "pushfd",
    "pop ecx",
    "shr ecx, 10",
    "and ecx, 1",
    "shl ecx, 5",
    "or eax, ecx",
    "add esp, 28",
    "pop edi",
    "pop esi",
    "pop ebx",
    "pop ebp",
    "ret",
);

/// The helpers' instruction set: the target's (Thumb-2 on `thumbv7*`,
/// where `.thumb_func` gives the symbols the Thumb bit).
#[cfg(all(target_arch = "arm", spindle_arm_thumb))]
macro_rules! arm_code {
    () => {
        ".thumb\n.thumb_func"
    };
}
#[cfg(all(target_arch = "arm", not(spindle_arm_thumb)))]
macro_rules! arm_code {
    () => {
        ".arm"
    };
}

#[cfg(target_arch = "arm")]
global_asm!(
    arm_code!(),
    ".globl audit_check_callee",
    ".type audit_check_callee, %function",
    "audit_check_callee:", // r0 = cb, r1 = arg, r2 = seed; returns mismatch mask,
    "push {{r4-r11, lr}}",
    "vpush {{d8-d15}}",
    // 36 + 64 + 12 bytes: sp stays 8-aligned at the call
    "sub sp, sp, #12",
    "str r2, [sp]",
    "mov r3, sp",
    "str r3, [sp, #4]",
    "mov r12, r0",
    "mov r0, r1",
    "add r4, r2, #1",
    "add r5, r2, #2",
    "add r6, r2, #3",
    "add r7, r2, #4",
    "add r8, r2, #5",
    "add r9, r2, #6",
    "add r10, r2, #7",
    "add r11, r2, #8",
    "add r3, r2, #9",
    "vmov d8, r3, r3",
    "add r3, r2, #10",
    "vmov d9, r3, r3",
    "add r3, r2, #11",
    "vmov d10, r3, r3",
    "add r3, r2, #12",
    "vmov d11, r3, r3",
    "add r3, r2, #13",
    "vmov d12, r3, r3",
    "add r3, r2, #14",
    "vmov d13, r3, r3",
    "add r3, r2, #15",
    "vmov d14, r3, r3",
    "add r3, r2, #16",
    "vmov d15, r3, r3",
    "blx r12",
    "ldr r2, [sp]",
    "mov r0, #0",
    // bit = (x | -x) >> 31: 1 when x (expected ^ actual) is not zero
    "add r3, r2, #1",
    "eor r3, r3, r4",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #0",
    "add r3, r2, #2",
    "eor r3, r3, r5",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #1",
    "add r3, r2, #3",
    "eor r3, r3, r6",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #2",
    "add r3, r2, #4",
    "eor r3, r3, r7",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #3",
    "add r3, r2, #5",
    "eor r3, r3, r8",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #4",
    "add r3, r2, #6",
    "eor r3, r3, r9",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #5",
    "add r3, r2, #7",
    "eor r3, r3, r10",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #6",
    "add r3, r2, #8",
    "eor r3, r3, r11",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #7",
    "vmov r3, r1, d8",
    "add r12, r2, #9",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #8",
    "vmov r3, r1, d9",
    "add r12, r2, #10",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #9",
    "vmov r3, r1, d10",
    "add r12, r2, #11",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #10",
    "vmov r3, r1, d11",
    "add r12, r2, #12",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #11",
    "vmov r3, r1, d12",
    "add r12, r2, #13",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #12",
    "vmov r3, r1, d13",
    "add r12, r2, #14",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #13",
    "vmov r3, r1, d14",
    "add r12, r2, #15",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #14",
    "vmov r3, r1, d15",
    "add r12, r2, #16",
    "eor r3, r3, r12",
    "eor r1, r1, r12",
    "orr r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #15",
    "mov r3, sp",
    "ldr r1, [sp, #4]",
    "eor r3, r3, r1",
    "rsb r1, r3, #0",
    "orr r3, r3, r1",
    "lsr r3, r3, #31",
    "orr r0, r0, r3, lsl #16",
    "add sp, sp, #12",
    "vpop {{d8-d15}}",
    "pop {{r4-r11, pc}}",
);

unsafe extern "C" {
    fn audit_check_callee(cb: extern "C" fn(*mut u8), arg: *mut u8, seed: usize) -> usize;
}

/// The seed as a machine word: on 32-bit targets the high half is folded
/// in, so that distinct seeds stay distinct.
fn word(seed: u64) -> usize {
    (seed ^ (seed >> 32)) as usize
}

/// Register pressure on the other side: many live integer and FP values.
#[inline(never)]
fn churn(seed: u64) -> u64 {
    let mut a: [u64; 24] = core::array::from_fn(|i| seed.wrapping_mul(i as u64 + 7));
    let mut f: [f64; 24] = core::array::from_fn(|i| seed as f64 * (i as f64 + 0.5));
    for r in 0..50 {
        for i in 0..24 {
            a[i] = a[i].rotate_left(7) ^ a[(i + 5) % 24].wrapping_add(r);
            f[i] = f[i] * 1.0000001 + f[(i + 7) % 24] * 0.25;
        }
    }
    black_box(
        a.iter().fold(0u64, |s, &x| s.wrapping_add(x))
            ^ f.iter().fold(0u64, |s, x| s.wrapping_add(x.to_bits())),
    )
}

fn run<B: Backend>() {
    type Susp<B> = Suspender<u64, u64, B>;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static FIBER_MASKS: [AtomicUsize; 2] = [const { AtomicUsize::new(usize::MAX) }; 2];

    extern "C" fn do_suspend<B: Backend>(arg: *mut u8) {
        // SAFETY: `arg` is the fiber's own suspender, passed through the
        // helper by the fiber below, alive for the whole call.
        let s = unsafe { &*(arg as *const Susp<B>) };
        let got = s.suspend(churn(3));
        assert_eq!(got, 41);
    }
    extern "C" fn do_resume<B: Backend>(arg: *mut u8) {
        // SAFETY: `arg` is `cell` below, exclusively ours for the call.
        let (fiber, input) =
            unsafe { &mut *(arg as *mut (Fiber<'static, u64, u64, u64, Stack, B>, u64)) };
        black_box(churn(*input));
        let _ = black_box(fiber.resume(*input));
        black_box(churn(*input + 1));
    }

    // Named in full: `do_resume` reads the cell back as this type, so a
    // return type inferred differently (an `i32` from the literal below)
    // would be read as the wrong parcel (ASan caught exactly that: 8 bytes
    // read from a 4-byte return value).
    let fiber: Fiber<'static, u64, u64, u64, Stack, B> =
        Fiber::with_stack(Stack::new(256 * 1024).unwrap(), |_: u64, s: &Susp<B>| {
            // Fiber side: callee-saved registers around a suspend.
            // SAFETY: the helper saves and restores every callee-saved register
            // itself and calls `do_suspend` with the argument given.
            let m1 = unsafe {
                audit_check_callee(
                    do_suspend::<B>,
                    s as *const Susp<B> as *mut u8,
                    word(0x5100_0000_0000_0000),
                )
            };
            black_box(churn(5));
            let mut again: [f64; 16] = core::array::from_fn(|i| i as f64 * 1.5);
            let got = s.suspend(churn(4));
            assert_eq!(got, 41);
            for (i, x) in again.iter_mut().enumerate() {
                assert_eq!(*x, i as f64 * 1.5);
                *x += 1.0;
            }
            black_box(&again);
            // SAFETY: as for m1.
            let m2 = unsafe {
                audit_check_callee(
                    do_suspend::<B>,
                    s as *const Susp<B> as *mut u8,
                    word(0x5200_0000_0000_0000),
                )
            };
            FIBER_MASKS[0].store(m1, Ordering::Relaxed);
            FIBER_MASKS[1].store(m2, Ordering::Relaxed);
            7
        })
        .unwrap();
    let mut cell = (fiber, 41u64);
    let arg = &mut cell as *mut _ as *mut u8;
    let mut parent_masks = vec![];
    for k in 0..4u64 {
        // SAFETY: as above; `do_resume` gets `cell`.
        parent_masks.push(unsafe {
            audit_check_callee(do_resume::<B>, arg, word(0x7000_0000_0000_0000 + (k << 40)))
        });
    }
    let fiber_masks = [
        FIBER_MASKS[0].load(Ordering::Relaxed),
        FIBER_MASKS[1].load(Ordering::Relaxed),
    ];
    println!(
        "{:?}: parent masks {parent_masks:x?} fiber masks {fiber_masks:x?} finished={}",
        B::KIND,
        cell.0.is_finished()
    );
    assert!(cell.0.is_finished());
    assert!(
        parent_masks.iter().all(|&m| m == 0),
        "parent registers corrupted: {parent_masks:x?}"
    );
    assert_eq!(fiber_masks, [0, 0], "fiber registers corrupted");
}

#[test]
fn callee_saved_registers_asm() {
    run::<spindle_fiber::Asm>();
}

#[cfg(target_env = "gnu")]
#[test]
fn callee_saved_registers_ucontext() {
    run::<spindle_fiber::Ucontext>();
}

// Sanity: the helper really detects a clobber (negative control): a
// callback that breaks the ABI on purpose.
#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl audit_bad_cb",
    "audit_bad_cb:",
    "xor r12d, r12d",
    "ret"
);
#[cfg(target_arch = "aarch64")]
global_asm!(
    ".globl audit_bad_cb",
    "audit_bad_cb:",
    "mov x20, #0",
    "fmov d9, xzr",
    "ret"
);
#[cfg(target_arch = "s390x")]
global_asm!(
    ".globl audit_bad_cb",
    "audit_bad_cb:",
    "lghi %r7, 0",
    "lzdr %f9",
    "br %r14"
);
#[cfg(target_arch = "x86")]
global_asm!(
    ".globl audit_bad_cb",
    "audit_bad_cb:",
    "xor edi, edi",
    "ret"
);
#[cfg(target_arch = "arm")]
global_asm!(
    arm_code!(),
    ".globl audit_bad_cb",
    ".type audit_bad_cb, %function",
    "audit_bad_cb:",
    "mov r5, #0",
    "mov r3, #0",
    "vmov d9, r3, r3",
    "bx lr"
);
unsafe extern "C" {
    safe fn audit_bad_cb(_: *mut u8);
}

#[test]
fn helper_detects_clobber() {
    // SAFETY: the helper restores every callee-saved register before it
    // returns, whatever the callback did to them.
    let m = unsafe { audit_check_callee(audit_bad_cb, core::ptr::null_mut(), word(0x1000)) };
    println!("negative control mask {m:#x}");
    assert_ne!(m, 0);
}
