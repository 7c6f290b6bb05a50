//! What the crash tests share: starting this test binary (or another one
//! built for the same target) in a child process, from the workspace's test
//! support, and what only this crate's children need.
#![allow(dead_code)]

use std::process::Command;

pub use spindle_test_support::child::*;

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
