//! wasm objects inside archives (a wasm32 target's `.a`/rlib) are read with
//! the workspace's wasmparser, not object's `wasm` feature: `doctor` still
//! reports their architecture.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn wasm32_members_of_an_archive_are_wasm32_objects() {
    let has_target = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == "wasm32-unknown-unknown")
        });
    if !has_target {
        crate::common::not_run(
            "wasm32_members_of_an_archive_are_wasm32_objects needs the wasm32-unknown-unknown target (scripts/setup.sh adds it)",
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("spindle-wasm-members-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("w.rs"), "#![no_std]\n#[unsafe(no_mangle)]\npub extern \"C\" fn add(a: i32, b: i32) -> i32 { a + b }\n").unwrap();
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("rustc").current_dir(&dir).args([
        "--edition",
        "2024",
        "--crate-type",
        "lib",
        "--emit=obj",
        "--target",
        "wasm32-unknown-unknown",
        "-o",
        "w.o",
        "w.rs",
    ]));
    ok(Command::new("ar")
        .current_dir(&dir)
        .args(["rcs", "libw.a", "w.o"]));
    let bin = std::env::var_os("SPINDLE_TEST_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_spindle")),
        PathBuf::from,
    );
    let out = Command::new(bin)
        .args(["doctor", "--format", "json"])
        .arg(dir.join("libw.a"))
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(
        doc["files"][0]["architectures"],
        serde_json::json!({"wasm32": 1}),
        "{doc:#}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
