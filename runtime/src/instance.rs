//! Instances: a store plus the limits and cancellation flag of one plugin
//! instance, and the calls made on it.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use wasmtime::{ExternType, Module, Store, TypedFunc};

use crate::error::{CallBudget, Error, ErrorKind, classify, ok_if_exit_zero};
use crate::exchange::{activate, deactivate};
use crate::hostfn::MemoryAccessError;
use crate::link::nearest;
use crate::resumable::Call;
use crate::shared::Shared;
use crate::store::{Arming, AsyncCall, CancelTarget, State, watch_epochs};
use crate::types::{Signature, Values};
use crate::waits::{CallWatch, Watched};

/// A plain call on an instance whose plugin imports async host functions:
/// wasmtime only allows `call_async` there, so drive it here. Nothing was
/// started, so a host function that tries to suspend gets `CannotSuspend`.
#[cold]
#[inline(never)]
fn call_through_fiber<T, P: Values, R: Values>(
    run: AsyncCall<T>,
    store: &mut Store<State<T>>,
    func: wasmtime::Func,
    args: P,
    budget: CallBudget,
) -> Result<R, Error> {
    if let Some(ex) = &store.data().exchange {
        // No `Call` is alive (it would borrow the instance), unless one was
        // leaked with `mem::forget`: make sure nothing can suspend here.
        deactivate(ex);
    }
    let params = args.into_vals();
    let mut results = vec![wasmtime::Val::I32(0); R::val_types().len()];
    match run(store, func, &params, &mut results) {
        Ok(()) => Ok(R::from_vals(&results)),
        Err(e) => ok_if_exit_zero(classify(e, budget)),
    }
}

/// The export a WASI command runs as.
pub(crate) const START: &str = "_start";

/// Cancels one call of one instance from any thread: the call the handle
/// was taken for, which is the next call the instance makes after
/// [`Instance::cancel_handle`] (a plain call, a resumable call, or a
/// `call_async`). Once that call has finished, `cancel` does nothing, so a
/// cancel that loses a race against the end of its call can never stop a
/// later, unrelated call. Take a new handle for each call to be cancellable.
#[derive(Clone, Debug)]
pub struct CancelHandle {
    target: Arc<CancelTarget>,
    call: u64,
}

impl CancelHandle {
    /// Ends the handle's call with [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled)
    /// within one epoch tick; if it has not started yet, it fails at once
    /// when it starts; if it has finished, nothing happens.
    pub fn cancel(&self) {
        self.target.cancel(self.call);
    }
}

/// A running plugin instance with its own state, memory and limits.
pub struct Instance<T: 'static> {
    pub(crate) store: Store<State<T>>,
    pub(crate) instance: wasmtime::Instance,
    pub(crate) module: Module,
    pub(crate) arming: Arming,
    /// Exports already looked up and checked by [`Instance::call`], keyed by
    /// name: a `TypedFunc<P, R>` of the types of the last call with that name,
    /// so a call with other types misses and is checked again.
    /// A short list, not a map: plugins are called by few names, and
    /// comparing a few short strings beats hashing one (see the benches).
    pub(crate) checked: Vec<(Box<str>, Box<dyn Any + Send>)>,
    /// Set when the plugin imports async host functions: every call then
    /// goes through wasmtime's async API.
    pub(crate) async_call: Option<AsyncCall<T>>,
    /// The plugin's `cabi_realloc`, looked up by the first bytes call.
    pub(crate) realloc: Option<crate::abi::Realloc>,
    /// Keeps the host's epoch ticker alive: without it an instance
    /// outliving its host and plugin would never see its deadline.
    _shared: Arc<Shared<T>>,
}

