//! The one error type of spindle-runtime.
//!
//! Every failure a plugin can cause is a distinct variant so that an
//! application can `match` on it (retry on a deadline, blame the plugin on a
//! trap, fix its host on a link error), and its `Display` is written for the
//! person who has to fix the plugin.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::backtrace::Backtrace;
use crate::link::LinkError;
use crate::load_limits::LoadLimitError;
use crate::types::Signature;

/// A boxed error returned by a host function.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Trap codes, re-exported from wasmtime (e.g. `TrapCode::UnreachableCodeReached`).
pub use wasmtime::Trap as TrapCode;

/// Everything that can go wrong loading, instantiating or calling a plugin.
///
/// A thin box around [`ErrorKind`]: one pointer, so `Result<R, Error>` of a
/// call returns in registers like wasmtime's own results and adds nothing to
/// the success path. Match on [`Error::kind`].
pub struct Error(Box<ErrorKind>);

impl Error {
    /// What went wrong, for `match`.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Unwraps the kind, e.g. to take ownership of a host function's error.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// The wasm backtrace carried by this error, if any. Not part of
    /// `Display`, which says what went wrong in one line of its own;
    /// [`Error::report`] shows it with the causes.
    pub fn backtrace(&self) -> Option<&Backtrace> {
        self.0.backtrace()
    }

    /// The whole story for a person to read: this error, each cause in the
    /// [`source`](std::error::Error::source) chain after a `: `, then the
    /// wasm backtrace if there is one. `spindle run` prints this.
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }

    /// The link report, if this is a load-time import/export problem.
    pub fn as_link(&self) -> Option<&LinkError> {
        match &*self.0 {
            ErrorKind::Link(l) => Some(l),
            _ => None,
        }
    }

    pub(crate) fn wasmtime(e: wasmtime::Error) -> Self {
        ErrorKind::Wasmtime(e).into()
    }
}

