//! The build this project exists for, reproduced and fixed. The
//! seed application (`tests/seed-38`: wasmtime 38.0.3 with async on,
//! `lto = "thin"`) built with rustc 1.91.1 for aarch64-apple-darwin with
//! `cargo zigbuild` fails to link, wasmtime's `wasmtime_fiber_switch`
//! undefined; with Spindle's drop-in `fiber/wasmtime-compat-38` patched in
//! it links under every LTO mode, defines Spindle's switch and has none of
//! wasmtime's, and runs on x86_64 and aarch64 Linux. The same for the 36.x
//! line (`tests/seed-36`, `fiber/wasmtime-compat-36`), plus wasmtime 36's
//! own async behaviour on the drop-in (`tests/seed-36-fibers`).
//!
//! The patch is passed as `--config patch.crates-io...`, so the seed
//! manifests stay as a user has them. Each build works on a copy of the
//! seeds under `target/seed/apps` with the committed Cargo.lock put back
//! first (a patched build rewrites the lock), in a target directory per
//! (seed, target, LTO mode) under `target/seed/`, shared by the patched and
//! unpatched builds of a cell. Builds are cold wasmtime release builds
//! (minutes each), so one at a time (`BUILD`), and CI runs one cell: the
//! patched thin-LTO aarch64-apple-darwin link. Everything else:
//!
//! ```text
//! cargo seed-full    # = cargo test -p spindle-tests --test seed -- --include-ignored --nocapture
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use spindle_tests::{Target, inspect_file, switch_symbols, symbols_containing, workspace_root};

/// The compiler of the original report.
const TOOLCHAIN: &str = "1.91.1";

/// One wasmtime build at a time: the machine is shared, and cells of one
/// seed share its work copy.
static BUILD: Mutex<()> = Mutex::new(());

/// A seed application and the drop-in that fixes it.
#[derive(Clone, Copy)]
struct Seed {
    /// Directory under `tests/`.
    dir: &'static str,
    /// The wasmtime version it pins.
    wasmtime: &'static str,
    /// The drop-in's directory under `fiber/`.
    drop_in: &'static str,
    /// The binary to build.
    bin: &'static str,
}

const SEED_38: Seed = Seed {
    dir: "seed-38",
    wasmtime: "38.0.3",
    drop_in: "wasmtime-compat-38",
    bin: "spindle-seed",
};

const SEED_36: Seed = Seed {
    dir: "seed-36",
    wasmtime: "36.0.20",
    drop_in: "wasmtime-compat-36",
    bin: "spindle-seed",
};

/// The seed applications and the fibers test crate, copied together
/// (seed-36 builds seed-38's source file; seed-36-fibers builds
/// tests/tests/wasmtime_fibers.rs, copied to `apps/tests/`).
const SEED_DIRS: [&str; 3] = ["seed-38", "seed-36", "seed-36-fibers"];

/// `[profile.release] lto`, as `--config` overrides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lto {
    Off,
    False,
    Thin,
    Fat,
}

impl Lto {
    fn value(self) -> &'static str {
        match self {
            Lto::Off => "\"off\"",
            Lto::False => "false",
            Lto::Thin => "\"thin\"",
            Lto::Fat => "\"fat\"",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Lto::Off => "off",
            Lto::False => "false",
            Lto::Thin => "thin",
            Lto::Fat => "fat",
        }
    }
}

/// The work copy of the seeds (see the module docs), refreshed: every file
/// of `tests/<seed>` but `target/`, so each build starts from the committed
/// manifest and lock file.
fn refresh_work_copy() -> PathBuf {
    let apps = workspace_root().join("target/seed/apps");
    for dir in SEED_DIRS {
        copy_tree(&workspace_root().join("tests").join(dir), &apps.join(dir));
    }
    // The fibers crate names spindle-fiber by a path relative to tests/;
    // point the copy's at the workspace's.
    let manifest = apps.join("seed-36-fibers/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let fixed = text.replace(
        "path = \"../../fiber\"",
        &format!(
            "path = {:?}",
            workspace_root().join("fiber").to_str().unwrap()
        ),
    );
    if fixed != text {
        std::fs::write(&manifest, fixed).unwrap();
    }
    let shared = apps.join("tests");
    std::fs::create_dir_all(&shared).unwrap();
    copy_file(
        &workspace_root().join("tests/tests/wasmtime_fibers.rs"),
        &shared.join("wasmtime_fibers.rs"),
    );
    apps
}