impl<T: 'static> Instance<T> {
    pub(crate) fn finish(
        mut store: Store<State<T>>,
        instance: wasmtime::Instance,
        module: Module,
        async_call: Option<AsyncCall<T>>,
        shared: Arc<Shared<T>>,
        arming: Arming,
    ) -> Self {
        let memory = instance.get_memory(&mut store, "memory");
        store.data_mut().memory = memory;
        Instance {
            store,
            instance,
            module,
            arming,
            checked: Vec::new(),
            async_call,
            realloc: None,
            _shared: shared,
        }
    }

    /// Calls export `name` with typed arguments:
    /// `instance.call::<(i32, i32), i32>("add", (2, 3))`.
    ///
    /// The first call of a name looks the export up and checks its type;
    /// later calls with the same types reuse that check. For hot loops,
    /// [`Instance::func`] also skips the name lookup.
    pub fn call<P: Values, R: Values>(&mut self, name: &str, args: P) -> Result<R, Error> {
        let slot = self.checked.iter().position(|(n, _)| **n == *name);
        let cached = slot.and_then(|i| self.checked[i].1.downcast_ref::<TypedFunc<P, R>>());
        let func = match cached {
            Some(f) => f,
            None => {
                let typed: Box<dyn Any + Send> = Box::new(self.typed_func::<P, R>(name)?);
                let i = match slot {
                    Some(i) => {
                        self.checked[i].1 = typed;
                        i
                    }
                    None => {
                        self.checked.push((name.into(), typed));
                        self.checked.len() - 1
                    }
                };
                self.checked[i]
                    .1
                    .downcast_ref::<TypedFunc<P, R>>()
                    .expect("just stored with this type")
            }
        };
        self.arming.arm(&mut self.store)?;
        if let Some(run) = self.async_call {
            return call_through_fiber(
                run,
                &mut self.store,
                *func.func(),
                args,
                self.arming.budget,
            );
        }
        self.arming.check_native_stack()?;
        match func.call(&mut self.store, args) {
            Ok(r) => Ok(r),
            Err(e) => ok_if_exit_zero(classify(e, self.arming.budget)),
        }
    }

    /// Runs the plugin as a WASI command: calls its `_start` and returns
    /// its exit code, 0 when `_start` returns and the code it gave
    /// `proc_exit` otherwise (a non-zero code is a result here, not an
    /// error). Every other failure is an error as in [`Instance::call`];
    /// a plugin without `_start` is [`ErrorKind::MissingExport`].
    pub fn run_command(&mut self) -> Result<i32, Error> {
        match self.call::<(), ()>(START, ()) {
            Ok(()) => Ok(0),
            Err(e) => match e.kind() {
                ErrorKind::Exit { code } => Ok(*code),
                _ => Err(e),
            },
        }
    }

    /// Calls export `name` as a future, for applications with their own async
    /// executor: async host functions may then await I/O with the executor's
    /// wakers. Suspending ([`Ctx::suspend`](crate::Ctx::suspend)) is for
    /// [`Instance::start`] and fails here with
    /// [`ErrorKind::CannotSuspend`](crate::ErrorKind::CannotSuspend).
    /// Dropping the future cancels the call like dropping a [`Call`].
    pub async fn call_async<P: Values, R: Values>(
        &mut self,
        name: &str,
        args: P,
    ) -> Result<R, Error>
    where
        T: Send,
    {
        let func = self.typed_func::<P, R>(name)?;
        self.arming.arm(&mut self.store)?;
        if let Some(ex) = &self.store.data().exchange {
            deactivate(ex);
        }
        let budget = self.arming.budget;
        let watch = CallWatch::of(self.store.data());
        match Watched::new(func.call_async(&mut self.store, args), watch).await {
            Ok(r) => Ok(r),
            Err(e) => ok_if_exit_zero(classify(e, budget)),
        }
    }

    /// Starts a resumable call of export `name`: nothing runs until
    /// [`Call::run`]. Host functions registered with
    /// [`HostBuilder::func_async`](crate::HostBuilder::func_async) may then
    /// suspend it with [`Ctx::suspend`](crate::Ctx::suspend), handing a `Y`
    /// to the application, which continues it with [`Call::resume`] and an
    /// `In`.
    ///
    /// The limits apply to the whole call, across suspensions: one fuel
    /// budget, and a deadline that counts running time but not time spent
    /// suspended. The instance stays borrowed until the `Call` is dropped;
    /// dropping it before it finishes cancels the plugin call.
    pub fn start<P: Values, R: Values, Y: 'static, In: Send + 'static>(
        &mut self,
        name: &str,
        args: P,
    ) -> Result<Call<'_, R, Y, In>, Error>
    where
        T: Send,
    {
        let func = self.typed_func::<P, R>(name)?;
        self.arming.arm(&mut self.store)?;
        let budget = self.arming.budget;
        let exchange = self
            .store
            .data_mut()
            .exchange
            .get_or_insert_with(Default::default)
            .clone();
        activate(&exchange);
        let watch = CallWatch::of(self.store.data());
        let store = &mut self.store;
        let future = Box::pin(async move { func.call_async(store, args).await });
        Ok(Call::new(future, exchange, budget, watch))
    }

    /// Looks export `name` up once and checks its signature, for repeated calls.
    pub fn func<P: Values, R: Values>(&mut self, name: &str) -> Result<Func<'_, T, P, R>, Error> {
        let func = self.typed_func::<P, R>(name)?;
        Ok(Func {
            instance: self,
            func,
            _marker: PhantomData,
        })
    }

    fn typed_func<P: Values, R: Values>(&mut self, name: &str) -> Result<TypedFunc<P, R>, Error> {
        let Some(func) = self.instance.get_func(&mut self.store, name) else {
            return Err(ErrorKind::MissingExport {
                name: name.to_string(),
                available: self.function_exports_near(name),
            }
            .into());
        };
        func.typed::<P, R>(&self.store).map_err(|_| {
            ErrorKind::ExportSignature {
                name: name.to_string(),
                expected: Signature::of::<P, R>(),
                found: Signature::from_func_type(&func.ty(&self.store)),
            }
            .into()
        })
    }

    pub(crate) fn function_exports_near(&self, name: &str) -> Vec<String> {
        let all: Vec<String> = self
            .module
            .exports()
            .filter(|e| matches!(e.ty(), ExternType::Func(_)))
            .map(|e| e.name().to_string())
            .collect();
        let near = nearest(name, all.iter().cloned());
        let rest: Vec<String> = all.into_iter().filter(|n| !near.contains(n)).collect();
        near.into_iter().chain(rest).collect()
    }

    /// The instance's user state.
    pub fn state(&self) -> &T {
        &self.store.data().user
    }

    /// The instance's user state, mutably.
    pub fn state_mut(&mut self) -> &mut T {
        &mut self.store.data_mut().user
    }

    /// The plugin's exported `memory` (empty if it exports none).
    pub fn memory(&self) -> &[u8] {
        match self.store.data().memory {
            Some(m) => m.data(&self.store),
            None => &[],
        }
    }

    /// The plugin's exported `memory`, mutably (empty if it exports none).
    pub fn memory_mut(&mut self) -> &mut [u8] {
        match self.store.data().memory {
            Some(m) => m.data_mut(&mut self.store),
            None => &mut [],
        }
    }

    /// Copies `bytes` into the plugin's memory at `ptr`, bounds-checked.
    pub fn write_memory(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), MemoryAccessError> {
        let mem = self.memory_mut();
        let size = mem.len();
        let end = (ptr as usize)
            .checked_add(bytes.len())
            .filter(|&e| e <= size && size > 0);
        match end {
            Some(end) => {
                mem[ptr as usize..end].copy_from_slice(bytes);
                Ok(())
            }
            None => Err(MemoryAccessError {
                ptr: ptr.into(),
                len: bytes.len() as u64,
                memory_size: size,
            }),
        }
    }

    /// A handle that cancels this instance's next call from another thread
    /// (see [`CancelHandle`]). `&mut self` guarantees no call is running
    /// now, so "the next call" is well defined.
    pub fn cancel_handle(&mut self) -> CancelHandle {
        let call = self.store.data().call_number + 1;
        if let Some(c) = &self.store.data().cancel {
            return CancelHandle {
                target: c.clone(),
                call,
            };
        }
        let target = Arc::new(CancelTarget::default());
        self.store.data_mut().cancel = Some(target.clone());
        if self.arming.budget.deadline.is_none() {
            // Instances with a deadline already check every tick.
            watch_epochs(&mut self.store);
        }
        CancelHandle { target, call }
    }

    /// Fuel left from the last call, if the host meters fuel.
    pub fn fuel_left(&self) -> Option<u64> {
        self.store.get_fuel().ok()
    }

    /// What the plugin wrote to its WASI stdout so far, if it is captured
    /// ([`Output::Capture`](crate::Output::Capture)); empty otherwise.
    #[cfg(feature = "wasi")]
    pub fn stdout(&self) -> Vec<u8> {
        self.store
            .data()
            .wasi
            .as_ref()
            .map(|w| w.stdout.get())
            .unwrap_or_default()
    }

    /// [`Instance::stdout`], clearing the buffer: the bound applies to what
    /// is written after.
    #[cfg(feature = "wasi")]
    pub fn take_stdout(&mut self) -> Vec<u8> {
        self.store
            .data()
            .wasi
            .as_ref()
            .map(|w| w.stdout.take())
            .unwrap_or_default()
    }

    /// What the plugin wrote to its WASI stderr so far, if it is captured.
    #[cfg(feature = "wasi")]
    pub fn stderr(&self) -> Vec<u8> {
        self.store
            .data()
            .wasi
            .as_ref()
            .map(|w| w.stderr.get())
            .unwrap_or_default()
    }

    /// [`Instance::stderr`], clearing the buffer.
    #[cfg(feature = "wasi")]
    pub fn take_stderr(&mut self) -> Vec<u8> {
        self.store
            .data()
            .wasi
            .as_ref()
            .map(|w| w.stderr.take())
            .unwrap_or_default()
    }

    /// The raw wasmtime store and instance, for what spindle does not wrap.
    pub fn raw(&mut self) -> (&mut Store<State<T>>, &wasmtime::Instance) {
        (&mut self.store, &self.instance)
    }
}

/// An export looked up and type-checked once, callable many times.
pub struct Func<'i, T: 'static, P, R> {
    instance: &'i mut Instance<T>,
    func: TypedFunc<P, R>,
    _marker: PhantomData<fn(P) -> R>,
}

impl<T: 'static, P: Values, R: Values> Func<'_, T, P, R> {
    /// Calls the export.
    #[inline]
    pub fn call(&mut self, args: P) -> Result<R, Error> {
        self.instance.arming.arm(&mut self.instance.store)?;
        if let Some(run) = self.instance.async_call {
            return call_through_fiber(
                run,
                &mut self.instance.store,
                *self.func.func(),
                args,
                self.instance.arming.budget,
            );
        }
        self.instance.arming.check_native_stack()?;
        match self.func.call(&mut self.instance.store, args) {
            Ok(r) => Ok(r),
            Err(e) => ok_if_exit_zero(classify(e, self.instance.arming.budget)),
        }
    }

    /// The instance this export belongs to.
    pub fn instance(&mut self) -> &mut Instance<T> {
        self.instance
    }
}
