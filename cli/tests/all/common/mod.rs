//! Running the `spindle` binary as an untrusted input's victim: with a
//! watchdog, an optional address-space limit and user, and its own peak RSS.
//!
//! The watchdog (`alarm`, 120 s, inherited across `exec`) keeps a
//! regression from hanging a CI job. It is a kill switch, not a measurement:
//! on working code each child takes milliseconds.
#![allow(dead_code)] // each test binary uses a part of it

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub use spindle_test_support::not_run::not_run;

/// The binary under test; `SPINDLE_TEST_BIN` points these tests at another
/// build (that is how they were run against 9b1ab03).
pub fn spindle_binary() -> PathBuf {
    std::env::var_os("SPINDLE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_spindle")))
}

pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set of the child, in KiB (its own `wait4` rusage).
    pub max_rss_kib: i64,
}

/// Runs `spindle ARGS`, with the watchdog and, if `address_space` is given,
/// that RLIMIT_AS; as `uid` if given.
pub fn spindle_as(args: &[&str], address_space: Option<u64>, uid: Option<u32>) -> Run {
    let mut cmd = Command::new(spindle_binary());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    // SAFETY: runs in the forked child before exec; alarm and setrlimit are
    // async-signal-safe and touch no memory of the parent's.
    unsafe {
        cmd.pre_exec(move || {
            libc::alarm(120);
            if let Some(bytes) = address_space {
                let lim = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    // Reaped by `wait4` below, which also gives the child's own peak RSS.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("running spindle");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut err, &mut stderr).ok();
    let stdout = out_reader.join().unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; the pid is our
    // unwaited child, so no other waiter races for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: as above; both pointers are valid for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    assert_ne!(
        signal,
        Some(libc::SIGALRM),
        "spindle {args:?} hung (killed by the 120 s watchdog)\nstderr: {stderr}"
    );
    Run {
        code,
        signal,
        stdout,
        stderr,
        max_rss_kib: usage.ru_maxrss,
    }
}
