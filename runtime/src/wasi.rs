//! WASI preview 1 capabilities: what an application grants a plugin
//! (directories, environment, arguments) and where its stdout and stderr go.
//!
//! Everything is denied unless granted: a [`Wasi`] with nothing added gives
//! the plugin its name as `argv[0]`, clocks and random numbers, an empty
//! environment, no directories, no sockets and a closed stdin. Output is
//! captured per instance into a bounded buffer unless the application gives
//! a sink. The module exists in every build so the import report can name
//! WASI; the parts that need `wasmtime-wasi` are behind the `wasi` feature.

use std::path::PathBuf;
use std::sync::Arc;

/// Bytes of stdout (and, separately, of stderr) an instance keeps when its
/// output is captured and the application set no other bound.
pub const DEFAULT_CAPTURE_BYTES: usize = 1 << 20;

/// What an [`Output::Sink`] calls with each chunk the plugin writes.
pub type SinkFn = dyn Fn(&[u8]) + Send + Sync;

/// Where a plugin's stdout or stderr goes.
#[derive(Clone)]
pub enum Output {
    /// Kept in the instance, at most this many bytes; read it with
    /// [`Instance::stdout`](crate::Instance::stdout) and clear it with
    /// [`Instance::take_stdout`](crate::Instance::take_stdout). A write past
    /// the bound keeps what fits and ends the call with
    /// [`ErrorKind::WasiOutputLimit`](crate::ErrorKind::WasiOutputLimit).
    Capture {
        /// The bound in bytes.
        max_bytes: usize,
    },
    /// Handed to the application as it is written, one `fd_write` chunk at
    /// a time (at most 4 KiB each).
    Sink(Arc<SinkFn>),
    /// Written to the host process's own stdout (or stderr, for stderr).
    Inherit,
    /// Thrown away.
    Discard,
}

impl Output {
    /// [`Output::Capture`] with a bound.
    pub fn capture(max_bytes: usize) -> Self {
        Output::Capture { max_bytes }
    }

    /// [`Output::Sink`] from a closure.
    pub fn sink(f: impl Fn(&[u8]) + Send + Sync + 'static) -> Self {
        Output::Sink(Arc::new(f))
    }
}

impl Default for Output {
    fn default() -> Self {
        Output::capture(DEFAULT_CAPTURE_BYTES)
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Capture { max_bytes } => write!(f, "Capture {{ max_bytes: {max_bytes} }}"),
            Output::Sink(_) => f.write_str("Sink(..)"),
            Output::Inherit => f.write_str("Inherit"),
            Output::Discard => f.write_str("Discard"),
        }
    }
}

/// A directory granted to the plugin.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "wasi"), allow(dead_code))]
pub(crate) struct Preopen {
    pub(crate) host: PathBuf,
    pub(crate) guest: String,
    pub(crate) writable: bool,
}

/// What a WASI plugin may see and do beyond computing: the capabilities an
/// application grants. Nothing is granted by default (see the module
/// documentation); each method adds one grant.
///
/// ```no_run
/// # use spindle_runtime::{Host, Output, Wasi};
/// let wasi = Wasi::new()
///     .arg("--verbose")
///     .env("LANG", "C")
///     .dir_ro("/srv/data", "/data")
///     .dir_rw("/tmp/plugin-scratch", "/scratch")
///     .stdout(Output::capture(64 << 10))
///     .stderr(Output::Inherit);
/// # #[cfg(feature = "wasi")]
/// let host = Host::<()>::builder().wasi(wasi).build();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Wasi {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) dirs: Vec<Preopen>,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) symlinks: bool,
}

impl Wasi {
    /// No grants: `argv` is the plugin's name, no environment, no
    /// directories, no network, stdin closed, stdout and stderr captured
    /// up to [`DEFAULT_CAPTURE_BYTES`] each.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an argument after `argv[0]` (the plugin's name).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments after `argv[0]`.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets environment variable `key` to `value` for the plugin. Nothing of
    /// the host's own environment is passed unless named here.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Lets the plugin read (not write) the files under host directory
    /// `host`, which it sees as `guest`. The directory is opened when an
    /// instance is created; a missing one fails that instantiation with
    /// [`ErrorKind::WasiDir`](crate::ErrorKind::WasiDir).
    pub fn dir_ro(self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.dir(host.into(), guest.into(), false)
    }

