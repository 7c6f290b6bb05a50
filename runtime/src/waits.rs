//! Holding a call to its limits while it waits in the host.
//!
//! Calls on a fiber (plugins that import WASI or an async host function)
//! run inside a wasmtime `call_async` future that spindle polls itself.
//! When that future is pending, the plugin is waiting in a host call: a
//! WASI `poll_oneoff` sleep, a read that has no data yet, an async host
//! function's I/O. No wasm runs then, so no epoch check can stop it; the
//! poller here does instead. It parks the calling thread until the future's
//! waker fires or the next limit falls due, and when a limit has passed it
//! drops the future: wasmtime then resumes the fiber with an error, which
//! unwinds the plugin, and the call ends with the limit's error. Whatever
//! the host call was waiting for is dropped with it.
//!
//! What is waited for and what ends it:
//!
//! | the call has            | a wait ends at                    | error           |
//! |-------------------------|-----------------------------------|-----------------|
//! | a deadline              | the deadline                      | `DeadlineExceeded` |
//! | fuel, no deadline       | its fuel in nanoseconds of waiting, in total | `WaitLimit` |
//! | a cancel handle         | `CancelHandle::cancel`            | `Cancelled`     |
//! | none of these           | never (the application chose no limit) | —          |

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::classify::Internal;
use crate::exchange::Unpark;
use wasmtime::Store;

use crate::store::{CancelTarget, State};
use crate::ticker::TimerId;

/// What a waiting call is held to, copied out of the store when the call
/// starts (the running future holds the store).
pub(crate) struct CallWatch {
    deadline_at: Option<Instant>,
    /// What the deadline had left when the call last suspended.
    paused_left: Option<Duration>,
    wait_left: Option<Duration>,
    wait_allowed: Duration,
    cancel: Option<(Arc<CancelTarget>, u64)>,
}

impl CallWatch {
    /// The limits of the call just armed on a store with `data`.
    pub(crate) fn of<T>(data: &State<T>) -> Self {
        CallWatch {
            deadline_at: data.deadline_at,
            paused_left: None,
            wait_left: data.wait_budget,
            wait_allowed: data.wait_budget.unwrap_or_default(),
            cancel: data.cancel.clone().map(|c| (c, data.call_number)),
        }
    }

    /// The call suspended (a resumable call handed a value to the
    /// application): the deadline stops counting until [`CallWatch::resume`].
    pub(crate) fn pause(&mut self) {
        self.paused_left = self
            .deadline_at
            .map(|at| at.saturating_duration_since(Instant::now()));
    }

    /// The application resumed the call: the deadline counts on from what
    /// was left when it suspended.
    pub(crate) fn resume(&mut self) {
        if let Some(left) = self.paused_left.take() {
            self.deadline_at = Instant::now().checked_add(left);
        }
    }

    /// The limit that has passed, if any.
    fn passed(&self, now: Instant) -> Option<Internal> {
        if let Some((target, call)) = &self.cancel
            && target.hits(*call)
        {
            return Some(Internal::Cancelled);
        }
        if self.deadline_at.is_some_and(|at| now >= at) {
            return Some(Internal::Deadline);
        }
        if self.wait_left == Some(Duration::ZERO) {
            return Some(Internal::WaitLimit {
                allowed: self.wait_allowed,
            });
        }
        None
    }