/// [`Error::report`]: an error with its causes and backtrace.
pub struct Report<'e>(&'e Error);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(self.0);
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        if let Some(b) = self.0.backtrace() {
            write!(f, "{b}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The kinds of [`Error`], one per failure.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A plugin file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not a valid wasm module (or the text is not valid WAT).
    InvalidModule {
        /// Plugin name (file name or the name given when loading).
        plugin: String,
        /// What is wrong, with byte offset or line/column when known.
        reason: String,
    },
    /// The module exceeds one of the host's
    /// [`LoadLimits`](crate::LoadLimits); refused before compiling.
    LoadLimit {
        /// Plugin name.
        plugin: String,
        /// Which limit, the value found, the bound and the function.
        error: LoadLimitError,
    },
    /// The plugin's imports or exports do not fit this host. Every problem is
    /// listed, not just the first.
    Link(LinkError),
    /// A call named an export the plugin does not have (or that is not a function).
    MissingExport {
        /// The name that was asked for.
        name: String,
        /// The plugin's function exports, nearest names first.
        available: Vec<String>,
    },
    /// A call's Rust types do not match the export's wasm signature.
    ExportSignature {
        /// Export name.
        name: String,
        /// What the call's Rust types ask for.
        expected: Signature,
        /// What the plugin exports.
        found: Signature,
    },
    /// The call used up its fuel budget.
    OutOfFuel {
        /// The budget the call started with.
        fuel: u64,
        /// Where the plugin was when it ran out.
        backtrace: Backtrace,
    },
    /// The call ran past its wall-clock deadline.
    DeadlineExceeded {
        /// The configured deadline.
        deadline: Duration,
        /// Where the plugin was when it was stopped.
        backtrace: Backtrace,
    },
    /// A call with a fuel limit and no deadline waited in the host (a WASI
    /// sleep, poll or blocking read, an async host function) longer in total
    /// than its fuel allows: one nanosecond per unit. Give the call a
    /// deadline ([`Limits::deadline`](crate::Limits::deadline)) to bound it
    /// by time instead.
    WaitLimit {
        /// The time the fuel allowed.
        allowed: Duration,
    },
    /// The call was cancelled through a [`CancelHandle`](crate::CancelHandle).
    Cancelled {
        /// Where the plugin was when it was stopped.
        backtrace: Backtrace,
    },
    /// The plugin exhausted its wasm stack (e.g. unbounded recursion).
    StackOverflow {
        /// The innermost frames.
        backtrace: Backtrace,
    },
    /// The plugin tried to grow its memories past the instance's cap.
    MemoryLimit {
        /// Bytes all of the instance's memories would have had together.
        requested: usize,
        /// The cap in bytes.
        limit: usize,
        /// Where the plugin was, if it was running code.
        backtrace: Backtrace,
    },
    /// The plugin tried to grow its tables past the instance's cap.
    TableLimit {
        /// Elements all of the instance's tables would have had together.
        requested: usize,
        /// The cap in elements.
        limit: usize,
        /// Where the plugin was, if it was running code.
        backtrace: Backtrace,
    },
    /// The plugin has more linear memories than [`Limits::max_memories`](crate::Limits::max_memories).
    TooManyMemories {
        /// Memories the module defines.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// The plugin has more tables than [`Limits::max_tables`](crate::Limits::max_tables).
    TooManyTables {
        /// Tables the module defines.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// The calling thread has too little native stack left for a call that
    /// may use `max_wasm_stack` bytes of it; nothing was run.
    NativeStack {
        /// Bytes of stack left below the caller.
        available: usize,
        /// `max_wasm_stack` plus the reserve for host code.
        needed: usize,
    },
    /// The shared epoch ticker thread could not be started, so deadlines
    /// and cancellation could not work; the host was not built.
    Ticker(std::io::Error),
    /// Any other trap raised by wasm code (unreachable, division by zero,
    /// out-of-bounds memory access, ...).
    Trap {
        /// The trap code.
        code: TrapCode,
        /// Where it happened.
        backtrace: Backtrace,
    },
    /// A host function returned an error.
    HostFunction {
        /// `"module::name"` of the host function.
        function: String,
        /// The error it returned.
        error: BoxError,
        /// The wasm frames that led to the host call.
        backtrace: Backtrace,
    },
    /// A host function panicked. The panic was caught at the wasm boundary;
    /// the host and other instances are unaffected.
    HostPanic {
        /// `"module::name"` of the host function.
        function: String,
        /// The panic message.
        message: String,
        /// The wasm frames that led to the host call.
        backtrace: Backtrace,
    },
    /// A host function tried to suspend the plugin ([`Ctx::suspend`](crate::Ctx::suspend)),
    /// but the call was a plain `call` (or the start function), not one
    /// started with [`Instance::start`](crate::Instance::start).
    CannotSuspend {
        /// `"module::name"` of the host function.
        function: String,
        /// The wasm frames that led to the host call.
        backtrace: Backtrace,
    },
    /// A host function suspended with other yield or resume types than the
    /// [`Call`](crate::Call) expects. The call was cancelled.
    SuspendType {
        /// Type the host function yielded.
        host_yields: &'static str,
        /// Type the host function expects to be resumed with.
        host_resumes_with: &'static str,
        /// The call's yield type.
        call_yields: &'static str,
        /// The call's resume type.
        call_resumes_with: &'static str,
    },
    /// [`Call::run`](crate::Call::run) or [`Call::resume`](crate::Call::resume)
    /// on a call in the wrong state (e.g. resuming a call that returned).
    NotSuspended {
        /// What was attempted.
        what: &'static str,
    },
    /// A pointer and length the plugin handed to the host through the guest
    /// contract (an export's return area, its output or error message, a
    /// bytes host function's input or return area) reach outside its memory
    /// or wrap past 4 GiB. Nothing outside the memory was read or written.
    GuestBounds {
        /// The export called, or `module::name` of the host function.
        function: String,
        /// Which region: `"return area"`, `"output"`, `"error message"`, `"input"`.
        what: &'static str,
        /// Guest address.
        ptr: u32,
        /// Length in bytes.
        len: u32,
        /// Size of the guest memory in bytes.
        memory_size: usize,
    },
    /// The plugin's `cabi_realloc` trapped, or returned a pointer that the
    /// requested bytes do not fit behind.
    Allocator {
        /// The export called, or `module::name` of the host function.
        function: String,
        /// Bytes the host asked for.
        size: u32,
        /// What went wrong.
        problem: AllocatorProblem,
    },
    /// An export's output (or error message) is longer than
    /// [`Limits::max_output_bytes`](crate::Limits::max_output_bytes); it was
    /// not copied.
    OutputLimit {
        /// The export called.
        function: String,
        /// `"output"` or `"error message"`.
        what: &'static str,
        /// Length the plugin returned.
        len: u32,
        /// The limit in bytes.
        limit: usize,
    },
    /// [`Instance::call_str`](crate::Instance::call_str) got an output that
    /// is not UTF-8 (or a string host function got such an input).
    InvalidUtf8 {
        /// The export called, or `module::name` of the host function.
        function: String,
        /// `"output"` or `"input"`.
        what: &'static str,
        /// Bytes before the first invalid sequence.
        valid_up_to: usize,
        /// Length of the whole output.
        len: usize,
    },
    /// The plugin's export returned an error result with this message
    /// (invalid UTF-8 in it replaced by U+FFFD).
    GuestError {
        /// The export called.
        function: String,
        /// The plugin's message.
        message: String,
    },
    /// The plugin does not implement the guest contract for a bytes or
    /// string call (docs/guest-contract.md): no `memory` or `cabi_realloc`
    /// export, a wrong `cabi_realloc` or `cabi_post_*` signature, a return
    /// area that is not 4-aligned, or a result tag other than 0 and 1.
    GuestContract {
        /// The export called, or `module::name` of the host function.
        function: String,
        /// What is wrong.
        problem: String,
    },
    /// The input of a bytes or string call does not fit a 32-bit guest
    /// (4 GiB or more); nothing was run.
    InputTooLarge {
        /// The export called.
        function: String,
        /// Length of the input.
        len: usize,
    },
    /// The plugin ended the call with WASI's `proc_exit`. A command's exit
    /// code is the result of [`Instance::run_command`](crate::Instance::run_command);
    /// in other calls `proc_exit(0)` is a normal return of an export without
    /// results, and this error carries every other code (and a `0` from an
    /// export that had results to return).
    Exit {
        /// The code the plugin passed to `proc_exit`.
        code: i32,
    },
    /// The plugin wrote more to its captured stdout or stderr than
    /// [`Output::Capture`](crate::Output::Capture) allows. What fit was kept
    /// and can still be read from the instance.
    WasiOutputLimit {
        /// `"stdout"` or `"stderr"`.
        stream: &'static str,
        /// The bound in bytes.
        limit: usize,
        /// Where the plugin was when it wrote past it.
        backtrace: Backtrace,
    },
    /// A directory granted with [`Wasi::dir_ro`](crate::Wasi::dir_ro) or
    /// [`Wasi::dir_rw`](crate::Wasi::dir_rw) could not be opened; no
    /// instance was created.
    WasiDir {
        /// The host directory.
        host: PathBuf,
        /// The name the plugin would have seen it under.
        guest: String,
        /// Why it could not be opened.
        reason: String,
    },
    /// The plugin called a WASI function with an argument wasmtime-wasi
    /// refuses to decode: an enum or flag value out of range, a pointer out
    /// of bounds, wrapping or misaligned. WASI defines these as traps; the
    /// call ends and nothing was done for it.
    WasiArgument {
        /// `wasi_snapshot_preview1::<name>` when wasmtime-wasi names it.
        function: Option<String>,
        /// What was wrong, in wasmtime-wasi's words.
        problem: String,
        /// Where the plugin was when it made the call.
        backtrace: Backtrace,
    },
    /// A host or instance setting is inconsistent (e.g. a fuel limit on a host
    /// built without fuel metering).
    Config(String),
    /// A failure inside wasmtime that none of the above describes.
    Wasmtime(wasmtime::Error),
}

impl ErrorKind {
    /// The wasm backtrace carried by this error, if any.
    pub fn backtrace(&self) -> Option<&Backtrace> {
        match self {
            ErrorKind::OutOfFuel { backtrace, .. }
            | ErrorKind::DeadlineExceeded { backtrace, .. }
            | ErrorKind::Cancelled { backtrace }
            | ErrorKind::StackOverflow { backtrace }
            | ErrorKind::MemoryLimit { backtrace, .. }
            | ErrorKind::TableLimit { backtrace, .. }
            | ErrorKind::Trap { backtrace, .. }
            | ErrorKind::HostFunction { backtrace, .. }
            | ErrorKind::HostPanic { backtrace, .. }
            | ErrorKind::CannotSuspend { backtrace, .. }
            | ErrorKind::WasiOutputLimit { backtrace, .. }
            | ErrorKind::WasiArgument { backtrace, .. } => Some(backtrace),
            ErrorKind::Allocator {
                problem: AllocatorProblem::Trapped { backtrace, .. },
                ..
            } => Some(backtrace),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io { path, .. } => {
                write!(f, "cannot read plugin {}", path.display())
            }
            ErrorKind::InvalidModule { plugin, reason } => {
                write!(f, "plugin `{plugin}` is not a valid wasm module: {reason}")
            }
            ErrorKind::LoadLimit { plugin, .. } => {
                write!(f, "plugin `{plugin}` refused before compiling")
            }
            ErrorKind::Link(l) => write!(f, "cannot load plugin `{}`", l.plugin()),
            ErrorKind::MissingExport { name, available } => {
                write!(f, "plugin has no exported function `{name}`")?;
                match available.as_slice() {
                    [] => write!(f, " (it exports no functions)"),
                    names => write!(f, "; it exports: {}", names.join(", ")),
                }
            }
            ErrorKind::ExportSignature {
                name,
                expected,
                found,
            } => write!(
                f,
                "export `{name}` has a different signature than the call expects\n  \
                 call expects:    {expected}\n  plugin exports:  {found}"
            ),
            ErrorKind::OutOfFuel { fuel, .. } => {
                write!(f, "plugin ran out of fuel ({fuel} units per call)")
            }
            ErrorKind::DeadlineExceeded { deadline, .. } => {
                write!(f, "plugin call exceeded its {deadline:?} deadline")
            }
            ErrorKind::WaitLimit { allowed } => write!(
                f,
                "plugin call waited in the host longer than its fuel allows ({allowed:?} of \
                 waiting, one nanosecond per unit of fuel)"
            ),
            ErrorKind::Cancelled { .. } => write!(f, "plugin call was cancelled"),
            ErrorKind::StackOverflow { .. } => {
                write!(f, "plugin overflowed its wasm stack (runaway recursion?)")
            }
            ErrorKind::MemoryLimit {
                requested, limit, ..
            } => write!(
                f,
                "plugin tried to grow its memory to {requested} bytes, over the {limit}-byte limit (all of its memories together)"
            ),
            ErrorKind::TableLimit {
                requested, limit, ..
            } => write!(
                f,
                "plugin tried to grow its tables to {requested} elements, over the {limit}-element limit (all of its tables together)"
            ),
            ErrorKind::TooManyMemories { count, limit } => write!(
                f,
                "plugin has {count} linear memories, over the limit of {limit}"
            ),
            ErrorKind::TooManyTables { count, limit } => {
                write!(f, "plugin has {count} tables, over the limit of {limit}")
            }
            ErrorKind::NativeStack { available, needed } => write!(
                f,
                "the calling thread has {available} bytes of native stack left, but a plugin \
                 call may need {needed} (max_wasm_stack plus a reserve for host code): call \
                 from a thread with a bigger stack or lower HostBuilder::max_wasm_stack"
            ),
            ErrorKind::Ticker(_) => write!(f, "cannot start the epoch ticker thread"),
            ErrorKind::Trap { code, .. } => {
                let desc = code.to_string();
                let desc = desc.strip_prefix("wasm trap: ").unwrap_or(&desc);
                write!(f, "plugin trapped: {desc}")
            }
            ErrorKind::HostFunction { function, .. } => {
                write!(f, "host function `{function}` failed")
            }
            ErrorKind::HostPanic {
                function, message, ..
            } => {
                write!(f, "host function `{function}` panicked: {message}")
            }
            ErrorKind::CannotSuspend { function, .. } => write!(
                f,
                "host function `{function}` tried to suspend the plugin, but the call \
                 was not started with `Instance::start`"
            ),
            ErrorKind::SuspendType {
                host_yields,
                host_resumes_with,
                call_yields,
                call_resumes_with,
            } => write!(
                f,
                "suspension types do not match, call cancelled\n  \
                 host function yields `{host_yields}` and resumes with `{host_resumes_with}`\n  \
                 the call yields `{call_yields}` and resumes with `{call_resumes_with}`"
            ),
            ErrorKind::NotSuspended { what } => write!(f, "call is not suspended: {what}"),
            ErrorKind::GuestBounds {
                function,
                what,
                ptr,
                len,
                memory_size,
            } => {
                write!(
                    f,
                    "`{function}`: the plugin's {what} [{ptr:#x}, +{len}) is outside its {memory_size}-byte memory"
                )?;
                if u64::from(*ptr) + u64::from(*len) > u64::from(u32::MAX) {
                    write!(f, " (pointer + length wraps past 4 GiB)")?;
                }
                Ok(())
            }
            ErrorKind::Allocator {
                function,
                size,
                problem,
            } => write!(
                f,
                "`{function}`: the plugin's cabi_realloc failed to allocate {size} bytes: {problem}"
            ),
            ErrorKind::OutputLimit {
                function,
                what,
                len,
                limit,
            } => write!(
                f,
                "`{function}`: the plugin's {what} is {len} bytes, over the {limit}-byte max_output_bytes limit"
            ),
            ErrorKind::InvalidUtf8 {
                function,
                what,
                valid_up_to,
                len,
            } => write!(
                f,
                "`{function}`: the {what} is not UTF-8 (invalid from byte {valid_up_to} of {len})"
            ),
            ErrorKind::GuestError { function, message } => {
                write!(f, "`{function}` returned an error: {message}")
            }
            ErrorKind::GuestContract { function, problem } => write!(
                f,
                "`{function}`: the plugin does not follow the guest contract \
                 (docs/guest-contract.md): {problem}"
            ),
            ErrorKind::InputTooLarge { function, len } => write!(
                f,
                "`{function}`: an input of {len} bytes does not fit a 32-bit guest"
            ),
            ErrorKind::Exit { code } => write!(f, "plugin exited with code {code} (proc_exit)"),
            ErrorKind::WasiOutputLimit { stream, limit, .. } => write!(
                f,
                "plugin wrote more than {limit} bytes to its {stream}, the bound of its capture \
                 buffer (what fit was kept)"
            ),
            ErrorKind::WasiDir {
                host,
                guest,
                reason,
            } => write!(
                f,
                "cannot grant directory {} to the plugin as {guest:?}: {reason}",
                host.display()
            ),
            ErrorKind::WasiArgument {
                function: Some(function),
                problem,
                ..
            } => write!(
                f,
                "the plugin called `{function}` with an argument WASI refuses: {problem}"
            ),
            ErrorKind::WasiArgument { problem, .. } => {
                write!(
                    f,
                    "the plugin called WASI with an argument it refuses: {problem}"
                )
            }
            ErrorKind::Config(msg) => write!(f, "invalid configuration: {msg}"),
            ErrorKind::Wasmtime(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for ErrorKind {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ErrorKind::Io { source, .. } => Some(source),
            ErrorKind::Ticker(e) => Some(e),
            ErrorKind::Link(l) => Some(l),
            ErrorKind::LoadLimit { error, .. } => Some(error),
            ErrorKind::HostFunction { error, .. } => Some(&**error),
            _ => None,
        }
    }
}

/// How a plugin's `cabi_realloc` failed ([`ErrorKind::Allocator`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum AllocatorProblem {
    /// It trapped (fuel, deadline, cancellation and memory limits keep their
    /// own [`ErrorKind`]s; this is every other trap).
    Trapped {
        /// The trap code.
        code: TrapCode,
        /// Where it happened.
        backtrace: Backtrace,
    },
    /// It returned 0 for a non-empty allocation.
    Null,
    /// The allocation `[ptr, +size)` is outside the memory or wraps past 4 GiB.
    OutOfBounds {
        /// The pointer it returned.
        ptr: u32,
        /// Size of the guest memory in bytes after the allocation.
        memory_size: usize,
    },
}

impl fmt::Display for AllocatorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocatorProblem::Trapped { code, .. } => {
                let desc = code.to_string();
                let desc = desc.strip_prefix("wasm trap: ").unwrap_or(&desc);
                write!(f, "it trapped: {desc}")
            }
            AllocatorProblem::Null => f.write_str("it returned a null pointer"),
            AllocatorProblem::OutOfBounds { ptr, memory_size } => write!(
                f,
                "it returned {ptr:#x}, and the bytes from there do not fit in its {memory_size}-byte memory"
            ),
        }
    }
}

impl From<LinkError> for Error {
    fn from(e: LinkError) -> Self {
        ErrorKind::Link(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtrace::Frame;

    fn one_frame() -> Backtrace {
        Backtrace {
            frames: vec![Frame {
                module: Some("m".into()),
                func_index: 3,
                func_name: Some("inner".into()),
                module_offset: Some(0x2a),
            }],
        }
    }

    #[test]
    fn display_is_the_errors_own_words_and_the_report_adds_causes_and_backtrace() {
        let io: Error = ErrorKind::Io {
            path: "p.wasm".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        }
        .into();
        assert_eq!(io.to_string(), "cannot read plugin p.wasm");
        assert_eq!(
            std::error::Error::source(&io).unwrap().to_string(),
            "no such file"
        );
        assert_eq!(
            io.report().to_string(),
            "cannot read plugin p.wasm: no such file"
        );

        let host: Error = ErrorKind::HostFunction {
            function: "app::get".into(),
            error: "not found".into(),
            backtrace: one_frame(),
        }
        .into();
        assert_eq!(host.to_string(), "host function `app::get` failed");
        let report = host.report().to_string();
        assert!(
            report.starts_with("host function `app::get` failed: not found\nwasm backtrace:"),
            "{report}"
        );
        assert!(report.contains("m!inner"), "{report}");

        let trap: Error = ErrorKind::Trap {
            code: TrapCode::UnreachableCodeReached,
            backtrace: one_frame(),
        }
        .into();
        assert!(!trap.to_string().contains('\n'), "{trap}");
        assert!(trap.report().to_string().contains("wasm backtrace:"));

        let ticker: Error = ErrorKind::Ticker(std::io::Error::other("no threads")).into();
        assert_eq!(ticker.to_string(), "cannot start the epoch ticker thread");
        assert_eq!(
            ticker.report().to_string(),
            "cannot start the epoch ticker thread: no threads"
        );
    }
}
