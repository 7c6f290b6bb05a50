//! Plugins and arguments that tried to make `spindle run` die or lie:
//! a crafted name section, closed output streams, terminal
//! escapes in names and log text, f32 arguments that do not fit, a table
//! grown to 2 GB, and `random_fill` over 4 GB. The plugins are the audit's
//! reproductions, copied into `tests/fixtures/`.
//!
//! `SPINDLE_TEST_BIN` points these tests at another build (that is how they
//! were run against 9b1ab03).

#[cfg(unix)]
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

#[cfg(unix)]
#[test]
fn a_table_grown_to_2_gb_hits_the_default_table_limit() {
    // At 9b1ab03 the CLI had no table cap: growing by 0x10000000 elements
    // succeeded under --timeout 100ms (1.56 s, 2.1 GB).
    let plugin = fixture("tablegrow.wat");
    let r = crate::common::spindle_as(
        &["run", "--timeout", "100ms", &plugin, "g", "268435456"],
        Some(16 << 30),
        None,
    );
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "plugin tried to grow its tables to 268435456 elements, over the 1000000-element \
             limit (all of its tables together)"
        ) && r.stderr.contains("hint: raise --max-table"),
        "{}",
        r.stderr
    );
    assert!(r.max_rss_kib < 512 << 10, "peak RSS {} KiB", r.max_rss_kib);

    // --max-table moves the cap, to the element.
    let run = |n: &str| {
        crate::common::spindle_as(&["run", "--max-table", "10", &plugin, "g", n], None, None)
    };
    let r = run("10");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "0\n"),
        "{}",
        r.stderr
    );
    let r = run("11");
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("over the 10-element limit"),
        "{}",
        r.stderr
    );
}

#[cfg(unix)]
#[test]
fn random_fill_checks_its_bounds_before_it_allocates() {
    // At 9b1ab03 random_fill(0, 0xffffffff) allocated 4 GB before its bounds
    // check (7.2 s, 4.2 GB RSS). Now the bounds come first and the bytes go
    // straight into guest memory.
    let plugin = fixture("fill.wat");
    let r = crate::common::spindle_as(&["run", "--timeout", "10ms", &plugin, "once"], None, None);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "random_fill` failed: guest memory access [0x0, +4294967295) is outside its 65536 bytes"
        ),
        "{}",
        r.stderr
    );
    assert!(r.max_rss_kib < 512 << 10, "peak RSS {} KiB", r.max_rss_kib);

    // In bounds it fills in place, and one call is bounded (1 MiB).
    let fills = scratch(
        "fills.wat",
        r#"(module
  (import "spindle" "random_fill" (func $fill (param i32 i32)))
  (memory (export "memory") 17)
  (func (export "fill") (param i32 i32) (result i64)
    (call $fill (local.get 0) (local.get 1))
    (i64.load (local.get 0))))"#,
    );
    let o = spindle(&["run", "--seed", "1", &fills, "fill", "8", "1048576"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(stdout(&o), "0\n");
    let o = spindle(&["run", &fills, "fill", "0", "1048577"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("random_fill: 1048577 bytes is over the 1048576-byte limit of one call"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn one_log_call_prints_at_most_64_kib() {
    let plugin = scratch(
        "biglog.wat",
        r#"(module
  (import "spindle" "log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (func (export "log") (param i32) (call $log (i32.const 0) (local.get 0))))"#,
    );
    let o = spindle(&["run", &plugin, "log", "65536"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = spindle(&["run", &plugin, "log", "65537"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("log: 65537 bytes is over the 65536-byte limit of one call"),
        "{}",
        stderr(&o)
    );
}

/// A guest-contract export that grows its memory by `pages` pages it never
/// touches and returns a result area (tag `tag`: 0 output, 1 error)
/// claiming `len` bytes of it: the audit's 300-byte amplifier.
fn amplifier(name: &str, tag: u32, pages: u32, len: u32) -> String {
    scratch(
        name,
        &format!(
            r#"(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "f") (param i32 i32) (result i32)
    (drop (memory.grow (i32.const {pages})))
    (i32.store8 (i32.const 0) (i32.const {tag}))
    (i32.store (i32.const 4) (i32.const 65536))
    (i32.store (i32.const 8) (i32.const {len}))
    (i32.const 0)))"#
        ),
    )
}

/// The default --max-output refuses a claimed output or error message of
/// 64 MiB and 512 MiB before copying it (peak RSS measured in the closing
/// note: the audit saw 100 MB and 2.66 GB); --max-output raises it.
#[test]
fn a_claimed_output_over_the_default_max_output_is_refused_before_copying() {
    let cases = [
        ("out64m.wat", 0, 1024, 64 << 20, "output", "67108864"),
        (
            "err512m.wat",
            1,
            8192,
            512 << 20,
            "error message",
            "536870912",
        ),
    ];
    for (name, tag, pages, len, what, shown) in cases {
        let plugin = amplifier(name, tag, pages, len);
        let o = spindle(&["run", "--input", "x", "--max-memory", "1GiB", &plugin, "f"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{name}");
        let e = stderr(&o);
        assert!(
            e.contains(&format!(
                "the plugin's {what} is {shown} bytes, over the 4194304-byte max_output_bytes limit"
            )) && e.contains("hint: raise --max-output"),
            "{name}: {e}"
        );
        assert!(e.len() < 1024, "{name}: {} bytes of stderr", e.len());
    }
    // Raised, a 5 MiB output comes through whole, byte for byte.
    let plugin = amplifier("out5m.wat", 0, 100, 5 << 20);
    let o = spindle(&["run", "--input", "x", "--max-output", "8MiB", &plugin, "f"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout.len(), 5 << 20);
    assert!(o.stdout.iter().all(|&b| b == 0));
}

/// An error message under --max-output but over the library's 64 KiB
/// bound is cut, with a note saying how long it was.
#[test]
fn a_long_guest_error_message_is_cut_with_a_note() {
    let plugin = amplifier("err100k.wat", 1, 4, 100 << 10);
    let o = spindle(&["run", "--input", "x", &plugin, "f"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("[... cut: the first 65536 of 102400 bytes]"),
        "{}",
        &e[e.len().saturating_sub(300)..]
    );
    // 64 KiB of NUL, each escaped as 4 characters, and the note.
    assert!(e.len() < 300 << 10, "{} bytes", e.len());
}
