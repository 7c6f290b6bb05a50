//! Resumable calls: a host function suspends the plugin and hands a value to
//! the application, which resumes the plugin later with an answer.
//!
//! Built on wasmtime's async support: the plugin runs on a wasmtime fiber
//! inside a `call_async` future, and a suspending host function is an async
//! host function whose future stays pending until the application resumes.
//! spindle polls that future itself ([`Call::run`], [`Call::resume`]) with a
//! waker that parks the calling thread, so no async executor is needed.

use std::any::{TypeId, type_name};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::classify::{CallBudget, classify, ok_if_exit_zero};
use crate::error::{Error, ErrorKind};
use crate::exchange::{SharedExchange, SuspendError, Yielded, deactivate, lock};
use crate::hostfn::Ctx;
use crate::types::Values;
use crate::waits::{CallWatch, drop_in_context, poll_in_context, thread_waker};

/// The future returned by [`Ctx::suspend`]: pending until the application
/// resumes the call, then ready with the resume value.
#[must_use = "a suspension does nothing unless `.await`ed"]
pub struct Suspend<'c, 'a, T: 'static, In> {
    cx: &'c mut Ctx<'a, T>,
    value: Option<Yielded>,
    _resume: PhantomData<fn() -> In>,
}

impl<'a, T: 'static> Ctx<'a, T> {
    /// Suspends the plugin call, handing `value` to the application as
    /// [`Step::Suspended`]; completes with the value the application passes
    /// to [`Call::resume`]. Only in host functions registered with
    /// [`HostBuilder::func_async`](crate::HostBuilder::func_async), and only
    /// while the call was started with [`Instance::start`](crate::Instance::start);
    /// otherwise it fails with [`SuspendError::NotResumable`].
    ///
    /// `Y` and `In` must be the yield and resume types of the [`Call`]; a
    /// mismatch ends the call with [`ErrorKind::SuspendType`].
    pub fn suspend<Y: Send + 'static, In: Send + 'static>(
        &mut self,
        value: Y,
    ) -> Suspend<'_, 'a, T, In> {
        Suspend {
            cx: self,
            value: Some(Yielded {
                value: Box::new(value),
                yield_type: (TypeId::of::<Y>(), type_name::<Y>()),
                resume_type: (TypeId::of::<In>(), type_name::<In>()),
            }),
            _resume: PhantomData,
        }
    }
}

impl<T: 'static, In: 'static> Future for Suspend<'_, '_, T, In> {
    type Output = Result<In, SuspendError>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        let me = self.get_mut();
        let data = me.cx.caller.data_mut();
        let Some(exchange) = &data.exchange else {
            return Poll::Ready(Err(SuspendError::NotResumable));
        };
        let mut ex = lock(exchange);
        if let Some(value) = me.value.take() {
            if !ex.active {
                return Poll::Ready(Err(SuspendError::NotResumable));
            }
            ex.yielded = Some(value);
            drop(ex);
            // Suspended time does not count against the deadline: keep what
            // is left of it until the application resumes.
            data.deadline_left = data
                .deadline_at
                .map(|at| at.saturating_duration_since(Instant::now()));
            // No wake-up: the application resumes by polling again.
            return Poll::Pending;
        }
        let Some(resumed) = ex.resumed.take() else {
            // Polled without a resume value (cannot happen through `Call`).
            return Poll::Pending;
        };
        drop(ex);
        if let Some(c) = &data.cancel
            && c.hits(data.call_number)
        {
            return Poll::Ready(Err(SuspendError::Cancelled));
        }
        if let Some(left) = data.deadline_left.take() {
            data.deadline_at = Instant::now().checked_add(left);
        }
        match resumed.downcast::<In>() {
            Ok(v) => Poll::Ready(Ok(*v)),
            // `Call` checks the resume type before handing out `Suspended`.
            Err(_) => unreachable!("resume value type checked by Call"),
        }
    }
}

/// One step of a resumable call.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<Y, R> {
    /// A host function suspended the plugin with this value; continue with
    /// [`Call::resume`].
    Suspended(Y),
    /// The export returned.
    Returned(R),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    NotRun,
    Suspended,
    Finished,
}

type CallFuture<'i, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'i>>;

