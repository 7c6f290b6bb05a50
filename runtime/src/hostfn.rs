//! Typed host functions and the per-instance context they receive.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime::{Caller, Linker, Memory};

use crate::abi::{self, Realloc};
use crate::classify::{CallBudget, Internal};
use crate::error::{BoxError, Error, ErrorKind};
use crate::exchange::SuspendError;
use crate::store::{State, check_deadline_after_host};
use crate::types::{Signature, Val, Values};

/// What a host function sees while a plugin calls it: the instance's user
/// state and its linear memory.
pub struct Ctx<'a, T: 'static> {
    pub(crate) caller: Caller<'a, State<T>>,
}

/// An out-of-bounds or otherwise impossible guest memory access by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryAccessError {
    /// Guest address.
    pub ptr: u64,
    /// Length of the access.
    pub len: u64,
    /// Size of the guest memory (0 when the plugin exports none).
    pub memory_size: usize,
}

impl std::fmt::Display for MemoryAccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.memory_size == 0 {
            write!(f, "plugin exports no memory named \"memory\"")
        } else {
            write!(
                f,
                "guest memory access [{:#x}, +{}) is outside its {} bytes",
                self.ptr, self.len, self.memory_size
            )
        }
    }
}

impl std::error::Error for MemoryAccessError {}

impl<'a, T: 'static> Ctx<'a, T> {
    /// The instance's user state.
    pub fn state(&self) -> &T {
        &self.caller.data().user
    }

    /// The instance's user state, mutably.
    pub fn state_mut(&mut self) -> &mut T {
        &mut self.caller.data_mut().user
    }

    fn mem(&mut self) -> Option<Memory> {
        // Cached after instantiation; during a start function the cache is
        // still empty, so fall back to looking the export up.
        if let Some(m) = self.caller.data().memory {
            return Some(m);
        }
        self.caller
            .get_export("memory")
            .and_then(|e| e.into_memory())
    }

    /// The plugin's exported `memory` (empty if it exports none).
    pub fn memory(&mut self) -> &[u8] {
        match self.mem() {
            Some(m) => m.data(&self.caller),
            None => &[],
        }
    }

    /// The plugin's exported `memory`, mutably, together with the user state.
    pub fn memory_and_state(&mut self) -> (&mut [u8], &mut T) {
        match self.mem() {
            Some(m) => {
                let (mem, state) = m.data_and_store_mut(&mut self.caller);
                (mem, &mut state.user)
            }
            None => (&mut [], &mut self.caller.data_mut().user),
        }
    }

    /// `len` bytes of guest memory at `ptr`, bounds-checked.
    pub fn read(&mut self, ptr: u32, len: u32) -> Result<&[u8], MemoryAccessError> {
        let mem = self.memory();
        range(ptr, len, mem.len()).map(|r| &mem[r])
    }

    /// A UTF-8 string in guest memory; invalid UTF-8 is an error too.
    pub fn read_str(&mut self, ptr: u32, len: u32) -> Result<&str, BoxError> {
        Ok(std::str::from_utf8(self.read(ptr, len)?)?)
    }

    /// Copies `bytes` into guest memory at `ptr`, bounds-checked.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), MemoryAccessError> {
        let (mem, _) = self.memory_and_state();
        let size = mem.len();
        let len = u32::try_from(bytes.len()).map_err(|_| MemoryAccessError {
            ptr: ptr.into(),
            len: bytes.len() as u64,
            memory_size: size,
        })?;
        let r = range(ptr, len, size)?;
        mem[r].copy_from_slice(bytes);
        Ok(())
    }

    /// Copies `bytes` into a fresh allocation of the plugin's own
    /// `cabi_realloc` (see docs/guest-contract.md) and returns its address;
    /// the plugin owns and frees it. For host functions with their own
    /// signatures; [`HostBuilder::func_bytes`](crate::HostBuilder::func_bytes)
    /// does this for its result.
    pub fn copy_to_guest(&mut self, bytes: &[u8]) -> Result<u32, Error> {
        alloc_in_guest(&mut self.caller, "host function", bytes).map_err(guest_copy_error)
    }
}

/// Stops the call with a guest-contract error that keeps its own kind.
#[cold]
fn contract_error(error: Error) -> wasmtime::Error {
    wasmtime::Error::new(Internal::Contract(Box::new(error.into_kind())))
}

