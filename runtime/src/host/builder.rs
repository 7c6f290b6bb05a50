//! [`HostBuilder`]: everything a host is configured with, fixed once it is
//! built.

use super::{Host, HostInner};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig, ValType,
};

use crate::cache::{self, Cache, WarnFn};
use crate::error::{BoxError, Error, ErrorKind};
use crate::hostfn::{self, Ctx, HostFn, HostFuture, HostReturn};
use crate::limits::Limits;
use crate::link::HostFuncs;
use crate::load_limits::LoadLimits;
use crate::shared::Shared;
use crate::store::{AsyncCall, State};
use crate::ticker;
use crate::types::{Signature, Values};
use crate::waits::call_async_blocking;
use crate::wasi::Wasi;

/// wasmtime's default `max_wasm_stack`.
const DEFAULT_MAX_WASM_STACK: usize = 512 << 10;

type Definer<T> = Box<dyn FnOnce(&mut Linker<State<T>>) -> wasmtime::Result<()> + Send>;

/// How a host function is linked: given the async definer of bytes host
/// functions on a host whose plugins may run on a fiber (WASI).
type FuncDefiner<T> = Box<
    dyn FnOnce(&mut Linker<State<T>>, Option<hostfn::ListDefiner<T>>) -> wasmtime::Result<()>
        + Send,
>;

/// A registered host function.
struct Def<T: 'static> {
    module: String,
    name: String,
    signature: Signature,
    /// Registered with `func_async`.
    is_async: bool,
    /// A bytes host function: async on a host with WASI.
    is_list: bool,
    define: FuncDefiner<T>,
}

/// Configures a [`Host`]. Everything here is fixed once the host is built.
pub struct HostBuilder<T: 'static> {
    config: Config,
    defs: Vec<Def<T>>,
    required_exports: Vec<(String, Signature)>,
    limits: Limits,
    load_limits: LoadLimits,
    fuel: bool,
    tick: Duration,
    max_wasm_stack: usize,
    cache_dir: Option<PathBuf>,
    cache_key_file: Option<PathBuf>,
    cache_warn: Option<WarnFn>,
    pooling: Option<u32>,
    async_call: Option<AsyncCall<T>>,
    /// Default grants, how to add WASI to the linker, and how to link bytes
    /// host functions for plugins on a fiber (made where `T: Send` is
    /// known, which wasmtime-wasi needs).
    wasi: Option<(Wasi, Definer<T>, hostfn::ListDefiner<T>)>,
}

