//! Building the kit's plugin (plugins/pdk-greeter) the way a user does:
//! `cargo build` in its own directory, its own workspace and lock file,
//! with the toolchain asked for. Shared by tests/pdk.rs and
//! tests/pdk_outside.rs.
#![allow(dead_code)] // each test binary uses a part of it

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/pdk-greeter")
}

/// Where the nested builds go: under the workspace's target/, not the
/// outer build's lock.
pub fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// The toolchain a build uses: `Current` is the one running the tests.
#[derive(Clone, Copy, Debug)]
pub enum Toolchain {
    Current,
    Nightly,
}

/// Fails (loudly, with the command that fixes it) if `toolchain` lacks
/// `target`.
pub fn require_target(toolchain: Toolchain, target: &str) {
    let mut cmd = Command::new("rustup");
    if let Toolchain::Nightly = toolchain {
        cmd.arg("+nightly");
    }
    let out = cmd
        .args(["target", "list", "--installed"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run rustup to list targets: {e}"));
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && list.lines().any(|l| l.trim() == target),
        "the {toolchain:?} toolchain has no {target} target (stderr: {}); \
         `bash scripts/setup.sh` installs it, or by hand: rustup {}target add {target}",
        String::from_utf8_lossy(&out.stderr).trim(),
        if matches!(toolchain, Toolchain::Nightly) {
            "+nightly "
        } else {
            ""
        },
    );
}

/// `cargo build --release` of the plugin for `targets` with `features`
/// (`None`: the default ones), in `target_dir`; returns the .wasm of each
/// target, in order.
pub fn build_plugin(
    toolchain: Toolchain,
    targets: &[&str],
    features: Option<&str>,
    target_dir: &Path,
) -> Vec<PathBuf> {
    for t in targets {
        require_target(toolchain, t);
    }
    let mut cmd = match toolchain {
        Toolchain::Current => {
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        }
        Toolchain::Nightly => {
            let mut c = Command::new("rustup");
            c.args(["run", "nightly", "cargo"]);
            c
        }
    };
    cmd.current_dir(plugin_dir())
        .args(["build", "--release", "--locked", "--offline"])
        .arg("--target-dir")
        .arg(target_dir);
    for t in targets {
        cmd.args(["--target", t]);
    }
    if let Some(f) = features {
        cmd.args(["--no-default-features", "--features", f]);
    }
    spindle_test_support::nested_cargo::scrub_outer_build(&mut cmd);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run cargo ({toolchain:?}) to build the kit's plugin: {e}")
    });
    assert!(
        out.status.success(),
        "building {} with {toolchain:?} for {targets:?} (features {features:?}) failed:\n{}",
        plugin_dir().display(),
        String::from_utf8_lossy(&out.stderr)
    );
    targets
        .iter()
        .map(|t| target_dir.join(t).join("release/pdk_greeter.wasm"))
        .collect()
}
