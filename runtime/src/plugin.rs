//! A loaded, checked and pre-linked plugin: compile once, instantiate many.

use std::sync::Arc;

use wasmtime::{InstancePre, Module};

use crate::error::{Error, classify};
use crate::host::Host;
use crate::instance::{Arming, Instance, Limits, State, new_store};

/// A compiled plugin whose imports were checked and resolved against its
/// host. Cheap to clone; instantiating it only allocates the instance.
pub struct Plugin<T: 'static> {
    inner: Arc<PluginInner<T>>,
}

struct PluginInner<T: 'static> {
    host: Host<T>,
    name: String,
    module: Module,
    pre: InstancePre<State<T>>,
    from_cache: bool,
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
        host: Host<T>,
        name: String,
        module: Module,
        pre: InstancePre<State<T>>,
        from_cache: bool,
    ) -> Self {
        Plugin {
            inner: Arc::new(PluginInner {
                host,
                name,
                module,
                pre,
                from_cache,
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

    /// The compiled wasmtime module.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// A new instance with the host's default limits.
    pub fn instantiate(&self, state: T) -> Result<Instance<T>, Error> {
        self.instantiate_with(state, self.inner.host.inner.limits.clone())
    }

    /// A new instance with its own limits.
    pub fn instantiate_with(&self, state: T, limits: Limits) -> Result<Instance<T>, Error> {
        let host = &self.inner.host.inner;
        let arming = Arming::new(&limits, host.fuel, host.tick)?;
        let mut store = new_store(&host.engine, state, &limits, &arming);
        // The start function runs under the same limits as a call.
        arming.arm(&mut store)?;
        let instance = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(e, arming.budget))?;
        Ok(Instance::finish(store, instance, self.clone(), arming))
    }
}
