//! `spindle patch`'s proof cells: for one wasmtime release each, a fresh
//! application outside the workspace (tests/patch-cell's source, wasmtime
//! with `runtime`, `async` and `std` only), then what a user does:
//!
//! 1. `cargo generate-lockfile`, `spindle patch`;
//! 2. `cargo tree` shows the generated path package;
//! 3. a release build runs 1000 async host calls, each suspending and
//!    resuming its fiber (ran natively);
//! 4. the binary defines Spindle's switch symbols and has no
//!    `wasmtime_fiber_switch` (inspected with the `object` crate);
//! 5. `spindle patch --check` exits 0; after moving the app to another
//!    release (`cargo update -p wasmtime`), `--check` exits 1 naming the
//!    new version, a second `spindle patch` fixes it and `--check` exits 0;
//! 6. the upstream crate's own unit tests (the `mod tests` of the
//!    registry's `src/lib.rs`, read from cargo's registry cache at test
//!    time, never committed here) run against the generated drop-in.
//!
//! CI runs one cell (46.0.3, an API epoch no committed drop-in covers, on
//! the stable toolchain); all of them: `cargo patch-full`. Each cell's timings and
//! results go to target/patch-cells/REPORT-<version>.md; docs/patch-report.md
//! has the measured table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Instant;

use spindle_tests::{inspect_file, switch_symbols, symbols_containing, workspace_root};

/// One wasmtime build at a time: the machine is shared.
static BUILD: Mutex<()> = Mutex::new(());

struct Cell {
    /// The wasmtime release the app starts on.
    wasmtime: &'static str,
    /// The rustup toolchain to build with (the release's rust-version or
    /// newer).
    toolchain: &'static str,
    /// The release the app moves to for the `--check` step.
    then: &'static str,
    /// Build with `lto = "thin"` (the original bug's setting): the switch
    /// symbol must survive cross-crate ThinLTO in a patched application.
    thin_lto: bool,
}

/// The cargo of `toolchain`, with nothing inherited from the outer build.
fn cargo(cell: &Cell, dir: &Path) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", cell.toolchain, "cargo"]);
    spindle_test_support::nested_cargo::scrub_outer_build(&mut cmd);
    cmd.env_remove("CARGO")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env("CARGO_INCREMENTAL", "0")
        .current_dir(dir);
    cmd
}

fn ok(what: &str, out: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// The `spindle` binary of this build (built by `cargo test --workspace`;
/// built here when this test runs alone).
fn spindle_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join(format!("spindle{}", std::env::consts::EXE_SUFFIX));
    let out = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "spindle-cli", "--bin", "spindle"])
        .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap())
        .current_dir(workspace_root())
        .output()
        .unwrap();
    ok("building spindle", out);
    assert!(bin.is_file(), "no {}", bin.display());
    bin
}