/// Copies only when the content differs, so cargo's fingerprints stay put.
fn copy_file(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).unwrap();
    if std::fs::read(dst).ok().as_deref() != Some(&bytes[..]) {
        std::fs::write(dst, &bytes).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            copy_file(&src, &dst);
        }
    }
}

/// One build: which crate, for what, how.
struct Build<'a> {
    /// Directory under `tests/` (a seed, or the fibers test crate).
    dir: &'a str,
    /// The drop-in to patch in, or none.
    drop_in: Option<&'a str>,
    target: &'a Target,
    lto: Lto,
    /// `cargo build --release` (`zigbuild` for Apple) under `lto`, or, when
    /// true, `cargo test` (dev profile; `lto` unused) with
    /// `SPINDLE_EXPECT_FIBER=spindle`.
    tests: bool,
}

/// What a build left.
struct Built {
    /// cargo's whole output (stdout then stderr).
    log: String,
    ok: bool,
    time: Duration,
    target_dir: PathBuf,
}

impl Build<'_> {
    fn target_dir(&self) -> PathBuf {
        workspace_root()
            .join("target/seed")
            .join(self.dir)
            .join(self.target.triple)
            .join(if self.tests { "test" } else { self.lto.name() })
    }

    fn describe(&self) -> String {
        format!(
            "tests/{} for {}, {}, rustc {TOOLCHAIN}, {}",
            self.dir,
            self.target.triple,
            if self.tests {
                "cargo test".to_string()
            } else {
                format!("lto = {}", self.lto.value())
            },
            match self.drop_in {
                Some(d) => format!("patched with fiber/{d}"),
                None => "unpatched".to_string(),
            }
        )
    }

    fn run(&self) -> Built {
        let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        let apps = refresh_work_copy();
        let manifest = apps.join(self.dir).join("Cargo.toml");
        let subcommand = match (self.tests, self.target.is_apple()) {
            (true, _) => "test",
            (false, true) => "zigbuild",
            (false, false) => "build",
        };
        let mut cmd = Command::new("rustup");
        // rustup pins the nested cargo, rustc and cargo-zigbuild to 1.91.1.
        cmd.args(["run", TOOLCHAIN, "cargo", subcommand])
            .env_remove("CARGO")
            .env_remove("RUSTC")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["--target", self.target.triple]);
        if self.tests {
            cmd.env("SPINDLE_EXPECT_FIBER", "spindle");
        } else {
            cmd.arg("--release")
                .arg("--config")
                .arg(format!("profile.release.lto={}", self.lto.value()));
        }
        match self.drop_in {
            Some(dir) => {
                let path = workspace_root().join("fiber").join(dir);
                cmd.arg("--config").arg(format!(
                    "patch.crates-io.wasmtime-internal-fiber.path={:?}",
                    path.to_str().unwrap()
                ));
            }
            // The committed lock must resolve as it is on rustc 1.91.1.
            None => {
                cmd.arg("--locked");
            }
        }
        // From the workspace root, so cargo reads .cargo/config.toml (the
        // aarch64-linux linker).
        cmd.current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", self.target_dir())
            .env("CARGO_INCREMENTAL", "0");
        println!("seed: building {}", self.describe());
        let started = Instant::now();
        let output = cmd
            .output()
            .expect("running rustup (scripts/setup.sh installs it)");
        let time = started.elapsed();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let logs = workspace_root().join("target/seed/logs");
        std::fs::create_dir_all(&logs).unwrap();
        let name = format!(
            "{}-{}-{}-{}.log",
            self.dir,
            self.target.triple,
            if self.tests { "test" } else { self.lto.name() },
            if self.drop_in.is_some() {
                "patched"
            } else {
                "unpatched"
            }
        );
        std::fs::write(logs.join(name), &log).unwrap();
        println!(
            "seed: {} in {time:.0?}: {}",
            if output.status.success() {
                "built"
            } else {
                "FAILED"
            },
            self.describe()
        );
        Built {
            log,
            ok: output.status.success(),
            time,
            target_dir: self.target_dir(),
        }
    }
}

