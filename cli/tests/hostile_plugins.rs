//! Plugins and arguments that tried to make `spindle run` die or lie
//! (issue 19): a crafted name section, closed output streams, terminal
//! escapes in names and log text, f32 arguments that do not fit, a table
//! grown to 2 GB, and `random_fill` over 4 GB. The plugins are the audit's
//! reproductions, copied into `tests/fixtures/`.
//!
//! `SPINDLE_TEST_BIN` points these tests at another build (that is how they
//! were run against 9b1ab03).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn spindle_binary() -> PathBuf {
    std::env::var_os("SPINDLE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_spindle")))
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// Runs spindle with a 4 GiB address-space limit where the OS has one, so
/// that an allocation of gigabytes fails the test, not the machine.
fn spindle(args: &[&str]) -> Output {
    let mut cmd = Command::new(spindle_binary());
    cmd.args(args).stdin(Stdio::null());
    limit_address_space(&mut cmd);
    cmd.output().expect("running spindle")
}

#[cfg(unix)]
fn limit_address_space(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the forked child before exec; setrlimit is
    // async-signal-safe and touches no memory of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            // wasmtime reserves address space for each linear memory; 16 GiB
            // leaves room for that and none for a 96 GiB allocation.
            let bytes = 16 << 30;
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn limit_address_space(_: &mut Command) {
    println!("note: no address-space limit on this OS; a regression would allocate for real");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn scratch(name: &str, text: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-hostile-plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_local_name_at_index_0xffffffff_allocates_nothing() {
    // At 9b1ab03 naming the parameter in the argument error resized a
    // vector to the index: 96 GiB, then SIGABRT.
    let o = spindle(&["run", &fixture("localname.wasm"), "f", "notanumber"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("argument 1 of `f` (i32): `notanumber` is not an integer"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn plugin_names_and_log_text_reach_the_terminal_escaped() {
    let o = spindle(&["run", &fixture("esc.wat"), "run\n\x1b[2Kok: all good"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for raw in ['\x1b', '\r', '\x07', '\0'] {
        assert!(!err.contains(raw), "{raw:?} reached stderr raw: {err:?}");
    }
    assert!(
        err.contains(r"[plugin] \x1b]0;owned\x07\x1b[2K\rerror: fake host message\n"),
        "{err}"
    );
    assert!(err.contains(r"evil\x1b[2K\rfake-frame"), "{err}");
    // One log line, one error line: nothing the plugin chose starts a line
    // of its own.
    let starting = |p: &str| err.lines().filter(|l| l.starts_with(p)).count();
    assert_eq!(starting("[plugin]"), 1, "{err}");
    assert_eq!(starting("error:"), 1, "{err}");
    assert_eq!(starting("ok:"), 0, "{err}");
    assert_eq!(
        err.lines().filter(|l| !l.starts_with(' ')).count(),
        2,
        "{err}"
    );

    // The export list of a wrong export name shows the names inert too.
    let o = spindle(&["run", &fixture("esc.wat"), "nope"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(r"  run\n\x1b[2Kok: all good (func)"), "{err}");
    assert!(!err.contains('\x1b'), "{err:?}");
}

const CHATTY: &str = r#"(module
  (import "spindle" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "a log line")
  (func (export "main") (result i32)
    (call $log (i32.const 0) (i32.const 10))
    (call $log (i32.const 0) (i32.const 10))
    (i32.const 7)))
"#;

#[test]
fn a_closed_stderr_or_stdout_ends_nothing_in_a_panic() {
    let plugin = scratch("chatty.wat", CHATTY);
    // stderr: a pipe whose reader is gone before spindle starts. The log
    // lines are lost; the result still arrives.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(spindle_binary())
        .args(["run", &plugin, "main"])
        .stderr(writer)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "exit {:?}", o.status);
    assert_eq!(stdout(&o), "7\n");

    // stdout: the same for results, a report and a listing: exit 3 (the
    // output is lost), not a panic's 101.
    for args in [
        vec!["run", &plugin, "main"],
        vec!["host-functions"],
        vec!["check", &plugin],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(spindle_binary())
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

const FLOATS: &str = r#"(module
  (func (export "f32") (param $x f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
  (func (export "f64") (param $x f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
  (func (export "i32") (param $x i32) (result i32) (local.get 0))
  (func (export "i64") (param $x i64) (result i64) (local.get 0)))
"#;

#[test]
fn numbers_are_parsed_exactly_or_refused() {
    let plugin = scratch("floats.wat", FLOATS);
    let run = |export: &str, arg: &str| spindle(&["run", &plugin, export, "--", arg]);
    let refused = |export: &str, arg: &str, why: &str| {
        let o = run(export, arg);
        assert_eq!(o.status.code(), Some(2), "{export} {arg}: {}", stdout(&o));
        assert!(stderr(&o).contains(why), "{export} {arg}: {}", stderr(&o));
    };
    refused(
        "f32",
        "1e39",
        "is too large for f32 (largest finite: 3.4028235e38)",
    );
    refused("f32", "1e-50", "is too small for f32: it would be 0");
    refused("f64", "1e309", "is too large for f64");
    refused("f64", "1e-400", "is too small for f64: it would be 0");
    for export in ["f32", "f64"] {
        refused(export, "+0x+5", "is not a number");
        refused(export, "1e", "is not a number");
    }
    for export in ["i32", "i64"] {
        refused(export, "+0x+5", "is not an integer");
        refused(export, "++5", "is not an integer");
        refused(export, "0x_5", "is not an integer");
    }
    let bits = |export: &str, arg: &str| {
        let o = run(export, arg);
        assert_eq!(o.status.code(), Some(0), "{export} {arg}: {}", stderr(&o));
        stdout(&o).trim().parse::<i64>().unwrap()
    };
    // Halfway between 1 and the next f32 up, plus a little: one rounding
    // gives the f32 above 1; rounding to f64 first gave exactly 1.
    assert_eq!(
        bits("f32", "1.00000005960464477539062500001") as u32,
        0x3f80_0001
    );
    assert_eq!(bits("f32", "1e-45") as u32, 1, "smallest subnormal");
    assert_eq!(bits("f32", "-0") as u32, 0x8000_0000);
    assert_eq!(bits("f64", "0.1") as u64, 0.1f64.to_bits());
    assert_eq!(bits("i32", "0x7fff_ffff"), 0x7fff_ffff);
    assert_eq!(bits("i32", "+5"), 5);
    assert_eq!(bits("i64", "-0x10"), -16);
}