    /// Lets the plugin read, create, write and delete the files under host
    /// directory `host`, which it sees as `guest`.
    pub fn dir_rw(self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.dir(host.into(), guest.into(), true)
    }

    fn dir(mut self, host: PathBuf, guest: String, writable: bool) -> Self {
        self.dirs.push(Preopen {
            host,
            guest,
            writable,
        });
        self
    }

    /// Lets the plugin create symbolic links (`path_symlink`) in its
    /// read-write directories. Refused by default, with `EPERM`: a link
    /// such as `out/result.txt -> ../secret.txt` cannot be followed by the
    /// plugin, but it is followed by the application when it later reads or
    /// writes the plugin's output directory, outside the grant. With this,
    /// open what the plugin left with `O_NOFOLLOW` (or check with
    /// `symlink_metadata`) before reading or writing it; see SECURITY.md.
    pub fn allow_symlinks(mut self) -> Self {
        self.symlinks = true;
        self
    }

    /// Where the plugin's stdout goes (default: captured, 1 MiB).
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where the plugin's stderr goes (default: captured, 1 MiB).
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }
}

#[cfg(feature = "wasi")]
pub(crate) use enabled::*;

#[cfg(feature = "wasi")]
mod enabled {
    use super::*;
    use crate::classify::Internal;
    use crate::error::{Error, ErrorKind};
    use std::sync::Mutex;
    use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
    use wasmtime_wasi::p1::WasiP1Ctx;
    use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

