//! The cross targets' proof: `tests/fiber-app`, an application outside this
//! workspace that depends on spindle-fiber (its own workspace and lock
//! file, as a user's crate has), built for the glibc cross targets, read
//! with the `object` crate and run under qemu-user (i686 natively, on the
//! kernel's IA-32 compatibility mode: see `Target::qemu_linux`).
//!
//! * The targets with Spindle's own assembly ([`CROSS_TARGETS`]: riscv64,
//!   s390x, ...): every LTO mode × codegen-units {1, 16}; each binary must
//!   define the versioned switch routines in text with no undefined twin
//!   and keep the `#[used]` anchor, and the app must report the target's
//!   `<arch>-asm` backend.
//! * The targets still on the portable ucontext backend: thin LTO (the mode
//!   that broke wasmtime 38's switch), codegen-units 16; no switch symbol
//!   may exist there (nothing would be switching through it), and the app
//!   must report `backend=ucontext`.
//!
//! Each run checks ping-pong, panic propagation and forced unwind with
//! destructors (see the app). CI runs representative thin, cgu 16 cells
//! (`scripts/test.sh nested-builds`). The whole set also runs
//! spindle-fiber's own suite (every backend of the target, and again with
//! `fallback`) and the `ucontext_t` layout check on each cross target under
//! qemu:
//!
//! ```text
//! cargo cross-full   # = cargo test -p spindle-tests --test lto_cross -- --ignored --nocapture
//! ```
//!
//! It writes the LTO table to `target/lto-matrix/CROSS.md` and one platform
//! row per target (README's platform table) to
//! `target/lto-matrix/PLATFORMS.md`.
//!
//! loongarch64 (`loongarch64-unknown-linux-musl`) gets the same eight cells
//! in `cargo cross-full` ([`loongarch64_lto_cells`]), built differently:
//! rustup offers no rust-std for it here, so each cell is built by nightly
//! with `-Zbuild-std` (std compiled in the cell's own profile, so its LTO
//! mode and codegen-units reach std too), linked statically by zig
//! (`.cargo/config.toml`) and run under `qemu-loongarch64`. Its fiber
//! suite is `cargo +nightly loongarch64`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use spindle_tests::{
    Cell, LOONGARCH64_BUILD_STD, LOONGARCH64_TOOLCHAIN, LOONGARCH64_TRIPLE, LtoMode, Target,
    inspect_file, switch_symbols, workspace_root,
};

fn app_manifest() -> PathBuf {
    workspace_root().join("tests/fiber-app/Cargo.toml")
}

/// The glibc cross targets and the backend `spindle_fiber::backend()`
/// names there.
const CROSS_TARGETS: [(&str, &str); 6] = [
    ("riscv64gc-unknown-linux-gnu", "riscv64-asm"),
    ("s390x-unknown-linux-gnu", "s390x-asm"),
    ("armv7-unknown-linux-gnueabihf", "arm-asm"),
    // The same switch assembled as Thumb-2 (and the whole program in it).
    ("thumbv7neon-unknown-linux-gnueabihf", "arm-asm"),
    ("i686-unknown-linux-gnu", "x86-asm"),
    ("powerpc64le-unknown-linux-gnu", "powerpc64-asm"),
];

/// loongarch64 and its backend: not in [`CROSS_TARGETS`], whose suites and
/// layout checks run on stable with rustup's std (see the module docs).
const LOONGARCH64: (&str, &str) = (LOONGARCH64_TRIPLE, "loongarch64-asm");

