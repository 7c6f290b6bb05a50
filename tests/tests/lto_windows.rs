//! The LTO matrix's Windows rows.
//!
//! * `x86_64-pc-windows-gnu`: the probe is linked with mingw-w64, the PE
//!   image's COFF symbol table is read with `object` (each versioned switch
//!   routine defined in text, no undefined twin, not exported, the `#[used]`
//!   anchor present; in `lto = "off"` cells the rlib's objects must define
//!   them global), and it runs under Wine. Two representative cells run in
//!   CI (`scripts/test.sh nested-builds`); all 4 modes × codegen-units {1, 16} with
//!   `cargo lto-matrix-windows` (an `#[ignore]`d test).
//! * `x86_64-pc-windows-msvc`, `aarch64-pc-windows-msvc`: no MSVC linker
//!   exists here, so the probe is `cargo check`ed and spindle-fiber's rlib
//!   (machine-code objects, as `--emit obj` writes them) is inspected; the
//!   table says "not linked".
//! * A crate outside the workspace, `tests/windows-probe`, built with
//!   `lto = "thin"` and run under Wine.
//!
//! Tables are printed and written to `target/lto-matrix/REPORT-windows.md`.

use std::process::Command;

use spindle_tests::{Cell, LtoMode, Target, inspect_archive, switch_symbols, workspace_root};

fn all_gnu_cells() -> Vec<(LtoMode, u32)> {
    LtoMode::ALL
        .iter()
        .flat_map(|&lto| [(lto, 1), (lto, 16)])
        .collect()
}