    /// The bytes an instance captured of one stream, shared between the stream
    /// the WASI context writes to and the instance that reads it.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub(crate) fn get(&self) -> Vec<u8> {
            self.lock().clone()
        }

        pub(crate) fn take(&self) -> Vec<u8> {
            std::mem::take(&mut *self.lock())
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
            // A panic while holding the lock leaves bytes, not broken invariants.
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// The WASI side of one instance: the context wasmtime-wasi works on and
    /// the buffers its captured streams fill.
    pub(crate) struct WasiState {
        pub(crate) ctx: WasiP1Ctx,
        pub(crate) stdout: Captured,
        pub(crate) stderr: Captured,
    }

    impl WasiState {
        /// The context for one instance of plugin `name` under `grants`.
        pub(crate) fn new(name: &str, grants: &Wasi) -> Result<Self, Error> {
            let mut b = builder(name, grants);
            for d in &grants.dirs {
                let perms = if d.writable {
                    FsPerms::ReadWrite
                } else {
                    FsPerms::ReadOnly
                };
                b.preopened_dir(&d.host, &d.guest, perms)
                    .map_err(|e| ErrorKind::WasiDir {
                        host: d.host.clone(),
                        guest: d.guest.clone(),
                        reason: format!("{e:#}"),
                    })?;
            }
            Ok(Self::finish(b, grants))
        }

        /// A context granting nothing, output thrown away.
        pub(crate) fn denied() -> Self {
            let grants = Wasi::new().stdout(Output::Discard).stderr(Output::Discard);
            Self::finish(builder("plugin", &grants), &grants)
        }

        fn finish(mut b: WasiCtxBuilder, grants: &Wasi) -> Self {
            let stdout = Captured::default();
            let stderr = Captured::default();
            set_output(&mut b, "stdout", &grants.stdout, &stdout);
            set_output(&mut b, "stderr", &grants.stderr, &stderr);
            WasiState {
                ctx: b.build_p1(),
                stdout,
                stderr,
            }
        }
    }

    /// Arguments and environment; no network (wasmtime-wasi allows TCP and
    /// UDP with every address denied: the protocols are turned off too, so
    /// nothing of them is reachable).
    fn builder(name: &str, grants: &Wasi) -> WasiCtxBuilder {
        let mut b = WasiCtxBuilder::new();
        b.arg(name);
        b.args(&grants.args);
        for (k, v) in &grants.env {
            b.env(k, v);
        }
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            // Every wait goes through wasmtime-wasi's runtime as a future that
            // a deadline can drop; on-thread blocking (a relative sleep
            // becomes `std::thread::sleep`) could not be interrupted.
            .allow_blocking_current_thread(false);
        b
    }

    /// Where wasmtime-wasi's own `path_symlink` stays defined, so a linker
    /// for grants that allow symlinks can point the name back at it. Not
    /// importable: the import report refuses every module but the host's
    /// and WASI's.
    const ORIGINAL: &str = "spindle-internal:wasi";
    const SYMLINK: &str = "path_symlink";

    /// WASI's errno `perm`.
    const ERRNO_PERM: i32 = 63;

    /// Replaces `path_symlink` with one that refuses with `EPERM`: a plugin
    /// with a read-write grant could otherwise plant a link pointing out of
    /// it, which the application would follow later. Needs shadowing on.
    pub(crate) fn refuse_symlinks<T: Send + 'static>(
        linker: &mut wasmtime::Linker<T>,
    ) -> wasmtime::Result<()> {
        linker.alias(crate::link::WASI_MODULE, SYMLINK, ORIGINAL, SYMLINK)?;
        linker.func_wrap(
            crate::link::WASI_MODULE,
            SYMLINK,
            |_: i32, _: i32, _: i32, _: i32, _: i32| ERRNO_PERM,
        )?;
        Ok(())
    }

    /// A copy of a finished linker with wasmtime-wasi's own `path_symlink`
    /// back in place, for instances whose grants allow symlinks.
    pub(crate) fn allowing_symlinks<T: 'static>(
        linker: &wasmtime::Linker<T>,
    ) -> wasmtime::Result<wasmtime::Linker<T>> {
        let mut allowing = linker.clone();
        allowing.allow_shadowing(true);
        allowing.alias(ORIGINAL, SYMLINK, crate::link::WASI_MODULE, SYMLINK)?;
        allowing.allow_shadowing(false);
        Ok(allowing)
    }

    fn set_output(b: &mut WasiCtxBuilder, which: &'static str, out: &Output, buf: &Captured) {
        let stream = match out {
            Output::Capture { max_bytes } => Stream::Capture {
                buf: buf.clone(),
                max: *max_bytes,
                which,
            },
            Output::Sink(f) => Stream::Sink(f.clone()),
            Output::Inherit if which == "stdout" => {
                b.inherit_stdout();
                return;
            }
            Output::Inherit => {
                b.inherit_stderr();
                return;
            }
            Output::Discard => return,
        };
        if which == "stdout" {
            b.stdout(stream);
        } else {
            b.stderr(stream);
        }
    }

    /// A stdout or stderr that the host keeps or hands on.
    #[derive(Clone)]
    enum Stream {
        Capture {
            buf: Captured,
            max: usize,
            which: &'static str,
        },
        Sink(Arc<SinkFn>),
    }

    impl IsTerminal for Stream {
        fn is_terminal(&self) -> bool {
            false
        }
    }

    impl StdoutStream for Stream {
        fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
            Box::new(self.clone())
        }

        fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
            Box::new(self.clone())
        }
    }

    impl Stream {
        /// Keeps or hands on `bytes`; `Err` when a capture is full, after
        /// keeping what fit.
        fn put(&self, bytes: &[u8]) -> Result<(), Internal> {
            match self {
                Stream::Sink(f) => {
                    f(bytes);
                    Ok(())
                }
                Stream::Capture { buf, max, which } => {
                    let mut buf = buf.lock();
                    let room = max.saturating_sub(buf.len());
                    if bytes.len() <= room {
                        buf.extend_from_slice(bytes);
                        return Ok(());
                    }
                    buf.extend_from_slice(&bytes[..room]);
                    Err(Internal::WasiOutputLimit {
                        stream: which,
                        limit: *max,
                    })
                }
            }
        }
    }

    #[wasmtime_wasi::async_trait]
    impl wasmtime_wasi::p2::Pollable for Stream {
        async fn ready(&mut self) {}
    }

    impl wasmtime_wasi::p2::OutputStream for Stream {
        fn write(&mut self, bytes: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
            // A trap, not an errno: the plugin cannot go on past a full
            // capture by ignoring a failed write.
            self.put(&bytes)
                .map_err(|e| wasmtime_wasi::p2::StreamError::Trap(e.into()))
        }

        fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
            Ok(())
        }

        fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
            // Never 0, even when full: a permit of 0 makes wasmtime-wasi's
            // blocking write loop forever. The write itself reports the bound.
            Ok(4096)
        }
    }

    impl tokio::io::AsyncWrite for Stream {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            bytes: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::task::Poll::Ready(
                self.put(bytes)
                    .map(|()| bytes.len())
                    .map_err(|e| std::io::Error::other(e.to_string())),
            )
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }
}