/// The backend name the app must print on `triple`.
fn expected_backend(triple: &str) -> &'static str {
    CROSS_TARGETS
        .iter()
        .chain([&LOONGARCH64])
        .find(|(t, _)| *t == triple)
        .map(|(_, backend)| *backend)
        .unwrap_or_else(|| panic!("{triple} is not one of CROSS_TARGETS"))
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
    let binary = if triple == LOONGARCH64.0 {
        cell.build_standalone_on_toolchain(
            LOONGARCH64_TOOLCHAIN,
            &[LOONGARCH64_BUILD_STD],
            &app_manifest(),
            "spindle-fiber-app",
            &target_dir,
        )
    } else {
        cell.build_standalone(&app_manifest(), "spindle-fiber-app", &target_dir)
    }
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
        // Binding is judged where it still means something (the final link
        // makes hidden globals local): the rlib's objects, without LTO.
        let rlib_note = if lto == LtoMode::Off {
            let rlib = spindle_tests::find_profile_rlib(binary.parent().unwrap(), "spindle_fiber")
                .map_err(|e| format!("{cell}: {e:#}"))?;
            let in_rlib = spindle_tests::inspect_archive(&rlib, &symbols, false)
                .map_err(|e| format!("{cell}: {e:#}"))?;
            in_rlib.verdict().map_err(|problem| {
                format!("{cell}: in {}: {problem}\n{in_rlib}", rlib.display())
            })?;
            "; rlib: global+hidden ✓"
        } else {
            ""
        };
        format!(
            "switch defined in text, no undefined twin ✓; anchor ✓ ({}){rlib_note}",
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
        "| {triple} | {backend} | {lto} | {codegen_units} | linked ✓ | {symbol_column} | ran {} ✓ |",
        how_run(triple)
    ))
}

