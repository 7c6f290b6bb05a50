//! Store data: what spindle keeps per instance next to the user's state,
//! and how each call (or instantiation) is armed with its limits.
//!
//! The bottom of the call machinery: host functions, resumable calls and
//! instances all read and write this data, and it depends on none of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use wasmtime::{Memory, Store, UpdateDeadline};

use crate::backtrace::Backtrace;
use crate::classify::{CallBudget, Internal};
use crate::error::{Error, ErrorKind};
use crate::exchange::SharedExchange;
use crate::limits::{Limiter, Limits};
use crate::native_stack;

/// Store data: the user's state plus what spindle tracks per instance.
#[doc(hidden)]
pub struct State<T> {
    pub(crate) user: T,
    pub(crate) memory: Option<Memory>,
    limiter: Limiter,
    /// When the running call's deadline passes: set when the call is armed,
    /// moved later by the time a resumable call spends suspended. `None`:
    /// no deadline (or one too far away to represent, which never fires).
    pub(crate) deadline_at: Option<Instant>,
    /// What was left of the deadline when a resumable call suspended.
    pub(crate) deadline_left: Option<Duration>,
    /// How long the running call may wait in the host in total (sleeping,
    /// polling, blocking reads of WASI) when it has fuel but no deadline.
    pub(crate) wait_budget: Option<Duration>,
    /// Calls armed since the first [`CancelHandle`] was taken: the number
    /// of the running or last call, which a handle targets.
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

/// Runs an untyped call through `Func::call_async` to completion
/// ([`crate::waits::call_async_blocking`]). Made where `T: Send` is known
/// (`HostBuilder::func_async`, `HostBuilder::wasi`) and stored as a plain
/// function pointer, so `Instance::call` works for every `T`.
pub(crate) type AsyncCall<T> = fn(
    &mut Store<State<T>>,
    wasmtime::Func,
    &[wasmtime::Val],
    &mut [wasmtime::Val],
) -> wasmtime::Result<()>;

/// The highest call number any handle asked to cancel (0: none), shared
/// between an instance and its handles, and the waker of a call that waits
/// in the host, so a cancel ends the wait at once.
#[derive(Debug, Default)]
pub(crate) struct CancelTarget {
    pub(crate) number: AtomicU64,
    waiter: Mutex<Option<Waker>>,
}

impl CancelTarget {
    /// Whether call `number` (the running one) was asked to stop.
    #[inline]
    pub(crate) fn hits(&self, number: u64) -> bool {
        self.number.load(Ordering::Acquire) == number
    }

    /// Asks call `number` to stop, and wakes it if it waits in the host.
    pub(crate) fn cancel(&self, number: u64) {
        // fetch_max: a stale handle never overwrites a newer request.
        self.number.fetch_max(number, Ordering::AcqRel);
        if let Some(w) = self.waiter().take() {
            w.wake();
        }
    }

    /// Has [`CancelTarget::cancel`] wake `waker`.
    pub(crate) fn wake_on_cancel(&self, waker: &Waker) {
        *self.waiter() = Some(waker.clone());
    }

