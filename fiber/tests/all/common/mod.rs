//! What the crash tests share: starting this test binary (or another one
//! built for the same target) in a child process, from the workspace's test
//! support, and what only this crate's children need.
#![allow(dead_code)]

use std::process::Command;

pub use spindle_test_support::child::*;

/// The test harness's name of the test `name` in the calling module (its
/// path below this binary's crate), as a child process must be started
/// with and as [`in_child`] compares it.
macro_rules! child {
    ($name:expr) => {
        &$crate::common::below_crate(module_path!(), $name)
    };
}

/// `module::name` without the crate's own name in front: `module_path!()`
/// starts with the crate (`all::fiber`), the harness's test names do not.
pub fn below_crate(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, below)) => format!("{below}::{name}"),
        None => name.to_string(),
    }
}

/// Makes a child start its threads without an alternate signal stack, as
/// they do outside AddressSanitizer. ASan gives every thread one of its own
/// (no guard page below it) unless told `use_sigaltstack=0`; the overflow
/// tests check what spindle-fiber does for a thread that has none.
pub fn no_sanitizer_altstack(cmd: &mut Command) -> &mut Command {
    if cfg!(spindle_asan) {
        let mut options = std::env::var("ASAN_OPTIONS").unwrap_or_default();
        if !options.is_empty() {
            options.push(':');
        }
        options.push_str("use_sigaltstack=0");
        cmd.env("ASAN_OPTIONS", options);
    }
    cmd
}
