//! The patched runtime's LTO proof: an application embedding spindle-runtime, with
//! wasmtime's fibers replaced by Spindle's through `[patch.crates-io]`
//! (`tests/runtime-probe`, its own workspace), runs a resumable plugin call.
//! Each cell builds it, reads the binary with the `object` crate (Spindle's
//! versioned switch routines defined in text with no undefined twin, and no
//! trace of wasmtime's own `wasmtime_fiber_switch`: proof that the async
//! stack switches are Spindle's), and runs it where it can run.
//!
//! Each cell is a release build of wasmtime and Cranelift (about 4 minutes
//! on two cores), so none is in CI: CI's patched-application LTO cells are
//! `spindle patch`'s wasmtime 46.0.3 cell built with ThinLTO and run
//! (tests/tests/patch_cells.rs) and the seed's patched ThinLTO link for
//! aarch64-apple-darwin (tests/tests/seed.rs), which prove the same thing
//! of the same switch. The matrix is one command (docs/wasmtime-patch.md):
//!
//! ```text
//! cargo lto-runtime-full     # = cargo test -p spindle-tests --test lto_runtime -- --ignored --nocapture
//! ```

use std::path::PathBuf;

use spindle_tests::{
    Cell, LtoMode, Target, inspect_file, switch_symbols, symbols_containing, workspace_root,
};

fn probe_manifest() -> PathBuf {
    workspace_root().join("tests/runtime-probe/Cargo.toml")
}

/// Builds, inspects and (where possible) runs one cell; returns the report
/// row, or why the cell failed.
fn check(target: Target, lto: LtoMode) -> Result<String, String> {
    let cell = Cell {
        target,
        lto,
        codegen_units: 16,
        features: None,
    };
    let target_dir = workspace_root()
        .join("target/lto-runtime")
        .join(cell.target.triple)
        .join(lto.profile());
    let started = std::time::Instant::now();
    let binary = cell
        .build_standalone(&probe_manifest(), "spindle-runtime-probe", &target_dir)
        .map_err(|e| format!("{e:#}"))?;
    let build_time = started.elapsed();
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let inspection = inspect_file(&binary, &symbols, cell.target.is_apple())
        .map_err(|e| format!("{cell}: {e:#}"))?;
    inspection
        .verdict()
        .map_err(|problem| format!("{cell}: {problem}\n{inspection}"))?;
    let wasmtime_switch = symbols_containing(&binary, "wasmtime_fiber_switch")
        .map_err(|e| format!("{cell}: {e:#}"))?;
    if !wasmtime_switch.is_empty() {
        return Err(format!(
            "{cell}: wasmtime's own fiber switch is in the binary, so the patch did not \
             apply: {wasmtime_switch:?}"
        ));
    }
    let ran = match cell.run(&binary).map_err(|e| format!("{e:#}"))? {
        Some(line) if line.starts_with("spindle-runtime-probe ok:") => "ran ✓".to_string(),
        Some(line) => return Err(format!("{cell}: unexpected output {line:?}")),
        None => "not run (no macOS here)".to_string(),
    };
    println!("{cell}: built in {build_time:.1?}\n{inspection}");
    Ok(format!(
        "| {} | {} | linked ✓ | Spindle's switch defined ✓, wasmtime's absent ✓ ({}) | {} | {:.0?} |",
        cell.target.triple, lto, inspection.architecture, ran, build_time
    ))
}

fn run_cells(cells: Vec<(Target, LtoMode)>) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (target, lto) in cells {
        match check(target.clone(), lto) {
            Ok(row) => rows.push(row),
            Err(e) => {
                rows.push(format!("| {} | {} | ✗ | ✗ | ✗ | |", target.triple, lto));
                failures.push(e);
            }
        }
    }
    println!(
        "\n| target | LTO | link | symbols | run | build |\n|---|---|---|---|---|---|\n{}",
        rows.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every cell: x86_64-linux off/thin/fat (run), aarch64-linux
/// thin (run under qemu), both Apple targets thin (link + inspect).
#[test]
#[ignore = "minutes per cell; run with `cargo lto-runtime-full`"]
fn runtime_on_spindle_fibers_full_matrix() {
    run_cells(vec![
        (Target::host(), LtoMode::Off),
        (Target::host(), LtoMode::Thin),
        (Target::host(), LtoMode::Fat),
        (Target::aarch64_linux(), LtoMode::Thin),
        (Target::apple("aarch64-apple-darwin"), LtoMode::Thin),
        (Target::apple("x86_64-apple-darwin"), LtoMode::Thin),
    ]);
}
