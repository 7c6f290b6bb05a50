//! Naming and declaring the assembly symbols, shared by every architecture.
//!
//! `asm_name!("resume")` is `spindle_fiber_<version>_resume`, the name used in
//! `#[link_name]`; `asm_begin!`/`asm_end!` open and close a routine with the
//! object format's directives: ELF `.globl` + `.hidden` + `.type` + `.size`,
//! Mach-O `_` prefix + `.globl` + `.private_extern`, COFF `.globl` + `.def`
//! (storage class external, type function) and no export. COFF has no
//! visibility: a symbol leaves its DLL or EXE only if it is exported, through
//! a `dllexport` (`.drectve -export:`) or the linker's export list, and rustc
//! always hands the linker an explicit list (which turns MinGW's
//! export-everything default off), so "hidden" here means "global in the
//! objects, never dllexported". x86_64 COFF names have no leading `_`.

// Targets without an assembly backend (ucontext only) use none of them.
#![allow(unused_macros)]

macro_rules! asm_name {
    ($name:literal) => {
        concat!(
            "spindle_fiber_",
            env!("SPINDLE_FIBER_SYMBOL_VERSION"),
            "_",
            $name
        )
    };
}

/// ELF's symbol type for a function in `.type`: `@function`, except on
/// 32-bit Arm, whose assembler reads `@` as the start of a comment and
/// spells it `%function`.
#[cfg(not(target_arch = "arm"))]
macro_rules! elf_function_type {
    () => {
        "@function"
    };
}
#[cfg(target_arch = "arm")]
macro_rules! elf_function_type {
    () => {
        "%function"
    };
}

/// Declares a global, hidden, function-typed symbol and opens its CFI.
#[cfg(all(
    not(target_vendor = "apple"),
    not(windows),
    not(feature = "negative-control-unexported")
))]
macro_rules! asm_begin {
    ($name:literal) => {
        concat!(
            ".p2align 4\n",
            ".globl ",
            asm_name!($name),
            "\n",
            ".hidden ",
            asm_name!($name),
            "\n",
            ".type ",
            asm_name!($name),
            ", ",
            elf_function_type!(),
            "\n",
            asm_name!($name),
            ":\n",
        )
    };
}
/// The LTO harness's negative control: the same routine as a local symbol.
/// Never enable this feature outside `spindle-tests`.
#[cfg(all(
    not(target_vendor = "apple"),
    not(windows),
    feature = "negative-control-unexported"
))]
macro_rules! asm_begin {
    ($name:literal) => {
        concat!(
            ".p2align 4\n",
            ".type ",
            asm_name!($name),
            ", ",
            elf_function_type!(),
            "\n",
            asm_name!($name),
            ":\n",
        )
    };
}
#[cfg(not(any(target_vendor = "apple", windows)))]
macro_rules! asm_end {
    ($name:literal) => {
        concat!(".size ", asm_name!($name), ", . - ", asm_name!($name), "\n")
    };
}
#[cfg(target_vendor = "apple")]
macro_rules! asm_begin {
    ($name:literal) => {
        concat!(
            ".p2align 4\n",
            ".globl _",
            asm_name!($name),
            "\n",
            ".private_extern _",
            asm_name!($name),
            "\n",
            "_",
            asm_name!($name),
            ":\n",
        )
    };
}
#[cfg(any(target_vendor = "apple", windows))]
#[cfg_attr(all(windows, not(target_arch = "x86_64")), allow(unused_macros))]
macro_rules! asm_end {
    ($name:literal) => {
        ""
    };
}

/// COFF: `.scl 2` is storage class external (global), `.type 32` a
/// function; nothing marks it for export.
#[cfg(all(windows, not(feature = "negative-control-unexported")))]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_macros))]
macro_rules! asm_begin {
    ($name:literal) => {
        concat!(
            ".p2align 4\n",
            ".globl ",
            asm_name!($name),
            "\n",
            ".def ",
            asm_name!($name),
            "\n.scl 2\n.type 32\n.endef\n",
            asm_name!($name),
            ":\n",
        )
    };
}
/// The negative control on COFF: storage class static (`.scl 3`), no
/// `.globl`.
#[cfg(all(windows, feature = "negative-control-unexported"))]
macro_rules! asm_begin {
    ($name:literal) => {
        concat!(
            ".p2align 4\n",
            ".def ",
            asm_name!($name),
            "\n.scl 3\n.type 32\n.endef\n",
            asm_name!($name),
            ":\n",
        )
    };
}

cfg_if::cfg_if! {
    if #[cfg(spindle_asm)] {
        // The routines every assembly backend defines (contracts above each
        // routine in its architecture's module). Custom conventions: never
        // called as Rust functions, only named by `sym` operands of inline
        // asm and taken by address, which are ordinary IR-level references
        // that LTO sees.
        unsafe extern "C" {
            #[link_name = asm_name!("resume")]
            pub(super) fn spindle_fiber_resume();
            #[link_name = asm_name!("suspend")]
            pub(super) fn spindle_fiber_suspend();
            #[link_name = asm_name!("trampoline")]
            pub(super) fn spindle_fiber_trampoline();
        }

        /// Keeps all three routines in the rlib's symbol table whatever LTO
        /// and the linker's dead-stripping do: a `#[used]` static is an
        /// unconditional reference from a data section that both LLVM and
        /// the linker must honour.
        #[used]
        static KEEP_SWITCH_SYMBOLS: [unsafe extern "C" fn(); 3] = [
            spindle_fiber_resume,
            spindle_fiber_suspend,
            spindle_fiber_trampoline,
        ];

        /// Names of the routines, without any platform prefix.
        pub(crate) const SYMBOLS: [&str; 3] =
            [asm_name!("resume"), asm_name!("suspend"), asm_name!("trampoline")];
    }
}
