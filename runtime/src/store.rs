//! Store data: what spindle keeps per instance next to the user's state,
//! and how each call (or instantiation) is armed with its limits.
//!
//! The bottom of the call machinery: host functions, resumable calls and
//! instances all read and write this data, and it depends on none of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{Memory, Store, UpdateDeadline};

use crate::error::{Backtrace, CallBudget, Error, ErrorKind, Internal};
use crate::exchange::{SharedExchange, block_on};
use crate::limits::{Limiter, Limits};
use crate::native_stack;

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
    /// The plugin imports an async host function, so every call runs on a
    /// wasmtime fiber, where a host function cannot call back into the
    /// plugin synchronously.
    pub(crate) on_fiber: bool,
    /// The WASI context, for plugins that import WASI from a host that
    /// grants it.
    #[cfg(feature = "wasi")]
    pub(crate) wasi: Option<crate::wasi::WasiState>,
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

/// The highest call number any handle asked to cancel (0: none), shared
/// between an instance and its handles.
#[derive(Debug, Default)]
pub(crate) struct CancelTarget(pub(crate) AtomicU64);

impl CancelTarget {
    /// Whether call `number` (the running one) was asked to stop.
    #[inline]
    pub(crate) fn hits(&self, number: u64) -> bool {
        self.0.load(Ordering::Acquire) == number
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
    /// [`Limits::max_output_bytes`].
    pub max_output: Option<usize>,
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
            max_output: limits.max_output_bytes,
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
            on_fiber: false,
            #[cfg(feature = "wasi")]
            wasi: None,
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
pub(crate) fn watch_epochs<T: 'static>(store: &mut Store<State<T>>) {
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
