//! `spindle-runtime`: a minimal wasmtime embedding for running wasm plugins.
//!
//! ```no_run
//! use spindle_runtime::{Ctx, Host, Limits};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), spindle_runtime::Error> {
//! let host = Host::<Vec<String>>::builder()
//!     .func("host", "log", |mut cx: Ctx<'_, Vec<String>>, ptr: u32, len: u32| {
//!         let line = cx.read_str(ptr, len)?.to_string();
//!         cx.state_mut().push(line);
//!         Ok::<(), spindle_runtime::BoxError>(())
//!     })
//!     .limits(Limits::new().deadline(Duration::from_millis(100)).max_memory_bytes(16 << 20))
//!     .build()?;
//! let plugin = host.load_file("plugin.wasm")?; // every import problem reported at once
//! let mut instance = plugin.instantiate(Vec::new())?;
//! let sum: i32 = instance.call::<(i32, i32), i32>("add", (2, 3))?;
//! // Strings and bytes through the guest contract (docs/guest-contract.md):
//! let greeting: String = instance.call_str("greet", "world")?;
//! # let _ = (sum, greeting); Ok(()) }
//! ```
//!
//! See `runtime/README.md` for the design and the wasmtime features used.
//!
//! # Layers
//!
//! Modules import downward only, like wasmtime's store, instance and linker:
//! each row may use the rows below it, never a row above. `tests/all/layering.rs`
//! reads this table and fails on an upward import (including one through a
//! re-export at the crate root) or on a module missing from it.
//!
//! ```text
//! +--------------+---------------------------------------------------------+
//! | module       | holds                                                   |
//! +--------------+---------------------------------------------------------+
//! | check        | HostSpec, compile_file: tools for checking plugins      |
//! | host         | HostBuilder, Host: engine, linker, loading plugins      |
//! | plugin       | Plugin: a checked, pre-linked module; instantiation     |
//! | instance     | Instance, Func, CancelHandle: every kind of call        |
//! | shared       | what plugins and instances keep of their host           |
//! | resumable    | Call, Step, Ctx::suspend: suspendable calls             |
//! | hostfn       | Ctx, HostFn: host functions and guest memory access     |
//! | abi          | guest contract names, checks and result decoding        |
//! | waits        | polling calls on a fiber; limits while they wait        |
//! | store        | State: per-store data, arming a call with its limits    |
//! | wasi         | Wasi, Output: WASI grants, captured stdout and stderr   |
//! | exchange     | suspend/resume mailbox, SuspendError                    |
//! | limits       | Limits and the wasmtime resource limiter                |
//! | cache        | the authenticated on-disk compile cache                 |
//! | files        | reading plugin files; the checks before compiling       |
//! | ticker       | the one epoch ticker thread                             |
//! | native_stack | how much native stack the calling thread has left       |
//! | classify     | turning wasmtime's errors back into Error               |
//! | error        | Error, ErrorKind, Report                                |
//! | link         | the import/export report                                |
//! | load_limits  | the pre-compile bounds pass                             |
//! | names        | function and parameter names from the name section      |
//! | types        | Val, Values, Signature                                  |
//! | backtrace    | Backtrace, Frame: the wasm frames an error carries      |
//! +--------------+---------------------------------------------------------+
//! ```

mod abi;
mod backtrace;
mod cache;
mod check;
mod classify;
mod error;
mod exchange;
mod files;
mod host;
mod hostfn;
mod instance;
mod limits;
mod link;
mod load_limits;
mod names;
mod native_stack;
mod plugin;
mod resumable;
mod shared;
mod store;
mod ticker;
mod types;
mod waits;
mod wasi;

pub use backtrace::{Backtrace, Frame};
pub use cache::default_key_file as default_cache_key_file;
pub use check::{HostSpec, compile_file, compile_file_with};
pub use error::{AllocatorProblem, BoxError, Error, ErrorKind, Report, TrapCode};
pub use exchange::SuspendError;
pub use files::read_plugin_file;
pub use host::{Host, HostBuilder};
pub use hostfn::{Ctx, HostFn, HostFuture, HostReturn, MemoryAccessError};
pub use instance::{CancelHandle, Func, Instance};
pub use limits::Limits;
pub use link::{LinkError, LinkProblem};
pub use load_limits::{LoadLimit, LoadLimitError, LoadLimits};
pub use names::param_names;
pub use plugin::Plugin;
pub use resumable::{Call, Step, Suspend};
pub use store::State;
pub use types::{Signature, Val, Values};
pub use wasi::{DEFAULT_CAPTURE_BYTES, Output, SinkFn, Wasi};

/// The wasmtime this crate is built on, for code that needs the raw API.
pub use wasmtime;
