//! The host: engine, host functions and defaults, built once
//! ([`HostBuilder`], in `builder.rs`) and shared by every plugin it loads.

mod builder;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::{Engine, Linker, Module};

use crate::cache::Cache;
use crate::error::{Error, ErrorKind};
use crate::files::{check_header, check_load_limits, read_plugin_file, wat_to_binary};
use crate::link::{self, HostFuncs};
use crate::load_limits::LoadLimits;
use crate::plugin::Plugin;
use crate::shared::Shared;
use crate::store::State;
use crate::types::Signature;

pub use builder::HostBuilder;

pub(crate) struct HostInner<T: 'static> {
    /// What plugins and instances keep of the host.
    pub(crate) shared: Arc<Shared<T>>,
    pub(crate) linker: Linker<State<T>>,
    pub(crate) funcs: HostFuncs,
    /// Host functions registered with `func_async`: a plugin importing any
    /// of them must be instantiated and called through wasmtime's async API.
    pub(crate) async_funcs: HashSet<(String, String)>,
    pub(crate) required_exports: Vec<(String, Signature)>,
    pub(crate) load_limits: LoadLimits,
    pub(crate) cache: Option<Cache>,
}

/// A configured plugin host: one engine, its host functions and defaults.
/// Cheap to clone and shareable across threads.
pub struct Host<T: 'static> {
    pub(crate) inner: Arc<HostInner<T>>,
}

impl<T: 'static> Clone for Host<T> {
    fn clone(&self) -> Self {
        Host {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> Host<T> {
    /// Starts configuring a host whose instances carry user state `T`.
    pub fn builder() -> HostBuilder<T> {
        HostBuilder::new()
    }

    /// The underlying wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.shared.engine
    }

    /// Loads a plugin from a file: WebAssembly text if it ends in `.wat`,
    /// a binary module otherwise.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Plugin<T>, Error> {
        let (name, binary) = read_plugin_file(path.as_ref(), &self.inner.load_limits)?;
        self.load_bytes(&name, &binary)
    }

    /// Loads a plugin from WebAssembly text.
    pub fn load_wat(&self, name: &str, text: &str) -> Result<Plugin<T>, Error> {
        self.load_bytes(name, &wat_to_binary(name, text)?)
    }

    /// Loads a plugin from a binary wasm module.
    pub fn load_bytes(&self, name: &str, bytes: &[u8]) -> Result<Plugin<T>, Error> {
        check_header(name, bytes)?;
        let (module, cached) = self.compile(name, bytes)?;
        link::check(
            name,
            &module,
            &self.inner.funcs,
            self.inner.shared.wasi.is_some(),
            &self.inner.required_exports,
        )?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&module)
            .map_err(Error::wasmtime)?;
        let imports_wasi = module
            .imports()
            .any(|i| i.module() == crate::link::WASI_MODULE);
        // WASI's host calls are async (so a deadline can end their waits),
        // which puts a plugin importing them on a fiber like an async host
        // function does.
        let needs_async = (imports_wasi && self.inner.shared.wasi.is_some())
            || module.imports().any(|i| {
                self.inner
                    .async_funcs
                    .contains(&(i.module().to_string(), i.name().to_string()))
            });
        Ok(Plugin::new(
            self.inner.shared.clone(),
            name.to_string(),
            module,
            pre,
            cached,
            needs_async,
            imports_wasi,
        ))
    }

    fn compile(&self, name: &str, bytes: &[u8]) -> Result<(Module, bool), Error> {
        check_load_limits(name, bytes, &self.inner.load_limits)?;
        let engine = &self.inner.shared.engine;
        let key = self.inner.cache.as_ref().map(|_| Cache::key(engine, bytes));
        if let (Some(cache), Some(key)) = (&self.inner.cache, &key)
            && let Some(module) = cache.load(engine, key)
        {
            return Ok((module, true));
        }
        let module = Module::from_binary(engine, bytes).map_err(|e| ErrorKind::InvalidModule {
            plugin: name.to_string(),
            reason: format!("{e:#}"),
        })?;
        if let (Some(cache), Some(key)) = (&self.inner.cache, &key) {
            // A cache write failure (read-only dir, full disk) only means the
            // next load compiles again; the plugin itself is fine.
            cache.store(key, &module);
        }
        Ok((module, false))
    }

    /// Where the cache keeps (or would keep) the compiled form of `bytes`.
    pub fn cache_path(&self, bytes: &[u8]) -> Option<PathBuf> {
        let cache = self.inner.cache.as_ref()?;
        Some(cache.path(&Cache::key(&self.inner.shared.engine, bytes)))
    }
}
