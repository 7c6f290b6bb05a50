//! wasmtime's async on Spindle's fibers on the targets that got assembly
//! switches: `tests/async-probe` (wasmtime 48.0.8, runtime + async, the
//! drop-in patched in as an application does) built for each target and
//! run under its qemu (i686 natively, see `Target::qemu_linux`). The probe
//! makes 200 `call_async` calls of an async host function that is pending
//! three times per call: 600 suspends and resumes of the calls' fibers on
//! Spindle's switch, checked by count, and prints the backend it switched
//! with, which must be the target's `<arch>-asm`.
//!
//! * CI (`scripts/test.sh nested-builds`) runs the s390x cell: host calls only, no
//!   compiler in the build, unoptimized (the cheapest wasmtime build that
//!   still runs its fibers).
//! * `cargo async-cross` runs every target with the probe's `wasm` feature:
//!   a wasm loop calling the same host function, compiled by Cranelift on
//!   s390x (wasmtime compiles natively for it) and run by Pulley on armv7,
//!   thumbv7neon, i686 and powerpc64le. Each is a wasmtime build with a
//!   compiler or interpreter for that target (several minutes each here).
//!   Its loongarch64 cell ([`async_cross_loongarch64`], Pulley) is built
//!   differently: rustup has no rust-std for loongarch64 here, so nightly
//!   cargo builds std from rust-src (`-Zbuild-std`, the whole wasmtime
//!   build on top of it, cold each time the toolchain moves), zig links it
//!   statically against musl and `qemu-loongarch64` runs it; a missing
//!   nightly, rust-src, zig or qemu-loongarch64 fails that cell by name.
//!
//! Every cell's binary is read with the `object` crate before it runs: it
//! must define Spindle's versioned switch routines (text, no undefined
//! twin, the `#[used]` anchor kept) and hold no `wasmtime_fiber_switch`,
//! or the patch did not apply and the line proves nothing about Spindle.

use std::time::Instant;

use spindle_tests::{
    Cell, LOONGARCH64_BUILD_STD, LOONGARCH64_TOOLCHAIN, LOONGARCH64_TRIPLE, LtoMode, Target,
    inspect_file, switch_symbols, symbols_containing, workspace_root,
};

fn manifest() -> std::path::PathBuf {
    workspace_root().join("tests/async-probe/Cargo.toml")
}

