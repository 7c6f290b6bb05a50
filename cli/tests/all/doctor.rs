//! `spindle doctor` on build outputs the tests make: objects compiled by
//! rustc for four targets, archives and a universal Mach-O assembled here,
//! the `spindle` binary itself (it links spindle-fiber), and a shared
//! library linked with an undefined switch symbol.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const TARGETS: [&str; 4] = [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
];

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-doctor");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `no_std` object that defines `<prefix>_fn` and calls spindle's resume,
/// which it leaves undefined, as an object using spindle-fiber does.
const SOURCE: &str = r#"
#![no_std]
unsafe extern "C" {
    fn spindle_fiber_0_1_0_resume();
}
#[unsafe(no_mangle)]
pub extern "C" fn PREFIX_fn() {
    // SAFETY: never called; the object exists to carry the undefined reference.
    unsafe { spindle_fiber_0_1_0_resume() }
}
"#;

/// `rustc --emit=obj` for each target, once per test binary.
fn objects() -> &'static Vec<(String, PathBuf)> {
    static OBJECTS: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        let dir = scratch();
        TARGETS
            .iter()
            .map(|t| {
                let prefix = t.replace('-', "_");
                let src = dir.join(format!("{prefix}.rs"));
                std::fs::write(&src, SOURCE.replace("PREFIX", &prefix)).unwrap();
                let out = dir.join(format!("{prefix}.o"));
                let status = Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
                    .args(["--crate-type=lib", "--emit=obj", "-O", "--target", t])
                    .arg(&src)
                    .arg("-o")
                    .arg(&out)
                    .status()
                    .expect("running rustc");
                assert!(status.success(), "rustc --target {t} failed");
                (t.to_string(), out)
            })
            .collect()
    })
}

fn object(target: &str) -> PathBuf {
    objects()
        .iter()
        .find(|(t, _)| t == target)
        .map(|(_, p)| p.clone())
        .unwrap()
}

/// A System V / GNU `ar` archive, written by hand (doctor must read it
/// without any tool's help; the test does not need one either).
fn archive(path: &Path, members: &[(&str, &[u8])]) {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            format!("{name}/"),
            0,
            0,
            0,
            644,
            data.len()
        );
        assert_eq!(header.len(), 60);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    std::fs::write(path, out).unwrap();
}

/// A universal Mach-O: `fat_header` + `fat_arch` entries (big-endian), each
/// slice aligned to 4 KiB.
fn universal(path: &Path, slices: &[(u32, u32, &[u8])]) {
    const ALIGN: usize = 1 << 12;
    let mut out = Vec::new();
    out.extend_from_slice(&0xcafe_babe_u32.to_be_bytes());
    out.extend_from_slice(&(slices.len() as u32).to_be_bytes());
    let mut offset = ALIGN;
    let mut placed = Vec::new();
    for (cputype, subtype, data) in slices {
        for v in [*cputype, *subtype, offset as u32, data.len() as u32, 12] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        placed.push((offset, *data));
        offset = (offset + data.len()).next_multiple_of(ALIGN);
    }
    for (at, data) in placed {
        out.resize(at, 0);
        out.extend_from_slice(data);
    }
    std::fs::write(path, out).unwrap();
}

const CPU_X86_64: (u32, u32) = (0x0100_0007, 3);
const CPU_ARM64: (u32, u32) = (0x0100_000c, 0);

fn spindle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        .output()
        .expect("running spindle")
}

fn doctor_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["doctor", "--format", "json"];
    all.extend_from_slice(args);
    let o = spindle(&all);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not json ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap(), v)
}

