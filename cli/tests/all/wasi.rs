//! `spindle run` and `spindle check` with WASI preview 1 plugins: real Rust
//! plugins built for wasm32-wasip1 (runtime/tests/plugins/wasi-plugin) and
//! the runtime's WAT edge cases, through the `spindle` binary.

use spindle_test_support::wasi_plugins::WasiPlugins;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

/// The WASI test plugins, built under this test binary's target tmpdir.
fn plugins() -> &'static WasiPlugins {
    spindle_test_support::wasi_plugins::plugins(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

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

/// `--timeout` ends a WASI plugin's sleep at the deadline: the audit saw
/// `std::thread::sleep(8 s)` under `--timeout 1s` print "woke after 8s" and
/// exit 0, and one `poll_oneoff` of an hour run until killed. The oracle is
/// that the sleep never finished; the time bound (beyond what loading the
/// plugin takes) is far above the deadline and far below the sleep.
#[test]
fn timeout_ends_a_wasi_sleep_at_the_deadline() {
    // What loading and compiling the Rust plugin (the larger one) costs
    // this debug build on this machine now: the deadline counts from the
    // call, after it, and a loaded CI machine took 6 s for it.
    let started = std::time::Instant::now();
    let o = spindle(&["run", path(&plugins().command), "--", "--sleep", "0"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let load = started.elapsed();
    for (plugin, args) in [
        (
            path(&plugins().command).to_string(),
            vec!["--", "--sleep", "8"],
        ),
        (wat("sleep_hour.wat"), vec![]),
    ] {
        let started = std::time::Instant::now();
        let mut cmd = vec!["run", "--timeout", "1s", &plugin];
        cmd.extend(args.iter().copied());
        let o = spindle(&cmd);
        let took = started.elapsed().saturating_sub(load);
        assert_eq!(code(&o), 1, "{plugin}: {}", err(&o));
        assert!(!out(&o).contains("woke"), "{}", out(&o));
        assert!(
            err(&o).contains("plugin call exceeded its 1s deadline")
                && err(&o).contains("hint: raise --timeout"),
            "{}",
            err(&o)
        );
        // The sleep would take 8 s (or an hour), the deadline 1 s.
        assert!(
            took < std::time::Duration::from_secs(5),
            "{plugin}: {took:?} beyond {load:?} of loading"
        );
    }
}

/// Under --fuel alone a plugin cannot wait unboundedly either: waiting is
/// allowed one nanosecond per unit of fuel.
#[test]
fn fuel_alone_bounds_a_wasi_wait() {
    let o = spindle(&["run", "--fuel", "100000", &wat("sleep_hour.wat")]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(
        err(&o).contains("waited in the host longer than its fuel allows (100µs"),
        "{}",
        err(&o)
    );
    // A billion units allow a one-second sleep.
    let o = spindle(&[
        "run",
        "--fuel",
        "2000000000",
        path(&plugins().command),
        "--",
        "--sleep",
        "1",
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("woke after 1s"), "{}", out(&o));
}

/// Every spelling a user could mean as read-only grants read-only; a word
/// that is neither a mode nor an absolute guest path is refused with the
/// accepted forms (the audit's `data:RO` truncated the file).
#[test]
fn dir_modes_in_any_spelling_never_grant_write_by_mistake() {
    let dir = scratch("modes");
    let grant = |m: &str| format!("{}:{m}", path(&dir));
    let keep = dir.join("keep.txt");
    for m in [
        "ro",
        "RO",
        "Ro",
        "r",
        "R",
        "readonly",
        "READONLY",
        "read-only",
        "Read-Only",
        "read_only",
        "/data:ro",
        "/data:RO",
        "/data:r",
    ] {
        std::fs::write(&keep, "precious\n").unwrap();
        let o = spindle(&["run", "--dir", &grant(m), &wat("truncate.wat")]);
        // EPERM: the grant is read-only.
        assert_eq!(code(&o), 63, "{m}: {}", err(&o));
        assert_eq!(std::fs::read_to_string(&keep).unwrap(), "precious\n", "{m}");
    }
    for m in ["rw", "RW", "readwrite", "read-write", "/data", "/data:rw"] {
        std::fs::write(&keep, "precious\n").unwrap();
        let o = spindle(&["run", "--dir", &grant(m), &wat("truncate.wat")]);
        assert_eq!(code(&o), 0, "{m}: {}", err(&o));
        assert_eq!(std::fs::read_to_string(&keep).unwrap(), "", "{m}");
    }
    for (m, want) in [
        ("data", "`data` in"),
        ("x", "`x` in"),
        ("rwx", "`rwx` in"),
        ("read", "`read` in"),
        ("/data:readwrite2", "unknown mode `readwrite2`"),
        ("ro:/data", "unknown mode `/data`"),
    ] {
        std::fs::write(&keep, "precious\n").unwrap();
        let o = spindle(&["run", "--dir", &grant(m), &wat("truncate.wat")]);
        assert_eq!(code(&o), 2, "{m}: {}", err(&o));
        assert!(
            err(&o).contains(want) && err(&o).contains("MODE is `ro` (also `r`"),
            "{m}: {}",
            err(&o)
        );
        assert_eq!(std::fs::read_to_string(&keep).unwrap(), "precious\n", "{m}");
    }
}

/// A plugin cannot plant a symlink pointing out of its read-write grant:
/// `path_symlink` fails with EPERM (63), and the host later reading or
/// writing what the plugin left stays inside the grant.
#[test]
fn a_plugin_cannot_plant_a_symlink_out_of_its_grant() {
    let work = scratch("plant");
    let outdir = work.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    std::fs::write(work.join("secret.txt"), "host secret\n").unwrap();
    let o = spindle(&[
        "run",
        "--dir",
        &format!("{}:/out", path(&outdir)),
        &wat("plant_symlink.wat"),
    ]);
    assert_eq!(code(&o), 63, "{}", err(&o));
    assert!(
        std::fs::symlink_metadata(outdir.join("result.txt")).is_err(),
        "a link was planted"
    );
}

/// `--input` on an export that ends with `proc_exit(0)` before returning:
/// exit 1 and nothing on stdout, so `spindle run ... > out && deploy out`
/// does not ship an empty file. A command keeps its code (0 here).
#[test]
fn proc_exit_zero_before_a_result_is_a_failure() {
    let o = spindle(&["run", "--input", "hello", &wat("input_exit0.wat"), "f"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(out(&o), "");
    assert!(
        err(&o).contains("plugin exited with code 0 (proc_exit) before returning its result"),
        "{}",
        err(&o)
    );
    // An export with results: the same.
    let o = spindle(&["run", &wat("exit.wat"), "exit_with_result", "0"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(out(&o), "");
    // Without results there is nothing to miss: 0, as before.
    let o = spindle(&["run", &wat("exit.wat"), "exit", "0"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
}
