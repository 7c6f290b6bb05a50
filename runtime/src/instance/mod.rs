//! Instances: a store plus the limits and cancellation flag of one plugin
//! instance, and the one way every call enters the guest.
//!
//! Every kind of call (typed [`Instance::call`], [`Func::call`], bytes and
//! strings, [`Instance::call_dynamic`], [`Instance::call_async`] and
//! resumable [`Instance::start`]) arms its limits and picks how wasm runs
//! through [`enter`], and fails through [`Entry::fail`]: the order "arm the
//! limits, then a fiber or the native-stack check, then the call, then
//! classify the error" is written once. The call kinds live in the child
//! modules, which see the instance's fields without widening them.

mod bytes;
mod typed;

use std::any::Any;
use std::sync::Arc;

use wasmtime::{ExternType, Module, Store, TypedFunc, Val};

use crate::classify::{CallBudget, classify};
use crate::error::{Error, ErrorKind};
use crate::exchange::deactivate;
use crate::hostfn::MemoryAccessError;
use crate::link::nearest;
use crate::shared::Shared;
use crate::store::{Arming, AsyncCall, CancelTarget, State, watch_epochs};
use crate::types::{Signature, Values};

pub use typed::Func;

/// How an armed call runs its wasm.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    /// To the end on the calling thread: directly, or on a wasmtime fiber
    /// when the plugin imports async host functions (wasmtime then refuses
    /// the synchronous entry points). Nothing may suspend.
    Here,
    /// As a future the application's executor polls: nothing may suspend.
    Future,
    /// As a resumable [`Call`](crate::Call): a host function may suspend.
    Resumable,
}

/// A call armed with its instance's limits, holding the store while it
/// runs guest code (one export, or the three calls of a bytes exchange).
struct Entry<'s, T: 'static> {
    store: &'s mut Store<State<T>>,
    fiber: Option<AsyncCall<T>>,
    budget: CallBudget,
}

/// The one way into the guest: arms `arming`'s per-call limits (call
/// number, cancellation, deadline, fuel, wait budget) and prepares the way
/// the call runs. A free function over the instance's fields, so a caller
/// can keep borrowing the export it looked up in the instance's caches.
/// Always inlined: it runs before every call, and out of line its
/// `Result<Entry>` goes through memory.
#[inline(always)]
fn enter<'s, T>(
    store: &'s mut Store<State<T>>,
    arming: &Arming,
    fiber: Option<AsyncCall<T>>,
    way: Way,
) -> Result<Entry<'s, T>, Error> {
    arming.arm(store)?;
    match way {
        // wasm runs on this thread's stack: refuse a thread whose stack is
        // too small before wasm runs past its guard page.
        Way::Here if fiber.is_none() => arming.check_native_stack()?,
        // No `Call` is alive (it would borrow the instance) unless one was
        // leaked with `mem::forget`: make sure nothing can suspend here.
        Way::Here | Way::Future => {
            if let Some(ex) = &store.data().exchange {
                deactivate(ex);
            }
        }
        // `Instance::start` activates the exchange it hands to its `Call`.
        Way::Resumable => {}
    }
    Ok(Entry {
        store,
        fiber,
        budget: arming.budget,
    })
}

impl<T: 'static> Entry<'_, T> {
    /// One typed guest call of a [`Way::Here`] entry.
    #[inline]
    fn call<P: Values, R: Values>(
        &mut self,
        func: &TypedFunc<P, R>,
        args: P,
    ) -> wasmtime::Result<R> {
        match self.fiber {
            None => func.call(&mut *self.store, args),
            Some(run) => through_fiber(run, self.store, *func.func(), args),
        }
    }

    /// One guest call with values typed at run time.
    fn call_untyped(
        &mut self,
        func: wasmtime::Func,
        args: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        match self.fiber {
            None => func.call(&mut *self.store, args, results),
            Some(run) => run(self.store, func, args, results),
        }
    }

