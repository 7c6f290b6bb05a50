//! Compiles the Rust plugin in `plugins/greeter` to wasm32-unknown-unknown,
//! twice: as written, and with its deliberately misspelled import (`typo`
//! feature). The paths reach the examples as `GREETER_WASM` and
//! `GREETER_TYPO_WASM`. And the kit's plugin `plugins/pdk-greeter` for
//! wasm32-wasip1 with std, a WASI plugin (`PDK_GREETER_WASI_WASM`, the
//! `wasi_plugin` example).
//!
//! The nested cargo gets its own target directory under OUT_DIR: sharing the
//! outer one would wait forever on the lock the outer build holds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let plugin_dir = manifest_dir.join("plugins/greeter");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for dir in [plugin_dir.clone(), manifest_dir.join("plugins/pdk-greeter")] {
        for f in ["Cargo.toml", "Cargo.lock", "src"] {
            println!("cargo:rerun-if-changed={}", dir.join(f).display());
        }
    }
    // The kit itself, which pdk-greeter depends on by path.
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../pdk").display()
    );

    let plain = build_plugin(&plugin_dir, &out_dir.join("greeter"), WASM32, None)
        .join("greeter_plugin.wasm");
    let typo = build_plugin(
        &plugin_dir,
        &out_dir.join("greeter-typo"),
        WASM32,
        Some("typo"),
    )
    .join("greeter_plugin.wasm");
    let kit_dir = manifest_dir.join("plugins/pdk-greeter");
    let wasi = build_plugin(&kit_dir, &out_dir.join("pdk-greeter-wasip1"), WASIP1, None)
        .join("pdk_greeter.wasm");
    println!("cargo:rustc-env=GREETER_WASM={}", plain.display());
    println!("cargo:rustc-env=GREETER_TYPO_WASM={}", typo.display());
    println!("cargo:rustc-env=PDK_GREETER_WASI_WASM={}", wasi.display());
}

const WASM32: &str = "wasm32-unknown-unknown";
const WASIP1: &str = "wasm32-wasip1";

fn build_plugin(
    plugin_dir: &Path,
    target_dir: &Path,
    target: &str,
    feature: Option<&str>,
) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugin_dir)
        .args(["build", "--release", "--locked", "--offline"])
        .args(["--target", target])
        .arg("--target-dir")
        .arg(target_dir);
    if let Some(f) = feature {
        cmd.args(["--features", f]);
    }
    spindle_test_support::nested_cargo::scrub_outer_build(&mut cmd);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the example plugin: {e}"));
    if !status.success() {
        panic!(
            "building the example plugin in {} failed (see the output above).\n\
             If the error says the {target} target is missing, run:\n    \
             rustup target add {target}",
            plugin_dir.display()
        );
    }
    // Where cargo puts the release artifacts for `target`.
    target_dir.join(target).join("release")
}
