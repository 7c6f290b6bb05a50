//! `spindle run`, `check` and `host-functions`, run as the real binary on WAT
//! plugins written by the tests.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn spindle(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        .output()
        .expect("running spindle")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// Writes `text` to `name` in this test binary's scratch directory. Tests run
/// in parallel and several write the same plugin while others' `spindle`
/// processes read it, so the file is written aside and renamed into place: a
/// reader sees the whole old file or the whole new one, never a truncated one.
fn file(name: &str, text: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-run-check");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let aside = dir.join(format!(".{name}.{}.{n}", std::process::id()));
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, &path).unwrap();
    path
}

const GOOD: &str = r#"
(module
  (import "spindle" "log" (func $log (param i32 i32)))
  (import "spindle" "random_u64" (func $rand (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello from wasm")
  (func (export "add") (param i32 i32) (result i32)
    (call $log (i32.const 0) (i32.const 15))
    (i32.add (local.get 0) (local.get 1)))
  (func (export "mix") (param i64 f32 f64) (result i64 f64)
    (local.get 0)
    (f64.add (f64.promote_f32 (local.get 1)) (local.get 2)))
  (func (export "rand") (result i64) (call $rand))
  (func (export "scale") (param $factor f64) (param $count i32) (result f64)
    (f64.mul (local.get $factor) (f64.convert_i32_s (local.get $count))))
  (func $inner (param i32) (result i32) (unreachable))
  (func $outer (export "boom") (result i32) (call $inner (i32.const 1)))
  (func (export "spin") (loop (br 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
"#;

fn good() -> PathBuf {
    file("good.wat", GOOD)
}

#[test]
fn run_prints_results_and_plugin_logs() {
    let p = good();
    let o = spindle(&["run", p.to_str().unwrap(), "add", "2", "-5"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "-3\n");
    assert!(stderr(&o).contains("hello from wasm"), "{}", stderr(&o));

    let o = spindle(&["run", p.to_str().unwrap(), "mix", "0x10", "1.5", "-0.25"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "16\n1.25\n");

    // i32 takes the unsigned range too: 4294967295 is -1.
    let o = spindle(&["run", p.to_str().unwrap(), "add", "4294967295", "0"]);
    assert_eq!(stdout(&o), "-1\n", "{}", stderr(&o));
}

#[test]
fn run_seed_makes_random_reproducible() {
    let p = good();
    let a = spindle(&["run", "--seed", "7", p.to_str().unwrap(), "rand"]);
    let b = spindle(&["run", "--seed", "7", p.to_str().unwrap(), "rand"]);
    let c = spindle(&["run", "--seed", "8", p.to_str().unwrap(), "rand"]);
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
    assert_ne!(stdout(&a), stdout(&c));
}

#[test]
fn run_rejects_bad_arguments_naming_the_parameter() {
    let p = good();
    let o = spindle(&["run", p.to_str().unwrap(), "add", "2", "three"]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(
        e.contains("argument 2 of `add` (i32): `three` is not an integer"),
        "{e}"
    );
    assert!(e.contains("(func (param i32 i32) (result i32))"), "{e}");

    // Parameter names come from the name section when the module has one.
    let o = spindle(&["run", p.to_str().unwrap(), "scale", "1.5", "many"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("argument 2 of `scale` ($count i32): `many` is not an integer"),
        "{}",
        stderr(&o)
    );
    let o = spindle(&["run", p.to_str().unwrap(), "scale", "1.5", "-4"]);
    assert_eq!(stdout(&o), "-6\n", "{}", stderr(&o));

    let o = spindle(&["run", p.to_str().unwrap(), "add", "99999999999", "1"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("out of range for i32"),
        "{}",
        stderr(&o)
    );

    let o = spindle(&["run", p.to_str().unwrap(), "add", "1"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("takes 2 arguments but 1 was given"),
        "{}",
        stderr(&o)
    );

    let o = spindle(&["run", p.to_str().unwrap(), "ad"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no exported function `ad`"));
    assert!(stderr(&o).contains("add (func (param i32 i32) (result i32))"));
}

#[test]
fn run_reports_a_trap_with_code_and_backtrace() {
    let o = spindle(&["run", good().to_str().unwrap(), "boom"]);
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(e.contains("unreachable"), "{e}");
    assert!(e.contains("wasm backtrace:"), "{e}");
    let inner = e.find("inner").expect("inner frame");
    let outer = e.find("outer").expect("outer frame");
    assert!(inner < outer, "innermost frame first: {e}");
}

#[test]
fn run_enforces_fuel_timeout_and_memory() {
    let p = good();
    let o = spindle(&["run", "--fuel", "10000", p.to_str().unwrap(), "spin"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("ran out of fuel (10000 units"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--fuel"));

    let start = Instant::now();
    let o = spindle(&["run", "--timeout", "200ms", p.to_str().unwrap(), "spin"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("exceeded its 200ms deadline"),
        "{}",
        stderr(&o)
    );
    assert!(start.elapsed() < Duration::from_secs(20));

    // 1 page now; growing by 2 pages needs 192 KiB, over a 128KiB cap.
    let o = spindle(&[
        "run",
        "--max-memory",
        "128KiB",
        p.to_str().unwrap(),
        "grow",
        "2",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("grow its memory to 196608 bytes, over the 131072-byte limit"),
        "{}",
        stderr(&o)
    );
    // Within the cap it works and returns the old size in pages.
    let o = spindle(&[
        "run",
        "--max-memory",
        "1MiB",
        p.to_str().unwrap(),
        "grow",
        "2",
    ]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "1\n"),
        "{}",
        stderr(&o)
    );

    let o = spindle(&["run", "--timeout", "soon", p.to_str().unwrap(), "spin"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--timeout"), "{}", stderr(&o));
}

const BAD_IMPORTS: &str = r#"
(module
  (import "spindle" "lgo" (func (param i32 i32)))
  (import "spindle" "now_ns" (func (param i32) (result i32)))
  (import "env" "host_print" (func (param i32)))
  (func (export "run")))
"#;

#[test]
fn run_and_check_report_every_import_problem() {
    let p = file("bad_imports.wat", BAD_IMPORTS);
    let o = spindle(&["run", p.to_str().unwrap(), "run"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("3 problems"), "{}", stderr(&o));

    let o = spindle(&["check", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("3 problems"), "{out}");
    assert!(
        out.contains(r#"missing import: (import "spindle" "lgo" (func (param i32 i32)))"#),
        "{out}"
    );
    assert!(
        out.contains(r#"did you mean (import "spindle" "log" (func (param i32 i32)))?"#),
        "{out}"
    );
    assert!(
        out.contains(r#"import "spindle" "now_ns" has the wrong type"#),
        "{out}"
    );
    assert!(out.contains("host provides:  (func (result i64))"), "{out}");
    assert!(out.contains("wasm_import_module"), "{out}");

    let o = spindle(&["check", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["wasm_import_module_hint"], true);
    let kinds: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["missing_import", "import_type", "missing_import"]);
    assert_eq!(v["problems"][0]["suggestions"][0]["name"], "log");
}

#[test]
fn check_passes_a_good_plugin_against_the_built_in_host() {
    let o = spindle(&["check", good().to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).starts_with("ok:"));
    let o = spindle(&["check", good().to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
}

const APP_PLUGIN: &str = r#"
(module
  (import "app" "emit" (func (param i32 i32)))
  (import "app" "now" (func (result i64)))
  (func (export "on_event") (param i32) (result i32) (local.get 0)))
"#;

const MANIFEST: &str = r#"
[[function]]
module = "app"
name = "emit"
params = ["i32", "i32"]

[[function]]
module = "app"
name = "now"
results = ["i64"]

[[export]]
name = "on_event"
params = ["i32"]
results = ["i32"]
"#;

#[test]
fn check_against_a_host_manifest() {
    let plugin = file("app_plugin.wat", APP_PLUGIN);
    let manifest = file("host.toml", MANIFEST);
    let o = spindle(&[
        "check",
        plugin.to_str().unwrap(),
        "--host-manifest",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("2 functions, 1 required export"),
        "{}",
        stdout(&o)
    );

    // The same plugin does not fit the built-in host.
    let o = spindle(&["check", plugin.to_str().unwrap()]);
    assert_eq!(code(&o), 1);

    // A host that wants other types and another export.
    let strict = file(
        "strict.toml",
        &MANIFEST
            .replace(r#"results = ["i64"]"#, r#"results = ["i32"]"#)
            .replace(r#"name = "on_event""#, r#"name = "on_evnt""#),
    );
    let o = spindle(&[
        "check",
        plugin.to_str().unwrap(),
        "--host-manifest",
        strict.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{v:#}");
    assert_eq!(problems[0]["kind"], "import_type");
    assert_eq!(problems[0]["host_has"], "(func (result i32))");
    assert_eq!(problems[1]["kind"], "missing_export");
    assert_eq!(problems[1]["suggestions"][0], "on_event");
}

#[test]
fn bad_manifests_and_missing_files_are_input_errors() {
    let plugin = file("app_plugin2.wat", APP_PLUGIN);
    let typo = file(
        "typo.toml",
        "[[function]]\nmodule = \"app\"\nname = \"emit\"\nparms = [\"i32\"]\n",
    );
    let o = spindle(&[
        "check",
        plugin.to_str().unwrap(),
        "--host-manifest",
        typo.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("parms"), "{}", stderr(&o));

    let badty = file(
        "badty.toml",
        "[[function]]\nmodule = \"app\"\nname = \"emit\"\nparams = [\"int\"]\n",
    );
    let o = spindle(&[
        "check",
        plugin.to_str().unwrap(),
        "--host-manifest",
        badty.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("unknown type `int`"), "{}", stderr(&o));

    let o = spindle(&["check", "/nonexistent/plugin.wasm"]);
    assert_eq!(code(&o), 3);
    let o = spindle(&["run", "/nonexistent/plugin.wasm", "main"]);
    assert_eq!(code(&o), 3);

    // Not a module: a plugin failure, with the reason.
    let junk = file("junk.wasm", "(module)");
    let o = spindle(&["check", junk.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("looks like WebAssembly text"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn host_functions_lists_the_built_in_host() {
    let o = spindle(&["host-functions", "--format", "json"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let log = v
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "log")
        .expect("log listed");
    assert_eq!(log["module"], "spindle");
    assert_eq!(log["signature"], "(func (param i32 i32))");
    // Every listed function is importable: a plugin importing all of them checks clean.
    let imports: String = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "(import {} {} {})",
                f["module"],
                f["name"],
                f["signature"].as_str().unwrap()
            )
        })
        .collect();
    let p = file("all_imports.wat", &format!("(module {imports})"));
    let o = spindle(&["check", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn help_documents_examples_host_functions_and_exit_codes() {
    let o = spindle(&["run", "--help"]);
    let h = stdout(&o);
    assert!(h.contains("Examples:"), "{h}");
    assert!(h.contains(r#"(import "spindle" "log""#), "{h}");
    assert!(h.contains("Exit codes:"), "{h}");
    for cmd in ["check", "doctor"] {
        let h = stdout(&spindle(&[cmd, "--help"]));
        assert!(
            h.contains("Examples:") && h.contains("Exit codes:"),
            "{cmd}: {h}"
        );
    }
    let o = spindle(&["frobnicate"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn run_and_check_binary_modules() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-run-check");
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = dir.join("good.wasm");
    std::fs::write(&wasm, wat::parse_str(GOOD).unwrap()).unwrap();
    let o = spindle(&["run", wasm.to_str().unwrap(), "add", "40", "2"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "42\n"),
        "{}",
        stderr(&o)
    );
    let o = spindle(&["check", wasm.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    // A truncated module is a plugin failure with the reason.
    let cut = dir.join("cut.wasm");
    std::fs::write(&cut, b"\0asm").unwrap();
    let o = spindle(&["run", cut.to_str().unwrap(), "add"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
}