fn errors(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            format!(
                "{}: {}",
                f["path"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

fn arch_of(target: &str) -> &'static str {
    if target.starts_with("x86_64") {
        "x86_64"
    } else {
        "aarch64"
    }
}

#[test]
fn reads_the_architecture_of_objects_for_four_targets() {
    let paths: Vec<String> = objects()
        .iter()
        .map(|(_, p)| p.display().to_string())
        .collect();
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    args.push("--verbose");
    let (_, v) = doctor_json(&args);
    for (target, path) in objects() {
        let file = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path.display().to_string())
            .unwrap();
        assert_eq!(file["kind"], "object file");
        let archs = file["architectures"].as_object().unwrap();
        assert_eq!(
            archs.keys().collect::<Vec<_>>(),
            [arch_of(target)],
            "{target}"
        );
        // Mach-O symbols carry a leading `_`; doctor reports source names.
        assert_eq!(
            file["spindle_switch"]["undefined"],
            serde_json::json!(["spindle_fiber_0_1_0_resume"]),
            "{target}"
        );
    }
    // Each object matches its own target and no other architecture.
    for (target, path) in objects() {
        let p = path.to_str().unwrap();
        let (code, v) = doctor_json(&[p, "--target", target]);
        assert_eq!((code, errors(&v)), (0, vec![]), "{target}");
        let other = if arch_of(target) == "x86_64" {
            "aarch64-apple-darwin"
        } else {
            "x86_64-apple-darwin"
        };
        let (code, v) = doctor_json(&[p, "--target", other]);
        assert_eq!(code, 1);
        assert_eq!(errors(&v).len(), 1, "{v:#}");
    }
    // An ELF object for an Apple target is the wrong format even when the
    // architecture matches.
    let p = object("x86_64-unknown-linux-gnu");
    let (code, v) = doctor_json(&[p.to_str().unwrap(), "--target", "x86_64-apple-darwin"]);
    assert_eq!(code, 1);
    assert!(errors(&v)[0].contains("in ELF format"), "{v:#}");
}

#[test]
fn flags_an_arm64_object_in_an_x86_64_archive_and_the_reverse() {
    let dir = scratch();
    let x86 = std::fs::read(object("x86_64-apple-darwin")).unwrap();
    let arm = std::fs::read(object("aarch64-apple-darwin")).unwrap();
    let lib = dir.join("libmixed.a");
    archive(
        &lib,
        &[
            ("good_x86.o", &x86),
            ("arm_only.o", &arm),
            ("more_x86.o", &x86),
        ],
    );
    let l = lib.to_str().unwrap();

    let o = spindle(&["doctor", l, "--target", "x86_64-apple-darwin"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("1 of 3 objects are for aarch64"), "{text}");
    assert!(text.contains("arm_only.o (aarch64)"), "{text}");
    assert!(!text.contains("good_x86.o ("), "{text}");
    assert!(
        text.contains("Undefined symbols for architecture x86_64"),
        "{text}"
    );
    assert!(text.contains("next:"), "{text}");

    let (code, v) = doctor_json(&[l, "--target", "aarch64-apple-darwin"]);
    assert_eq!(code, 1);
    let e = errors(&v);
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("2 of 3 objects are for x86_64"), "{e:?}");
    assert!(e[0].contains("good_x86.o (x86_64)") && e[0].contains("more_x86.o (x86_64)"));
    assert!(
        e[0].contains("Undefined symbols for architecture arm64"),
        "{e:?}"
    );

    // Without --target, the majority (x86_64) is the target.
    let (code, v) = doctor_json(&[l]);
    assert_eq!(code, 1);
    assert!(
        errors(&v)[0].contains("1 of 3 objects are for aarch64"),
        "{v:#}"
    );
}

#[test]
fn reads_universal_binaries_per_slice() {
    let dir = scratch();
    let x86 = std::fs::read(object("x86_64-apple-darwin")).unwrap();
    let arm = std::fs::read(object("aarch64-apple-darwin")).unwrap();
    let both = dir.join("universal.o");
    universal(
        &both,
        &[
            (CPU_X86_64.0, CPU_X86_64.1, &x86),
            (CPU_ARM64.0, CPU_ARM64.1, &arm),
        ],
    );
    let arm_only = dir.join("arm_only_universal.o");
    universal(&arm_only, &[(CPU_ARM64.0, CPU_ARM64.1, &arm)]);

    for t in ["x86_64-apple-darwin", "aarch64-apple-darwin"] {
        let (code, v) = doctor_json(&[both.to_str().unwrap(), "--target", t]);
        assert_eq!((code, errors(&v)), (0, vec![]), "{t}");
        let f = &v["files"][0];
        assert_eq!(f["universal"], true);
        assert_eq!(f["architectures"]["x86_64"], 1);
        assert_eq!(f["architectures"]["aarch64"], 1);
    }
    let (code, v) = doctor_json(&[
        arm_only.to_str().unwrap(),
        "--target",
        "x86_64-apple-darwin",
    ]);
    assert_eq!(code, 1);
    let e = errors(&v);
    assert!(
        e[0].contains("slices [aarch64] but none for x86_64"),
        "{e:?}"
    );
}

#[test]
fn walks_a_target_directory_taking_the_target_from_its_name() {
    let root = scratch().join("target-walk");
    let _ = std::fs::remove_dir_all(&root);
    let deps = root.join("aarch64-apple-darwin/release/deps");
    let build = root.join("aarch64-apple-darwin/release/build/foo-123");
    std::fs::create_dir_all(&deps).unwrap();
    std::fs::create_dir_all(&build).unwrap();
    let x86 = std::fs::read(object("x86_64-apple-darwin")).unwrap();
    let arm = std::fs::read(object("aarch64-apple-darwin")).unwrap();
    archive(
        &deps.join("libgood-1.rlib"),
        &[("good.o", &arm), ("lib.rmeta", b"meta")],
    );
    archive(&deps.join("libbad-2.rlib"), &[("bad.o", &x86)]);
    std::fs::write(deps.join("libgood-1.d"), "not an object").unwrap();
    // Build scripts run on the build machine: never a mismatch.
    std::fs::write(build.join("build_script_build.o"), &x86).unwrap();

    let (code, v) = doctor_json(&[root.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let e = errors(&v);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("libbad-2.rlib"), "{e:?}");
    assert!(
        e[0].contains("the `aarch64-apple-darwin` directory"),
        "{e:?}"
    );
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with(".rlib")), "{files:?}");

    // Quiet by default: the good rlib is not listed in text output.
    let o = spindle(&["doctor", root.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("libgood-1.rlib: rlib"), "{text}");
    assert!(text.contains("libbad-2.rlib: rlib"), "{text}");
    assert!(text.contains("examined 2 files"), "{text}");
}

#[test]
fn finds_spindles_switch_defined_in_a_real_binary() {
    // The spindle binary links spindle-fiber (for its symbol version), whose
    // #[used] anchor keeps the switch routines in every binary that links it.
    let exe = env!("CARGO_BIN_EXE_spindle");
    let (code, v) = doctor_json(&[exe]);
    assert_eq!(code, 0, "{v:#}");
    let f = &v["files"][0];
    assert_eq!(f["kind"], "executable");
    assert_eq!(f["final"], true);
    let mut want: Vec<&str> = spindle_fiber::SWITCH_SYMBOLS.to_vec();
    want.sort();
    let got: Vec<&str> = f["spindle_switch"]["defined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        f["spindle_switch"]["undefined"].as_array().unwrap().len(),
        0
    );
    assert_eq!(
        f["wasmtime_switch"]["undefined"].as_array().unwrap().len(),
        0
    );
    let text = String::from_utf8_lossy(&spindle(&["doctor", exe]).stdout).into_owned();
    assert!(
        text.contains("spindle-fiber's fiber switch is defined"),
        "{text}"
    );
}

#[test]
fn an_object_referencing_the_switch_is_resolved_by_the_binary_that_defines_it() {
    let obj = object("x86_64-unknown-linux-gnu");
    let (code, v) = doctor_json(&[obj.to_str().unwrap()]);
    assert_eq!(code, 0);
    let f = &v["files"][0];
    assert_eq!(
        f["spindle_switch"]["undefined"][0],
        "spindle_fiber_0_1_0_resume"
    );
    let warnings: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{v:#}");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("no input given defines it")
    );
    assert!(v["lto_hint"].as_str().unwrap().contains("wasmtime#11957"));

    // Given together with a binary that defines it, nothing to warn about.
    let (code, v) = doctor_json(&[obj.to_str().unwrap(), env!("CARGO_BIN_EXE_spindle")]);
    assert_eq!(code, 0);
    assert!(
        !v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "warning"),
        "{v:#}"
    );
}

