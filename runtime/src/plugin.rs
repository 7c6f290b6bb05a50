//! A loaded, checked and pre-linked plugin: compile once, instantiate many.

use std::sync::Arc;

use wasmtime::{InstancePre, Module};

use crate::classify::classify;
use crate::error::{Error, ErrorKind};
use crate::instance::{Instance, START};
use crate::limits::Limits;
use crate::shared::Shared;
use crate::store::{Arming, AsyncCall, State, new_store};
use crate::waits::{CallWatch, block_on_watched};

/// A compiled plugin whose imports were checked and resolved against its
/// host. Cheap to clone; instantiating it only allocates the instance.
pub struct Plugin<T: 'static> {
    inner: Arc<PluginInner<T>>,
}

struct PluginInner<T: 'static> {
    shared: Arc<Shared<T>>,
    name: String,
    module: Module,
    pre: InstancePre<State<T>>,
    from_cache: bool,
    /// Imports an async host function, so wasmtime insists on its async API.
    needs_async: bool,
    /// Imports from `wasi_snapshot_preview1`.
    imports_wasi: bool,
}

impl<T: 'static> Clone for Plugin<T> {
    fn clone(&self) -> Self {
        Plugin {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> Plugin<T> {
    pub(crate) fn new(
        shared: Arc<Shared<T>>,
        name: String,
        module: Module,
        pre: InstancePre<State<T>>,
        from_cache: bool,
        needs_async: bool,
        imports_wasi: bool,
    ) -> Self {
        Plugin {
            inner: Arc::new(PluginInner {
                shared,
                name,
                module,
                pre,
                from_cache,
                needs_async,
                imports_wasi,
            }),
        }
    }

    /// The name it was loaded under (file path or the given name).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether the compiled code came from the on-disk cache.
    pub fn from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// Whether the plugin imports a host function registered with
    /// [`HostBuilder::func_async`](crate::HostBuilder::func_async): its
    /// instances then run every call on a wasmtime fiber.
    pub fn needs_async(&self) -> bool {
        self.inner.needs_async
    }

    fn async_call(&self) -> Option<AsyncCall<T>> {
        if self.inner.needs_async {
            self.inner.shared.async_call
        } else {
            None
        }
    }

    /// The compiled wasmtime module.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// A new instance with the host's default limits.
    pub fn instantiate(&self, state: T) -> Result<Instance<T>, Error> {
        self.instantiate_with(state, self.inner.shared.limits.clone())
    }

    /// Whether the plugin imports WASI (`wasi_snapshot_preview1`).
    pub fn imports_wasi(&self) -> bool {
        self.inner.imports_wasi
    }

    /// Whether the plugin is a WASI command: it exports `_start`, run with
    /// [`Instance::run_command`].
    pub fn is_command(&self) -> bool {
        matches!(
            self.module().get_export(START),
            Some(wasmtime::ExternType::Func(_))
        )
    }

    /// Whether the plugin is a WASI reactor: it exports `_initialize`, which
    /// each instance runs once when it is created, before any call.
    pub fn is_reactor(&self) -> bool {
        matches!(
            self.module().get_export(INITIALIZE),
            Some(wasmtime::ExternType::Func(_))
        )
    }

    /// A new instance with its own limits.
    pub fn instantiate_with(&self, state: T, limits: Limits) -> Result<Instance<T>, Error> {
        #[cfg(feature = "wasi")]
        {
            self.instantiate_inner(state, limits, self.inner.shared.wasi.as_ref())
        }
        #[cfg(not(feature = "wasi"))]
        {
            self.instantiate_inner(state, limits)
        }
    }

    /// A new instance with its own limits and WASI grants, in place of the
    /// host's ([`HostBuilder::wasi`](crate::HostBuilder::wasi)). Refused
    /// with [`ErrorKind::Config`] on a host without WASI.
    #[cfg(feature = "wasi")]
    pub fn instantiate_with_wasi(
        &self,
        state: T,
        limits: Limits,
        grants: &crate::wasi::Wasi,
    ) -> Result<Instance<T>, Error> {
        if self.inner.shared.wasi.is_none() {
            return Err(ErrorKind::Config(
                "WASI grants for an instance of a host without WASI; enable it with \
                 HostBuilder::wasi(Wasi::new())"
                    .into(),
            )
            .into());
        }
        self.instantiate_inner(state, limits, Some(grants))
    }

    fn instantiate_inner(
        &self,
        state: T,
        limits: Limits,
        #[cfg(feature = "wasi")] grants: Option<&crate::wasi::Wasi>,
    ) -> Result<Instance<T>, Error> {
        let host = &self.inner.shared;
        let arming = Arming::new(&limits, host.fuel, host.max_wasm_stack)?;
        check_counts(self.module(), &limits)?;
        let mut store = new_store(&host.engine, state, &limits, &arming);
        store.data_mut().on_fiber = self.inner.needs_async;
        #[cfg(feature = "wasi")]
        let mut allowing_symlinks = None;
        #[cfg(feature = "wasi")]
        if self.inner.imports_wasi
            && let Some(grants) = grants
        {
            store.data_mut().wasi = Some(crate::wasi::WasiState::new(&self.inner.name, grants)?);
            if grants.symlinks
                && let Some(linker) = &host.symlink_linker
            {
                // Linked anew with wasmtime-wasi's own `path_symlink`: the
                // host's pre-linked plugin has the one that refuses.
                allowing_symlinks = Some(
                    linker
                        .instantiate_pre(self.module())
                        .map_err(Error::wasmtime)?,
                );
            }
        }
        #[cfg(feature = "wasi")]
        let pre = allowing_symlinks.as_ref().unwrap_or(&self.inner.pre);
        #[cfg(not(feature = "wasi"))]
        let pre = &self.inner.pre;
        // The start function runs under the same limits as a call.
        arming.arm(&mut store)?;
        let instance = if self.inner.needs_async {
            // wasmtime refuses the synchronous entry points on a store with
            // async host functions. No call is started, so nothing can
            // suspend: a start function that tries gets `CannotSuspend`.
            let mut watch = CallWatch::of(store.data());
            block_on_watched(pre.instantiate_async(&mut store), &mut watch)
                .and_then(|instantiated| instantiated)
        } else {
            arming.check_native_stack()?;
            pre.instantiate(&mut store)
        }
        .map_err(|e| classify(e, arming.budget))?;
        let mut instance = Instance::finish(
            store,
            instance,
            self.inner.module.clone(),
            self.async_call(),
            self.inner.shared.clone(),
            arming,
        );
        if self.is_reactor() {
            // A reactor sets itself up (static constructors, its libc) here,
            // under the instance's limits, before the application's first call.
            instance.call::<(), ()>(INITIALIZE, ())?;
        }
        Ok(instance)
    }
}

/// The export a WASI reactor initializes itself with.
const INITIALIZE: &str = "_initialize";

/// Refuses a module with more memories or tables than the limits allow,
/// before anything is allocated, with an error naming both numbers.
fn check_counts(module: &Module, limits: &Limits) -> Result<(), Error> {
    let need = module.resources_required();
    let memories = need.num_memories as usize;
    let tables = need.num_tables as usize;
    if let Some(limit) = limits.max_memories
        && memories > limit
    {
        return Err(ErrorKind::TooManyMemories {
            count: memories,
            limit,
        }
        .into());
    }
    if let Some(limit) = limits.max_tables
        && tables > limit
    {
        return Err(ErrorKind::TooManyTables {
            count: tables,
            limit,
        }
        .into());
    }
    Ok(())
}
