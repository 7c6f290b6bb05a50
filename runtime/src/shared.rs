//! What every plugin and instance of one host keeps of it: the engine, the
//! instance defaults and the epoch ticker's registration.
//!
//! Split from the host so that plugins and instances need not know the host
//! (its linker, host functions and cache are only needed to load plugins),
//! and so that holding one `Arc` keeps the ticker, and with it every
//! deadline, alive for as long as any instance lives.

use wasmtime::Engine;

use crate::limits::Limits;
use crate::store::AsyncCall;
use crate::ticker;
use crate::wasi::Wasi;

pub(crate) struct Shared<T: 'static> {
    pub(crate) engine: Engine,
    /// Set when any host function is async: how a plain call of a plugin
    /// that imports one is driven (see [`AsyncCall`]).
    pub(crate) async_call: Option<AsyncCall<T>>,
    /// Defaults for [`Plugin::instantiate`](crate::Plugin::instantiate).
    pub(crate) limits: Limits,
    pub(crate) fuel: bool,
    pub(crate) max_wasm_stack: usize,
    /// What instances of WASI plugins are granted unless instantiated with
    /// their own grants; `None` when the host does not provide WASI.
    pub(crate) wasi: Option<Wasi>,
    /// The host's linker with wasmtime-wasi's own `path_symlink` (the
    /// host's refuses), for instances whose grants allow symlinks.
    #[cfg(feature = "wasi")]
    pub(crate) symlink_linker: Option<wasmtime::Linker<crate::store::State<T>>>,
    pub(crate) _ticker: ticker::Registration,
}
