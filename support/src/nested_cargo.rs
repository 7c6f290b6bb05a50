//! What every nested cargo that spindle's build scripts and tests start
//! (to build a wasm plugin or a crate outside the workspace) must not
//! inherit from the outer build: one list for all of them, so a variable
//! added here is scrubbed everywhere.

use std::process::Command;

/// Removes from `cmd`'s environment what the outer build set for itself:
/// its flags (LTO matrix, sanitizers, coverage), its target and target
/// directory, its compiler and wrappers (so `cargo +toolchain` and
/// `rustup run` choose the nested build's compiler), and its jobserver.
pub fn scrub_outer_build(cmd: &mut Command) -> &mut Command {
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}
