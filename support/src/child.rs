//! Starting a test binary again in a child process, to run one of its
//! `#[ignore]`d tests alone: for the tests whose subject ends the process
//! (an abort, a stack overflow, a fault) or needs a fresh one.
//!
//! The parent starts the child with `SPINDLE_CHILD` naming the test, and
//! the child test returns at once unless [`in_child`] says it is that child:
//! a plain `cargo test -- --ignored` therefore runs the child tests as
//! no-ops instead of crashing.
//!
//! A cross-built test binary runs under the emulator `.cargo/config.toml`
//! names as its runner (there is no binfmt_misc here, so a foreign binary
//! cannot be executed directly); its children must be started through the
//! same emulator, which that config also names in
//! `SPINDLE_CROSS_RUNNER_<ARCH>_<OS>`.

use std::path::Path;
use std::process::{Command, Output};

/// The variable that carries the name of the child test.
pub const CHILD: &str = "SPINDLE_CHILD";

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
/// No such variable: the binary is native (a Windows child under Wine is
/// started by Wine itself).
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

/// The test harness's arguments that run exactly the `#[ignored]` test
/// `name`, on one thread, with its output shown.
pub fn child_args(name: &str) -> [&str; 5] {
    [
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// A command that runs the `#[ignore]`d test `name` of this binary alone,
/// with `SPINDLE_CHILD` set to `name`; the caller may add to it.
pub fn child_command(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the path of this test binary");
    let mut cmd = command(&exe);
    cmd.args(child_args(name)).env(CHILD, name);
    cmd
}

/// Runs the `#[ignore]`d test `name` of this binary in a child process
/// (see [`child_command`]) and returns its output.
pub fn run_child(name: &str) -> Output {
    let mut cmd = child_command(name);
    cmd.output()
        .unwrap_or_else(|e| panic!("could not start {cmd:?}: {e}"))
}

/// Whether this process is the child `run_child(name)` started.
pub fn in_child(name: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(name)
}