/// Builds `seed` patched for `target` under `lto`, checks the binary's
/// symbols, runs it where this machine can; returns the report row.
fn patched_cell(seed: Seed, target: Target, lto: Lto) -> String {
    let build = Build {
        dir: seed.dir,
        drop_in: Some(seed.drop_in),
        target: &target,
        lto,
        tests: false,
    };
    let built = build.run();
    assert!(
        built.ok,
        "{} did not build:\n{}",
        build.describe(),
        built.log
    );
    let binary = built
        .target_dir
        .join(target.triple)
        .join("release")
        .join(seed.bin);
    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let inspection = inspect_file(&binary, &symbols, target.is_apple()).unwrap();
    if let Err(problem) = inspection.verdict() {
        panic!("{}: {problem}\n{inspection}", build.describe());
    }
    let theirs = symbols_containing(&binary, "wasmtime_fiber_switch").unwrap();
    assert!(
        theirs.is_empty(),
        "{}: wasmtime's own switch is in the binary, so the patch did not apply: {theirs:?}",
        build.describe()
    );
    println!("{}:\n{inspection}", build.describe());
    let ran = match &target.run {
        spindle_tests::Run::Cannot(reason) => {
            println!("seed: NOT RUN: {}: {reason}", build.describe());
            format!("linked and inspected (not run: {reason})")
        }
        run => {
            let mut cmd = match run {
                spindle_tests::Run::Runner(runner) => {
                    let mut cmd = Command::new(&runner[0]);
                    cmd.args(&runner[1..]).arg(&binary);
                    cmd
                }
                _ => Command::new(&binary),
            };
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.starts_with("seed ok:"),
                "{}: the seed failed ({}):\n{stdout}\n{}",
                build.describe(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            println!("seed: {}", stdout.trim());
            match run {
                spindle_tests::Run::Runner(r) => format!("ran under {} ✓", r[0]),
                _ => "ran natively ✓".to_string(),
            }
        }
    };
    format!(
        "| {} | {} | {} | `fiber/{}` | linked ✓, Spindle's switch defined ✓, `wasmtime_fiber_switch` absent ✓ | {ran} | {:.0?} |",
        seed.wasmtime,
        target.triple,
        lto.value(),
        seed.drop_in,
        built.time
    )
}

fn print_table(rows: &[String]) {
    println!(
        "\n| wasmtime | target | lto | patch | symbols | run | build |\n|---|---|---|---|---|---|---|\n{}",
        rows.join("\n")
    );
}

/// CI's cell: the seed's own build, patched, on the seed's compiler.
#[test]
#[ignore = "a nested build: `scripts/test.sh nested-builds` (CI) runs it"]
fn seed_38_patched_links_thin_lto_aarch64_darwin() {
    let row = patched_cell(SEED_38, Target::apple("aarch64-apple-darwin"), Lto::Thin);
    print_table(&[row]);
}

/// The negative control: the seed's build as reported, without the patch,
/// fails with wasmtime's switch undefined, and `spindle doctor` reading
/// that log names the cause.
#[test]
#[ignore = "a cold wasmtime release build (minutes); run with `cargo seed-full`"]
fn seed_38_unpatched_fails_to_link_and_doctor_names_it() {
    let target = Target::apple("aarch64-apple-darwin");
    let build = Build {
        dir: SEED_38.dir,
        drop_in: None,
        target: &target,
        lto: Lto::Thin,
        tests: false,
    };
    let built = build.run();
    assert!(
        !built.ok,
        "{} linked: the harness no longer reproduces the seed's failure",
        build.describe()
    );
    let undefined = built
        .log
        .lines()
        .find(|l| l.contains("undefined symbol") && l.contains("wasmtime_fiber_switch"));
    assert!(
        undefined.is_some(),
        "{} failed, but not with wasmtime's switch undefined:\n{}",
        build.describe(),
        built.log
    );
    println!(
        "seed: the link failed as reported: {}",
        undefined.unwrap().trim()
    );
    let causes =
        spindle_cli::doctor::diagnose_log_quietly(&built.log, Some(target.triple.to_string()))
            .unwrap();
    let lost = causes
        .iter()
        .find(|(kind, _)| kind == "switch-lost-under-lto");
    let Some((_, message)) = lost else {
        panic!("spindle doctor did not name the lost fiber switch: {causes:?}");
    };
    assert!(
        message.contains("wasmtime_fiber_switch"),
        "spindle doctor's finding does not name the symbol: {message}"
    );
    // A warm rebuild's log may not say which wasmtime it builds (no
    // `Compiling wasmtime v38.0.3` line); when it does, so must the finding.
    if built.log.contains("Compiling wasmtime v38.0.3") {
        assert!(
            message.contains("38.0.3"),
            "the log builds wasmtime 38.0.3 but spindle doctor does not say so: {message}"
        );
    } else {
        println!("seed: this log does not name the wasmtime version (a warm rebuild)");
    }
    println!("seed: spindle doctor: {message}");
}

/// The fix under the other three LTO modes on the seed's target (thin is
/// CI's cell above).
#[test]
#[ignore = "three cold wasmtime release builds (minutes each); run with `cargo seed-full`"]
fn seed_38_patched_links_under_off_false_fat_aarch64_darwin() {
    let darwin = Target::apple("aarch64-apple-darwin");
    let rows: Vec<String> = [Lto::Off, Lto::False, Lto::Fat]
        .into_iter()
        .map(|lto| patched_cell(SEED_38, darwin.clone(), lto))
        .collect();
    print_table(&rows);
}

/// The patched seed runs its async call and yielding host function on
/// x86_64-linux (natively) and aarch64-linux (under qemu-aarch64).
#[test]
#[ignore = "two cold wasmtime release builds (minutes each); run with `cargo seed-full`"]
fn seed_38_patched_runs_on_x86_64_and_aarch64_linux() {
    let rows = vec![
        patched_cell(SEED_38, Target::host(), Lto::Thin),
        patched_cell(SEED_38, Target::aarch64_linux(), Lto::Thin),
    ];
    print_table(&rows);
}

/// The 36.x line: the patched seed links and is inspected for
/// aarch64-apple-darwin and runs on x86_64-linux, both under thin LTO.
#[test]
#[ignore = "two cold wasmtime release builds (minutes each); run with `cargo seed-full`"]
fn seed_36_patched_links_and_runs() {
    let rows = vec![
        patched_cell(SEED_36, Target::apple("aarch64-apple-darwin"), Lto::Thin),
        patched_cell(SEED_36, Target::host(), Lto::Thin),
    ];
    print_table(&rows);
}

/// wasmtime 36's async, as the main workspace tests wasmtime 48's
/// (tests/tests/wasmtime_fibers.rs, the same file, built by
/// tests/seed-36-fibers against wasmtime 36.0.20), on the 36 drop-in.
#[test]
#[ignore = "a cold wasmtime build (minutes); run with `cargo seed-full`"]
fn seed_36_wasmtime_async_tests_pass_on_the_drop_in() {
    let host = Target::host();
    let build = Build {
        dir: "seed-36-fibers",
        drop_in: Some(SEED_36.drop_in),
        target: &host,
        lto: Lto::False,
        tests: true,
    };
    let built = build.run();
    assert!(
        built.ok,
        "{}: wasmtime 36's async tests failed on the drop-in:\n{}",
        build.describe(),
        built.log
    );
    let results: Vec<&str> = built
        .log
        .lines()
        .filter(|l| l.starts_with("test result:"))
        .collect();
    // The lib's (empty) harness, then wasmtime_fibers'.
    assert!(
        results.iter().any(|l| !l.contains(" 0 passed")),
        "no test ran:\n{}",
        built.log
    );
    for line in built.log.lines().filter(|l| l.starts_with("test ")) {
        println!("seed-36-fibers: {line}");
    }
    println!(
        "| 36.0.20 | {} | cargo test | `fiber/{}` | wasmtime_fibers.rs: {} | ran natively ✓ | {:.0?} |",
        host.triple,
        SEED_36.drop_in,
        results.join(" / "),
        built.time
    );
}