/// The cells CI runs: the rlib check (`lto = "off"`) and the most
/// aggressive optimisation (fat LTO, one codegen unit).
fn representative_gnu_cells() -> Vec<(LtoMode, u32)> {
    let chosen = vec![(LtoMode::Off, 16), (LtoMode::Fat, 1)];
    println!(
        "NOTE: x86_64-pc-windows-gnu runs {} of {} LTO cells in CI ({}); \
         all of them with `cargo lto-matrix-windows`",
        chosen.len(),
        all_gnu_cells().len(),
        chosen
            .iter()
            .map(|(l, c)| format!("{l}/cgu {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    chosen
}

fn append_report(title: &str, rows: &[String]) {
    let mut report = format!(
        "{title}\n\n| target | LTO | codegen-units | link | symbol table | run |\n|---|---|---|---|---|---|\n"
    );
    for row in rows {
        report.push_str(row);
        report.push('\n');
    }
    println!("\n{report}");
    let dir = workspace_root().join("target").join("lto-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("REPORT-windows-{}.md", title.replace(' ', "-"))),
        &report,
    )
    .unwrap();
}

#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn lto_matrix_windows_gnu_under_wine() {
    gnu_matrix(representative_gnu_cells(), "gnu");
}

#[test]
#[ignore = "all 8 x86_64-pc-windows-gnu cells: cargo lto-matrix-windows"]
fn lto_matrix_windows_gnu_full_under_wine() {
    gnu_matrix(all_gnu_cells(), "gnu-full");
}

fn gnu_matrix(cells: Vec<(LtoMode, u32)>, report: &str) {
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for (lto, codegen_units) in cells {
        let cell = Cell {
            target: Target::windows_gnu(),
            lto,
            codegen_units,
            features: None,
        };
        match cell.check("spindle-lto-probe", "spindle-lto-probe", &symbols) {
            Ok(outcome) => {
                let ran = match &outcome.ran {
                    Some(line)
                        if line.starts_with("spindle-lto-probe ok: backend=x86_64-windows-asm") =>
                    {
                        "ran under Wine ✓".to_string()
                    }
                    Some(line) => {
                        failures.push(format!("{cell}: unexpected output {line:?}"));
                        "ran under Wine ✗".to_string()
                    }
                    None => {
                        failures.push(format!("{cell}: did not run"));
                        "not run ✗".to_string()
                    }
                };
                if !outcome.inspection.anchor_present {
                    failures.push(format!(
                        "{cell}: the #[used] anchor KEEP_SWITCH_SYMBOLS is missing"
                    ));
                }
                println!("{cell}: {:.1?}\n{}", outcome.build_time, outcome.inspection);
                rows.push(format!(
                    "| x86_64-pc-windows-gnu | {lto} | {codegen_units} | linked (mingw-w64) ✓ | inspected ✓ ({}, {}; not exported){} | {ran} |",
                    outcome.inspection.format,
                    outcome.inspection.architecture,
                    if outcome.rlib.is_some() { "; rlib: global, no export ✓" } else { "" },
                ));
            }
            Err(e) => {
                rows.push(format!(
                    "| x86_64-pc-windows-gnu | {lto} | {codegen_units} | ✗ | ✗ | ✗ |"
                ));
                failures.push(format!("{e:#}"));
            }
        }
    }
    append_report(report, &rows);
    assert!(
        failures.is_empty(),
        "Windows LTO failures:\n{}",
        failures.join("\n\n")
    );
}

#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn windows_msvc_checked_and_objects_inspected() {
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = workspace_root();
    let mut rows = Vec::new();
    for (triple, has_asm) in [
        ("x86_64-pc-windows-msvc", true),
        ("aarch64-pc-windows-msvc", false),
    ] {
        let target_dir = root.join("target/lto-matrix").join(triple);
        let run = |args: &[&str]| {
            let out = Command::new(&cargo)
                .current_dir(&root)
                .args(args)
                .args(["--quiet", "--target", triple, "--profile", "lto-off"])
                .env("CARGO_TARGET_DIR", &target_dir)
                .env("CARGO_INCREMENTAL", "0")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "cargo {args:?} --target {triple} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["check", "-p", "spindle-lto-probe"]);
        // An rlib needs no linker: its members are the objects --emit obj writes.
        run(&["build", "-p", "spindle-fiber", "--lib"]);
        let deps = target_dir.join(triple).join("lto-off").join("deps");
        let rlib = spindle_tests::find_rlib(&deps, "spindle_fiber").unwrap();
        let inspection = inspect_archive(&rlib, &symbols, false).unwrap();
        println!("{triple}:\n{inspection}");
        let verdict = if has_asm {
            if let Err(problem) = inspection.verdict() {
                panic!("{triple}: {problem}\n{inspection}");
            }
            assert!(
                inspection.anchor_present,
                "{triple}: the #[used] anchor is missing"
            );
            format!(
                "objects inspected ✓ ({}, {}; global, no export)",
                inspection.format, inspection.architecture
            )
        } else {
            // Win32 Fibers backend: no Spindle assembly, so no switch symbol.
            assert!(
                inspection
                    .symbols
                    .iter()
                    .all(|s| s.defined == 0 && s.undefined == 0),
                "{triple} has no assembly backend, yet:\n{inspection}"
            );
            format!(
                "objects inspected ✓ ({}, {}; windows-fibers: no switch symbols)",
                inspection.format, inspection.architecture
            )
        };
        rows.push(format!(
            "| {triple} | (all: not linked) | - | checked; not linked (no MSVC linker here) | {verdict} | not run |"
        ));
    }
    append_report("msvc", &rows);
}

/// From outside the workspace, as an application: lto = "thin", asm backend.
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn outside_crate_thin_lto_runs_under_wine() {
    let root = workspace_root();
    let cell = Cell {
        target: Target::windows_gnu(),
        lto: LtoMode::Thin,
        codegen_units: 16,
        features: None,
    };
    let binary = cell
        .build_standalone(
            &root.join("tests/windows-probe/Cargo.toml"),
            "spindle-windows-probe",
            &root.join("target/lto-matrix/windows-probe"),
        )
        .unwrap();
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let inspection = spindle_tests::inspect_file(&binary, &symbols, false).unwrap();
    inspection
        .verdict()
        .unwrap_or_else(|p| panic!("{p}\n{inspection}"));
    assert!(inspection.anchor_present);
    let line = cell.run(&binary).unwrap().expect("runs under Wine");
    println!("{line}");
    assert!(
        line.starts_with("spindle-windows-probe ok: backend=x86_64-windows-asm")
            && line.contains("panic=propagated unwind=2-drops"),
        "{line}"
    );
    append_report(
        "outside crate",
        &["| x86_64-pc-windows-gnu (tests/windows-probe, own workspace) | thin | 16 | linked (mingw-w64) ✓ | inspected ✓ | ran under Wine ✓ (ping-pong, panic, forced unwind) |".to_string()],
    );
}

/// Negative control on Windows: the test-only feature that drops `.globl`
/// (COFF storage class static) must be rejected, naming the symbol.
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn harness_rejects_unexported_switch_symbols_on_windows() {
    let cell = Cell {
        target: Target::windows_gnu(),
        lto: LtoMode::Off,
        codegen_units: 16,
        features: Some("spindle-fiber/negative-control-unexported"),
    };
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let err = cell
        .check("spindle-lto-probe", "spindle-lto-probe", &symbols)
        .expect_err("a build with unexported switch symbols must fail the check");
    let message = format!("{err:#}");
    println!("{message}");
    assert!(
        message.contains("defined only as a local symbol")
            || message.contains("undefined reference to `spindle_fiber_"),
        "the failure does not name the local switch symbol:\n{message}"
    );
}