/// The plugin's `memory`, or a contract error naming `function`.
fn contract_memory<T>(
    caller: &mut Caller<'_, State<T>>,
    function: &str,
) -> wasmtime::Result<Memory> {
    if let Some(m) = caller.data().memory {
        return Ok(m);
    }
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| {
            contract_error(abi::contract(
                function,
                "it exports no memory named `memory`",
            ))
        })
}

/// The plugin's `cabi_realloc` and memory, ready to receive `bytes`.
struct GuestAlloc {
    memory: Memory,
    realloc: Realloc,
    len: u32,
}

/// Finds what [`alloc_in_guest`] needs, or the contract error that says
/// what the plugin lacks.
fn guest_alloc<T>(
    caller: &mut Caller<'_, State<T>>,
    function: &str,
    bytes: &[u8],
) -> wasmtime::Result<GuestAlloc> {
    let memory = contract_memory(caller, function)?;
    let realloc: Realloc = caller
        .get_export(abi::REALLOC)
        .and_then(|e| e.into_func())
        .ok_or_else(|| {
            contract_error(abi::contract(
                function,
                "it exports no function `cabi_realloc`",
            ))
        })?
        .typed(&*caller)
        .map_err(|_| {
            contract_error(abi::contract(
                function,
                "its `cabi_realloc` is not (func (param i32 i32 i32 i32) (result i32))",
            ))
        })?;
    let Ok(len) = u32::try_from(bytes.len()) else {
        return Err(contract_error(
            ErrorKind::InputTooLarge {
                function: function.to_string(),
                len: bytes.len(),
            }
            .into(),
        ));
    };
    Ok(GuestAlloc {
        memory,
        realloc,
        len,
    })
}

impl GuestAlloc {
    /// The arguments of the `cabi_realloc` call: a fresh allocation.
    fn args(&self) -> (u32, u32, u32, u32) {
        (0, 0, abi::LIST_ALIGN, self.len)
    }

    /// Checks what `cabi_realloc` returned and copies `bytes` there. A trap
    /// in the allocator is [`ErrorKind::Allocator`]; running out of fuel or
    /// time in it passes through unchanged, so the outer call reports it as
    /// usual.
    fn place<T>(
        &self,
        caller: &mut Caller<'_, State<T>>,
        function: &str,
        called: wasmtime::Result<u32>,
        bytes: &[u8],
    ) -> wasmtime::Result<u32> {
        let ptr = match called {
            Ok(ptr) => ptr,
            Err(e) => {
                let plain_trap = e.downcast_ref::<wasmtime::Trap>().is_some_and(|c| {
                    !matches!(c, wasmtime::Trap::OutOfFuel | wasmtime::Trap::StackOverflow)
                });
                if !plain_trap {
                    return Err(e);
                }
                return Err(contract_error(abi::allocator_failed(
                    function,
                    self.len,
                    e,
                    CallBudget::default(),
                )));
            }
        };
        let mem = self.memory.data_mut(&mut *caller);
        let r =
            abi::check_allocation(function, ptr, self.len, mem.len()).map_err(contract_error)?;
        mem[r].copy_from_slice(bytes);
        Ok(ptr)
    }
}

/// Allocates `bytes.len()` bytes with the plugin's `cabi_realloc` and
/// copies `bytes` there, through a synchronous call into the plugin.
fn alloc_in_guest<T>(
    caller: &mut Caller<'_, State<T>>,
    function: &str,
    bytes: &[u8],
) -> wasmtime::Result<u32> {
    if caller.data().on_fiber {
        return Err(contract_error(
            ErrorKind::Config(format!(
                "`{function}` hands bytes to the plugin through a synchronous call of its \
                 `cabi_realloc`, which wasmtime refuses while the plugin runs on a fiber \
                 (it imports WASI or a host function registered with `func_async`); an \
                 async host function can use `Ctx::copy_to_guest_async`"
            ))
            .into(),
        ));
    }
    let a = guest_alloc(caller, function, bytes)?;
    let called = a.realloc.call(&mut *caller, a.args());
    a.place(caller, function, called, bytes)
}

