//! Instances: a store plus the limits and cancellation flag of one plugin instance.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{ExternType, Memory, Module, Store, TypedFunc, UpdateDeadline};

use crate::error::{Backtrace, CallBudget, Error, ErrorKind, Internal, classify};
use crate::hostfn::MemoryAccessError;
use crate::limits::{Limiter, Limits};
use crate::link::nearest;
use crate::native_stack;
use crate::plugin::Plugin;
use crate::resumable::{Call, SharedExchange, activate, block_on, deactivate};
use crate::types::{Signature, Values};

/// Store data: the user's state plus what spindle tracks per instance.
#[doc(hidden)]
pub struct State<T> {
    pub(crate) user: T,
    pub(crate) memory: Option<Memory>,
    limiter: Limiter,
    pub(crate) ticks_left: Option<u64>,
    /// Calls armed so far (the start function included): the number of the
    /// running or last call, which a [`CancelHandle`] targets.
    pub(crate) call_number: u64,
    /// Created with the first [`CancelHandle`]; until then there is nothing
    /// to check and no allocation to make per instance.
    pub(crate) cancel: Option<Arc<CancelTarget>>,
    /// Created by the first [`Instance::start`]: where a suspending host
    /// function leaves its value and finds the resume value.
    pub(crate) exchange: Option<SharedExchange>,
}

/// Runs an untyped call through `Func::call_async` to completion. Made where
/// `T: Send` is known (`HostBuilder::func_async`) and stored as a plain
/// function pointer, so `Instance::call` works for every `T`.
pub(crate) type AsyncCall<T> = fn(
    &mut Store<State<T>>,
    wasmtime::Func,
    &[wasmtime::Val],
    &mut [wasmtime::Val],
) -> wasmtime::Result<()>;

pub(crate) fn call_async_blocking<T: Send + 'static>(
    store: &mut Store<State<T>>,
    func: wasmtime::Func,
    params: &[wasmtime::Val],
    results: &mut [wasmtime::Val],
) -> wasmtime::Result<()> {
    block_on(func.call_async(store, params, results))
}

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
    run(store, func, &params, &mut results).map_err(|e| classify(e, budget))?;
    Ok(R::from_vals(&results))
}

/// The highest call number any handle asked to cancel (0: none), shared
/// between an instance and its handles.
#[derive(Debug, Default)]
pub(crate) struct CancelTarget(AtomicU64);

impl CancelTarget {
    /// Whether call `number` (the running one) was asked to stop.
    #[inline]
    pub(crate) fn hits(&self, number: u64) -> bool {
        self.0.load(Ordering::Acquire) == number
    }
}

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
        // fetch_max: a stale handle never overwrites a newer request.
        self.target.0.fetch_max(self.call, Ordering::AcqRel);
    }
}

/// Epoch ticks for `deadline`, rounded up, plus one: the first tick after
/// arming may come at any moment, so the extra tick guarantees the plugin
/// gets at least the full deadline; it is stopped at most one tick late.
/// Saturates: a deadline too long to count is one that never fires (a
/// wrapping cast made `Duration::MAX` fire after 3.4 ms).
pub(crate) fn deadline_ticks(deadline: Duration, tick: Duration) -> u64 {
    let ticks = deadline.as_nanos().div_ceil(tick.as_nanos().max(1));
    u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
}

/// How a call is armed, fixed at instantiation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arming {
    pub fuel_metering: bool,
    pub budget: CallBudget,
    pub deadline_ticks: Option<u64>,
    /// Native stack a synchronous call needs on the calling thread.
    pub native_stack: usize,
}

impl Arming {
    pub(crate) fn new(
        limits: &Limits,
        fuel_metering: bool,
        tick: Duration,
        max_wasm_stack: usize,
    ) -> Result<Self, Error> {
        if limits.fuel.is_some() && !fuel_metering {
            return Err(ErrorKind::Config(
                "a fuel limit needs a host with fuel metering (HostBuilder::enable_fuel)".into(),
            )
            .into());
        }
        let deadline_ticks = limits.deadline.map(|d| deadline_ticks(d, tick));
        Ok(Arming {
            fuel_metering,
            budget: CallBudget {
                fuel: limits.fuel,
                deadline: limits.deadline,
            },
            deadline_ticks,
            native_stack: max_wasm_stack.saturating_add(native_stack::HOST_RESERVE),
        })
    }

