//! The mailbox between a suspended host function and the application that
//! resumes it, and the waker both sides use.
//!
//! Kept below everything that touches a store: the store data holds an
//! exchange, host functions write to it, and [`Call`](crate::Call) reads it.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Wake;
use std::thread::Thread;

/// What a suspended host function left for the application.
pub(crate) struct Yielded {
    pub(crate) value: Box<dyn Any + Send>,
    pub(crate) yield_type: (TypeId, &'static str),
    pub(crate) resume_type: (TypeId, &'static str),
}

/// Shared (not inside the store) because the running call's future holds the
/// store mutably borrowed while the application reads and writes here.
#[derive(Default)]
pub(crate) struct Exchange {
    /// A call started with [`Instance::start`](crate::Instance::start) is
    /// running or suspended, so host functions may suspend.
    pub(crate) active: bool,
    pub(crate) yielded: Option<Yielded>,
    pub(crate) resumed: Option<Box<dyn Any + Send>>,
}

pub(crate) type SharedExchange = Arc<Mutex<Exchange>>;

pub(crate) fn lock(ex: &SharedExchange) -> MutexGuard<'_, Exchange> {
    // A panic while the lock is held can only come from a bug in spindle;
    // the data is still consistent enough to reset.
    ex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn activate(ex: &SharedExchange) {
    let mut ex = lock(ex);
    ex.active = true;
    ex.yielded = None;
    ex.resumed = None;
}

pub(crate) fn deactivate(ex: &SharedExchange) {
    let mut ex = lock(ex);
    ex.active = false;
    ex.yielded = None;
    ex.resumed = None;
}

/// Why [`Ctx::suspend`](crate::Ctx::suspend) could not suspend or resume. A
/// host function passes it on with `?`; spindle turns it into the matching
/// [`ErrorKind`](crate::ErrorKind).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuspendError {
    /// The call was not started with [`Instance::start`](crate::Instance::start)
    /// (a plain `call`, or the start function during instantiation), so there
    /// is nobody to hand the value to.
    NotResumable,
    /// The instance's [`CancelHandle`](crate::CancelHandle) was used while
    /// the call was suspended.
    Cancelled,
}

impl fmt::Display for SuspendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuspendError::NotResumable => f.write_str(
                "cannot suspend: the plugin call was not started with `Instance::start`",
            ),
            SuspendError::Cancelled => f.write_str("the suspended call was cancelled"),
        }
    }
}

impl std::error::Error for SuspendError {}

/// Wakes the thread that polls a call.
pub(crate) struct Unpark(pub(crate) Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