impl<T: 'static> Default for HostBuilder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> HostBuilder<T> {
    /// A builder with wasmtime's defaults, no host functions and no limits.
    pub fn new() -> Self {
        HostBuilder {
            config: Config::new(),
            defs: Vec::new(),
            required_exports: Vec::new(),
            limits: Limits::default(),
            load_limits: LoadLimits::default(),
            fuel: false,
            tick: Duration::from_millis(10),
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            cache_dir: None,
            cache_key_file: None,
            cache_warn: None,
            pooling: None,
            async_call: None,
            wasi: None,
        }
    }

    /// Registers host function `module`.`name`. Its wasm signature comes from
    /// the closure's Rust types.
    pub fn func<Args, R>(mut self, module: &str, name: &str, f: impl HostFn<T, Args, R>) -> Self {
        fn sig<T, Args, R, F: HostFn<T, Args, R>>(_: &F) -> Signature {
            F::signature()
        }
        let signature = sig(&f);
        let (m, n) = (module.to_string(), name.to_string());
        self.defs.push(Def {
            module: m.clone(),
            name: n.clone(),
            signature,
            is_async: false,
            is_list: false,
            define: Box::new(move |linker, _| f.define(linker, &m, &n)),
        });
        self
    }

    /// Registers host function `module`.`name` that takes bytes and returns
    /// bytes through the guest contract (docs/guest-contract.md): the plugin
    /// imports it as `(func (param $ptr i32) (param $len i32) (param $ret i32))`,
    /// and finds the `(ptr, len)` of the result, allocated with its own
    /// `cabi_realloc` and owned by it, in the 8 bytes at `$ret`. An `Err`
    /// ends the plugin call with [`ErrorKind::HostFunction`].
    ///
    /// The result is allocated with a reentrant synchronous call into the
    /// plugin, so a plugin that also imports a [`HostBuilder::func_async`]
    /// function cannot use it (the call fails with [`ErrorKind::Config`]).
    pub fn func_bytes<E: Into<BoxError>>(
        self,
        module: &str,
        name: &str,
        f: impl Fn(&mut Ctx<'_, T>, &[u8]) -> Result<Vec<u8>, E> + Send + Sync + 'static,
    ) -> Self {
        self.func_list(
            module,
            name,
            Box::new(move |cx, input, function| {
                f(cx, input).map_err(|e| hostfn::list_fn_error(function, e.into()))
            }),
        )
    }

    /// [`HostBuilder::func_bytes`] for UTF-8 strings: an input that is not
    /// UTF-8 ends the call with [`ErrorKind::InvalidUtf8`] before `f` runs.
    pub fn func_str<E: Into<BoxError>>(
        self,
        module: &str,
        name: &str,
        f: impl Fn(&mut Ctx<'_, T>, &str) -> Result<String, E> + Send + Sync + 'static,
    ) -> Self {
        self.func_list(
            module,
            name,
            Box::new(move |cx, input, function| {
                let text = std::str::from_utf8(input)
                    .map_err(|e| hostfn::input_not_utf8(function, input, e))?;
                f(cx, text)
                    .map(String::into_bytes)
                    .map_err(|e| hostfn::list_fn_error(function, e.into()))
            }),
        )
    }

    fn func_list(mut self, module: &str, name: &str, f: hostfn::ListFn<T>) -> Self {
        let signature = Signature::new(vec![ValType::I32; 3], vec![]);
        let (m, n) = (module.to_string(), name.to_string());
        self.defs.push(Def {
            module: m.clone(),
            name: n.clone(),
            signature,
            is_async: false,
            is_list: true,
            define: Box::new(move |linker, list_async| match list_async {
                Some(define) => define(f, linker, &m, &n),
                None => hostfn::define_list(f, linker, &m, &n),
            }),
        });
        self
    }

    /// Requires every plugin to export function `name` with signature `P -> R`;
    /// a plugin without it fails to load, in the same report as its imports.
    pub fn require_export<P: Values, R: Values>(mut self, name: &str) -> Self {
        self.required_exports
            .push((name.to_string(), Signature::of::<P, R>()));
        self
    }

    /// Default limits for instances created with [`Plugin::instantiate`].
    /// Setting fuel here turns on fuel metering.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.fuel |= limits.fuel.is_some();
        self.limits = limits;
        self
    }

    /// Bounds on what a plugin may contain, checked before it is compiled
    /// (default: [`LoadLimits::default`]). Compilation itself cannot be
    /// interrupted or capped in memory, so these bounds are what keeps a
    /// small hostile module from taking gigabytes to compile.
    pub fn load_limits(mut self, limits: LoadLimits) -> Self {
        self.load_limits = limits;
        self
    }

    /// Turns on fuel metering, so instances can have fuel limits. Costs some
    /// speed in every plugin, which is why it is off unless asked for.
    pub fn enable_fuel(mut self) -> Self {
        self.fuel = true;
        self
    }

    /// Maximum wasm stack per call, in bytes (wasmtime's default: 512 KiB).
    /// A synchronous call takes it from the calling thread's native stack,
    /// so a call from a thread with less than this plus a 128 KiB reserve
    /// left fails with [`ErrorKind::NativeStack`] instead of overflowing it.
    /// Set it here, not through [`HostBuilder::wasmtime_config`], so that
    /// check knows the size.
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.config.max_wasm_stack(bytes);
        self.max_wasm_stack = bytes;
        self
    }

    /// How often the shared ticker advances the epoch (default 10 ms): the
    /// precision of deadlines and the latency of cancellation.
    pub fn epoch_tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Keeps compiled modules in `dir`, so a plugin compiles once per engine
    /// configuration and wasmtime version. The directory is created 0700; an
    /// existing one owned by another user or writable by group or others is
    /// refused (one warning, plugins are compiled without the cache). Entries
    /// are authenticated with the key in [`HostBuilder::cache_key_file`].
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The per-user secret that authenticates cache entries (32 bytes,
    /// created 0600 on first use). Must be outside the cache directory.
    /// Default: [`default_cache_key_file`](crate::default_cache_key_file)
    /// (`$SPINDLE_CACHE_KEY_FILE`, else `$XDG_CONFIG_HOME/spindle/cache.key`,
    /// else `~/.config/spindle/cache.key`).
    pub fn cache_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_key_file = Some(path.into());
        self
    }

    /// Where cache warnings go (a refused directory, entry or key file); each
    /// distinct problem is reported once per host. Default: stderr.
    pub fn on_cache_warning(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.cache_warn = Some(Arc::new(f));
        self
    }

    /// Uses wasmtime's pooling allocator with room for `max_instances` live
    /// instances: instantiation reuses pre-reserved slots instead of mapping
    /// fresh memory. Memory and table slots are sized from the default limits
    /// ([`Limits::max_memory_bytes`], [`Limits::max_table_elements`]) when set.
    pub fn pooling(mut self, max_instances: u32) -> Self {
        self.pooling = Some(max_instances);
        self
    }

    /// Escape hatch: adjust the wasmtime [`Config`] directly. Epoch
    /// interruption and fuel are set by spindle at build time and win.
    pub fn wasmtime_config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Builds the engine, links the host functions and starts the epoch ticker.
    pub fn build(mut self) -> Result<Host<T>, Error> {
        self.config.epoch_interruption(true);
        self.config.consume_fuel(self.fuel);
        if let Some(n) = self.pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_core_instances(n)
                .total_memories(n)
                .total_tables(n);
            if let Some(bytes) = self.limits.max_memory_bytes {
                pool.max_memory_size(bytes);
            }
            if let Some(elems) = self.limits.max_table_elements {
                pool.table_elements(elems);
            }
            self.config
                .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&self.config).map_err(Error::wasmtime)?;
        let mut linker = Linker::new(&engine);
        let mut funcs = HostFuncs::new();
        let mut async_funcs = HashSet::new();
        let mut list_async = None;
        let wasi = match self.wasi {
            Some((grants, define, list_definer)) => {
                list_async = Some(list_definer);
                define(&mut linker).map_err(|e| {
                    ErrorKind::Config(format!(
                        "cannot add WASI (a host function in {:?} may clash with it): {e:#}",
                        crate::link::WASI_MODULE
                    ))
                })?;
                Some(grants)
            }
            None => None,
        };
        for def in self.defs {
            let Def {
                module,
                name,
                signature: sig,
                is_list,
                define,
                ..
            } = def;
            // On a host with WASI a bytes host function allocates its output
            // with an async call (its plugin may run on a fiber), which makes
            // it an async host function too.
            let is_async = def.is_async || (is_list && list_async.is_some());
            if is_async {
                async_funcs.insert((module.clone(), name.clone()));
            }
            if funcs.insert((module.clone(), name.clone()), sig).is_some() {
                return Err(ErrorKind::Config(format!(
                    "host function {module:?} {name:?} is registered twice"
                ))
                .into());
            }
            if wasi.is_some() && module == crate::link::WASI_MODULE {
                return Err(ErrorKind::Config(format!(
                    "host function {module:?} {name:?} is in WASI's module, which this host \
                     already provides (HostBuilder::wasi)"
                ))
                .into());
            }
            define(&mut linker, list_async).map_err(Error::wasmtime)?;
        }
        let ticker = ticker::register(engine.clone(), self.tick).map_err(ErrorKind::Ticker)?;
        // Instances whose grants allow symlinks are linked with this one
        // (wasi.rs); hosts without WASI keep none.
        #[cfg(feature = "wasi")]
        let symlink_linker = match wasi {
            Some(_) => Some(crate::wasi::allowing_symlinks(&linker).map_err(Error::wasmtime)?),
            None => None,
        };
        Ok(Host {
            inner: Arc::new(HostInner {
                shared: Arc::new(Shared {
                    engine,
                    async_call: self.async_call,
                    limits: self.limits,
                    fuel: self.fuel,
                    max_wasm_stack: self.max_wasm_stack,
                    wasi,
                    #[cfg(feature = "wasi")]
                    symlink_linker,
                    _ticker: ticker,
                }),
                linker,
                funcs,
                async_funcs,
                required_exports: self.required_exports,
                load_limits: self.load_limits,
                cache: self.cache_dir.map(|dir| {
                    Cache::new(
                        dir,
                        self.cache_key_file.or_else(cache::default_key_file),
                        self.cache_warn
                            .unwrap_or_else(|| Arc::new(cache::warn_to_stderr)),
                    )
                }),
            }),
        })
    }
}