/// The probe in the dev profile (no optimization, so a cheap wasmtime
/// build): the CI cell.
fn build_dev(triple: &str) -> Result<std::path::PathBuf, String> {
    let target_dir = workspace_root().join("target/async-probe");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    spindle_test_support::nested_cargo::scrub_outer_build(&mut cmd);
    let out = cmd
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--manifest-path"])
        .arg(manifest())
        .args(["--bin", "spindle-async-probe", "--target", triple])
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .map_err(|e| format!("running cargo build for the probe on {triple}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of the probe failed for {triple}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(triple).join("debug/spindle-async-probe"))
}

/// Builds (release with thin-local LTO, or the dev profile with `dev`),
/// runs and checks the probe on `triple`; returns its line.
fn probe(
    triple: &'static str,
    backend: &str,
    features: Option<&'static str>,
    dev: bool,
) -> Result<String, String> {
    let cell = Cell {
        target: Target::qemu_linux(triple),
        lto: LtoMode::ThinLocal,
        codegen_units: 16,
        features,
    };
    let started = Instant::now();
    let target_dir = workspace_root().join("target/async-probe");
    let binary = if dev {
        build_dev(triple)?
    } else if triple == LOONGARCH64_TRIPLE {
        cell.build_standalone_on_toolchain(
            LOONGARCH64_TOOLCHAIN,
            &[LOONGARCH64_BUILD_STD],
            &manifest(),
            "spindle-async-probe",
            &target_dir,
        )
        .map_err(|e| format!("{e:#}"))?
    } else {
        cell.build_standalone(&manifest(), "spindle-async-probe", &target_dir)
            .map_err(|e| format!("{e:#}"))?
    };
    let built = started.elapsed();
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let inspection =
        inspect_file(&binary, &symbols, false).map_err(|e| format!("{cell}: {e:#}"))?;
    inspection
        .verdict()
        .map_err(|problem| format!("{cell}: {problem}\n{inspection}"))?;
    if !inspection.anchor_present {
        return Err(format!(
            "{cell}: the #[used] anchor is missing\n{inspection}"
        ));
    }
    let theirs = symbols_containing(&binary, "wasmtime_fiber_switch")
        .map_err(|e| format!("{cell}: {e:#}"))?;
    if !theirs.is_empty() {
        return Err(format!(
            "{cell}: wasmtime's own fiber switch is in the binary, so the patch did not \
             apply: {theirs:?}"
        ));
    }
    let started = Instant::now();
    let line = cell
        .run(&binary)
        .map_err(|e| format!("{e:#}"))?
        .ok_or_else(|| format!("{cell}: did not run"))?;
    let profile = if dev { "dev profile" } else { "release" };
    println!(
        "{triple} ({profile}): built in {built:.0?}; {} defined, no wasmtime_fiber_switch ({}); \
         ran in {:.1?}: {line}",
        symbols.join(", "),
        inspection.architecture,
        started.elapsed()
    );
    let want = format!("spindle-async-probe ok: backend={backend} ");
    if !line.starts_with(&want) {
        return Err(format!(
            "{cell}: expected a line starting {want:?}, got {line:?}"
        ));
    }
    if features.is_some() && line.contains("not built") {
        return Err(format!("{cell}: the wasm caller was not built: {line:?}"));
    }
    Ok(line)
}

/// The cell CI runs.
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn wasmtime_async_host_calls_on_s390x_asm() {
    if let Err(e) = probe("s390x-unknown-linux-gnu", "s390x-asm", None, true) {
        panic!("{e}");
    }
}

#[test]
#[ignore = "a wasmtime build with a compiler or interpreter per target; run with `cargo async-cross`"]
fn async_cross_full() {
    // powerpc64le early: the one target where only the drop-in makes
    // wasmtime's async work at all.
    let cells = [
        ("s390x-unknown-linux-gnu", "s390x-asm"),
        ("powerpc64le-unknown-linux-gnu", "powerpc64-asm"),
        ("armv7-unknown-linux-gnueabihf", "arm-asm"),
        ("i686-unknown-linux-gnu", "x86-asm"),
        ("thumbv7neon-unknown-linux-gnueabihf", "arm-asm"),
    ];
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for (triple, backend) in cells {
        match probe(triple, backend, Some("wasm"), false) {
            Ok(line) => rows.push(format!("| {triple} | `{backend}` | ✓ {line} |")),
            Err(e) => {
                rows.push(format!("| {triple} | `{backend}` | ✗ |"));
                failures.push(e);
            }
        }
    }
    println!(
        "\n| target | backend | probe |\n|---|---|---|\n{}",
        rows.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// loongarch64 on Pulley (Cranelift has no loongarch64 backend): wasmtime's
/// own fiber crate has a loongarch64 switch, so the patch replaces working
/// assembly here and must be no regression.
#[test]
#[ignore = "a cold nightly -Zbuild-std wasmtime build; run with `cargo async-cross`"]
fn async_cross_loongarch64() {
    let missing = spindle_tests::loongarch64_missing();
    assert!(
        missing.is_empty(),
        "cannot build the loongarch64 cell here; missing: {}",
        missing.join("; ")
    );
    match probe(LOONGARCH64_TRIPLE, "loongarch64-asm", Some("wasm"), false) {
        Ok(line) => println!(
            "\n| target | backend | probe |\n|---|---|---|\n\
             | {LOONGARCH64_TRIPLE} | `loongarch64-asm` | ✓ {line} |"
        ),
        Err(e) => panic!("{e}"),
    }
}
