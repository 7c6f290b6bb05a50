//! `spindle patch` on real workspaces: each test writes a small workspace
//! in a temporary directory, gives it a lock file with `cargo
//! generate-lockfile` (which resolves wasmtime from the registry, no build),
//! and runs the command. cargo's own `cargo metadata` is the judge of
//! whether the drop-in is used. Every refusal is checked to leave the
//! manifest, the lock file and the directory exactly as they were.
//!
//! The builds and runs of patched applications are the proof cells in
//! tests/tests/patch_cells.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory under the system's temporary directory.
fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("spindle-patch-tests-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A package `name` at `dir` with these `[dependencies]` lines and an
/// empty `src/lib.rs`.
fn package(dir: &Path, name: &str, deps: &str, extra: &str) {
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n{deps}\n{extra}"
        ),
    );
    write(&dir.join("src/lib.rs"), "");
}

fn wasmtime(version: &str, features: &str) -> String {
    format!(
        "wasmtime = {{ version = \"={version}\", default-features = false, features = [{features}] }}"
    )
}

const ASYNC: &str = "\"runtime\", \"async\", \"std\"";

fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {args:?} in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lock(dir: &Path) {
    cargo(dir, &["generate-lockfile"]);
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn spindle(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_spindle"))
        .arg("patch")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `dir` (but `target/`) with its bytes, to compare
/// before and after a refused command.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_name() == "target" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The `wasmtime-internal-fiber` of `cargo tree`, with its path if any.
fn fiber_in_tree(dir: &Path) -> String {
    let out = cargo(
        dir,
        &["tree", "-i", "wasmtime-internal-fiber", "--depth", "0"],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn patch_check_after_update_repatch_and_remove() {
    let dir = workspace("roundtrip");
    package(&dir, "app", &wasmtime("48.0.8", ASYNC), "");
    lock(&dir);
    let manifest_before = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();

    let check = spindle(&dir, &["--check"]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("has no [patch.crates-io] entry"),
        "{}",
        check.stdout
    );

    let out = spindle(&dir, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "wasmtime-internal-fiber 48.0.8 now builds from spindle/wasmtime-internal-fiber"
        ),
        "{}",
        out.stdout
    );
    let drop_in = dir.join("spindle/wasmtime-internal-fiber");
    assert_eq!(
        fiber_in_tree(&dir),
        format!("wasmtime-internal-fiber v48.0.8 ({})", drop_in.display())
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert_eq!(
        manifest,
        format!(
            "{manifest_before}\n[patch.crates-io]\nwasmtime-internal-fiber = {{ path = \"spindle/wasmtime-internal-fiber\" }}\n"
        )
    );
    let generated = std::fs::read_to_string(drop_in.join("Cargo.toml")).unwrap();
    assert!(generated.contains("version = \"48.0.8\""));
    assert!(generated.contains("wasmtime-environ = \"=48.0.8\""));
    assert_eq!(spindle(&dir, &["--check"]).code, 0);

    // Patching again changes nothing.
    let before = snapshot(&dir);
    assert_eq!(spindle(&dir, &[]).code, 0);
    assert_eq!(snapshot(&dir), before);

    // The user moves to another release: the patch goes unused.
    write(
        &dir.join("Cargo.toml"),
        &manifest.replace("=48.0.8", "=48.0.10"),
    );
    cargo(&dir, &["update", "-p", "wasmtime"]);
    let check = spindle(&dir, &["--check"]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("Cargo.lock pins wasmtime-internal-fiber 48.0.10")
            && check.stdout.contains("is for 48.0.8")
            && check.stdout.contains("Run `spindle patch`")
            && check.stdout.contains("was not used in the crate graph"),
        "{}",
        check.stdout
    );
    let out = spindle(&dir, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(spindle(&dir, &["--check"]).code, 0);
    assert!(fiber_in_tree(&dir).starts_with("wasmtime-internal-fiber v48.0.10 ("));

    // An edited drop-in is stale.
    let lib = drop_in.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("{text}\n// edited\n")).unwrap();
    let check = spindle(&dir, &["--check"]);
    assert_eq!(check.code, 1);
    assert!(
        check
            .stdout
            .contains("differs from what this Spindle writes"),
        "{}",
        check.stdout
    );
    std::fs::write(&lib, text).unwrap();

    let out = spindle(&dir, &["--remove"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(),
        manifest_before.replace("=48.0.8", "=48.0.10")
    );
    assert!(
        !dir.join("spindle").exists(),
        "the drop-in and its default parent are gone"
    );
    assert_eq!(fiber_in_tree(&dir), "wasmtime-internal-fiber v48.0.10");
    let again = spindle(&dir, &["--remove"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("nothing to remove"),
        "{}",
        again.stderr
    );
}

#[test]
fn messy_virtual_workspace_keeps_everything_else() {
    let dir = workspace("messy");
    let root = "# The workspace.\r\n[workspace]\r\nresolver = \"3\"\r\nmembers = [\r\n    \"host\",   # the app\r\n    \"plugins/*\",\r\n]\r\n\r\n[workspace.dependencies]\r\nanyhow = \"1\"\r\n\r\n[patch.crates-io]\r\n# our fork\r\nlibc = { path = \"vendor/libc\" } # keep me\r\n\r\n[profile.release]\r\nlto = \"thin\"\r\n";
    write(&dir.join("Cargo.toml"), root);
    package(&dir.join("host"), "host", &wasmtime("48.0.8", ASYNC), "");
    package(&dir.join("plugins/a"), "plugin-a", "", "");
    package(&dir.join("vendor/libc"), "libc", "", "");
    // libc's version must match what wasmtime asks for, or cargo ignores
    // the user's patch (which is not ours to judge).
    let libc = std::fs::read_to_string(dir.join("vendor/libc/Cargo.toml")).unwrap();
    write(
        &dir.join("vendor/libc/Cargo.toml"),
        &libc.replace("0.1.0", "0.2.999"),
    );
    lock(&dir);

    // From a member's directory, with --manifest-path to the member.
    let out = spindle(
        &dir.join("plugins/a"),
        &["--manifest-path", "../../host/Cargo.toml"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let patched = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert_eq!(
        patched,
        root.replace(
            "libc = { path = \"vendor/libc\" } # keep me\r\n",
            "libc = { path = \"vendor/libc\" } # keep me\r\nwasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" }\r\n"
        )
    );
    assert!(
        std::fs::read_to_string(dir.join("host/Cargo.toml"))
            .unwrap()
            .find("patch")
            .is_none()
    );
    // The drop-in is its own workspace, not a member of this one.
    let members = cargo(&dir, &["metadata", "--no-deps", "--format-version", "1"]);
    let members = String::from_utf8_lossy(&members.stdout);
    assert!(
        !members.contains("\"name\":\"wasmtime-internal-fiber\""),
        "became a member"
    );
    assert_eq!(spindle(&dir.join("host"), &["--check"]).code, 0);
    assert_eq!(spindle(&dir, &["--remove"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(),
        root
    );
}

#[test]
fn dir_option_writes_elsewhere_and_refuses_foreign_directories() {
    let dir = workspace("dir-option");
    package(&dir, "app", &wasmtime("48.0.8", ASYNC), "");
    lock(&dir);
    write(&dir.join("third_party/mine/README"), "not a drop-in");
    let before = snapshot(&dir);
    let out = spindle(&dir, &["--dir", "third_party/mine"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("exists and was not written by spindle patch"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(&dir), before, "nothing written");

    let out = spindle(&dir, &["--dir", "third_party/wasmtime-fiber"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Moving it replaces the entry, and says so.
    let out = spindle(&dir, &["--dir", "third_party/fiber2"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("(replaces `path = \"third_party/wasmtime-fiber\"`)"),
        "{}",
        out.stdout
    );
    assert!(
        dir.join("third_party/wasmtime-fiber").exists(),
        "the old one is left to the user"
    );
    std::fs::remove_dir_all(dir.join("third_party/wasmtime-fiber")).unwrap();
    let out = spindle(&dir, &["--dir", "third_party/wasmtime-fiber"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    std::fs::remove_dir_all(dir.join("third_party/fiber2")).unwrap();
    assert!(
        std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .contains("wasmtime-internal-fiber = { path = \"third_party/wasmtime-fiber\" }")
    );
    assert_eq!(spindle(&dir, &["--check"]).code, 0);
    assert_eq!(spindle(&dir, &["--remove"]).code, 0);
    assert!(!dir.join("third_party/wasmtime-fiber").exists());
    assert!(dir.join("third_party/mine/README").exists());
}

/// Runs `spindle patch` on a workspace that must be refused: exit `code`,
/// `message` in stderr, and not one byte changed.
fn refused(dir: &Path, args: &[&str], code: i32, message: &str) {
    let before = snapshot(dir);
    let out = spindle(dir, args);
    assert_eq!(out.code, code, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(message),
        "expected {message:?} in:\n{}",
        out.stderr
    );
    assert_eq!(snapshot(dir), before, "something was written");
}

#[test]
fn no_lock_file() {
    let dir = workspace("no-lock");
    package(&dir, "app", &wasmtime("48.0.8", ASYNC), "");
    refused(&dir, &[], 3, "no Cargo.lock in");
    refused(&dir, &["--check"], 3, "Run `cargo generate-lockfile`");
    assert!(!dir.join("Cargo.lock").exists());
}

#[test]
fn no_wasmtime_in_the_graph() {
    let dir = workspace("no-wasmtime");
    package(&dir, "app", "", "");
    lock(&dir);
    refused(&dir, &[], 1, "no wasmtime in this workspace's crate graph");
}

#[test]
fn wasmtime_without_async() {
    let dir = workspace("no-async");
    package(&dir, "app", &wasmtime("48.0.8", "\"runtime\", \"std\""), "");
    lock(&dir);
    refused(
        &dir,
        &[],
        1,
        "is built without its `async` feature, so it runs no fibers",
    );
    let out = spindle(&dir, &[]);
    assert!(
        out.stderr.contains("wasmtime 48.0.8 (features: "),
        "{}",
        out.stderr
    );
}

#[test]
fn two_wasmtime_versions() {
    let dir = workspace("two-wasmtimes");
    write(
        &dir.join("Cargo.toml"),
        "[workspace]\nresolver = \"3\"\nmembers = [\"a\", \"b\"]\n",
    );
    package(&dir.join("a"), "a", &wasmtime("48.0.8", ASYNC), "");
    package(&dir.join("b"), "b", &wasmtime("36.0.20", ASYNC), "");
    lock(&dir);
    refused(&dir, &[], 1, "2 versions of wasmtime in one crate graph");
    let out = spindle(&dir, &[]);
    assert!(
        out.stderr.contains("wasmtime 48.0.8, used by a 0.1.0"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("wasmtime 36.0.20, used by b 0.1.0"),
        "{}",
        out.stderr
    );
}

#[test]
fn unwritable_drop_in_directory() {
    let dir = workspace("unwritable");
    package(&dir, "app", &wasmtime("48.0.8", ASYNC), "");
    lock(&dir);
    // Nobody, root included, can create a directory under /proc.
    refused(
        &dir,
        &["--dir", "/proc/spindle-patch-test/fiber"],
        3,
        "cannot write the drop-in to /proc/spindle-patch-test/fiber",
    );
}

#[test]
fn manifest_cargo_cannot_parse() {
    let dir = workspace("unparsable");
    package(&dir, "app", &wasmtime("48.0.8", ASYNC), "");
    lock(&dir);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    write(
        &dir.join("Cargo.toml"),
        &manifest.replace("[dependencies]", "[dependencies"),
    );
    refused(&dir, &[], 3, "cargo cannot read the workspace's manifests");
    refused(
        &dir,
        &["--remove"],
        3,
        "cargo cannot read the workspace's manifests",
    );
}

#[test]
fn releases_outside_the_table() {
    let dir = workspace("too-old");
    package(&dir, "app", &wasmtime("35.0.0", ASYNC), "");
    lock(&dir);
    refused(
        &dir,
        &[],
        1,
        "wasmtime-internal-fiber 35.0.0 is older than the oldest release Spindle has a drop-in for (36.0.0); supported: 36.0.0 to 51.0.0",
    );
}

/// cargo refuses the written drop-in (here: `--spindle` names a checkout
/// whose fiber/wasmtime-fiber is another package, so the drop-in's
/// dependency cannot resolve): the manifest, the new directories and the
/// lock file are all put back, and cargo's reason is shown.
#[test]
fn a_drop_in_cargo_refuses_is_rolled_back() {
    let dir = workspace("rolled-back");
    package(&dir, "app", &wasmtime("48.0.8", ASYNC), "");
    lock(&dir);
    let fake = workspace("fake-spindle");
    package(&fake.join("fiber/wasmtime-fiber"), "not-spindle", "", "");
    refused(
        &dir,
        &[
            "--spindle",
            fake.to_str().unwrap(),
            "--dir",
            "deep/er/fiber",
        ],
        1,
        "cargo does not use the drop-in, so nothing was changed",
    );
    assert!(!dir.join("deep").exists());
}