impl<T: Send + 'static> HostBuilder<T> {
    /// Registers an async host function `module`.`name`, which may suspend
    /// the plugin call with [`Ctx::suspend`](crate::Ctx::suspend). Like
    /// wasmtime's `func_wrap_async`, the arguments come as one tuple and the
    /// closure returns a boxed future that may keep the [`Ctx`](crate::Ctx):
    ///
    /// ```no_run
    /// # use spindle_runtime::{BoxError, Ctx, Host};
    /// let host = Host::<()>::builder()
    ///     .func_async("host", "ask", |mut cx: Ctx<'_, ()>, (question,): (i32,)| {
    ///         Box::new(async move {
    ///             let answer: i64 = cx.suspend::<i32, i64>(question).await?;
    ///             Ok::<i64, BoxError>(answer)
    ///         })
    ///     });
    /// ```
    ///
    /// A plugin that imports an async host function runs on a wasmtime fiber
    /// in every call (see the README for the cost); plain
    /// [`Instance::call`](crate::Instance::call) still works, but a
    /// suspension inside it fails with [`ErrorKind::CannotSuspend`].
    pub fn func_async<A, R, F>(mut self, module: &str, name: &str, f: F) -> Self
    where
        A: Values + wasmtime::WasmTyList,
        R: HostReturn + 'static,
        F: for<'a> Fn(Ctx<'a, T>, A) -> HostFuture<'a, R> + Send + Sync + 'static,
    {
        let signature = Signature::new(A::val_types(), R::Values::val_types());
        let (m, n) = (module.to_string(), name.to_string());
        self.defs.push(Def {
            module: m.clone(),
            name: n.clone(),
            signature,
            is_async: true,
            is_list: false,
            define: Box::new(move |linker, _| hostfn::define_async(f, linker, &m, &n)),
        });
        self.async_call = Some(call_async_blocking::<T>);
        self
    }

    /// Provides WASI preview 1 (`wasi_snapshot_preview1`) to plugins that
    /// import it, granting each instance what `grants` allow (nothing but
    /// clocks and random numbers unless added, see [`Wasi`]); an instance can
    /// have its own with [`Plugin::instantiate_with_wasi`]. Plugins that do
    /// not import WASI pay nothing for it.
    #[cfg(feature = "wasi")]
    pub fn wasi(mut self, grants: Wasi) -> Self {
        self.wasi = Some((
            grants,
            Box::new(|linker| {
                // The async functions: their waits (a sleep in `poll_oneoff`,
                // a read with no data yet) are futures that spindle drops
                // when the call's deadline passes (waits.rs).
                wasmtime_wasi::p1::add_to_linker_async(linker, |s: &mut State<T>| {
                    // Every instance of a plugin importing WASI gets its
                    // context at instantiation; the fallback (nothing
                    // granted) only keeps this from panicking if not.
                    &mut s
                        .wasi
                        .get_or_insert_with(crate::wasi::WasiState::denied)
                        .ctx
                })?;
                // wasmtime-wasi's proc_exit traps on codes from 126 up (its
                // CLI's shell convention), losing the code; the application
                // gets every code, as ErrorKind::Exit.
                linker.allow_shadowing(true);
                crate::wasi::refuse_symlinks(linker)?;
                linker.func_wrap(
                    crate::link::WASI_MODULE,
                    "proc_exit",
                    |code: i32| -> wasmtime::Result<()> {
                        Err(wasmtime_wasi::I32Exit(code).into())
                    },
                )?;
                linker.allow_shadowing(false);
                Ok(())
            }),
            hostfn::define_list_async::<T>,
        ));
        self.async_call = Some(call_async_blocking::<T>);
        self
    }
}