    /// The [`Error`] a failed guest call of this entry ends with.
    #[inline]
    fn fail(&self, e: wasmtime::Error) -> Error {
        classify(e, self.budget)
    }
}

/// The index of `name` in one of the instance's export caches.
#[inline]
fn cached<V>(cache: &[(Box<str>, V)], name: &str) -> Option<usize> {
    cache
        .iter()
        .position(|(n, _)| same_bytes(n.as_bytes(), name.as_bytes()))
}

/// `a == b`, for export names: they are short, so comparing a word at a
/// time in line costs less than the call to `memcmp` that `==` makes.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a, b);
    while let (Some((x, a_rest)), Some((y, b_rest))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if x != y {
            return false;
        }
        (a, b) = (a_rest, b_rest);
    }
    if let (Some((x, a_rest)), Some((y, b_rest))) =
        (a.split_first_chunk::<4>(), b.split_first_chunk::<4>())
    {
        if x != y {
            return false;
        }
        (a, b) = (a_rest, b_rest);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// A typed call through wasmtime's async API, driven to its end here:
/// untyped values in and out, since `AsyncCall` is a plain function pointer
/// made where `T: Send` is known.
#[inline(never)]
fn through_fiber<T, P: Values, R: Values>(
    run: AsyncCall<T>,
    store: &mut Store<State<T>>,
    func: wasmtime::Func,
    args: P,
) -> wasmtime::Result<R> {
    let params = args.into_vals();
    let mut results = vec![Val::I32(0); R::val_types().len()];
    run(store, func, &params, &mut results)?;
    Ok(R::from_vals(&results))
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
    store: Store<State<T>>,
    instance: wasmtime::Instance,
    module: Module,
    arming: Arming,
    /// Exports called with [`Instance::call`], keyed by name: the
    /// `TypedFunc<P, R>` of the last types a name was called with, so a
    /// call with other types misses and is checked again. Type-erased
    /// because `P` and `R` are the caller's; the entry is the `TypedFunc`
    /// itself, since making one again per call costs several atomic
    /// operations (its registered type). A short list, not a map: plugins
    /// are called by few names, and comparing a few short strings beats
    /// hashing one (see the benches).
    typed: Vec<(Box<str>, Box<dyn Any + Send>)>,
    /// Exports called with bytes or strings, checked once per name.
    lists: Vec<(Box<str>, bytes::ListExport)>,
    /// Set when the plugin imports async host functions: every call then
    /// goes through wasmtime's async API.
    async_call: Option<AsyncCall<T>>,
    /// The plugin's `cabi_realloc`, looked up by the first bytes call.
    realloc: Option<crate::abi::Realloc>,
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
            typed: Vec::new(),
            lists: Vec::new(),
            async_call,
            realloc: None,
            _shared: shared,
        }
    }

    /// Function export `name`, or [`ErrorKind::MissingExport`] listing the
    /// exports nearest to it first.
    fn export(&mut self, name: &str) -> Result<wasmtime::Func, Error> {
        match self.instance.get_func(&mut self.store, name) {
            Some(func) => Ok(func),
            None => Err(ErrorKind::MissingExport {
                name: name.to_string(),
                available: self.function_exports_near(name),
            }
            .into()),
        }
    }

    /// Function export `name` checked against `P` and `R`.
    fn typed_export<P: Values, R: Values>(&mut self, name: &str) -> Result<TypedFunc<P, R>, Error> {
        let func = self.export(name)?;
        func.typed::<P, R>(&self.store).map_err(|_| {
            ErrorKind::ExportSignature {
                name: name.to_string(),
                expected: Signature::of::<P, R>(),
                found: Signature::from_func_type(&func.ty(&self.store)),
            }
            .into()
        })
    }

    #[cold]
    fn function_exports_near(&self, name: &str) -> Vec<String> {
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

    /// The signature of function export `name`, if there is one.
    pub fn export_signature(&self, name: &str) -> Option<Signature> {
        match self.module.get_export(name)? {
            ExternType::Func(ft) => Some(Signature::from_func_type(&ft)),
            _ => None,
        }
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