/// [`alloc_in_guest`] for a plugin on a fiber: the `cabi_realloc` call is
/// async, on the same fiber.
async fn alloc_in_guest_async<T: Send>(
    caller: &mut Caller<'_, State<T>>,
    function: &str,
    bytes: &[u8],
) -> wasmtime::Result<u32> {
    let a = guest_alloc(caller, function, bytes)?;
    let called = a.realloc.call_async(&mut *caller, a.args()).await;
    a.place(caller, function, called, bytes)
}

impl<T: Send + 'static> Ctx<'_, T> {
    /// [`Ctx::copy_to_guest`] for async host functions
    /// ([`HostBuilder::func_async`](crate::HostBuilder::func_async)) and
    /// plugins on a fiber (those importing WASI or an async host function),
    /// where the plugin's `cabi_realloc` is called asynchronously.
    pub async fn copy_to_guest_async(&mut self, bytes: &[u8]) -> Result<u32, Error> {
        alloc_in_guest_async(&mut self.caller, "host function", bytes)
            .await
            .map_err(guest_copy_error)
    }
}

/// A failed copy into the guest as the host function's own error.
fn guest_copy_error(e: wasmtime::Error) -> Error {
    match e.downcast::<Internal>() {
        Ok(Internal::Contract(kind)) => (*kind).into(),
        Ok(other) => Error::wasmtime(other.into()),
        Err(e) => crate::classify::classify(e, CallBudget::default()),
    }
}

/// What a bytes host function computes from its input, with errors already
/// turned into the call's error.
pub(crate) type ListFn<T> =
    Box<dyn Fn(&mut Ctx<'_, T>, &[u8], &Arc<str>) -> wasmtime::Result<Vec<u8>> + Send + Sync>;

/// How a bytes host function is linked on a host whose plugins may run on a
/// fiber: [`define_list_async`], chosen where `T: Send` is known.
pub(crate) type ListDefiner<T> =
    fn(ListFn<T>, &mut Linker<State<T>>, &str, &str) -> wasmtime::Result<()>;

/// The part of a bytes host function before its output goes to the
/// plugin: the checked return area, the input, and the user function run.
fn list_call<'a, T>(
    f: &ListFn<T>,
    function: &Arc<str>,
    mut caller: Caller<'a, State<T>>,
    ptr: u32,
    len: u32,
    ret: u32,
) -> wasmtime::Result<(Caller<'a, State<T>>, Memory, Vec<u8>)> {
    let memory = contract_memory(&mut caller, function)?;
    let mem = memory.data(&caller);
    if !ret.is_multiple_of(abi::RESULT_ALIGN) {
        return Err(contract_error(abi::contract(
            function,
            format!("its return area pointer {ret:#x} is not 4-byte aligned"),
        )));
    }
    abi::bounds(function, "return area", ret, abi::LIST_AREA, mem).map_err(contract_error)?;
    let input =
        mem[abi::bounds(function, "input", ptr, len, mem).map_err(contract_error)?].to_vec();
    let mut cx = Ctx { caller };
    let output = match catch_unwind(AssertUnwindSafe(|| f(&mut cx, &input, function))) {
        Ok(out) => out?,
        Err(payload) => {
            return Err(wasmtime::Error::new(Internal::HostPanicked {
                function: function.clone(),
                message: panic_message(payload),
            }));
        }
    };
    let caller = cx.caller;
    check_deadline_after_host(caller.data().deadline_at)?;
    Ok((caller, memory, output))
}

/// Writes the output's `(ptr, len)` into the return area.
fn list_return<T>(
    caller: &mut Caller<'_, State<T>>,
    function: &str,
    memory: Memory,
    ret: u32,
    out_ptr: u32,
    out_len: usize,
) -> wasmtime::Result<()> {
    let mem = memory.data_mut(caller);
    // Memory only grows, so the area checked before is still there.
    let area =
        abi::bounds(function, "return area", ret, abi::LIST_AREA, mem).map_err(contract_error)?;
    mem[area.start..area.start + 4].copy_from_slice(&out_ptr.to_le_bytes());
    mem[area.start + 4..area.end].copy_from_slice(&(out_len as u32).to_le_bytes());
    Ok(())
}

