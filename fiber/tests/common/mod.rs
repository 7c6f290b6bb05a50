//! What the crash tests share: starting this test binary (or another one
//! built for the same target) in a child process.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// `SPINDLE_CROSS_RUNNER_<ARCH>_<OS>` for the target this binary is for.
pub fn cross_runner_variable() -> String {
    format!(
        "SPINDLE_CROSS_RUNNER_{}_{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
    .to_uppercase()
}

/// The emulator a foreign binary of this target runs under here, if any.
///
/// A cross-built binary runs under the emulator `.cargo/config.toml` names
/// as its runner (no binfmt_misc, so a foreign binary cannot be executed
/// directly); its children are started through the same emulator, which
/// that config also names in `SPINDLE_CROSS_RUNNER_<ARCH>_<OS>`. No such
/// variable: the binary is native (a Windows child under Wine is started by
/// Wine itself).
pub fn cross_runner() -> Option<String> {
    std::env::var(cross_runner_variable()).ok()
}

/// A command that runs `exe`, through the cross runner when there is one.
pub fn command(exe: &Path) -> Command {
    match cross_runner().as_deref().map(str::split_whitespace) {
        Some(mut parts) => {
            let mut cmd = Command::new(parts.next().expect("the cross runner variable is empty"));
            cmd.args(parts).arg(exe);
            cmd
        }
        None => Command::new(exe),
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

/// Runs the `#[ignore]`d test `name` of this binary in a child process with
/// `SPINDLE_CHILD` set, and returns its output.
pub fn run_child(name: &str) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    command(&exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SPINDLE_CHILD", name)
        .output()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", exe.display()))
}

/// Whether this process is the child `run_child(name)` started.
pub fn in_child(name: &str) -> bool {
    std::env::var("SPINDLE_CHILD").as_deref() == Ok(name)
}