/// A plugin call that can suspend and be resumed, created by
/// [`Instance::start`](crate::Instance::start).
///
/// `Y` is what suspending host functions hand to the application, `In` what
/// the application answers with. Dropping a `Call` that has not finished
/// cancels it: the plugin's frames are unwound and the instance can be
/// called again.
pub struct Call<'i, R, Y, In> {
    // Declared first so it is dropped (which unwinds the plugin) before
    // anything else.
    future: Option<CallFuture<'i, R>>,
    exchange: SharedExchange,
    budget: CallBudget,
    /// The limits that end a wait in the host (waits.rs).
    watch: CallWatch,
    phase: Phase,
    _types: PhantomData<fn(In) -> Y>,
}

impl<'i, R: Values, Y: 'static, In: Send + 'static> Call<'i, R, Y, In> {
    pub(crate) fn new(
        future: CallFuture<'i, R>,
        exchange: SharedExchange,
        budget: CallBudget,
        watch: CallWatch,
    ) -> Self {
        Call {
            future: Some(future),
            exchange,
            budget,
            watch,
            phase: Phase::NotRun,
            _types: PhantomData,
        }
    }

    /// Runs the plugin until a host function suspends it or it returns.
    /// Call once, then [`resume`](Call::resume) after each suspension.
    pub fn run(&mut self) -> Result<Step<Y, R>, Error> {
        match self.phase {
            Phase::NotRun => self.drive(),
            Phase::Suspended => Err(self.misuse("`run` on a call that already ran; use `resume`")),
            Phase::Finished => Err(self.misuse("`run` on a call that has finished")),
        }
    }

    /// Resumes a suspended call: the suspended host function's
    /// `cx.suspend(..).await` completes with `value`. Runs until the next
    /// suspension or the return.
    pub fn resume(&mut self, value: In) -> Result<Step<Y, R>, Error> {
        match self.phase {
            Phase::Suspended => {
                lock(&self.exchange).resumed = Some(Box::new(value));
                self.watch.resume();
                self.drive()
            }
            Phase::NotRun => Err(self.misuse("`resume` before `run`")),
            Phase::Finished => Err(self.misuse("`resume` on a call that has finished")),
        }
    }

    /// Whether the call has returned or failed (it cannot be resumed).
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    fn misuse(&self, what: &'static str) -> Error {
        ErrorKind::NotSuspended { what }.into()
    }

    fn finish(&mut self) {
        self.phase = Phase::Finished;
        // Drops the finished future, or unwinds a suspended plugin.
        if let Some(future) = self.future.take() {
            drop_in_context(future);
        }
        deactivate(&self.exchange);
    }

    fn drive(&mut self) -> Result<Step<Y, R>, Error> {
        let future = self
            .future
            .as_mut()
            .expect("an unfinished call has its future");
        let waker = thread_waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            let polled = poll_in_context(future.as_mut(), &mut cx);
            match polled {
                Poll::Ready(Ok(r)) => {
                    self.finish();
                    return Ok(Step::Returned(r));
                }
                Poll::Ready(Err(e)) => {
                    self.finish();
                    return ok_if_exit_zero(classify(e, self.budget)).map(Step::Returned);
                }
                Poll::Pending => {
                    let yielded = lock(&self.exchange).yielded.take();
                    let Some(y) = yielded else {
                        // A host future waits for something else (a timer,
                        // I/O); its waker unparks this thread, unless a
                        // limit passes first.
                        if let Err(limit) = self.watch.park(&waker) {
                            self.finish();
                            return Err(classify(limit.into(), self.budget));
                        }
                        continue;
                    };
                    if y.yield_type.0 != TypeId::of::<Y>() || y.resume_type.0 != TypeId::of::<In>()
                    {
                        self.finish();
                        return Err(ErrorKind::SuspendType {
                            host_yields: y.yield_type.1,
                            host_resumes_with: y.resume_type.1,
                            call_yields: type_name::<Y>(),
                            call_resumes_with: type_name::<In>(),
                        }
                        .into());
                    }
                    let value = *y.value.downcast::<Y>().expect("type id checked above");
                    self.phase = Phase::Suspended;
                    self.watch.pause();
                    return Ok(Step::Suspended(value));
                }
            }
        }
    }
}

impl<R, Y, In> Drop for Call<'_, R, Y, In> {
    fn drop(&mut self) {
        // Dropping wasmtime's call future resumes the fiber with an error,
        // which unwinds the plugin's frames and frees the fiber stack.
        if let Some(future) = self.future.take() {
            drop_in_context(future);
        }
        deactivate(&self.exchange);
    }
}

impl<R, Y, In> fmt::Debug for Call<'_, R, Y, In> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call").field("phase", &self.phase).finish()
    }
}
