//! Issue 13's cross proof: `tests/fiber-app`, an application outside this
//! workspace that depends on spindle-fiber (its own workspace and lock
//! file, as a user's crate has), built for the glibc cross targets, read
//! with the `object` crate and run under qemu-user.
//!
//! * riscv64gc-unknown-linux-gnu, on Spindle's riscv64 assembly: every LTO
//!   mode × codegen-units {1, 16}; each binary must define the versioned
//!   switch routines in text with no undefined twin and keep the `#[used]`
//!   anchor.
//! * armv7, i686, powerpc64le (64 KiB pages) and s390x, on the portable
//!   ucontext backend: thin LTO (the mode that broke wasmtime 38's switch),
//!   codegen-units 16; no switch symbol may exist there (nothing would be
//!   switching through it), and the app must report `backend=ucontext`.
//!
//! Each run checks ping-pong, panic propagation and forced unwind with
//! destructors (see the app). `cargo test` runs one representative cell
//! (riscv64, thin, cgu 16); the whole set is
//!
//! ```text
//! cargo lto-cross-full   # = cargo test -p spindle-tests --test lto_cross -- --ignored --nocapture
//! ```
//!
//! and writes its table to `target/lto-matrix/CROSS.md`.

use std::path::PathBuf;
use std::time::Instant;

use spindle_tests::{Cell, LtoMode, Target, inspect_file, switch_symbols, workspace_root};

fn app_manifest() -> PathBuf {
    workspace_root().join("tests/fiber-app/Cargo.toml")
}

/// The backend name the app must print on `triple`.
fn expected_backend(triple: &str) -> &'static str {
    if triple.starts_with("riscv64") {
        "riscv64-asm"
    } else {
        "ucontext"
    }
}

/// Builds, inspects and runs one cell; returns its report row.
fn check(triple: &'static str, lto: LtoMode, codegen_units: u32) -> Result<String, String> {
    let cell = Cell {
        target: Target::qemu_linux(triple),
        lto,
        codegen_units,
        features: None,
    };
    let target_dir = workspace_root()
        .join("target/lto-cross")
        .join(triple)
        .join(format!("{}-cgu{codegen_units}", lto.profile()));
    let started = Instant::now();
    let binary = cell
        .build_standalone(&app_manifest(), "spindle-fiber-app", &target_dir)
        .map_err(|e| format!("{e:#}"))?;
    let build_time = started.elapsed();
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let inspection =
        inspect_file(&binary, &symbols, false).map_err(|e| format!("{cell}: {e:#}"))?;
    let backend = expected_backend(triple);
    let symbol_column = if backend.ends_with("-asm") {
        inspection
            .verdict()
            .map_err(|problem| format!("{cell}: {problem}\n{inspection}"))?;
        if !inspection.anchor_present {
            return Err(format!(
                "{cell}: the #[used] anchor is missing\n{inspection}"
            ));
        }
        format!(
            "switch defined, global, no undefined twin ✓; anchor ✓ ({})",
            inspection.architecture
        )
    } else {
        if let Some(s) = inspection
            .symbols
            .iter()
            .find(|s| s.defined + s.undefined > 0)
        {
            return Err(format!(
                "{cell}: {} is in a ucontext-only binary\n{inspection}",
                s.name
            ));
        }
        format!(
            "no switch symbols (ucontext) ✓ ({})",
            inspection.architecture
        )
    };
    let line = cell
        .run(&binary)
        .map_err(|e| format!("{e:#}"))?
        .ok_or_else(|| format!("{cell}: did not run"))?;
    let want = format!("spindle-fiber-app ok: backend={backend} ");
    if !line.starts_with(&want) {
        return Err(format!(
            "{cell}: expected a line starting {want:?}, got {line:?}"
        ));
    }
    println!("{cell}: built in {build_time:.1?}\n{inspection}\n{line}");
    Ok(format!(
        "| {triple} | {backend} | {lto} | {codegen_units} | linked ✓ | {symbol_column} | ran under qemu ✓ |"
    ))
}

fn run_cells(cells: &[(&'static str, LtoMode, u32)], report: Option<&str>) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for &(triple, lto, cgu) in cells {
        match check(triple, lto, cgu) {
            Ok(row) => rows.push(row),
            Err(e) => {
                rows.push(format!("| {triple} | | {lto} | {cgu} | ✗ | ✗ | ✗ |"));
                failures.push(e);
            }
        }
    }
    let table = format!(
        "| target | backend | LTO | codegen-units | link | symbol table | run |\n\
         |---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    println!("\n{table}");
    if let Some(name) = report {
        let dir = workspace_root().join("target/lto-matrix");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), &table).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The cell `cargo test` (and so CI) runs.
#[test]
fn fiber_app_on_riscv64_asm_under_thin_lto() {
    run_cells(&[("riscv64gc-unknown-linux-gnu", LtoMode::Thin, 16)], None);
}

/// Every cell (see the module docs).
#[test]
#[ignore = "about a dozen cross builds; run with `cargo lto-cross-full`"]
fn fiber_app_cross_full_matrix() {
    let mut cells = Vec::new();
    for lto in LtoMode::ALL {
        for cgu in [1, 16] {
            cells.push(("riscv64gc-unknown-linux-gnu", lto, cgu));
        }
    }
    for triple in [
        "armv7-unknown-linux-gnueabihf",
        "i686-unknown-linux-gnu",
        "powerpc64le-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
    ] {
        cells.push((triple, LtoMode::Thin, 16));
    }
    run_cells(&cells, Some("CROSS.md"));
}
