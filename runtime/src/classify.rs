//! Turning what wasmtime returns from a call or an instantiation back into
//! spindle's [`Error`]: traps, the limits spindle enforces from inside wasm
//! execution ([`Internal`]), host function failures and `proc_exit`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backtrace::Backtrace;
use crate::error::{BoxError, Error, ErrorKind, TrapCode};
use crate::types::Values;

/// Errors spindle raises from inside wasm execution (limiter, epoch callback,
/// host function wrappers). They travel through wasmtime as `wasmtime::Error`
/// and are turned back into [`Error`] variants by [`classify`].
#[derive(Debug)]
pub(crate) enum Internal {
    Deadline,
    Cancelled,
    WaitLimit {
        allowed: Duration,
    },
    MemoryLimit {
        requested: usize,
        limit: usize,
    },
    TableLimit {
        requested: usize,
        limit: usize,
    },
    HostReturned {
        function: Arc<str>,
        error: BoxError,
    },
    HostPanicked {
        function: Arc<str>,
        message: String,
    },
    CannotSuspend {
        function: Arc<str>,
    },
    /// A guest-contract violation found inside a bytes host function; it
    /// keeps its own kind rather than becoming `HostFunction`.
    Contract(Box<ErrorKind>),
    /// A captured WASI stdout or stderr is full.
    #[cfg_attr(not(feature = "wasi"), allow(dead_code))]
    WasiOutputLimit {
        stream: &'static str,
        limit: usize,
    },
}

impl fmt::Display for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only seen if an Internal escapes classification, e.g. in wasmtime logs.
        write!(f, "spindle: {self:?}")
    }
}

impl std::error::Error for Internal {}

/// What the call was allowed, so limit errors can say it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CallBudget {
    pub fuel: Option<u64>,
    pub deadline: Option<Duration>,
}

/// Turns a wasmtime error from instantiation or a call into a matchable [`Error`].
///
/// Cold and out of line: it sits on every call's error path, and keeping it
/// out of the caller keeps the success path as short as a raw wasmtime call.
#[cold]
#[inline(never)]
pub(crate) fn classify(err: wasmtime::Error, budget: CallBudget) -> Error {
    classify_kind(err, budget).into()
}

fn classify_kind(err: wasmtime::Error, budget: CallBudget) -> ErrorKind {
    let backtrace = err
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(Backtrace::from_wasmtime)
        .unwrap_or_default();
    if let Some(code) = err.downcast_ref::<wasmtime::Trap>().copied() {
        return match code {
            TrapCode::OutOfFuel => ErrorKind::OutOfFuel {
                fuel: budget.fuel.unwrap_or(0),
                backtrace,
            },
            TrapCode::StackOverflow => ErrorKind::StackOverflow { backtrace },
            code => ErrorKind::Trap { code, backtrace },
        };
    }
    #[cfg(feature = "wasi")]
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return ErrorKind::Exit { code: exit.0 };
    }
    #[cfg(feature = "wasi")]
    if let Some((function, problem)) = wasi_argument_refusal(&err) {
        return ErrorKind::WasiArgument {
            function,
            problem,
            backtrace,
        };
    }
    match err.downcast::<Internal>() {
        Ok(internal) => match internal {
            Internal::Deadline => ErrorKind::DeadlineExceeded {
                deadline: budget.deadline.unwrap_or_default(),
                backtrace,
            },
            Internal::Cancelled => ErrorKind::Cancelled { backtrace },
            Internal::WaitLimit { allowed } => ErrorKind::WaitLimit { allowed },
            Internal::MemoryLimit { requested, limit } => ErrorKind::MemoryLimit {
                requested,
                limit,
                backtrace,
            },
            Internal::TableLimit { requested, limit } => ErrorKind::TableLimit {
                requested,
                limit,
                backtrace,
            },
            Internal::HostReturned { function, error } => ErrorKind::HostFunction {
                function: function.to_string(),
                error,
                backtrace,
            },
            Internal::HostPanicked { function, message } => ErrorKind::HostPanic {
                function: function.to_string(),
                message,
                backtrace,
            },
            Internal::CannotSuspend { function } => ErrorKind::CannotSuspend {
                function: function.to_string(),
                backtrace,
            },
            Internal::Contract(kind) => *kind,
            Internal::WasiOutputLimit { stream, limit } => ErrorKind::WasiOutputLimit {
                stream,
                limit,
                backtrace,
            },
        },
        Err(other) => ErrorKind::Wasmtime(other),
    }
}

/// wasmtime-wasi decodes each WASI call's arguments with wiggle, which fails
/// with a `GuestError`; the ones that reach here are those WASI defines as
/// traps. Returns the function (when wiggle names it) and the problem.
#[cfg(feature = "wasi")]
fn wasi_argument_refusal(err: &wasmtime::Error) -> Option<(Option<String>, String)> {
    match err.downcast_ref::<wiggle::GuestError>()? {
        wiggle::GuestError::InFunc {
            modulename,
            funcname,
            err,
            ..
        } => Some((Some(format!("{modulename}::{funcname}")), err.to_string())),
        other => Some((None, other.to_string())),
    }
}

/// `proc_exit(0)` in an export without results is a normal return: WASI
/// programs end that way, and there is nothing to return.
#[cold]
#[inline(never)]
pub(crate) fn ok_if_exit_zero<R: Values>(e: Error) -> Result<R, Error> {
    match e.kind() {
        ErrorKind::Exit { code: 0 } if R::val_types().is_empty() => Ok(R::from_vals(&[])),
        _ => Err(e),
    }
}
