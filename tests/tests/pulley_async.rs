//! wasmtime's async where wasmtime has no stack switch: on
//! powerpc64le-unknown-linux-gnu, wasmtime 48.0.8 runs wasm on Pulley, its
//! interpreter (its build script picks Pulley where Cranelift has no
//! backend), and its fiber crate has no assembly, so `Fiber::new` fails at
//! run time. The same application (`tests/runtime-probe/src/main.rs`:
//! interleaved resumable calls, a dropped call, a trap after a resume) is
//! built twice for ppc64le and run under qemu-ppc64le with 64 KiB pages:
//!
//! * `tests/runtime-probe`, with `[patch.crates-io]` putting Spindle's
//!   `wasmtime-internal-fiber` in (its powerpc64le assembly): must work;
//! * `tests/runtime-probe-unpatched`, wasmtime's own fibers: must fail with
//!   wasmtime's exact error.
//!
//! Two release builds of wasmtime for ppc64le (they share one target
//! directory, so Cranelift's crates are built once): too slow for CI, so
//! `#[ignore]`d and run by `cargo pulley-async`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use spindle_tests::{Cell, LtoMode, Run, Target, workspace_root};

const TRIPLE: &str = "powerpc64le-unknown-linux-gnu";

/// wasmtime-internal-fiber 48.0.8, src/unix.rs, on an architecture with no
/// stack switch.
const WASMTIME_ERROR: &str = "fibers not supported on this host architecture";

fn build(manifest: &str, bin: &str) -> PathBuf {
    let cell = Cell {
        target: Target::qemu_linux(TRIPLE),
        lto: LtoMode::ThinLocal,
        codegen_units: 16,
        features: None,
    };
    let started = Instant::now();
    let binary = cell
        .build_standalone(
            &workspace_root().join(manifest),
            bin,
            &workspace_root().join("target/pulley").join(TRIPLE),
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "{manifest}: built for {TRIPLE} in {:.0?}",
        started.elapsed()
    );
    binary
}

fn run(binary: &PathBuf) -> std::process::Output {
    let Run::Runner(runner) = Target::qemu_linux(TRIPLE).run else {
        unreachable!("ppc64le runs under qemu here")
    };
    let started = Instant::now();
    let out = Command::new(&runner[0])
        .args(&runner[1..])
        .arg(binary)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "could not start {} under {}: {e}",
                binary.display(),
                runner[0]
            )
        });
    println!(
        "{} under {}: {:.1?}, {}\nstdout: {}\nstderr: {}",
        binary.display(),
        runner.join(" "),
        started.elapsed(),
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

#[test]
#[ignore = "two release builds of wasmtime for ppc64le; run with `cargo pulley-async`"]
fn wasmtime_async_on_ppc64le_needs_spindle_fibers() {
    let patched = build("tests/runtime-probe/Cargo.toml", "spindle-runtime-probe");
    let unpatched = build(
        "tests/runtime-probe-unpatched/Cargo.toml",
        "spindle-runtime-probe-unpatched",
    );

    let out = run(&patched);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("spindle-runtime-probe ok:"),
        "with Spindle's fibers the probe must work on ppc64le: {out:?}"
    );

    let out = run(&unpatched);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "wasmtime's own fibers cannot work on ppc64le, yet the probe succeeded: {out:?}"
    );
    assert!(
        stderr.contains(WASMTIME_ERROR),
        "the unpatched probe failed, but not with wasmtime's {WASMTIME_ERROR:?}:\n{stderr}"
    );
    println!(
        "\nppc64le (Pulley, qemu-ppc64le -p 65536): on Spindle's fibers ✓; on wasmtime's own: \
         fails with {WASMTIME_ERROR:?} ✓"
    );
}
