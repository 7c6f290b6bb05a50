//! `spindle doctor --log FILE`, `--log -` and `doctor -- CMD` on the logs
//! under fixtures/logs/ (real links, re-created by
//! scripts/make-link-logs.sh) and fixtures/logs/shapes/ (ld64 and link.exe
//! shapes written from their format), and on real failing links run here
//! where the tools exist.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn spindle() -> Command {
    Command::new(std::env::var_os("SPINDLE_TEST_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_spindle")),
        PathBuf::from,
    ))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The three ways in: `--log FILE`, `--log -` with the log on stdin, and
/// `doctor -- sh -c 'cat FILE >&2; exit 1'`. Returns their outputs.
fn three_ways(name: &str, extra: &[&str]) -> [(String, Output); 3] {
    let path = fixture(name);
    let bytes = std::fs::read(&path).unwrap();
    let by_file = spindle()
        .args(["doctor", "--log"])
        .arg(&path)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut child = spindle()
        .args(["doctor", "--log", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let by_stdin = child.wait_with_output().unwrap();
    let by_command = spindle()
        .arg("doctor")
        .args(extra)
        .args(["--", "sh", "-c", "cat \"$0\" >&2; exit 1"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    [
        ("--log FILE".into(), by_file),
        ("--log -".into(), by_stdin),
        ("-- CMD".into(), by_command),
    ]
}

/// Every way in names the cause, the file or symbol and the fix, and exits 1.
fn diagnosed(name: &str, wanted: &[&str]) {
    for (how, out) in three_ways(name, &[]) {
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name} via {how}:\n{t}");
        for w in wanted {
            assert!(t.contains(w), "{name} via {how}: no `{w}` in\n{t}");
        }
    }
    // JSON names the same diagnosis kind.
    for (how, out) in three_ways(name, &["--format", "json"]) {
        let stdout = String::from_utf8_lossy(&out.stdout);
        // `-- CMD` streams the command's stdout first; here it wrote none.
        let doc: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{name} via {how}: not JSON ({e}):\n{stdout}"));
        assert_eq!(doc["recognised"], true, "{name} via {how}: {doc:#}");
        assert!(doc["errors"].as_u64().unwrap() >= 1, "{doc:#}");
        if how == "-- CMD" {
            assert_eq!(doc["exit_status"], 1, "{doc:#}");
        }
    }
}

#[test]
fn zig_arm64_archive_in_x86_64_macho_link() {
    diagnosed(
        "zig-macho-arch-mismatch.log",
        &[
            "architecture mismatch",
            "libhelper.a(helper.o) was built for aarch64",
            "rustup target add aarch64-apple-darwin",
            "linker: zig ld",
        ],
    );
}

#[test]
fn lld_macho_arm64_archive_in_x86_64_link() {
    diagnosed(
        "lld-macho-arch-mismatch.log",
        &[
            "libhelper.a was built for arm64, but the link is for x86_64",
            "_spindle_probe_helper",
            "cargo build --target x86_64-apple-darwin",
            "lld (Mach-O)",
        ],
    );
}

#[test]
fn gnu_ld_incompatible_archive_is_a_mismatch_not_a_missing_library() {
    diagnosed(
        "gnu-ld-arch-mismatch.log",
        &["architecture mismatch: ./libarmhelper.a", "linker: GNU ld"],
    );
    let t = text(
        &spindle()
            .args(["doctor", "--log"])
            .arg(fixture("gnu-ld-arch-mismatch.log"))
            .output()
            .unwrap(),
    );
    assert!(!t.contains("missing native library"), "{t}");
}

#[test]
fn wasm_host_import_without_module_on_nightly() {
    diagnosed(
        "rustc-wasm-missing-import-module.log",
        &[
            "wasm host import without a module",
            "rust-lang/rust#149868",
            "#[link(wasm_import_module = \"env\")]\n    unsafe extern \"C\" {\n        fn host_log(",
            "fn host_now_ns(",
            "-C link-arg=--import-undefined",
            "lld (wasm)",
        ],
    );
}

#[test]
fn missing_native_libraries() {
    for (name, linker) in [
        ("gnu-ld-missing-lib.log", "GNU ld"),
        ("mingw-coff-missing-lib.log", "GNU ld (mingw, PE/COFF)"),
    ] {
        diagnosed(
            name,
            &[
                "missing native library: the linker cannot find -lspindle_nosuch",
                "cargo:rustc-link-search=native=DIR",
                linker,
            ],
        );
    }
    diagnosed(
        "shapes/ld64-missing-lib.log",
        &["-lssl", "libssl-dev", "-lzstd"],
    );
    diagnosed(
        "shapes/link-exe-missing-lib.log",
        &[
            "cannot find fastcodec.lib",
            "LIB environment variable",
            "MSVC link.exe",
        ],
    );
}

#[test]
fn unknown_undefined_symbols_are_reported_as_such() {
    for (name, linker) in [
        ("gnu-ld-undefined.log", "GNU ld"),
        ("gold-undefined.log", "gold"),
        ("lld-elf-undefined.log", "lld (ELF)"),
        ("lld-coff-undefined.log", "lld (COFF)"),
        ("mingw-coff-undefined.log", "GNU ld (mingw, PE/COFF)"),
        ("zig-macho-undefined.log", "zig ld"),
        ("shapes/link-exe.log", "MSVC link.exe"),
    ] {
        diagnosed(
            name,
            &[
                "not one of the link failures Spindle knows",
                "spindle_probe_helper",
                linker,
            ]
            .map(|s| {
                if name.contains("link-exe") && s == "spindle_probe_helper" {
                    "fastcodec_init"
                } else {
                    s
                }
            }),
        );
    }
}

#[test]
fn ld64_shapes_old_and_new() {
    diagnosed(
        "shapes/ld64-classic-arch-mismatch.log",
        &[
            "/Users/dev/app/vendor/libfastcodec.a was built for arm64, but the link is for x86_64",
            "`_fastcodec_encode`, `_fastcodec_init`",
            "linker: ld64;",
        ],
    );
    diagnosed(
        "shapes/ld64-new-arch-mismatch.log",
        &[
            "libfastcodec.a[2](encode.o) was built for arm64",
            "referenced by app::encode in",
            "ld64 (Apple's new linker)",
        ],
    );
    diagnosed(
        "shapes/link-exe-machine-type.log",
        &[
            "fastcodec.lib(encode.obj) was built for ARM64, but the link is for x64",
            "x86_64-pc-windows-msvc",
        ],
    );
}

#[test]
fn wasmtime_switch_symbols_lost_under_lto() {
    diagnosed(
        "shapes/ld64-wasmtime-38-fiber-switch.log",
        &[
            "fiber switch lost under LTO",
            "wasmtime_internal_fiber::unix::Fiber::resume",
            "wasmtime#11957",
            "rust-lang/rust#148307",
            "this log builds wasmtime 38.0.3",
            "38.0.4",
            "1.94",
            "lto = false",
            "[patch.crates-io]\n    wasmtime-internal-fiber = { path = ",
        ],
    );
    diagnosed(
        "shapes/ld64-wasmtime-40-continuation.log",
        &[
            "_wasmtime_continuation_start",
            "wasmtime#12217",
            "wasmtime 40.0.0",
            "[patch.crates-io]",
        ],
    );
}

/// The seed's own failing build (tests/seed-38), as cargo printed it cold:
/// wasmtime 38.0.3, rustc 1.91.1, thin LTO, `cargo zigbuild` for
/// aarch64-apple-darwin (tests/seed-38; tests/tests/seed.rs reproduces it
/// and feeds the fresh log to the doctor's library function). Not from
/// make-link-logs.sh: it takes a cold wasmtime build to re-create.
#[test]
fn the_seeds_real_failing_link_names_the_lost_switch_and_its_drop_in() {
    diagnosed(
        "zig-macho-wasmtime-38-seed.log",
        &[
            "fiber switch lost under LTO",
            "wasmtime_fiber_switch",
            "this log builds wasmtime 38.0.3",
            "or keep wasmtime 38.0.3 and switch stacks with Spindle's LTO-proof assembly: run `spindle patch`",
            "wasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" }",
        ],
    );
}

/// cargo's warning when a drop-in's version is not the lock's (the app
/// patched for wasmtime 48.0.10, then moved to 48.0.8 and `cargo update`d):
/// the build runs on wasmtime's own fiber. A real `cargo check` log.
#[test]
fn an_unused_fiber_patch_points_to_spindle_patch() {
    diagnosed(
        "cargo-fiber-patch-unused.log",
        &[
            "the drop-in wasmtime-internal-fiber 48.0.10",
            "was not used in the crate graph, so this build switches stacks with wasmtime's own fiber",
            "compiled wasmtime-internal-fiber 48.0.8 from crates.io instead",
            "run `spindle patch` in the workspace",
            "spindle patch --check",
        ],
    );
}

/// `nm` of a real binary with both switches: the `spindle` command itself
/// (spindle-fiber for its own use, wasmtime 48.0.8 unpatched for `run`).
#[test]
fn a_build_with_both_switches_points_to_spindle_patch() {
    diagnosed(
        "nm-both-switches.log",
        &[
            "this build has both wasmtime's fiber switch",
            "spindle_fiber_0_1_0_resume",
            "spindle patch --check",
        ],
    );
}

#[test]
fn a_log_without_a_link_failure_is_not_recognised() {
    let dir = std::env::temp_dir().join(format!("spindle-unknown-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("build.log");
    std::fs::write(
        &log,
        "   Compiling app v0.1.0\nerror[E0425]: cannot find value `x` in this scope\n\x1b[31merror\x1b[0m: could not compile `app`\n",
    )
    .unwrap();
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("not recognised: "), "{t}");
    assert!(t.contains("shows no link failure Spindle knows"), "{t}");
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(&log)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["recognised"], false);
    assert_eq!(doc["diagnoses"], serde_json::json!([]));
    // A FIFO or a missing file is refused, not read.
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(dir.join("nope.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn doctor_command_exits_with_the_commands_status() {
    for code in [0, 1, 7, 42] {
        let out = spindle()
            .args([
                "doctor",
                "--",
                "sh",
                "-c",
                &format!("echo out; echo err >&2; exit {code}"),
            ])
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(code), "{t}");
        // The command's own output comes through, on its own stream.
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("out\n"),
            "{t}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("err\n"),
            "{t}"
        );
        if code == 0 {
            assert!(!t.contains("not recognised"), "{t}");
        } else {
            assert!(
                t.contains(&format!("failed with exit status {code}")),
                "{t}"
            );
            assert!(t.contains("not recognised"), "{t}");
        }
    }
    let out = spindle()
        .args(["doctor", "--", "sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128 + 15), "{}", text(&out));
    let out = spindle()
        .args(["doctor", "--", "/nonexistent/spindle-no-such-tool"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert!(text(&out).contains("cannot run `/nonexistent/spindle-no-such-tool`"));
}

#[test]
fn given_outputs_cross_check_the_ignored_file() {
    let Some(gcc) = tool("aarch64-linux-gnu-gcc") else {
        crate::common::not_run(
            "given_outputs_cross_check_the_ignored_file needs aarch64-linux-gnu-gcc (scripts/setup.sh installs it)",
        );
        return;
    };
    let dir = scratch("crosscheck");
    std::fs::write(
        dir.join("h.c"),
        "int spindle_probe_helper(int x) { return x; }\n",
    )
    .unwrap();
    run_ok(
        Command::new(gcc)
            .current_dir(&dir)
            .args(["-c", "h.c", "-o", "h.o"]),
    );
    run_ok(
        Command::new("ar")
            .current_dir(&dir)
            .args(["rcs", "libarmhelper.a", "h.o"]),
    );
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(fixture("lld-macho-arch-mismatch.log"))
        .arg(dir.join("libarmhelper.a"))
        .output()
        .unwrap();
    let t = text(&out);
    // The log names libhelper.a; the path given is another file.
    assert!(
        t.contains(
            "cross-check: libhelper.a: ignored by the linker, but no path given matches libhelper.a"
        ),
        "{t}"
    );
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(fixture("gnu-ld-arch-mismatch.log"))
        .arg(dir.join("libarmhelper.a"))
        .output()
        .unwrap();
    let t = text(&out);
    assert!(
        t.contains("libarmhelper.a: static library (ELF) with objects for aarch64 ×1"),
        "{t}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn scratch(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spindle-doctor-logs-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
}

const MAIN_C: &str =
    "extern int spindle_probe_helper(int);\nint main(void) { return spindle_probe_helper(1); }\n";

/// `doctor -- <a real failing link>`: the linker's own output, streamed,
/// diagnosed, and the link's exit status returned.
fn real_link(what: &str, dir: &Path, cmd: &[&str], wanted: &[&str]) {
    let out = spindle()
        .current_dir(dir)
        .arg("doctor")
        .arg("--")
        .args(cmd)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{what}: {t}");
    for w in wanted {
        assert!(t.contains(w), "{what}: no `{w}` in\n{t}");
    }
}

#[test]
fn real_gnu_ld_link_with_a_missing_library() {
    if tool("gcc").is_none() {
        crate::common::not_run("real_gnu_ld_link_with_a_missing_library needs gcc");
        return;
    }
    let dir = scratch("gnu");
    std::fs::write(dir.join("main.c"), MAIN_C).unwrap();
    real_link(
        "gcc -lspindle_nosuch",
        &dir,
        &["gcc", "main.c", "-o", "main", "-lspindle_nosuch"],
        &[
            "cannot find -lspindle_nosuch",
            "missing native library: the linker cannot find -lspindle_nosuch",
        ],
    );
    if tool("x86_64-w64-mingw32-gcc").is_some() {
        real_link(
            "mingw undefined",
            &dir,
            &["x86_64-w64-mingw32-gcc", "main.c", "-o", "main.exe"],
            &[
                "not one of the link failures Spindle knows",
                "spindle_probe_helper",
                "GNU ld (mingw, PE/COFF)",
            ],
        );
    } else {
        crate::common::not_run(
            "the mingw half of real_gnu_ld_link_with_a_missing_library needs x86_64-w64-mingw32-gcc (apt-get install gcc-mingw-w64-x86-64)",
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn real_zig_link_of_an_arm64_archive_into_x86_64_macho() {
    let zig_ok = Command::new("python3")
        .args(["-c", "import ziglang"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !zig_ok {
        crate::common::not_run(
            "real_zig_link_of_an_arm64_archive_into_x86_64_macho needs ziglang from PyPI (scripts/setup.sh installs it)",
        );
        return;
    }
    let dir = scratch("zig");
    std::fs::write(dir.join("main.c"), MAIN_C).unwrap();
    std::fs::write(
        dir.join("h.c"),
        "int spindle_probe_helper(int x) { return x; }\n",
    )
    .unwrap();
    run_ok(Command::new("python3").current_dir(&dir).args([
        "-m",
        "ziglang",
        "cc",
        "-target",
        "aarch64-macos",
        "-c",
        "h.c",
        "-o",
        "h.o",
    ]));
    run_ok(Command::new("python3").current_dir(&dir).args([
        "-m",
        "ziglang",
        "ar",
        "rcs",
        "libhelper.a",
        "h.o",
    ]));
    real_link(
        "zig cc arm64 archive",
        &dir,
        &[
            "python3",
            "-m",
            "ziglang",
            "cc",
            "-target",
            "x86_64-macos",
            "main.c",
            "-L.",
            "-lhelper",
            "-o",
            "main",
        ],
        &[
            "architecture mismatch",
            "libhelper.a(h.o) was built for aarch64",
            "aarch64-apple-darwin",
        ],
    );
    // The archive given beside the command is examined too.
    let out = spindle()
        .current_dir(&dir)
        .args([
            "doctor",
            "libhelper.a",
            "--",
            "python3",
            "-m",
            "ziglang",
            "cc",
            "-target",
            "x86_64-macos",
            "main.c",
            "-L.",
            "-lhelper",
            "-o",
            "main",
        ])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(
        t.contains("cross-check: libhelper.a: static library (Mach-O) with objects for aarch64 ×1"),
        "{t}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn real_nightly_wasm_link_with_an_import_without_module() {
    let has_target = Command::new("rustup")
        .args(["+nightly", "target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == "wasm32-unknown-unknown")
        });
    if !has_target {
        crate::common::not_run(
            "real_nightly_wasm_link_with_an_import_without_module needs nightly with wasm32-unknown-unknown (scripts/setup.sh adds it)",
        );
        return;
    }
    let dir = scratch("wasm");
    std::fs::write(
        dir.join("plugin.rs"),
        "unsafe extern \"C\" { fn host_log(ptr: *const u8, len: usize); }\n\
         #[unsafe(no_mangle)]\npub extern \"C\" fn run() {\n    // SAFETY: `len` bytes at `ptr` are the string's.\n    unsafe { host_log(\"hi\".as_ptr(), 2) }\n}\n",
    )
    .unwrap();
    real_link(
        "rustc +nightly wasm32",
        &dir,
        &[
            "rustc",
            "+nightly",
            "--edition",
            "2024",
            "--crate-type",
            "cdylib",
            "--target",
            "wasm32-unknown-unknown",
            "plugin.rs",
            "-o",
            "plugin.wasm",
        ],
        &[
            "wasm host import without a module: `host_log`",
            "fn host_log(",
            "-C link-arg=--import-undefined",
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_logs_are_bounded_and_printed_inert() {
    let dir = scratch("hostile");
    // A symbol name carrying terminal escapes and a forged line.
    let log = dir.join("evil.log");
    std::fs::write(
        &log,
        "ld.lld: error: undefined symbol: evil\x1b]0;owned\x07\rerror: fake\n>>> referenced by \x1b[2Kmain.o\n",
    )
    .unwrap();
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        !t.contains('\x1b') && !t.contains('\r') && !t.contains('\x07'),
        "{t:?}"
    );
    assert!(t.contains("evil\\x1b]0;owned\\x07\\rerror: fake"), "{t}");
    // Past 64 MiB (a sparse file: it costs nothing to make) a log is refused
    // before it is read.
    let big = dir.join("big.log");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("limit for a build log"),
        "{}",
        text(&out)
    );
    // A FIFO is refused, not waited on.
    let fifo = dir.join("fifo.log");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a NUL-terminated path that lives across the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(&fifo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("FIFO"), "{}", text(&out));
    // 100,000 distinct undefined symbols: 2,000 kept, the rest counted.
    let many = dir.join("many.log");
    let body: String = (0..100_000)
        .map(|i| format!("ld.lld: error: undefined symbol: s{i}\n"))
        .collect();
    std::fs::write(&many, body).unwrap();
    let out = spindle()
        .args(["doctor", "--log"])
        .arg(&many)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["undefined"].as_array().unwrap().len(), 2_000);
    assert_eq!(doc["undefined_not_kept"], 98_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn target_flag_names_the_triple_a_log_does_not() {
    let out = spindle()
        .args(["doctor", "--target", "aarch64-unknown-linux-gnu", "--log"])
        .arg(fixture("gnu-ld-arch-mismatch.log"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["context"]["triple"], "aarch64-unknown-linux-gnu",
        "{doc:#}"
    );
}
