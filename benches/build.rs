//! With the `extism` feature only: compiles the Extism side of
//! benches/benches/extism.rs (`plugins/extism-echo`, extism-pdk) to
//! wasm32-unknown-unknown and passes its path as `EXTISM_ECHO_WASM`.
//! Without the feature it does nothing, so CI's builds never fetch
//! extism-pdk.
//!
//! The nested cargo gets its own target directory under OUT_DIR: the outer
//! build holds the lock on the outer one.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_EXTISM").is_none() {
        return;
    }
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let plugin_dir = manifest_dir.join("plugins/extism-echo");
    for f in ["Cargo.toml", "Cargo.lock", "src"] {
        println!("cargo:rerun-if-changed={}", plugin_dir.join(f).display());
    }
    let target_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("extism-echo");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugin_dir)
        .args(["build", "--release", "--locked"])
        .args(["--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(&target_dir);
    spindle_test_support::nested_cargo::scrub_outer_build(&mut cmd);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the Extism echo plugin: {e}"));
    if !status.success() {
        panic!(
            "building {} failed (see the output above); it needs the \
             wasm32-unknown-unknown target: rustup target add wasm32-unknown-unknown",
            plugin_dir.display()
        );
    }
    let wasm = target_dir.join("wasm32-unknown-unknown/release/extism_echo.wasm");
    println!("cargo:rustc-env=EXTISM_ECHO_WASM={}", wasm.display());
}