/// Runs every cell; returns the failures (and prints and, with `report`,
/// writes the table).
fn run_cells(cells: &[(&'static str, LtoMode, u32)], report: Option<&str>) -> Vec<String> {
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
    failures
}

/// The cells CI (`scripts/test.sh nested-builds`) runs: riscv64's and powerpc64le's
/// (the ELF V2 switch, the most unlike the others: TOC, back chain, the
/// protected zone); the other targets' thin, cgu 16 cells are `#[ignore]`d
/// to keep CI's time (each is also in `cargo cross-full`).
fn representative_cell(triple: &'static str) {
    let failures = run_cells(&[(triple, LtoMode::Thin, 16)], None);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn fiber_app_on_riscv64_asm_under_thin_lto() {
    representative_cell("riscv64gc-unknown-linux-gnu");
}

#[test]
#[ignore = "in cargo cross-full; CI runs powerpc64le's and riscv64's"]
fn fiber_app_on_s390x_asm_under_thin_lto() {
    representative_cell("s390x-unknown-linux-gnu");
}

#[test]
#[ignore = "in cargo cross-full; CI runs powerpc64le's and riscv64's"]
fn fiber_app_on_armv7_asm_under_thin_lto() {
    representative_cell("armv7-unknown-linux-gnueabihf");
}

#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn fiber_app_on_powerpc64le_asm_under_thin_lto() {
    representative_cell("powerpc64le-unknown-linux-gnu");
}

#[test]
#[ignore = "in cargo cross-full; CI runs powerpc64le's and riscv64's"]
fn fiber_app_on_i686_asm_under_thin_lto() {
    representative_cell("i686-unknown-linux-gnu");
}

/// `cargo test` of `package` for `triple` (run under the target's qemu
/// runner from .cargo/config.toml), in a target directory of its own so the
/// nested cargo never waits for the outer one's lock. Returns how many tests
/// passed.
fn nested_suite(triple: &str, package: &str, features: Option<&str>) -> Result<usize, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["test", "-p", package, "--target", triple])
        .args(features.map(|f| format!("--features={f}")))
        // One test thread: the crash tests fork, and qemu-user's fork can
        // deadlock when the guest is multithreaded (scripts/test.sh).
        .args(["--", "--test-threads=1"])
        .env(
            "CARGO_TARGET_DIR",
            workspace_root().join("target/cross-suites"),
        )
        .output()
        .map_err(|e| format!("running cargo test -p {package} --target {triple}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let what = format!(
        "cargo test -p {package} --target {triple}{}",
        features
            .map(|f| format!(" --features {f}"))
            .unwrap_or_default()
    );
    if !out.status.success() {
        return Err(format!(
            "{what} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let passed = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split_whitespace().next()?.parse::<usize>().ok())
        .sum();
    println!("{what}: {passed} passed in {:.0?}", started.elapsed());
    Ok(passed)
}

/// How a target's binaries run here: under which qemu command, or
/// natively.
fn how_run(triple: &'static str) -> String {
    match Target::qemu_linux(triple).run {
        spindle_tests::Run::Runner(r) => format!("under qemu (`{}`)", r.join(" ")),
        spindle_tests::Run::Native => "natively (IA-32 compatibility mode)".into(),
        spindle_tests::Run::Cannot(why) => unreachable!("cross targets run here: {why}"),
    }
}

/// Everything asked of the cross targets (see the module docs).
#[test]
#[ignore = "the cross fiber suites and every LTO cell of each cross target; run with `cargo cross-full`"]
fn cross_full() {
    let mut failures = Vec::new();
    let mut platform_rows = Vec::new();
    for &(triple, backend) in &CROSS_TARGETS {
        let asm = backend.ends_with("-asm");
        let mut proof = Vec::new();
        let suite = nested_suite(triple, "spindle-fiber", None).and_then(|native| {
            // With assembly the default build tests both backends already;
            // the fallback feature makes ucontext the native one as well.
            let forced = if asm {
                nested_suite(triple, "spindle-fiber", Some("fallback"))?
            } else {
                0
            };
            Ok(native + forced)
        });
        match suite {
            Ok(n) => proof.push(format!(
                "spindle-fiber suite ({}) {n} passed",
                if asm {
                    "asm and ucontext, also with `fallback`"
                } else {
                    "ucontext"
                }
            )),
            Err(e) => failures.push(e),
        }
        match nested_suite(triple, "spindle-ucontext-layout", None) {
            Ok(_) => proof.push("ucontext_t = glibc headers ✓".into()),
            Err(e) => failures.push(e),
        }
        let cells: Vec<(&'static str, LtoMode, u32)> = if asm {
            LtoMode::ALL
                .iter()
                .flat_map(|&lto| [(triple, lto, 1), (triple, lto, 16)])
                .collect()
        } else {
            vec![(triple, LtoMode::Thin, 16)]
        };
        let cell_failures = run_cells(&cells, Some(&format!("CROSS-{triple}.md")));
        let lto_column = match (asm, cell_failures.is_empty()) {
            (true, true) => "fiber-app: 4 modes × cgu {1, 16}, linked, inspected, ran ✓",
            (false, true) => "fiber-app: thin, cgu 16, linked, inspected, ran ✓",
            (_, false) => "✗",
        };
        failures.extend(cell_failures);
        platform_rows.push(format!(
            "| {triple} | `{}` | {}: {} | {lto_column} |",
            expected_backend(triple),
            how_run(triple),
            proof.join("; "),
        ));
    }
    let table = format!(
        "| target | backend | how proven | LTO cells |\n|---|---|---|---|\n{}\n",
        platform_rows.join("\n")
    );
    println!("\n{table}");
    let dir = workspace_root().join("target/lto-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("PLATFORMS.md"), &table).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// loongarch64's LTO matrix: fiber-app under every LTO mode × codegen-units
/// {1, 16}, each binary's switch symbols and anchor read with `object` and
/// the binary run under qemu-loongarch64. Nothing is skipped: a missing
/// tool fails the test, naming it.
#[test]
#[ignore = "eight nightly -Zbuild-std builds (std per cell); run with `cargo cross-full`"]
fn loongarch64_lto_cells() {
    let missing = spindle_tests::loongarch64_missing();
    assert!(
        missing.is_empty(),
        "cannot build loongarch64 here; missing: {}",
        missing.join("; ")
    );
    let (triple, _) = LOONGARCH64;
    let cells: Vec<(&'static str, LtoMode, u32)> = LtoMode::ALL
        .iter()
        .flat_map(|&lto| [(triple, lto, 1), (triple, lto, 16)])
        .collect();
    let failures = run_cells(&cells, Some(&format!("CROSS-{triple}.md")));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