    /// Refuses a synchronous call on a thread whose stack is too small for
    /// `max_wasm_stack`: wasm would run past the guard page and abort the
    /// process. Calls through wasmtime's async API run wasm on their own
    /// fiber stack and skip this.
    #[inline]
    pub(crate) fn check_native_stack(&self) -> Result<(), Error> {
        match native_stack::remaining() {
            Some(available) if available < self.native_stack => Err(ErrorKind::NativeStack {
                available,
                needed: self.native_stack,
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// Resets the per-call budgets. Kept small: it runs before every call.
    #[inline]
    pub(crate) fn arm<T>(&self, store: &mut Store<State<T>>) -> Result<(), Error> {
        let data = store.data_mut();
        data.call_number += 1;
        if let Some(c) = &data.cancel
            && c.hits(data.call_number)
        {
            return Err(ErrorKind::Cancelled {
                backtrace: Backtrace::default(),
            }
            .into());
        }
        if self.deadline_ticks.is_some() {
            data.ticks_left = self.deadline_ticks;
        }
        if self.fuel_metering {
            store
                .set_fuel(self.budget.fuel.unwrap_or(u64::MAX))
                .map_err(Error::wasmtime)?;
        }
        if self.deadline_ticks.is_some() {
            // Count ticks from now. Without a deadline the callback (if any)
            // only checks for cancellation, so a stale epoch deadline is
            // harmless (it fires once and re-arms itself) and the write is skipped.
            store.set_epoch_deadline(1);
        }
        Ok(())
    }
}

pub(crate) fn new_store<T: 'static>(
    engine: &wasmtime::Engine,
    user: T,
    limits: &Limits,
    arming: &Arming,
) -> Store<State<T>> {
    let mut store = Store::new(
        engine,
        State {
            user,
            memory: None,
            limiter: Limiter::new(limits),
            ticks_left: None,
            call_number: 0,
            cancel: None,
            exchange: None,
        },
    );
    store.limiter(|s| &mut s.limiter);
    if arming.deadline_ticks.is_some() {
        watch_epochs(&mut store);
    } else {
        // Nothing to check until someone asks for a CancelHandle: never
        // interrupt, and skip the callback's allocation.
        store.set_epoch_deadline(NEVER);
    }
    store
}

/// Epoch ticks that will not pass in the life of a process, yet leave room
/// for the engine's current epoch to be added without overflow.
const NEVER: u64 = u64::MAX / 2;

/// Installs the per-tick check. Runs once per epoch tick while this store
/// executes wasm: one shared ticker thread drives every deadline and
/// cancellation, no thread per call.
fn watch_epochs<T: 'static>(store: &mut Store<State<T>>) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        let data = cx.data_mut();
        if let Some(c) = &data.cancel
            && c.hits(data.call_number)
        {
            return Err(Internal::Cancelled.into());
        }
        match &mut data.ticks_left {
            Some(n) if *n <= 1 => Err(Internal::Deadline.into()),
            Some(n) => {
                *n -= 1;
                Ok(UpdateDeadline::Continue(1))
            }
            None => Ok(UpdateDeadline::Continue(1)),
        }
    });
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
    checked: Vec<(Box<str>, Box<dyn Any + Send>)>,
    /// Set when the plugin imports async host functions: every call then
    /// goes through wasmtime's async API.
    async_call: Option<AsyncCall<T>>,
    /// Keeps the host, and so its epoch ticker, alive: without it an instance
    /// outliving its host would never see its deadline.
    pub(crate) _plugin: Plugin<T>,
}

impl<T: 'static> Instance<T> {
    pub(crate) fn finish(
        mut store: Store<State<T>>,
        instance: wasmtime::Instance,
        plugin: Plugin<T>,
        arming: Arming,
    ) -> Self {
        let memory = instance.get_memory(&mut store, "memory");
        store.data_mut().memory = memory;
        Instance {
            store,
            instance,
            module: plugin.module().clone(),
            arming,
            checked: Vec::new(),
            async_call: plugin.async_call(),
            _plugin: plugin,
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
        func.call(&mut self.store, args)
            .map_err(|e| classify(e, self.arming.budget))
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
        func.call_async(&mut self.store, args)
            .await
            .map_err(|e| classify(e, budget))
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
        let store = &mut self.store;
        let future = Box::pin(async move { func.call_async(store, args).await });
        Ok(Call::new(future, exchange, budget))
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
        if self.arming.deadline_ticks.is_none() {
            // Instances with a deadline already check every tick.
            watch_epochs(&mut self.store);
        }
        CancelHandle { target, call }
    }

    /// Fuel left from the last call, if the host meters fuel.
    pub fn fuel_left(&self) -> Option<u64> {
        self.store.get_fuel().ok()
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
        self.func
            .call(&mut self.instance.store, args)
            .map_err(|e| classify(e, self.instance.arming.budget))
    }

    /// The instance this export belongs to.
    pub fn instance(&mut self) -> &mut Instance<T> {
        self.instance
    }
}

#[cfg(test)]
mod tests {
    use super::deadline_ticks;
    use std::time::Duration;

    #[test]
    fn deadline_ticks_saturate_instead_of_wrapping() {
        let tick = Duration::from_millis(10);
        assert_eq!(deadline_ticks(Duration::MAX, tick), u64::MAX);
        // 184467440737095520 s in 10 ms ticks is just over 2^64: a wrapping
        // cast made it 385 ticks (3.85 s).
        assert_eq!(
            deadline_ticks(Duration::from_secs(184_467_440_737_095_520), tick),
            u64::MAX
        );
        assert_eq!(deadline_ticks(Duration::from_millis(25), tick), 4);
        assert_eq!(deadline_ticks(Duration::ZERO, tick), 1);
        assert_eq!(
            deadline_ticks(Duration::from_secs(1), Duration::ZERO),
            1_000_000_001
        );
    }
}