    fn waiter(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        // Only a waker is kept here; a panic elsewhere cannot break it.
        self.waiter.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long a call with `fuel` and no deadline may wait in the host: one
/// nanosecond per unit of fuel. Fuel bounds what a call computes; without
/// this a plugin under a fuel limit alone could sleep (or block on a read)
/// for as long as it liked, since waiting burns no fuel.
pub(crate) fn wait_budget(fuel: u64) -> Duration {
    Duration::from_nanos(fuel)
}

/// How a call is armed, fixed at instantiation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arming {
    pub fuel_metering: bool,
    /// A deadline, fuel or fuel metering: something to reset per call.
    budgeted: bool,
    pub budget: CallBudget,
    /// Native stack a synchronous call needs on the calling thread.
    pub native_stack: usize,
    /// [`Limits::max_output_bytes`].
    pub max_output: Option<usize>,
    /// [`Limits::max_error_bytes`].
    pub max_error: usize,
}

impl Arming {
    pub(crate) fn new(
        limits: &Limits,
        fuel_metering: bool,
        max_wasm_stack: usize,
    ) -> Result<Self, Error> {
        if limits.fuel.is_some() && !fuel_metering {
            return Err(ErrorKind::Config(
                "a fuel limit needs a host with fuel metering (HostBuilder::enable_fuel)".into(),
            )
            .into());
        }
        Ok(Arming {
            fuel_metering,
            budgeted: fuel_metering || limits.deadline.is_some() || limits.fuel.is_some(),
            budget: CallBudget {
                fuel: limits.fuel,
                deadline: limits.deadline,
            },
            native_stack: max_wasm_stack.saturating_add(native_stack::HOST_RESERVE),
            max_output: limits.max_output_bytes,
            max_error: limits.max_error_bytes,
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

    /// Resets the per-call budgets. Kept small and in line: it runs before
    /// every call.
    #[inline(always)]
    pub(crate) fn arm<T>(&self, store: &mut Store<State<T>>) -> Result<(), Error> {
        let data = store.data_mut();
        // Calls are numbered only once a handle can name one: until the
        // first `cancel_handle` nothing reads the number.
        if let Some(c) = &data.cancel {
            data.call_number += 1;
            if c.hits(data.call_number) {
                return Err(ErrorKind::Cancelled {
                    backtrace: Backtrace::default(),
                }
                .into());
            }
        }
        if !self.budgeted {
            return Ok(());
        }
        if let Some(deadline) = self.budget.deadline {
            // An instant, not a count of epoch callbacks: time spent where
            // no callback can run (a host function, a WASI wait) counts too.
            // A deadline too far away to represent never fires.
            data.deadline_at = Instant::now().checked_add(deadline);
            data.deadline_left = None;
        } else if let Some(fuel) = self.budget.fuel {
            data.wait_budget = Some(wait_budget(fuel));
        }
        if self.fuel_metering {
            store
                .set_fuel(self.budget.fuel.unwrap_or(u64::MAX))
                .map_err(Error::wasmtime)?;
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
            deadline_at: None,
            deadline_left: None,
            wait_budget: None,
            call_number: 0,
            cancel: None,
            exchange: None,
            on_fiber: false,
            #[cfg(feature = "wasi")]
            wasi: None,
        },
    );
    store.limiter(|s| &mut s.limiter);
    if arming.budget.deadline.is_some() {
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

/// Installs the per-tick check. Runs at the first epoch check in wasm after
/// each tick of the engine's epoch: one shared ticker thread drives every
/// deadline and cancellation, no thread per call. However long wasm was
/// kept from running (a blocking host function), the first check after it
/// runs again compares the clock with the deadline, so the call ends then.
pub(crate) fn watch_epochs<T: 'static>(store: &mut Store<State<T>>) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        let data = cx.data_mut();
        if let Some(c) = &data.cancel
            && c.hits(data.call_number)
        {
            return Err(Internal::Cancelled.into());
        }
        if data.deadline_at.is_some_and(|at| Instant::now() >= at) {
            return Err(Internal::Deadline.into());
        }
        Ok(UpdateDeadline::Continue(1))
    });
}

/// Ends a call whose deadline passed while a synchronous host function ran,
/// before wasm runs again: the host function's result is not handed to a
/// call that is already over.
#[inline]
pub(crate) fn check_deadline_after_host(deadline_at: Option<Instant>) -> wasmtime::Result<()> {
    match deadline_at {
        Some(at) if Instant::now() >= at => Err(Internal::Deadline.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::wait_budget;
    use std::time::Duration;

    #[test]
    fn a_unit_of_fuel_buys_a_nanosecond_of_waiting() {
        assert_eq!(wait_budget(0), Duration::ZERO);
        assert_eq!(wait_budget(1_000_000_000), Duration::from_secs(1));
        assert_eq!(wait_budget(u64::MAX), Duration::from_nanos(u64::MAX));
    }
}
