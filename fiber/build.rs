//! Derives the version tag that every assembly symbol of this crate carries.
//!
//! Two semver-incompatible copies of `spindle-fiber` may end up in one binary
//! (a dependency pins an older one). Their switch routines have different
//! contracts, so their symbols must never resolve to each other: the crate
//! version is baked into each name, with everything that is not an ASCII
//! letter or digit turned into `_` (so `0.1.0-rc.1` becomes `0_1_0_rc_1`).

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let tag: String = version
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    println!("cargo:rustc-env=SPINDLE_FIBER_SYMBOL_VERSION={tag}");

    // `spindle_ucontext`: the portable backend exists on this target, i.e.
    // glibc on an architecture whose `ucontext_t` layout the crate knows
    // (src/backend/ucontext/sys.rs; checked against the target's headers
    // by tests/ucontext-layout). One definition, so the library and its
    // tests cannot disagree about it.
    println!("cargo:rustc-check-cfg=cfg(spindle_ucontext)");
    let cfg = |key: &str| std::env::var(key).unwrap_or_default();
    // Under Miri (`cargo miri` sets `cfg(miri)` for the target, which cargo
    // passes on as CARGO_CFG_MIRI) there is neither assembly nor ucontext:
    // Miri can run neither, and its own backend (src/backend/miri_threads.rs)
    // is the only one. None of the cfgs below is set then.
    let miri = std::env::var_os("CARGO_CFG_MIRI").is_some();
    let known_layout = [
        "x86_64",
        "x86",
        "aarch64",
        "powerpc64",
        "s390x",
        "riscv64",
        "arm",
    ];
    if !miri
        && cfg("CARGO_CFG_TARGET_OS") == "linux"
        && cfg("CARGO_CFG_TARGET_ENV") == "gnu"
        && known_layout.contains(&cfg("CARGO_CFG_TARGET_ARCH").as_str())
    {
        println!("cargo:rustc-cfg=spindle_ucontext");
    }

    // `spindle_asm`: Spindle has its own assembly switch for this target
    // (src/backend/<arch>.rs, chosen in src/backend/mod.rs). One name for
    // the list the library's exports and the tests both depend on.
    println!("cargo:rustc-check-cfg=cfg(spindle_asm)");
    let arch = cfg("CARGO_CFG_TARGET_ARCH");
    let unix = cfg("CARGO_CFG_TARGET_FAMILY")
        .split(',')
        .any(|family| family == "unix");
    let windows = cfg("CARGO_CFG_TARGET_OS") == "windows";
    let linux = cfg("CARGO_CFG_TARGET_OS") == "linux";
    // 32-bit Arm: ARMv7-A with hard float, in A32 (`armv7-*`) or Thumb-2
    // (`thumbv7*`) code. Stable Rust exposes no Arm target features to
    // cfg, so the target name says which; ARMv6 and soft-float targets keep
    // ucontext (src/backend/arm.rs says why).
    let target = std::env::var("TARGET").unwrap_or_default();
    let thumb = target.starts_with("thumbv7");
    let armv7_hard_float = arch == "arm"
        && (target.starts_with("armv7") || thumb)
        && cfg("CARGO_CFG_TARGET_ABI") == "eabihf";
    if !miri
        && ((unix && ["x86_64", "aarch64", "riscv64"].contains(&arch.as_str()))
            || (linux && ["s390x", "x86", "loongarch64"].contains(&arch.as_str()))
            || (linux && armv7_hard_float)
            || (linux && arch == "powerpc64" && cfg("CARGO_CFG_TARGET_ENDIAN") == "little")
            || (windows && arch == "x86_64"))
    {
        println!("cargo:rustc-cfg=spindle_asm");
    }
    // `spindle_arm_thumb`: the Arm switch is assembled as Thumb-2.
    println!("cargo:rustc-check-cfg=cfg(spindle_arm_thumb)");
    if armv7_hard_float && thumb {
        println!("cargo:rustc-cfg=spindle_arm_thumb");
    }

    // `spindle_asan`: built with AddressSanitizer (`-Zsanitizer=address`)
    // on a unix target, so every switch is announced to it (src/asan.rs).
    // `cfg(sanitize = "address")` would say so too, but naming it needs a
    // nightly feature gate; cargo passes the target's sanitizers in
    // CARGO_CFG_SANITIZE on any toolchain, and stable builds never see the
    // cfg. Unix only: untested on Windows, where the Win32 Fibers backend
    // runs on stacks the OS allocates, not on the ones Fiber knows.
    println!("cargo:rustc-check-cfg=cfg(spindle_asan)");
    if unix
        && !miri
        && cfg("CARGO_CFG_SANITIZE")
            .split(',')
            .any(|sanitizer| sanitizer == "address")
    {
        println!("cargo:rustc-cfg=spindle_asan");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