/// `spindle patch ARGS` on `app`, as a user on `cell.toolchain` runs it
/// (its cargo is that toolchain's): exit code and output.
fn spindle_patch(cell: &Cell, spindle: &Path, app: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", cell.toolchain])
        .arg(spindle)
        .arg("patch")
        .args(args)
        .env_remove("CARGO")
        .env_remove("RUSTUP_TOOLCHAIN")
        .current_dir(app);
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn app_manifest(wasmtime: &str) -> String {
    format!(
        "# A fresh application for one of spindle patch's proof cells.\n\
         [package]\nname = \"patch-cell\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n\
         wasmtime = {{ version = \"={wasmtime}\", default-features = false, features = [\"runtime\", \"async\", \"std\"] }}\n\n\
         [workspace]\n"
    )
}

/// The registry's `wasmtime-internal-fiber` source directory in the app's
/// graph (cargo metadata extracts it).
fn registry_fiber_dir(cell: &Cell, app: &Path) -> PathBuf {
    let out = cargo(cell, app)
        .args(["metadata", "--format-version", "1"])
        .output()
        .unwrap();
    let text = ok("cargo metadata", out);
    let json: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let pkg = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "wasmtime-internal-fiber")
        .expect("wasmtime-internal-fiber in the graph");
    assert!(
        pkg["source"]
            .as_str()
            .unwrap_or("")
            .starts_with("registry+")
    );
    PathBuf::from(pkg["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The body of the `mod tests { ... }` at the end of the original's
/// `src/lib.rs` (the module is the file's last item in every release of the
/// table; checked here).
fn upstream_tests(lib_rs: &str) -> String {
    let start = lib_rs
        .find("\nmod tests {\n")
        .expect("the original's lib.rs has `mod tests`");
    let body = &lib_rs[start + "\nmod tests {\n".len()..];
    let end = body.trim_end().rfind('}').expect("closing brace");
    let body = &body[..end];
    assert!(
        !body.contains("\nmod ") || body.matches('{').count() == body.matches('}').count(),
        "mod tests is not the last item"
    );
    body.to_string()
}

/// Runs the original's unit tests on the generated drop-in: a crate that
/// re-exports the drop-in's API as its root (the tests' `super::`) and has
/// the tests as its test module. Returns cargo's summary line.
fn run_upstream_tests(
    cell: &Cell,
    cell_dir: &Path,
    app: &Path,
    registry_dir: &Path,
    target: &Path,
) -> String {
    let lib = std::fs::read_to_string(registry_dir.join("src/lib.rs")).unwrap();
    let crate_dir = cell_dir.join("upstream-tests");
    let _ = std::fs::remove_dir_all(&crate_dir);
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"upstream-tests\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [features]\n# The original's tests read `feature = \"std\"`; wasmtime always turns it on.\n\
             default = [\"std\"]\nstd = []\n\n\
             [dependencies]\nwasmtime-internal-fiber = {{ path = {:?} }}\n\n\
             [dev-dependencies]\nbacktrace = \"0.3.68\"\n\n\
             [lints.rust]\nunexpected_cfgs = {{ level = \"allow\" }}\n\n[workspace]\n",
            app.join("spindle/wasmtime-internal-fiber").to_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::write(
        crate_dir.join("src/lib.rs"),
        "//! The original crate's unit tests, on the drop-in.\n\
         extern crate alloc;\n\
         pub use wasmtime_internal_fiber::*;\n\
         #[cfg(test)]\n#[path = \"upstream_tests.rs\"]\nmod tests;\n",
    )
    .unwrap();
    std::fs::write(
        crate_dir.join("src/upstream_tests.rs"),
        upstream_tests(&lib),
    )
    .unwrap();
    let out = cargo(cell, &crate_dir)
        .args(["test", "--lib"])
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    let text = ok("the original's unit tests on the drop-in", out);
    text.lines()
        .rfind(|l| l.starts_with("test result:"))
        .unwrap_or("no test result line")
        .to_string()
}

fn run_cell(cell: &Cell) {
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let spindle = spindle_binary();
    // Outside the workspace, as a user's app is; builds are cached in
    // target/patch-cells/<version> across runs.
    let cell_dir = std::env::temp_dir()
        .join("spindle-patch-cells")
        .join(cell.wasmtime);
    let app = cell_dir.join("app");
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(app.join("Cargo.toml"), app_manifest(cell.wasmtime)).unwrap();
    std::fs::copy(
        workspace_root().join("tests/patch-cell/src/main.rs"),
        app.join("src/main.rs"),
    )
    .unwrap();
    let target = workspace_root()
        .join("target/patch-cells")
        .join(cell.wasmtime);
    let mut report = vec![format!(
        "# wasmtime {} on rustc {}",
        cell.wasmtime, cell.toolchain
    )];
    let mut note = |line: String| {
        println!("patch-cell {}: {line}", cell.wasmtime);
        report.push(format!("- {line}"));
    };

    ok(
        "cargo generate-lockfile",
        cargo(cell, &app).arg("generate-lockfile").output().unwrap(),
    );
    let registry_dir = registry_fiber_dir(cell, &app);

    let started = Instant::now();
    let (code, text) = spindle_patch(cell, &spindle, &app, &[]);
    assert_eq!(code, 0, "spindle patch:\n{text}");
    note(format!(
        "`spindle patch`: exit 0 in {:.1?}",
        started.elapsed()
    ));

    let tree = ok(
        "cargo tree",
        cargo(cell, &app)
            .args(["tree", "-i", "wasmtime-internal-fiber", "--depth", "0"])
            .output()
            .unwrap(),
    );
    let drop_in = app.join("spindle/wasmtime-internal-fiber");
    let expected = format!(
        "wasmtime-internal-fiber v{} ({})",
        cell.wasmtime,
        drop_in.display()
    );
    assert!(tree.contains(&expected), "cargo tree:\n{tree}");
    note(format!(
        "`cargo tree -i wasmtime-internal-fiber`: `{expected}`"
    ));

    let started = Instant::now();
    let mut build = cargo(cell, &app);
    build
        .args(["build", "--release"])
        .env("CARGO_TARGET_DIR", &target);
    let profile = if cell.thin_lto {
        build.env("CARGO_PROFILE_RELEASE_LTO", "thin");
        "release build with ThinLTO"
    } else {
        "release build"
    };
    ok("cargo build --release", build.output().unwrap());
    let build_time = started.elapsed();
    let binary = target.join("release/patch-cell");
    let run = ok("the patched app", Command::new(&binary).output().unwrap());
    assert!(
        run.starts_with(
            "patch-cell: 1000 async host calls, each suspended its fiber once and resumed"
        ),
        "{run}"
    );
    note(format!(
        "{profile} in {:.0?}; ran natively: `{}`",
        build_time,
        run.trim()
    ));

    let symbols = switch_symbols(spindle_fiber::SYMBOL_VERSION);
    let inspection = inspect_file(&binary, &symbols, false).unwrap();
    if let Err(problem) = inspection.verdict() {
        panic!("{problem}\n{inspection}");
    }
    let theirs = symbols_containing(&binary, "wasmtime_fiber_switch").unwrap();
    assert!(
        theirs.is_empty(),
        "wasmtime's own switch is in the binary: {theirs:?}"
    );
    note(format!(
        "inspected: {} defined, no `wasmtime_fiber_switch`",
        symbols.join(", ")
    ));

    // The original's own tests, on the drop-in.
    let started = Instant::now();
    let summary = run_upstream_tests(
        cell,
        &cell_dir,
        &app,
        &registry_dir,
        &target.join("upstream"),
    );
    note(format!(
        "the original {}'s own unit tests on the drop-in ({:.0?}): {summary}",
        cell.wasmtime,
        started.elapsed()
    ));
    let (code, text) = spindle_patch(cell, &spindle, &app, &["--check"]);
    assert_eq!(code, 0, "--check:\n{text}");
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        manifest.replace(
            &format!("\"={}\"", cell.wasmtime),
            &format!("\"={}\"", cell.then),
        ),
    )
    .unwrap();
    ok(
        "cargo update -p wasmtime",
        cargo(cell, &app)
            .args(["update", "-p", "wasmtime"])
            .output()
            .unwrap(),
    );
    let (code, text) = spindle_patch(cell, &spindle, &app, &["--check"]);
    assert_eq!(code, 1, "--check after moving to {}:\n{text}", cell.then);
    let pins = format!("Cargo.lock pins wasmtime-internal-fiber {}", cell.then);
    assert!(text.contains(&pins), "{text}");
    let (code, text) = spindle_patch(cell, &spindle, &app, &[]);
    assert_eq!(code, 0, "second spindle patch:\n{text}");
    let (code, text) = spindle_patch(cell, &spindle, &app, &["--check"]);
    assert_eq!(code, 0, "--check after the second patch:\n{text}");
    note(format!(
        "`--check` exit 0; moved to {}: exit 1 (\"{pins} ...\"); second `spindle patch`, `--check` exit 0",
        cell.then
    ));

    let reports = workspace_root().join("target/patch-cells");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(
        reports.join(format!("REPORT-{}.md", cell.wasmtime)),
        report.join("\n") + "\n",
    )
    .unwrap();
    if std::env::var_os("CI").is_some() {
        let _ = std::fs::remove_dir_all(&cell_dir);
    }
}

/// The CI cell: wasmtime 46.0.3, the newest release of the 44-46 API epoch
/// (every error wasmtime's own, `Fiber::new` dropping the stack), which no
/// drop-in committed in this repository covers; on the stable toolchain.
/// (36.0.23 would be the oldest epoch's newest, but this registry cannot
/// resolve it: wasmtime-internal-wit-bindgen 36.0.23 is missing.) Built
/// with ThinLTO, it is also CI's patched-application LTO cell: a wasmtime
/// application on Spindle's switch, linked under cross-crate ThinLTO, run
/// natively and inspected (the spindle-runtime application's cells are
/// `cargo lto-runtime-full`).
#[test]
#[ignore = "a nested wasmtime release build: `scripts/test.sh nested-builds` (CI) runs it"]
fn patch_cell_46_0_3() {
    run_cell(&Cell {
        wasmtime: "46.0.3",
        toolchain: "stable",
        then: "46.0.0",
        thin_lto: true,
    });
}

macro_rules! full_cell {
    ($name:ident, $wasmtime:literal, $toolchain:literal, $then:literal) => {
        #[test]
        #[ignore = "a cold wasmtime build each: cargo patch-full"]
        fn $name() {
            run_cell(&Cell {
                wasmtime: $wasmtime,
                toolchain: $toolchain,
                then: $then,
                thin_lto: false,
            });
        }
    };
}

full_cell!(patch_cell_36_0_20, "36.0.20", "stable", "38.0.4");
full_cell!(patch_cell_38_0_4, "38.0.4", "stable", "38.0.3");
full_cell!(patch_cell_43_0_2, "43.0.2", "stable", "43.0.0");
full_cell!(patch_cell_47_0_4, "47.0.4", "stable", "48.0.8");
full_cell!(patch_cell_48_0_8, "48.0.8", "stable", "48.0.10");
full_cell!(patch_cell_48_0_10, "48.0.10", "stable", "48.0.8");
full_cell!(patch_cell_49_0_5, "49.0.5", "1.96", "49.0.0");
full_cell!(patch_cell_50_0_2, "50.0.2", "1.97", "50.0.1");