    /// The next instant a limit falls due while the call waits.
    fn next_due(&self, now: Instant) -> Option<Instant> {
        let wait_end = self.wait_left.and_then(|left| now.checked_add(left));
        match (self.deadline_at, wait_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Parks this thread until `waker` fires or the earliest limit falls
    /// due; the limit that ended the wait, if one did.
    pub(crate) fn park(&mut self, waker: &Waker) -> Result<(), Internal> {
        let start = Instant::now();
        if let Some(limit) = self.passed(start) {
            return Err(limit);
        }
        let until = self.next_due(start);
        if let Some((target, _)) = &self.cancel {
            target.wake_on_cancel(waker);
        }
        match until {
            Some(t) => std::thread::park_timeout(t.saturating_duration_since(start)),
            None => std::thread::park(),
        }
        let now = Instant::now();
        if let Some(left) = &mut self.wait_left {
            *left = left.saturating_sub(now.saturating_duration_since(start));
        }
        match self.passed(now) {
            Some(limit) => Err(limit),
            None => Ok(()),
        }
    }
}

/// The waker of a thread that polls a call: wakes it from [`CallWatch::park`].
pub(crate) fn thread_waker() -> Waker {
    Waker::from(Arc::new(Unpark(std::thread::current())))
}

/// Polls `future` once inside the tokio context that WASI's host calls need
/// (their timers and blocking reads run on wasmtime-wasi's runtime).
pub(crate) fn poll_in_context<F: Future + ?Sized>(
    future: std::pin::Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    #[cfg(feature = "wasi")]
    {
        wasmtime_wasi::runtime::with_ambient_tokio_runtime(|| future.poll(cx))
    }
    #[cfg(not(feature = "wasi"))]
    {
        future.poll(cx)
    }
}

/// Drops a call's future inside the same context, so whatever it was
/// waiting for (a timer of wasmtime-wasi's runtime) is released there.
pub(crate) fn drop_in_context<F>(future: F) {
    #[cfg(feature = "wasi")]
    {
        wasmtime_wasi::runtime::with_ambient_tokio_runtime(|| drop(future))
    }
    #[cfg(not(feature = "wasi"))]
    {
        drop(future)
    }
}

/// Drives a call (or instantiation) future that cannot suspend to its end
/// on this thread, or until a limit of `watch` passes while it waits; the
/// limit comes back as the error the call would have trapped with.
pub(crate) fn block_on_watched<F: Future>(
    future: F,
    watch: &mut CallWatch,
) -> wasmtime::Result<F::Output> {
    let waker = thread_waker();
    let mut cx = Context::from_waker(&waker);
    let mut future = Box::pin(future);
    loop {
        if let Poll::Ready(v) = poll_in_context(future.as_mut(), &mut cx) {
            return Ok(v);
        }
        if let Err(limit) = watch.park(&waker) {
            drop_in_context(future);
            return Err(limit.into());
        }
    }
}

/// An untyped call through `Func::call_async`, driven to its end here (the
/// [`AsyncCall`](crate::store::AsyncCall) of every plugin on a fiber).
pub(crate) fn call_async_blocking<T: Send + 'static>(
    store: &mut Store<State<T>>,
    func: wasmtime::Func,
    params: &[wasmtime::Val],
    results: &mut [wasmtime::Val],
) -> wasmtime::Result<()> {
    let mut watch = CallWatch::of(store.data());
    block_on_watched(func.call_async(store, params, results), &mut watch)?
}

/// A call future polled by the application's executor
/// ([`Instance::call_async`](crate::Instance::call_async)), held to the same
/// limits: the shared ticker thread wakes it when a limit falls due, and the
/// next poll ends it.
pub(crate) struct Watched<F> {
    future: Option<std::pin::Pin<Box<F>>>,
    watch: CallWatch,
    /// When the last poll left the call pending: the wait since then counts
    /// against the wait budget.
    pending_since: Option<Instant>,
    timer: Option<TimerId>,
}

impl<F> Watched<F> {
    pub(crate) fn new(future: F, watch: CallWatch) -> Self {
        Watched {
            future: Some(Box::pin(future)),
            watch,
            pending_since: None,
            timer: None,
        }
    }

    fn end(&mut self) {
        if let Some(f) = self.future.take() {
            drop_in_context(f);
        }
        if let Some(id) = self.timer.take() {
            crate::ticker::cancel_timer(id);
        }
    }
}

impl<F: Future<Output = wasmtime::Result<R>>, R> Future for Watched<F> {
    type Output = wasmtime::Result<R>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Only the boxed future is pinned; the rest moves freely.
        let me = self.get_mut();
        let now = Instant::now();
        if let (Some(since), Some(left)) = (me.pending_since.take(), &mut me.watch.wait_left) {
            *left = left.saturating_sub(now.saturating_duration_since(since));
        }
        let Some(future) = me.future.as_mut() else {
            return Poll::Ready(Err(wasmtime::Error::msg("call polled after it ended")));
        };
        if let Some(limit) = me.watch.passed(now) {
            me.end();
            return Poll::Ready(Err(limit.into()));
        }
        match poll_in_context(future.as_mut(), cx) {
            Poll::Ready(v) => {
                me.end();
                Poll::Ready(v)
            }
            Poll::Pending => {
                me.pending_since = Some(Instant::now());
                if let Some(at) = me.watch.next_due(now) {
                    me.timer = Some(crate::ticker::wake_at(me.timer, at, cx.waker()));
                }
                if let Some((target, _)) = &me.watch.cancel {
                    target.wake_on_cancel(cx.waker());
                }
                Poll::Pending
            }
        }
    }
}

impl<F> Drop for Watched<F> {
    fn drop(&mut self) {
        self.end();
    }
}