#[test]
fn an_undefined_switch_in_a_linked_image_is_an_error_with_the_lto_hint() {
    // A shared library may keep undefined symbols: link the object into one
    // (the test uses the system linker; doctor itself never runs tools).
    let obj = object("x86_64-unknown-linux-gnu");
    let so = scratch().join("libundefined_switch.so");
    let status = Command::new("cc")
        .arg("-shared")
        .arg(&obj)
        .arg("-o")
        .arg(&so)
        .status()
        .expect("running cc");
    assert!(status.success());
    let o = spindle(&["doctor", so.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("shared library"), "{text}");
    assert!(
        text.contains("spindle-fiber's fiber switch is UNDEFINED")
            && text.contains("spindle_fiber_0_1_0_resume"),
        "{text}"
    );
    assert!(text.contains("rust-lang/rust#148307"), "{text}");
    assert!(text.contains("lto = \"off\""), "{text}");
}

#[test]
fn checks_wasm_plugins_like_spindle_check() {
    let bad = scratch().join("bad_plugin.wat");
    std::fs::write(
        &bad,
        r#"(module (import "spindle" "lgo" (func (param i32 i32))))"#,
    )
    .unwrap();
    let good = scratch().join("good_plugin.wat");
    std::fs::write(
        &good,
        r#"(module (import "spindle" "log" (func (param i32 i32))))"#,
    )
    .unwrap();
    let (code, v) = doctor_json(&[bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(code, 1);
    let e = errors(&v);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains(r#"did you mean (import "spindle" "log""#),
        "{e:?}"
    );
    assert_eq!(v["plugins"][1]["ok"], true);
}

#[test]
fn usage_and_input_errors() {
    let o = spindle(&["doctor"]);
    assert_eq!(o.status.code(), Some(2));
    let o = spindle(&["doctor", "/nonexistent/libx.a"]);
    assert_eq!(o.status.code(), Some(3));
    let obj = object("x86_64-apple-darwin");
    let o = spindle(&[
        "doctor",
        obj.to_str().unwrap(),
        "--target",
        "pdp11-dec-unix",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown target"));
    let text = scratch().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let o = spindle(&["doctor", text.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not an object file"));
}

#[test]
fn notes_bitcode_members_and_references_to_another_spindle_version() {
    let dir = scratch();
    let src = dir.join("old_version.rs");
    std::fs::write(
        &src,
        SOURCE.replace("0_1_0", "0_0_9").replace("PREFIX", "old"),
    )
    .unwrap();
    let obj = dir.join("old_version.o");
    let status = Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .args([
            "--crate-type=lib",
            "--emit=obj",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("running rustc");
    assert!(status.success());
    let lib = dir.join("libwithbitcode.rlib");
    let bytes = std::fs::read(&obj).unwrap();
    archive(
        &lib,
        &[("old.o", &bytes), ("lto.bc", b"BC\xC0\xDE\x35\x14\x00\x00")],
    );
    // Given with a binary that defines this spindle's 0_1_0 switch.
    let (code, v) = doctor_json(&[lib.to_str().unwrap(), env!("CARGO_BIN_EXE_spindle")]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["files"][0]["bitcode_members"], 1);
    assert_eq!(v["files"][0]["objects"], 1);
    let warning = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "warning")
        .expect("a warning");
    let message = warning["message"].as_str().unwrap();
    assert!(message.contains("spindle_fiber_0_0_9_resume"), "{message}");
    assert!(
        message.contains("another spindle-fiber version"),
        "{message}"
    );
    assert!(
        warning["next"]
            .as_str()
            .unwrap()
            .contains("cargo update -p spindle-fiber")
    );
}

/// Links Mach-O dylibs with zig (installed by `scripts/setup.sh`, which the
/// LTO matrix needs too), letting the switch reference stay undefined as
/// `-undefined dynamic_lookup` does.
fn zig_dylib(object: &Path, zig_target: &str, out: &Path) {
    let status = Command::new("python3")
        .args(["-m", "ziglang", "cc", "-target", zig_target, "-shared"])
        .arg("-Wl,-undefined,dynamic_lookup")
        .arg(object)
        .arg("-o")
        .arg(out)
        .status()
        .expect("running `python3 -m ziglang` (install it with scripts/setup.sh)");
    assert!(status.success(), "zig cc -target {zig_target} failed");
}

#[test]
fn an_undefined_switch_in_a_universal_mach_o_dylib() {
    let dir = scratch();
    let arm = dir.join("libswitch_arm64.dylib");
    let x86 = dir.join("libswitch_x86_64.dylib");
    zig_dylib(&object("aarch64-apple-darwin"), "aarch64-macos", &arm);
    zig_dylib(&object("x86_64-apple-darwin"), "x86_64-macos", &x86);
    let fat = dir.join("libswitch_universal.dylib");
    let (a, x) = (std::fs::read(&arm).unwrap(), std::fs::read(&x86).unwrap());
    universal(
        &fat,
        &[
            (CPU_X86_64.0, CPU_X86_64.1, &x),
            (CPU_ARM64.0, CPU_ARM64.1, &a),
        ],
    );

    let (code, v) = doctor_json(&[arm.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["files"][0]["kind"], "shared library");
    assert_eq!(v["files"][0]["final"], true);
    let e = errors(&v);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("UNDEFINED") && e[0].contains("spindle_fiber_0_1_0_resume"));

    let (code, v) = doctor_json(&[fat.to_str().unwrap(), "--target", "x86_64-apple-darwin"]);
    assert_eq!(code, 1, "{v:#}");
    let f = &v["files"][0];
    assert_eq!(
        (f["universal"].clone(), f["final"].clone()),
        (true.into(), true.into())
    );
    let e = errors(&v);
    assert_eq!(e.len(), 1, "only the switch, no architecture error: {e:?}");
    assert!(e[0].contains("UNDEFINED"), "{e:?}");
}

/// A binary with both wasmtime's switch and Spindle's (here `spindle`
/// itself: spindle-fiber for its own use, wasmtime unpatched) gets a note
/// pointing to `spindle patch --check`, not a warning: that can be intended.
#[test]
fn both_switches_in_one_binary_is_a_note_pointing_to_spindle_patch() {
    let (code, v) = doctor_json(&[env!("CARGO_BIN_EXE_spindle")]);
    assert_eq!(code, 0, "{v:#}");
    let both = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .contains("has both wasmtime's fiber switch and Spindle's")
        })
        .unwrap_or_else(|| panic!("no finding about both switches: {v:#}"));
    assert_eq!(both["severity"], "note", "{both:#}");
    assert!(
        both["next"]
            .as_str()
            .unwrap()
            .contains("spindle patch --check"),
        "{both:#}"
    );
}