/// Links a host function of the guest contract: the plugin imports it as
/// `(func (param $ptr i32) (param $len i32) (param $ret i32))`, passes its
/// input as `(ptr, len)` and a 4-aligned 8-byte area at `ret`, where the
/// host writes the `(ptr, len)` of the output it allocated with the
/// plugin's `cabi_realloc`. The plugin keeps its input and owns the output.
pub(crate) fn define_list<T: 'static>(
    f: ListFn<T>,
    linker: &mut Linker<State<T>>,
    module: &str,
    name: &str,
) -> wasmtime::Result<()> {
    let function: Arc<str> = format!("{module}::{name}").into();
    linker.func_wrap(
        module,
        name,
        move |caller: Caller<'_, State<T>>, ptr: u32, len: u32, ret: u32| {
            let (mut caller, memory, output) = list_call(&f, &function, caller, ptr, len, ret)?;
            let out_ptr = alloc_in_guest(&mut caller, &function, &output)?;
            list_return(&mut caller, &function, memory, ret, out_ptr, output.len())
        },
    )?;
    Ok(())
}

/// [`define_list`] as an async host function, for hosts whose plugins may
/// run on a fiber (hosts with WASI): the output is allocated with an async
/// call of the plugin's `cabi_realloc`. A plugin importing it runs on a
/// fiber like one importing an async host function.
#[cfg_attr(not(feature = "wasi"), allow(dead_code))]
pub(crate) fn define_list_async<T: Send + 'static>(
    f: ListFn<T>,
    linker: &mut Linker<State<T>>,
    module: &str,
    name: &str,
) -> wasmtime::Result<()> {
    let function: Arc<str> = format!("{module}::{name}").into();
    linker.func_wrap_async(
        module,
        name,
        move |caller: Caller<'_, State<T>>, (ptr, len, ret): (u32, u32, u32)| {
            let called = list_call(&f, &function, caller, ptr, len, ret);
            let function = function.clone();
            Box::new(async move {
                let (mut caller, memory, output) = called?;
                let out_ptr = alloc_in_guest_async(&mut caller, &function, &output).await?;
                list_return(&mut caller, &function, memory, ret, out_ptr, output.len())
            })
        },
    )?;
    Ok(())
}

/// A bytes host function's user error, as the error that ends the call.
pub(crate) fn list_fn_error(function: &Arc<str>, error: BoxError) -> wasmtime::Error {
    host_error(function, error)
}

/// The error for a string host function whose input is not UTF-8.
pub(crate) fn input_not_utf8(
    function: &str,
    input: &[u8],
    e: std::str::Utf8Error,
) -> wasmtime::Error {
    contract_error(abi::not_utf8(function, "input", input, e))
}

fn range(ptr: u32, len: u32, size: usize) -> Result<std::ops::Range<usize>, MemoryAccessError> {
    let start = ptr as usize;
    match start.checked_add(len as usize) {
        Some(end) if end <= size && size > 0 => Ok(start..end),
        _ => Err(MemoryAccessError {
            ptr: ptr.into(),
            len: len.into(),
            memory_size: size,
        }),
    }
}

/// What a host function may return: values, or `Result<values, E>` where an
/// `Err` ends the plugin call with [`ErrorKind::HostFunction`](crate::ErrorKind::HostFunction).
pub trait HostReturn {
    /// The wasm results.
    type Values: Values;
    #[doc(hidden)]
    fn into_result(self) -> Result<Self::Values, BoxError>;
}

impl<V: Values> HostReturn for V {
    type Values = V;
    fn into_result(self) -> Result<V, BoxError> {
        Ok(self)
    }
}

impl<V: Values, E: Into<BoxError>> HostReturn for Result<V, E> {
    type Values = V;
    fn into_result(self) -> Result<V, BoxError> {
        self.map_err(Into::into)
    }
}

/// A Rust closure usable as a host function: `Fn(Ctx<'_, T>, A1, .., An) -> R`
/// with up to 8 [`Val`] arguments and a [`HostReturn`] result.
///
/// Like wasmtime's `func_wrap`, closures need their argument types written
/// out: `|cx: Ctx<'_, MyState>, ptr: u32, len: u32| { .. }`.
pub trait HostFn<T, Args, R>: Send + Sync + 'static {
    #[doc(hidden)]
    fn signature() -> Signature;
    #[doc(hidden)]
    fn define(
        self,
        linker: &mut Linker<State<T>>,
        module: &str,
        name: &str,
    ) -> wasmtime::Result<()>;
}

