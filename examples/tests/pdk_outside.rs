//! The kit's proof from outside the workspace: the kit's
//! plugin built on stable and on nightly (plugins/pdk-greeter, its own
//! workspace), and a host crate outside the workspace (tests/outside-host,
//! its own workspace and Cargo.lock, spindle-runtime by path) calls each
//! one's string and bytes exports 20,000 times with flat guest memory.
//!
//! Ignored by default: the outside host is a second full build of wasmtime
//! in its own target directory (the outer cargo holds this one's lock),
//! 13 min 20 s wall here (4.5 min of CPU, 2 cores shared with other builds).
//! `cargo pdk-outside` runs it;
//! CI runs the same calls in-workspace (tests/pdk.rs,
//! `twenty_thousand_calls_keep_guest_memory_flat`).

mod common;

use common::{Toolchain, build_plugin, scratch};
use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "a second wasmtime build (13 min here): cargo pdk-outside"]
fn a_host_outside_the_workspace_calls_the_kit_plugin_20000_times_with_flat_memory() {
    let stable = build_plugin(
        Toolchain::Current,
        &["wasm32-unknown-unknown"],
        None,
        &scratch("pdk-greeter-stable"),
    );
    let nightly = build_plugin(
        Toolchain::Nightly,
        &["wasm32-unknown-unknown"],
        None,
        &scratch("pdk-greeter-nightly"),
    );
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/outside-host/Cargo.toml");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["run", "--locked", "--offline", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(scratch("outside-host"))
        .arg("--")
        .arg(&stable[0])
        .arg(&nightly[0]);
    spindle_test_support::nested_cargo::scrub_outer_build(&mut cmd);
    let out = cmd.output().expect("running cargo on tests/outside-host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "tests/outside-host failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One line per plugin, both the stable and the nightly build.
    assert_eq!(stdout.matches("outside-host ok: ").count(), 2, "{stdout}");
}
