//! Running the user's build for `doctor -- CMD`: its stdout and stderr go
//! through to ours as they come (so a long `cargo build` shows progress),
//! and a bounded copy is kept for the diagnosis.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::Failure;

pub(super) struct Run {
    /// The command's exit status; 128 + N when signal N ended it.
    pub(super) status: u8,
    /// Both streams as they arrived, the last `limit` bytes at most.
    pub(super) output: Vec<u8>,
    pub(super) truncated: bool,
}

/// The command's output, bounded: past `2 × limit` the oldest bytes go (the
/// linker's error comes last).
struct Capture {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Capture {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > 2 * self.limit {
            let cut = self.bytes.len() - self.limit;
            self.bytes.drain(..cut);
            self.truncated = true;
        }
    }
}

/// Copies `from` to `to` chunk by chunk into `capture`. A failed write to
/// our own stream (a closed pipe) stops the echo, not the reading: the
/// child must never block on a full pipe.
fn pump(mut from: impl Read, mut to: impl Write, capture: &Mutex<Capture>) {
    let mut buf = [0u8; 8192];
    let mut echo = true;
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if echo && to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                    echo = false;
                }
                if let Ok(mut c) = capture.lock() {
                    c.push(&buf[..n]);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

pub(super) fn run(cmd: &[OsString], limit: usize) -> Result<Run, Failure> {
    let (program, args) = cmd
        .split_first()
        .ok_or_else(|| Failure::usage("`spindle doctor --` needs a command to run"))?;
    let shown = program.to_string_lossy();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure {
            // What a shell answers: 127 not found, 126 found but not run.
            code: if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            },
            message: format!("cannot run `{shown}`: {e}"),
        })?;
    let capture = Arc::new(Mutex::new(Capture {
        bytes: Vec::new(),
        limit,
        truncated: false,
    }));
    let out = child.stdout.take();
    let err = child.stderr.take();
    let c1 = Arc::clone(&capture);
    let c2 = Arc::clone(&capture);
    let t1 = std::thread::spawn(move || {
        if let Some(o) = out {
            pump(o, io::stdout(), &c1);
        }
    });
    let t2 = std::thread::spawn(move || {
        if let Some(e) = err {
            pump(e, io::stderr(), &c2);
        }
    });
    let status = child
        .wait()
        .map_err(|e| Failure::io(format!("cannot wait for `{shown}`: {e}")))?;
    let _ = t1.join();
    let _ = t2.join();
    let code = match status.code() {
        Some(c) => u8::try_from(c).unwrap_or(1),
        None => signal_status(&status),
    };
    let (output, truncated) = match Arc::try_unwrap(capture) {
        Ok(m) => {
            let c = m.into_inner().unwrap_or_else(|p| p.into_inner());
            (c.bytes, c.truncated)
        }
        Err(shared) => {
            let c = shared.lock().unwrap_or_else(|p| p.into_inner());
            (c.bytes.clone(), c.truncated)
        }
    };
    Ok(Run {
        status: code,
        output,
        truncated,
    })
}

#[cfg(unix)]
fn signal_status(status: &std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    status
        .signal()
        .and_then(|s| u8::try_from(128 + s).ok())
        .unwrap_or(1)
}

#[cfg(not(unix))]
fn signal_status(_: &std::process::ExitStatus) -> u8 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capture_keeps_the_newest_bytes() {
        let mut c = Capture {
            bytes: Vec::new(),
            limit: 4,
            truncated: false,
        };
        c.push(b"abcdefgh");
        assert!(!c.truncated);
        c.push(b"ij");
        assert_eq!(c.bytes, b"ghij");
        assert!(c.truncated);
    }
}