/// Turns a host function's error into the internal error that `classify`
/// maps onto its [`ErrorKind`](crate::ErrorKind).
#[cold]
fn host_error(function: &Arc<str>, error: BoxError) -> wasmtime::Error {
    match error.downcast_ref::<SuspendError>() {
        Some(SuspendError::NotResumable) => wasmtime::Error::new(Internal::CannotSuspend {
            function: function.clone(),
        }),
        Some(SuspendError::Cancelled) => wasmtime::Error::new(Internal::Cancelled),
        None => wasmtime::Error::new(Internal::HostReturned {
            function: function.clone(),
            error,
        }),
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

macro_rules! host_fn {
    ($($a:ident)*) => {
        impl<T, F, R, $($a,)*> HostFn<T, ($($a,)*), R> for F
        where
            T: 'static,
            F: Fn(Ctx<'_, T>, $($a),*) -> R + Send + Sync + 'static,
            R: HostReturn,
            $($a: Val,)*
        {
            fn signature() -> Signature {
                Signature::new(vec![$($a::val_type()),*], R::Values::val_types())
            }

            #[allow(non_snake_case)]
            fn define(self, linker: &mut Linker<State<T>>, module: &str, name: &str) -> wasmtime::Result<()> {
                let function: Arc<str> = format!("{module}::{name}").into();
                linker.func_wrap(
                    module,
                    name,
                    move |caller: Caller<'_, State<T>>, $($a: $a),*| -> wasmtime::Result<R::Values> {
                        let deadline_at = caller.data().deadline_at;
                        // A panic must not unwind through wasm frames into the
                        // embedder; catch it here and end only this call.
                        let values = match catch_unwind(AssertUnwindSafe(|| (self)(Ctx { caller }, $($a),*))) {
                            Ok(ret) => ret.into_result().map_err(|error| host_error(&function, error))?,
                            Err(payload) => return Err(wasmtime::Error::new(Internal::HostPanicked {
                                function: function.clone(),
                                message: panic_message(payload),
                            })),
                        };
                        check_deadline_after_host(deadline_at)?;
                        Ok(values)
                    },
                )?;
                Ok(())
            }
        }
    };
}
host_fn!();
host_fn!(A1);
host_fn!(A1 A2);
host_fn!(A1 A2 A3);
host_fn!(A1 A2 A3 A4);
host_fn!(A1 A2 A3 A4 A5);
host_fn!(A1 A2 A3 A4 A5 A6);
host_fn!(A1 A2 A3 A4 A5 A6 A7);
host_fn!(A1 A2 A3 A4 A5 A6 A7 A8);

/// The future a [`HostBuilder::func_async`](crate::HostBuilder::func_async)
/// closure returns, borrowing the [`Ctx`] it was given.
pub type HostFuture<'a, R> = Box<dyn Future<Output = R> + Send + 'a>;

/// Polls a host future, catching a panic at each poll so that it ends only
/// this call (like the synchronous host function wrapper does).
struct CatchPanic<'a, R>(Pin<HostFuture<'a, R>>);

impl<R> Future for CatchPanic<'_, R> {
    type Output = std::thread::Result<R>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Links an async host function: wasmtime polls its future on the plugin's
/// fiber, so a pending future suspends the plugin call.
pub(crate) fn define_async<T, A, R, F>(
    f: F,
    linker: &mut Linker<State<T>>,
    module: &str,
    name: &str,
) -> wasmtime::Result<()>
where
    T: Send + 'static,
    A: Values + wasmtime::WasmTyList,
    R: HostReturn + 'static,
    F: for<'a> Fn(Ctx<'a, T>, A) -> HostFuture<'a, R> + Send + Sync + 'static,
{
    let function: Arc<str> = format!("{module}::{name}").into();
    linker.func_wrap_async(
        module,
        name,
        move |caller: Caller<'_, State<T>>, args: A| {
            let function = function.clone();
            let future = catch_unwind(AssertUnwindSafe(|| f(Ctx { caller }, args)));
            Box::new(async move {
                let outcome = match future {
                    Ok(future) => CatchPanic(Box::into_pin(future)).await,
                    Err(payload) => Err(payload),
                };
                match outcome {
                    Ok(ret) => ret
                        .into_result()
                        .map_err(|error| host_error(&function, error)),
                    Err(payload) => Err(wasmtime::Error::new(Internal::HostPanicked {
                        function,
                        message: panic_message(payload),
                    })),
                }
            })
        },
    )?;
    Ok(())
}
