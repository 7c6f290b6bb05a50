//! The LTO proof: the probe binary is built under every LTO mode
//! (`off`, `false` = thin-local, `thin`, `fat`) × codegen-units {1, 16} for
//! each target, its symbol table is read with the `object` crate (each
//! versioned switch routine must be a defined, global text symbol with no
//! undefined entry of the same name), and it is run where it can run.
//!
//! The table it prints is the one in docs/lto.md; it is also written to
//! `target/lto-matrix/REPORT.md`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use spindle_tests::{Cell, LtoMode, Target, switch_symbols, workspace_root};

fn targets() -> Vec<Target> {
    let mut targets = vec![Target::host()];
    if std::env::var_os("SPINDLE_LTO_HOST_ONLY").is_none() {
        targets.push(Target::aarch64_linux());
        targets.push(Target::apple("aarch64-apple-darwin"));
        targets.push(Target::apple("x86_64-apple-darwin"));
    }
    targets
}

#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn lto_matrix() {
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut outputs = Vec::new();
    let mut cells = Vec::new();
    for target in targets() {
        for lto in LtoMode::ALL {
            for codegen_units in [1, 16] {
                cells.push(Cell {
                    target: target.clone(),
                    lto,
                    codegen_units,
                    features: None,
                });
            }
        }
    }
    let results = two_at_a_time(&cells, |cell| {
        cell.check("spindle-lto-probe", "spindle-lto-probe", &symbols)
    });
    for (cell, result) in cells.iter().zip(results) {
        let (target, lto, codegen_units) = (&cell.target, cell.lto, cell.codegen_units);
        match result {
            Ok(outcome) => {
                let ran = match (&outcome.ran, outcome.not_run_reason) {
                    (Some(line), _) => {
                        outputs.push(line.clone());
                        if line.starts_with("spindle-lto-probe ok:") {
                            "ran ✓".to_string()
                        } else {
                            failures.push(format!("{cell}: unexpected output {line:?}"));
                            "ran ✗".to_string()
                        }
                    }
                    (None, Some(reason)) => format!("not run ({reason})"),
                    (None, None) => "not run".to_string(),
                };
                if !outcome.inspection.anchor_present {
                    failures.push(format!(
                        "{cell}: the #[used] anchor KEEP_SWITCH_SYMBOLS is missing"
                    ));
                }
                println!("{cell}: {:.1?}\n{}", outcome.build_time, outcome.inspection);
                rows.push(format!(
                    "| {} | {} | {} | linked ✓ | inspected ✓ ({}, {}){} | {} |",
                    target.triple,
                    lto,
                    codegen_units,
                    outcome.inspection.format,
                    outcome.inspection.architecture,
                    if outcome.rlib.is_some() {
                        "; rlib: global+hidden ✓"
                    } else {
                        ""
                    },
                    ran
                ));
            }
            Err(e) => {
                rows.push(format!(
                    "| {} | {} | {} | ✗ | ✗ | ✗ |",
                    target.triple, lto, codegen_units
                ));
                failures.push(format!("{e:#}"));
            }
        }
    }
    // Every cell that ran computed the same thing (the backend name differs
    // between architectures; the arithmetic must not).
    let mut outputs: Vec<String> = outputs
        .iter()
        .map(|line| {
            line.split_whitespace()
                .filter(|w| !w.starts_with("backend="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    outputs.dedup();
    if outputs.len() > 1 {
        failures.push(format!("probe outputs differ between cells: {outputs:#?}"));
    }
    let mut report = String::from(
        "| target | LTO | codegen-units | link | symbol table | run |\n|---|---|---|---|---|---|\n",
    );
    for row in &rows {
        report.push_str(row);
        report.push('\n');
    }
    println!("\n{report}");
    let dir = workspace_root().join("target").join("lto-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("REPORT.md"), &report).unwrap();
    assert!(
        failures.is_empty(),
        "LTO matrix failures:\n{}",
        failures.join("\n\n")
    );
}

/// `f` of every item, two at a time: each cell builds in its own target
/// directory, and one cell's build (a chain of a few crates) keeps about one
/// core busy. The results come back in the items' order.
fn two_at_a_time<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    results.lock().unwrap()[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item was taken by a worker"))
        .collect()
}

/// Negative controls: the inspection must be able to fail. On a real probe
/// binary it must report (a) a switch symbol that is absent (here: the name a
/// different crate version would use) and (b) a function that exists only as
/// a local symbol — what a never-`.globl` label leaves behind.
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn inspection_reports_absent_and_local_symbols() {
    use object::{Object, ObjectSymbol, SymbolKind};
    let cell = Cell {
        target: Target::host(),
        lto: LtoMode::Off,
        codegen_units: 16,
        features: None,
    };
    let binary = cell
        .build("spindle-lto-probe", "spindle-lto-probe")
        .unwrap();
    let data = std::fs::read(&binary).unwrap();

    let absent = switch_symbols("9_9_9");
    let inspection = spindle_tests::inspect_bytes(&data, &absent, false).unwrap();
    let verdict = inspection.verdict().unwrap_err();
    assert!(
        verdict.contains("`spindle_fiber_9_9_9_resume` is not defined"),
        "{verdict}"
    );

    // Binding is judged in the rlib's object files (a final link makes
    // hidden globals local): a plain local function there must be reported.
    let rlib =
        spindle_tests::find_rlib(&binary.parent().unwrap().join("deps"), "spindle_fiber").unwrap();
    let archive_bytes = std::fs::read(&rlib).unwrap();
    let archive = object::read::archive::ArchiveFile::parse(&*archive_bytes).unwrap();
    let local_fn = archive
        .members()
        .filter_map(|m| m.ok()?.data(&*archive_bytes).ok())
        .filter_map(|bytes| object::File::parse(bytes).ok())
        .find_map(|file| {
            file.symbols()
                .find(|s| {
                    s.kind() == SymbolKind::Text
                        && s.is_local()
                        && !s.is_undefined()
                        && s.name().is_ok_and(|n| n.starts_with("_ZN"))
                })
                .map(|s| s.name().unwrap().to_string())
        })
        .expect("spindle-fiber's objects have local text symbols");
    let inspection =
        spindle_tests::inspect_archive(&rlib, std::slice::from_ref(&local_fn), false).unwrap();
    let verdict = inspection.verdict().unwrap_err();
    assert!(
        verdict.contains("defined only as a local symbol"),
        "{verdict}"
    );

    // And the real switch symbols pass on the same bytes.
    let real = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    spindle_tests::inspect_bytes(&data, &real, false)
        .unwrap()
        .verdict()
        .unwrap();
}

/// Negative control on a real build: `spindle-fiber`'s test-only feature
/// `negative-control-unexported` emits the switch routines without `.globl`
/// (the shape of rustc's naked-function bug and of a forgotten directive).
/// The harness must reject that build — at link time (another code unit
/// cannot reach a local symbol) or, if it links, in the rlib inspection —
/// and name the symbol.
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn harness_rejects_unexported_switch_symbols() {
    let cell = Cell {
        target: Target::host(),
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
            || message.contains("undefined reference to `spindle_fiber_")
            || message.contains("undefined symbol: spindle_fiber_"),
        "the failure does not name the local switch symbol:\n{message}"
    );
    assert!(message.contains("spindle_fiber_"), "{message}");
}

/// The known trap (docs/lto.md: "The one way to break the link"), reproduced in
/// every LTO mode: a crate that depends on spindle-fiber but reaches the
/// switch only through its own `extern "C"` declaration never gets the rlib
/// on its link line, so the symbol is undefined. Every supported use goes
/// through spindle-fiber's Rust API, which pulls in the rlib and, with it, the
/// `#[used]`-anchored routines (the matrix above).
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn known_trap_extern_declaration_without_rust_use_does_not_link() {
    let root = workspace_root();
    let source = std::fs::read_to_string(root.join("tests/trap-probe/src/main.rs")).unwrap();
    let symbol = format!("spindle_fiber_{}_resume", spindle_fiber::SYMBOL_VERSION);
    assert!(
        source.contains(&symbol),
        "tests/trap-probe must name the current version's symbol {symbol}"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for lto in LtoMode::ALL {
        let setting = match lto {
            LtoMode::Off => r#"profile.release.lto="off""#,
            LtoMode::ThinLocal => "profile.release.lto=false",
            LtoMode::Thin => r#"profile.release.lto="thin""#,
            LtoMode::Fat => r#"profile.release.lto="fat""#,
        };
        let out = std::process::Command::new(&cargo)
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--quiet",
                "--manifest-path",
                "tests/trap-probe/Cargo.toml",
            ])
            .args(["--config", setting])
            .env(
                "CARGO_TARGET_DIR",
                root.join("target/lto-matrix/trap").join(lto.profile()),
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{lto}: the trap unexpectedly linked");
        assert!(
            stderr.contains(&format!("undefined symbol: {symbol}"))
                || stderr.contains(&format!("undefined reference to `{symbol}'")),
            "{lto}: failed for another reason:\n{stderr}"
        );
        println!("{lto}: does not link, as documented ({symbol} undefined)");
    }
}

/// The aarch64-apple-darwin ThinLTO cells again, built with rustc 1.91.1:
/// the compiler on which wasmtime 38.0.3's naked-function switch vanished
/// at the final link (rust-lang/rust#148307). Spindle's `global_asm!`
/// routines must not depend on that compiler's fix (rust-lang/rust#148339):
/// the same link, the same inspection. Needs `rustup toolchain install
/// 1.91.1 --target aarch64-apple-darwin` (scripts/setup.sh).
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn apple_thin_lto_cells_on_rustc_1_91_1() {
    if std::env::var_os("SPINDLE_LTO_HOST_ONLY").is_some() {
        println!("SPINDLE_LTO_HOST_ONLY is set: the rustc 1.91.1 Apple cells are NOT run");
        return;
    }
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let mut rows = Vec::new();
    for codegen_units in [1, 16] {
        let cell = Cell {
            target: Target::apple("aarch64-apple-darwin"),
            lto: LtoMode::Thin,
            codegen_units,
            features: None,
        };
        let binary = cell
            .build_on_toolchain("1.91.1", "spindle-lto-probe", "spindle-lto-probe")
            .unwrap_or_else(|e| panic!("{cell} on rustc 1.91.1: {e:#}"));
        // The build really was 1.91.1's: rustc writes its version into the
        // metadata of every rlib it makes.
        let rlib =
            spindle_tests::find_rlib(&binary.parent().unwrap().join("deps"), "spindle_fiber")
                .unwrap();
        let rlib_bytes = std::fs::read(&rlib).unwrap();
        assert!(
            rlib_bytes.windows(12).any(|w| w == b"rustc 1.91.1"),
            "{} was not built by rustc 1.91.1",
            rlib.display()
        );
        let inspection = spindle_tests::inspect_file(&binary, &symbols, true).unwrap();
        if let Err(problem) = inspection.verdict() {
            panic!("{cell} on rustc 1.91.1: {problem}\n{inspection}");
        }
        assert!(inspection.anchor_present, "{cell}: anchor missing");
        println!("{cell}, rustc 1.91.1:\n{inspection}");
        rows.push(format!(
            "| {} (rustc 1.91.1) | {} | {codegen_units} | linked ✓ | inspected ✓ ({}, {}) | not run (macOS) |",
            cell.target.triple, cell.lto, inspection.format, inspection.architecture
        ));
    }
    println!("\n{}", rows.join("\n"));
}
