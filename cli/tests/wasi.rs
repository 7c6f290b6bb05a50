//! `spindle run` and `spindle check` with WASI preview 1 plugins: real Rust
//! plugins built for wasm32-wasip1 (runtime/tests/plugins/wasi-plugin) and
//! the runtime's WAT edge cases, through the `spindle` binary.

#[path = "../../runtime/tests/wasi_common/mod.rs"]
mod wasi_common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use wasi_common::plugins;

fn spindle(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("running spindle")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn wat(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime/tests/data/wasi")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli-wasi")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The done-means check: a wasip1 plugin's `println!` line appears, with no
/// flags, for a command and for an export of a reactor.
#[test]
fn println_of_a_wasip1_plugin_appears_with_no_flags() {
    let o = spindle(&["run", path(&plugins().command)]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let stdout = out(&o);
    assert!(stdout.starts_with("args: []\nargv0: "), "{stdout}");
    assert!(stdout.contains("GREETING is not set\n"), "{stdout}");
    assert_eq!(err(&o), "wasi-cmd: done\n");

    let o = spindle(&["run", path(&plugins().plain), "hello"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // The plugin's line, then the export's result.
    assert_eq!(out(&o), "hello from a WASI reactor, call 1\n1\n");
    assert_eq!(err(&o), "a line on stderr\n");

    let o = spindle(&["run", "--input", "world", path(&plugins().plain), "greet"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(out(&o), "greeting world\nHello, world!");
}

#[test]
fn flags_grant_directories_env_and_args_and_the_exit_code_is_spindles() {
    let data = scratch("data");
    std::fs::write(data.join("input.txt"), "granted\n").unwrap();
    let outdir = scratch("out");
    let o = spindle(&[
        "run",
        "--dir",
        &format!("{}:/data:ro", path(&data)),
        "--dir",
        &format!("{}:/out", path(&outdir)),
        "--env",
        "GREETING=hello there",
        "--arg",
        "first",
        path(&plugins().command),
        "second",
        "--exit",
        "4",
    ]);
    assert_eq!(code(&o), 4, "{}", err(&o));
    let stdout = out(&o);
    assert!(
        stdout.starts_with("args: [\"first\", \"second\", \"--exit\", \"4\"]\n"),
        "{stdout}"
    );
    assert!(stdout.contains("GREETING=hello there\ninput: granted\nwrote /out/result.txt\n"));
    assert_eq!(
        std::fs::read_to_string(outdir.join("result.txt")).unwrap(),
        "written by wasi-cmd\n"
    );
    // Read-only is read-only.
    let o = spindle(&[
        "run",
        "--dir",
        &format!("{}:/out:ro", path(&outdir)),
        path(&plugins().command),
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        out(&o).contains("cannot write /out/result.txt"),
        "{}",
        out(&o)
    );
}

#[test]
fn proc_exit_codes_become_spindles() {
    // `_start` exits with 3.
    let o = spindle(&["run", &wat("exit.wat")]);
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert_eq!(out(&o), "");
    // An export that exits: its code, with a note naming it.
    let o = spindle(&["run", &wat("exit.wat"), "exit", "7"]);
    assert_eq!(code(&o), 7);
    assert!(
        err(&o).contains("plugin exited with code 7 (proc_exit)"),
        "{}",
        err(&o)
    );
    let o = spindle(&["run", &wat("exit.wat"), "exit", "0"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // Out of range for a process: 1, said so.
    let o = spindle(&["run", &wat("exit.wat"), "exit", "256"]);
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("outside 0..=255"), "{}", err(&o));
}

#[test]
fn a_reactor_without_an_export_name_is_a_usage_error() {
    let o = spindle(&["run", path(&plugins().plain)]);
    assert_eq!(code(&o), 2);
    let e = err(&o);
    assert!(
        e.contains("is not a WASI command (it exports no `_start`)"),
        "{e}"
    );
    assert!(e.contains("  hello (func (result i32))"), "{e}");
}

#[test]
fn bad_wasi_flags_get_clear_distinct_errors() {
    let file = scratch("flags").join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let dir = scratch("flags2");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--dir".into(), "".into()], "names no host directory"),
        (
            vec!["--dir".into(), "/nonexistent/spindle".into()],
            "cannot use `/nonexistent/spindle`",
        ),
        (
            vec!["--dir".into(), path(&file).into()],
            "is not a directory",
        ),
        (
            vec!["--dir".into(), format!("{}:/d:rx", path(&dir))],
            "unknown mode `rx`",
        ),
        (
            vec!["--dir".into(), format!("{}:", path(&dir))],
            "names an empty guest path",
        ),
        (
            vec!["--dir".into(), format!("{}:/a:ro:x", path(&dir))],
            "has 4 `:`-separated parts",
        ),
        (vec!["--env".into(), "NOVALUE".into()], "is not KEY=VALUE"),
        (
            vec!["--env".into(), "=v".into()],
            "has an empty variable name",
        ),
    ];
    for (flags, want) in cases {
        let mut args: Vec<&str> = vec!["run"];
        args.extend(flags.iter().map(String::as_str));
        args.push(path(&plugins().command));
        let o = spindle(&args);
        assert_eq!(code(&o), 2, "{flags:?}: {}", err(&o));
        assert!(err(&o).contains(want), "{flags:?}: {}", err(&o));
    }
}

#[test]
fn check_knows_wasi() {
    // The built-in host is `spindle run`'s, which provides WASI.
    let o = spindle(&["check", path(&plugins().plain)]);
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    assert!(out(&o).starts_with("ok: "), "{}", out(&o));

    let o = spindle(&["check", &wat("unknown_import.wat")]);
    assert_eq!(code(&o), 1);
    assert!(out(&o).contains("unknown WASI function"), "{}", out(&o));
    assert!(
        out(&o).contains("did you mean \"fd_write\"?"),
        "{}",
        out(&o)
    );

    // A manifest host provides WASI only when it says so.
    let dir = scratch("manifests");
    let without = dir.join("plain.toml");
    std::fs::write(&without, "").unwrap();
    let with = dir.join("wasi.toml");
    std::fs::write(&with, "wasi = true\n").unwrap();
    let o = spindle(&[
        "check",
        path(&plugins().plain),
        "--host-manifest",
        path(&without),
    ]);
    assert_eq!(code(&o), 1);
    assert!(out(&o).contains("enable WASI"), "{}", out(&o));
    let o = spindle(&[
        "check",
        path(&plugins().plain),
        "--host-manifest",
        path(&without),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["problems"][0]["kind"], "wasi_not_enabled");
    assert!(
        report["problems"][0]["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "fd_write")
    );
    let o = spindle(&[
        "check",
        path(&plugins().plain),
        "--host-manifest",
        path(&with),
    ]);
    assert_eq!(code(&o), 0, "{}", out(&o));
    let o = spindle(&[
        "check",
        &wat("unknown_import.wat"),
        "--host-manifest",
        path(&with),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["problems"][0]["kind"], "unknown_wasi_function");
    assert_eq!(report["problems"][0]["name"], "fd_writ");
}
