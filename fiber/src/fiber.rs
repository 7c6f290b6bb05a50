//! `Fiber` and `Suspender`: everything above the stack switch, written once
//! for all backends.
//!
//! # Messages
//!
//! Each switch carries one pointer (the backend's `msg`). It points at a
//! value on the sender's stack, which the receiver moves out with
//! `ptr::read` before it can switch again; the sender keeps the value in a
//! `MaybeUninit` so it is never dropped twice.
//!
//! * Parent -> fiber: a pointer to the resume value `I`, or null for "unwind
//!   now" (a suspended fiber being dropped).
//! * Fiber -> parent: a pointer to a [`Parcel<T>`] with the [`Kind`] of
//!   message in its two low bits (parcels are 4-aligned): a yield (`Y`, tag
//!   0, so the common case is a plain pointer), the return value (`R`), a
//!   panic payload, or nothing (unwound).
//!
//! Both directions cost no memory traffic beyond the value itself, which is
//! what keeps a round trip as short as the switch.
//!
//! # Life of a fiber
//!
//! ```text
//!   Fresh --resume--> (runs) --suspend--> Suspended --resume--> (runs) ...
//!                        |                     |
//!                     returns/panics        dropped: forced unwind
//!                        v                     v
//!                     Finished <-------- entry catches ForcedUnwind
//! ```
//!
//! The state is not stored as such: nothing on the resume path should have
//! to write it. A finished fiber has a null `handle` (Leaked: a null
//! `control` too), and a fresh one still has the drop function of its start
//! object in the header below the control block, which the fiber clears
//! when it starts.

use core::any::Any;
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop, MaybeUninit};
use core::ptr;
use std::panic::{self, AssertUnwindSafe};

use crate::backend::{Backend, BackendKind, Native};
use crate::stack::{DEFAULT_STACK_SIZE, FiberStack, Stack};
use crate::{Error, abort_with, asan, overflow, valgrind};

const MIN_FREE_STACK: usize = 4 * 1024;

/// What [`Fiber::resume`] returns: the fiber either suspended with a value or
/// returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FiberResult<Y, R> {
    /// The fiber called [`Suspender::suspend`] with this value.
    Yield(Y),
    /// The fiber's function returned this value; the fiber is finished.
    Return(R),
}

impl<Y, R> FiberResult<Y, R> {
    /// The yielded value, if any.
    pub fn into_yield(self) -> Option<Y> {
        match self {
            FiberResult::Yield(y) => Some(y),
            FiberResult::Return(_) => None,
        }
    }

    /// The returned value, if any.
    pub fn into_return(self) -> Option<R> {
        match self {
            FiberResult::Yield(_) => None,
            FiberResult::Return(r) => Some(r),
        }
    }
}

/// The panic payload Spindle uses to unwind a suspended fiber that is being
/// dropped, so that the destructors of everything on its stack run.
///
/// Code inside a fiber that catches panics (`std::panic::catch_unwind`) must
/// let this one go on: check with `payload.is::<ForcedUnwind>()` and
/// re-raise it with `std::panic::resume_unwind(payload)`. A fiber that
/// swallows it and suspends again cannot be unwound. Spindle then leaks it
/// (its stack is never freed or reused) and panics, or aborts if the thread
/// is already panicking; but only when leaking is sound, that is when the
/// stack owns its memory ([`FiberStack::owns_memory`]: a [`Stack`]) and the
/// fiber borrows nothing (it was made by a safe constructor, which requires
/// `'static`). Otherwise it aborts the process: whatever the fiber's frames
/// borrow would outlive the borrow.
///
/// A fiber that turns its `ForcedUnwind` into another panic ends there: its
/// stack is freed and that panic continues out of the `drop` (or
/// `into_stack`). A `ForcedUnwind` re-raised in a fiber that is not being
/// dropped (one caught in another fiber) ends that fiber too, and its
/// `resume` panics with `a fiber ended by raising a ForcedUnwind it was not
/// being dropped with`.
///
/// # `thread::panicking()` and suspended unwinds
///
/// The panic count is per thread, not per stack: while a fiber is suspended
/// in the middle of unwinding (a destructor that suspends), its parent sees
/// `std::thread::panicking() == true`, and a `MutexGuard` dropped there
/// poisons its mutex. Spindle's own choices do not depend on it: a panic
/// that ends a forced unwind, and the panic for a leaked fiber, are always
/// raised, and if the parent really is unwinding, Rust aborts them as it
/// does any panic out of a destructor during unwinding.
#[derive(Debug)]
pub struct ForcedUnwind {
    _private: (),
}

/// What a fiber's message to its parent says; the two low bits of the
/// message pointer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
enum Kind {
    Yield = 0,
    Return = 1,
    Panic = 2,
    Unwound = 3,
}

const KIND_MASK: usize = 3;

/// A value a fiber hands to its parent. The alignment frees the two low bits
/// of its address for the [`Kind`].
#[repr(C, align(4))]
struct Parcel<T>(MaybeUninit<T>);

/// Splits a message from a fiber into its kind and parcel address.
#[inline(always)]
fn unpack(back: *mut u8) -> (Kind, *mut u8) {
    let kind = match back as usize & KIND_MASK {
        0 => Kind::Yield,
        1 => Kind::Return,
        2 => Kind::Panic,
        _ => Kind::Unwound,
    };
    (kind, back.wrapping_sub(kind as usize))
}

type PanicPayload = Box<dyn Any + Send + 'static>;

/// What a fresh fiber's stack holds until its first resume.
struct Start<F> {
    f: F,
    top: usize,
    limit: usize,
}

/// Variance and auto traits of a suspender: it sends `Y` and receives `I`,
/// and is neither `Send` nor `Sync` (it names one fiber on one thread).
type SuspenderMarker<I, Y, B> = (fn(Y) -> I, B, *mut ());

/// What a fiber may own and touch when dropped: the function (borrowing for
/// `'a`) and values of `I`, `Y`, `R` on its stack. Neither `Send` nor `Sync`.
type FiberMarker<'a, I, Y, R, B> = (Box<dyn FnOnce() + 'a>, fn(I) -> (Y, R), I, Y, R, B, *mut ());

/// Handed to a fiber's function; [`suspend`](Suspender::suspend) gives a
/// value to whoever resumed the fiber and waits for the next resume.
///
/// `I` is what each resume passes in, `Y` what each suspend passes out. `B`
/// is the stack-switching backend (the native one unless chosen otherwise).
pub struct Suspender<I, Y, B: Backend = Native> {
    control: *mut u8,
    limit: usize,
    /// `top - limit`: one unsigned compare tells whether an address is on
    /// this fiber's stack.
    size: usize,
    /// Where this fiber's switches go back to, for AddressSanitizer
    /// (zero-sized without it).
    parent: asan::Parent,
    _marker: PhantomData<SuspenderMarker<I, Y, B>>,
}

impl<I, Y, B: Backend> Suspender<I, Y, B> {
    /// Suspends this fiber: `resume` returns `FiberResult::Yield(value)` to
    /// the caller, and this call returns the value of the next `resume`.
    ///
    /// If the fiber is dropped instead of resumed, this call does not
    /// return: it unwinds the fiber with [`ForcedUnwind`] so that destructors
    /// run.
    ///
    /// # Panics
    ///
    /// If called anywhere but on this suspender's own fiber (for example from
    /// a nested fiber that captured it).
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        let mut out = Parcel(MaybeUninit::new(value));
        let out = ptr::addr_of_mut!(out);
        // `out` lives on the stack of whoever is running (or, under ASan,
        // stands in for a place on it): the place to check that it is this
        // suspender's fiber.
        let here = asan::real_stack_address(out.cast());
        if !B::runs_on(self.control, here, self.limit, self.size) {
            suspend_outside_own_fiber();
        }
        // SAFETY: we are on this suspender's fiber (checked above), which is
        // running; the parent moves the parcel out before resuming us, and a
        // yield is tag 0, so the pointer goes as it is. `parent` is this
        // fiber's, and the switch is its switch back.
        let back = unsafe { self.parent.suspend(|| B::suspend(self.control, out.cast())) };
        if back.is_null() {
            panic::resume_unwind(Box::new(ForcedUnwind { _private: () }));
        }
        // SAFETY: the parent passed a live `I` that it will not touch again
        // (see the module docs).
        unsafe { ptr::read(back as *mut I) }
    }
}

#[cold]
#[inline(never)]
fn suspend_outside_own_fiber() -> ! {
    panic!(
        "Suspender::suspend called outside its own fiber (from another fiber or the \
         parent); a suspender can only suspend the fiber it was given to"
    );
}

impl<I, Y, B: Backend> core::fmt::Debug for Suspender<I, Y, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Suspender")
            .field(
                "stack",
                &(self.limit as *const u8..(self.limit + self.size) as *const u8),
            )
            .finish()
    }
}

/// A stackful coroutine: a function running on its own stack that can
/// suspend itself with a value and be resumed with another.
///
/// ```
/// use spindle_fiber::{Fiber, FiberResult, Suspender};
/// let mut fiber = Fiber::new(|first: u64, s: &Suspender<u64, u64>| -> u64 {
///     let second = s.suspend(first + 1);
///     first + second
/// })?;
/// assert_eq!(fiber.resume(1), FiberResult::Yield(2));
/// assert_eq!(fiber.resume(10), FiberResult::Return(11));
/// # Ok::<(), spindle_fiber::Error>(())
/// ```
///
/// * `I`: the value passed in by each [`resume`](Fiber::resume) (the first one
///   becomes the function's first argument).
/// * `Y`: the value passed out by each [`Suspender::suspend`].
/// * `R`: the function's return value.
/// * `S`: the stack ([`Stack`] by default; anything implementing
///   [`FiberStack`]).
/// * `B`: the switching backend ([`Native`] by default).
///
/// A panic in the fiber propagates out of `resume`. Dropping a suspended
/// fiber unwinds its stack (see [`ForcedUnwind`]). Fibers are neither `Send`
/// nor `Sync`: the stack may hold anything the function created, including
/// thread-bound values.
///
/// # Leaking
///
/// A fiber can always be leaked (`mem::forget`, an `Rc` cycle), and a
/// leaked suspended fiber keeps its frames forever: a `std::thread::scope`
/// suspended inside it never joins its threads. So the safe constructors
/// require that nothing the fiber can reach is borrowed: the function, the
/// resume values and the stack are `'static` (and the stack is owned, see
/// [`FiberStack`]). A fiber that borrows from its creator is made with
/// [`Fiber::scoped`], whose fiber cannot escape the scope, or with the
/// unsafe [`with_stack_unchecked`](Fiber::with_stack_unchecked).
///
/// Not covered: a thread-local borrowed inside `LocalKey::with` lives only
/// as long as its thread. A leaked fiber suspended inside `with`, with a
/// scoped thread borrowing the value, keeps that borrow past the exit of
/// the fiber's thread. Do not leak fibers that suspend inside `with`.
///
/// ```compile_fail
/// use spindle_fiber::{Fiber, Suspender};
/// let data = vec![1u8];
/// // error: the closure borrows `data`, so it is not 'static
/// let fiber = Fiber::new(|(), _: &Suspender<(), ()>| data.len())?;
/// std::mem::forget(fiber);
/// drop(data); // a thread scoped inside the fiber could still be reading it
/// # Ok::<(), spindle_fiber::Error>(())
/// ```
pub struct Fiber<'a, I, Y, R, S: FiberStack = Stack, B: Backend = Native> {
    stack: ManuallyDrop<S>,
    /// The backend's control block at the top of the stack; null once the
    /// stack is leaked (see `leak_and_fail`).
    control: *mut u8,
    /// The backend's resume handle (saved stack pointer for asm); null once
    /// the fiber is finished.
    handle: *mut u8,
    _marker: PhantomData<FiberMarker<'a, I, Y, R, B>>,
}

impl<'a, I, Y, R> Fiber<'a, I, Y, R, Stack, Native> {
    /// A fiber running `f` on a fresh [`Stack`] of
    /// [`DEFAULT_STACK_SIZE`] bytes, with the native backend.
    ///
    /// Nothing runs until the first [`resume`](Fiber::resume), whose value
    /// becomes `f`'s first argument.
    pub fn new<F>(f: F) -> Result<Self, Error>
    where
        F: FnOnce(I, &Suspender<I, Y, Native>) -> R + 'static,
        I: 'static,
    {
        Self::with_stack(Self::native_stack(DEFAULT_STACK_SIZE)?, f)
    }

    /// Like [`new`](Fiber::new) with at least `stack_size` usable bytes.
    pub fn with_stack_size<F>(stack_size: usize, f: F) -> Result<Self, Error>
    where
        F: FnOnce(I, &Suspender<I, Y, Native>) -> R + 'static,
        I: 'static,
    {
        Self::with_stack(Self::native_stack(stack_size)?, f)
    }

    fn native_stack(size: usize) -> Result<Stack, Error> {
        unsupported_check::<Native>()?;
        Stack::new(size)
    }
}

fn unsupported_check<B: Backend>() -> Result<(), Error> {
    if B::KIND == BackendKind::Unsupported {
        return Err(Error::Unsupported {
            what: "stack switching (no assembly backend and no ucontext on this target)",
        });
    }
    Ok(())
}

impl<'a, I, Y, R, S: FiberStack, B: Backend> Fiber<'a, I, Y, R, S, B> {
    /// A fiber running `f` on `stack`, which it owns until
    /// [`into_stack`](Fiber::into_stack) gives it back.
    ///
    /// The backend is chosen by the suspender type of `f`'s second argument:
    /// `&Suspender<I, Y>` for the native one, `&Suspender<I, Y, Ucontext>`
    /// for the portable one.
    ///
    /// Everything the fiber can reach is `'static` (see [Leaking](Fiber#leaking)).
    #[inline]
    pub fn with_stack<F>(stack: S, f: F) -> Result<Self, Error>
    where
        F: FnOnce(I, &Suspender<I, Y, B>) -> R + 'static,
        I: 'static,
        S: 'static,
    {
        let may_leak = stack.owns_memory();
        // SAFETY: nothing the fiber reaches is borrowed, so leaking it
        // invalidates nothing.
        unsafe { Self::make(stack, f, may_leak) }
    }

    /// Like [`with_stack`](Fiber::with_stack) for a fiber that borrows from
    /// its creator (`'a`). Spindle never leaks such a fiber itself: where it
    /// would leak one that cannot be unwound, it aborts.
    ///
    /// # Safety
    ///
    /// The fiber must not be leaked: it must be dropped (or run to the end,
    /// or given to [`into_stack`](Fiber::into_stack)) before anything it
    /// borrows goes away, never `mem::forget`ten or kept in an `Rc` cycle.
    /// [`Fiber::scoped`] is the safe way to get this.
    #[inline]
    pub unsafe fn with_stack_unchecked<F>(stack: S, f: F) -> Result<Self, Error>
    where
        F: FnOnce(I, &Suspender<I, Y, B>) -> R + 'a,
    {
        // SAFETY: the caller promises the fiber is not leaked, and
        // `may_leak = false` keeps Spindle from leaking it.
        unsafe { Self::make(stack, f, false) }
    }

    /// Runs `body` with a fiber that may borrow from its creator (`'a`), and
    /// gives back the stack afterwards. The fiber never leaves this call:
    /// `body` reaches it only through a [`ScopedFiber`], and when `body`
    /// returns or panics the fiber is unwound if it is still suspended (as
    /// [`into_stack`](Fiber::into_stack) does), so nothing it borrows can
    /// outlive the borrow. A fiber that cannot be unwound aborts the process.
    ///
    /// ```
    /// use spindle_fiber::{Fiber, Stack, Suspender};
    /// let words = vec!["a", "b"];
    /// let (seen, _stack) = Fiber::scoped(
    ///     Stack::new(64 * 1024)?,
    ///     |(), s: &Suspender<(), &str>| {
    ///         for w in &words {
    ///             s.suspend(w);
    ///         }
    ///     },
    ///     |fiber| {
    ///         let mut seen = Vec::new();
    ///         while let Some(w) = fiber.resume(()).into_yield() {
    ///             seen.push(w);
    ///         }
    ///         seen
    ///     },
    /// )?;
    /// assert_eq!(seen, ["a", "b"]);
    /// # Ok::<(), spindle_fiber::Error>(())
    /// ```
    pub fn scoped<F, T>(
        stack: S,
        f: F,
        body: impl FnOnce(&mut ScopedFiber<'_, 'a, I, Y, R, S, B>) -> T,
    ) -> Result<(T, S), Error>
    where
        F: FnOnce(I, &Suspender<I, Y, B>) -> R + 'a,
    {
        // SAFETY: the fiber stays in this frame: `body` gets only a
        // ScopedFiber, which cannot move it out, and it is unwound by
        // `into_stack` below or by its Drop if `body` panics, before this
        // call returns, so within 'a.
        let mut fiber = unsafe { Self::with_stack_unchecked(stack, f)? };
        let out = body(&mut ScopedFiber { fiber: &mut fiber });
        Ok((out, fiber.into_stack()))
    }

    /// # Safety
    ///
    /// With `may_leak`, leaking the fiber (and the stack with it) must be
    /// sound: the stack owns its memory and the fiber borrows nothing.
    #[inline(always)]
    unsafe fn make<F>(stack: S, f: F, may_leak: bool) -> Result<Self, Error>
    where
        F: FnOnce(I, &Suspender<I, Y, B>) -> R + 'a,
    {
        unsupported_check::<B>()?;
        overflow::prepare_thread()?;
        let top = stack.top() as usize;
        let limit = stack.limit() as usize;
        if top % 16 != 0 || top <= limit {
            return Err(Error::BadStack {
                reason: "top must be 16-byte aligned and above limit",
            });
        }
        let align = mem::align_of::<Start<F>>().max(16);
        let needed =
            B::CONTROL_SIZE + HEADER_SIZE + mem::size_of::<Start<F>>() + align + MIN_FREE_STACK;
        let control = top - B::CONTROL_SIZE;
        let header = control - HEADER_SIZE;
        let obj = header
            .checked_sub(mem::size_of::<Start<F>>())
            .map(|a| a & !(align - 1))
            .filter(|&obj| obj >= limit && obj - limit >= MIN_FREE_STACK)
            .ok_or(Error::StackTooSmall {
                needed,
                available: top - limit,
            })?;
        // Addresses were computed as integers; the pointers are the
        // stack's own, moved to them (keeping their provenance, which Miri
        // checks).
        let top_ptr = stack.top();
        let (control, obj) = (top_ptr.with_addr(control), top_ptr.with_addr(obj));
        // Before the start object is written: on Windows, init first makes
        // sure the memory down to obj is committed.
        // SAFETY: the arguments satisfy `Backend::init`'s layout contract.
        let handle = unsafe { B::init(control, stack.limit(), obj, entry::<F, I, Y, R, B>) };
        // SAFETY: [limit, top) is ours (FiberStack contract); obj is a
        // suitably aligned slot for Start<F> below the 16-byte header, which
        // lies below the backend's control block.
        unsafe {
            ptr::write(obj as *mut Start<F>, Start { f, top, limit });
            let header = top_ptr.with_addr(header) as *mut *mut u8;
            header.write(drop_start::<F> as *mut u8);
            // obj is 16-aligned: bit 0 is free for "may leak".
            header.add(1).write(obj.map_addr(|a| a | may_leak as usize));
        }
        // Deregistered where the stack is handed back (Drop, into_stack).
        valgrind::register(control, stack.limit(), top_ptr);
        Ok(Fiber {
            stack: ManuallyDrop::new(stack),
            control,
            handle,
            _marker: PhantomData,
        })
    }

    /// Runs the fiber until it suspends or returns.
    ///
    /// The first call starts the function with `input` as its first argument;
    /// later calls make the pending [`Suspender::suspend`] return `input`.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from inside the fiber (the fiber is then finished),
    /// and panics if the fiber already returned or panicked.
    #[inline]
    pub fn resume(&mut self, input: I) -> FiberResult<Y, R> {
        if self.handle.is_null() {
            resume_after_finish();
        }
        let mut msg = MaybeUninit::new(input);
        // SAFETY: the message lives until the fiber has read it.
        let back = unsafe { self.switch_in(msg.as_mut_ptr().cast()) };
        if back as usize & KIND_MASK == Kind::Yield as usize {
            // SAFETY: an untagged message is a Parcel<Y> the fiber will not
            // touch again.
            return FiberResult::Yield(unsafe { ptr::read(back as *const Y) });
        }
        if back as usize & KIND_MASK == Kind::Return as usize {
            self.handle = ptr::null_mut();
            // SAFETY: tag 1 marks the entry function's Parcel<R>.
            return FiberResult::Return(unsafe { ptr::read(back.wrapping_sub(1) as *const R) });
        }
        // A panic: rare, and expensive anyway, so received out of line.
        self.resume_ended(back)
    }

    #[cold]
    #[inline(never)]
    fn resume_ended(&mut self, back: *mut u8) -> ! {
        // SAFETY: `back` is the message the last switch returned.
        match unsafe { self.receive(back) } {
            Received::Panic(payload) => panic::resume_unwind(payload),
            Received::Unwound => panic!(
                "a fiber ended by raising a ForcedUnwind it was not being dropped with (one \
                 caught in another fiber and re-raised here); a ForcedUnwind may only be \
                 re-raised in the fiber that caught it"
            ),
            Received::Yield(_) | Received::Return(_) => {
                unreachable!("fiber ended without returning or panicking")
            }
        }
    }

    /// Whether the function has returned (or panicked).
    pub fn is_finished(&self) -> bool {
        self.handle.is_null()
    }

    /// Whether the function has started running.
    pub fn is_started(&self) -> bool {
        self.handle.is_null() || !self.is_fresh()
    }

    /// Whether the fiber was never resumed. Only meaningful while it is not
    /// finished.
    fn is_fresh(&self) -> bool {
        // SAFETY: an unfinished fiber's header is intact (see HEADER_SIZE);
        // `entry` zeroes the drop function when the fiber starts.
        unsafe {
            !(self.control.sub(HEADER_SIZE) as *const *mut u8)
                .read()
                .is_null()
        }
    }

    /// The stack the fiber runs on.
    pub fn stack(&self) -> &S {
        &self.stack
    }

    /// Gives back the stack for reuse. A suspended fiber is first unwound
    /// (its destructors run), exactly as if it were dropped.
    ///
    /// # Panics
    ///
    /// If the fiber cannot be unwound (see [`ForcedUnwind`]; always the case
    /// for a suspended fiber under `panic = "abort"`, which then aborts).
    #[inline]
    pub fn into_stack(self) -> S {
        // Never dropped: the stack is moved out below, and a panic on the way
        // (a fiber that cannot be unwound, leaked) must not free it.
        let mut this = ManuallyDrop::new(self);
        let pending = this.release();
        if this.control.is_null() {
            panic!(
                "Fiber::into_stack: the suspended fiber could not be unwound, so its stack was leaked"
            );
        }
        // SAFETY: released above, not leaked: the fiber never runs again,
        // so no frame is left on the stack.
        unsafe {
            B::release(this.control);
            asan::unpoison(&*this.stack);
            valgrind::hand_back(this.control, &*this.stack);
        }
        // SAFETY: nothing lives on the stack any more and nothing else will
        // touch it; `this` is never dropped, so the stack is moved out once.
        let stack = unsafe { ManuallyDrop::take(&mut this.stack) };
        if let Some(payload) = pending {
            // The unwind ended in another panic: the stack is free, and is
            // freed before the panic goes on.
            drop(stack);
            panic::resume_unwind(payload);
        }
        stack
    }

    /// # Safety
    ///
    /// `msg` must point at an `I` that stays valid until the fiber has read
    /// it (i.e. until this call returns), or be null to make a suspended
    /// fiber unwind.
    #[inline(always)]
    unsafe fn switch_in(&mut self, msg: *mut u8) -> *mut u8 {
        // A registered guard (Spindle's `Stack`) is known to the handler
        // already, and the check folds away; other stacks are tracked only
        // once the handler is installed.
        if self.stack.guard_registered() || !overflow::installed() {
            // SAFETY: the fiber is not finished (checked by callers), so
            // control/handle are a valid resume target.
            return unsafe { self.raw_resume(msg) };
        }
        self.switch_in_tracked(msg)
    }

    /// The backend's switch into the fiber, announced to AddressSanitizer
    /// when it is on.
    ///
    /// # Safety
    ///
    /// As `Backend::resume` for this fiber's control block and handle.
    #[inline(always)]
    unsafe fn raw_resume(&mut self, msg: *mut u8) -> *mut u8 {
        let (control, handle) = (self.control, &mut self.handle);
        // SAFETY: forwarded from our caller; the switch runs the fiber on
        // its own stack and returns when it comes back.
        unsafe { asan::resume(&*self.stack, || B::resume(control, handle, msg)) }
    }

    #[inline(never)]
    fn switch_in_tracked(&mut self, msg: *mut u8) -> *mut u8 {
        let guard = self.stack.guard_range();
        let previous = overflow::enter(guard.start as usize, guard.end as usize);
        // SAFETY: as in `switch_in`, whose contract our caller upholds.
        let back = unsafe { self.raw_resume(msg) };
        overflow::leave(previous);
        back
    }

    /// Takes delivery of a message from the fiber, marking the fiber
    /// finished unless it yielded.
    ///
    /// # Safety
    ///
    /// `back` is the message pointer a switch into this fiber returned.
    unsafe fn receive(&mut self, back: *mut u8) -> Received<Y, R> {
        let (kind, parcel) = unpack(back);
        if kind != Kind::Yield {
            self.handle = ptr::null_mut();
        }
        // SAFETY: the kind names the parcel's type; the sender never touches
        // it again.
        unsafe {
            match kind {
                Kind::Yield => Received::Yield(ptr::read(parcel as *const Y)),
                Kind::Return => Received::Return(ptr::read(parcel as *const R)),
                Kind::Panic => Received::Panic(ptr::read(parcel as *const PanicPayload)),
                Kind::Unwound => Received::Unwound,
            }
        }
    }

    /// Brings the fiber to a state where its stack holds nothing alive:
    /// drops a never-started function, unwinds a suspended one.
    ///
    /// If that is impossible (the fiber swallowed its forced unwind, or the
    /// crate is built with `panic = "abort"`) and the fiber may be leaked
    /// (`may_leak`), the stack is leaked — never freed or reused, so nothing
    /// on it is invalidated — and this panics (or aborts if the thread is
    /// already panicking; under `panic = "abort"` it just leaks). If it may
    /// not, this aborts.
    ///
    /// Returns the payload of a panic that ended the unwind instead (the
    /// fiber turned its `ForcedUnwind` into another panic): the stack is
    /// free then, and the caller frees it before re-raising the panic.
    #[must_use]
    fn release(&mut self) -> Option<PanicPayload> {
        if self.handle.is_null() {
            return None; // finished or leaked
        }
        if self.is_fresh() {
            self.handle = ptr::null_mut();
            // SAFETY: `with_stack` wrote the header below the control
            // block: the start object's drop function and address; a
            // fresh fiber's start object was never read.
            unsafe {
                let header = self.control.sub(HEADER_SIZE) as *const *mut u8;
                let drop_start: unsafe fn(*mut u8) = mem::transmute(header.read());
                drop_start(header.add(1).read().map_addr(|a| a & !1));
            }
            None
        } else {
            self.force_unwind()
        }
    }

    #[cfg(panic = "unwind")]
    fn force_unwind(&mut self) -> Option<PanicPayload> {
        // SAFETY: the fiber is suspended; a null message means "unwind".
        let back = unsafe { self.switch_in(ptr::null_mut()) };
        // SAFETY: as in `resume`.
        match unsafe { self.receive(back) } {
            Received::Unwound | Received::Return(_) => None,
            // The fiber turned its ForcedUnwind into another panic (it
            // caught it and panicked; a destructor that panics during the
            // unwind aborts inside the fiber, as anywhere); the fiber is
            // finished and its stack is free. The caller re-raises it, even
            // if the thread is panicking: the count is shared with fibers
            // suspended mid-unwind, so it does not say whether the parent
            // is. A parent that really is unwinding then aborts, exactly as
            // for any value whose destructor panics during unwinding.
            Received::Panic(payload) => Some(payload),
            Received::Yield(_) => self.leak_and_fail(
                "a fiber caught its ForcedUnwind and suspended again, so it cannot be unwound",
                "Code that catches panics inside a fiber must re-raise \
                 spindle_fiber::ForcedUnwind",
            ),
        }
    }

    #[cfg(not(panic = "unwind"))]
    fn force_unwind(&mut self) -> Option<PanicPayload> {
        // Without unwinding, the frames on the stack can never be destroyed;
        // leaking the stack is the only sound way to let go of the fiber,
        // and where even that is unsound, stopping the process.
        if !self.may_leak() {
            abort_with(
                "spindle-fiber: a suspended fiber was dropped under panic = \"abort\", so its \
                 frames cannot be unwound, and it may not be leaked (its stack is not owned \
                 by it, or it borrows from its creator); aborting",
            );
        }
        self.leak();
        None
    }

    /// Whether leaking this (unfinished) fiber is sound: bit 0 of the start
    /// object's address in the header, set by `make`.
    fn may_leak(&self) -> bool {
        // SAFETY: an unfinished fiber's header is intact (see HEADER_SIZE).
        unsafe {
            (self.control.sub(HEADER_SIZE) as *const *mut u8)
                .add(1)
                .read()
                .addr()
                & 1
                != 0
        }
    }

    /// From now on the stack is never freed, even by `into_stack`'s caller:
    /// a null control block tells Drop and into_stack to keep their hands
    /// off.
    fn leak(&mut self) {
        self.handle = ptr::null_mut();
        self.control = ptr::null_mut();
    }

    fn leak_and_fail(&mut self, what: &str, advice: &str) -> ! {
        if !self.may_leak() {
            abort_with(&format!(
                "spindle-fiber: {what}, and it may not be leaked (its stack is not owned by \
                 it, or it borrows from its creator); aborting. {advice}"
            ));
        }
        self.leak();
        // Not decided by `thread::panicking()`, which is also true while
        // some fiber is suspended mid-unwind: if the parent is unwinding,
        // Rust aborts this panic out of a destructor by itself.
        panic!("{what}; its stack has been leaked. {advice}");
    }
}

/// The fiber of a [`Fiber::scoped`] call: everything a fiber does except
/// leave the scope (it cannot be moved out, so it cannot be leaked).
pub struct ScopedFiber<'s, 'a, I, Y, R, S: FiberStack = Stack, B: Backend = Native> {
    fiber: &'s mut Fiber<'a, I, Y, R, S, B>,
}

impl<I, Y, R, S: FiberStack, B: Backend> ScopedFiber<'_, '_, I, Y, R, S, B> {
    /// See [`Fiber::resume`].
    #[inline]
    pub fn resume(&mut self, input: I) -> FiberResult<Y, R> {
        self.fiber.resume(input)
    }

    /// See [`Fiber::is_finished`].
    pub fn is_finished(&self) -> bool {
        self.fiber.is_finished()
    }

    /// See [`Fiber::is_started`].
    pub fn is_started(&self) -> bool {
        self.fiber.is_started()
    }

    /// See [`Fiber::stack`].
    pub fn stack(&self) -> &S {
        self.fiber.stack()
    }
}

impl<I, Y, R, S: FiberStack, B: Backend> core::fmt::Debug for ScopedFiber<'_, '_, I, Y, R, S, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.fiber.fmt(f)
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn resume_after_finish() -> ! {
    panic!("Fiber::resume called on a fiber that has already returned or panicked");
}

/// Bytes generic code keeps between the backend's control block and the
/// start object: the start object's drop function and its address, read only
/// to drop a fiber that never started (so `Fiber` itself stays small).
///
/// ```text
///        top ──► +----------------------+
///                | backend control block|  Backend::CONTROL_SIZE bytes
///    control ──► +----------------------+
///                | start obj address    |  control - 8 (bit 0: may leak)
///                | start obj drop fn    |  control - 16
///                +----------------------+
///                ~ Start<F>             ~  aligned to max(16, align of F)
///        obj ──► +----------------------+
///                ~ the fiber's frames   ~  down to limit
/// ```
const HEADER_SIZE: usize = 16;

enum Received<Y, R> {
    Yield(Y),
    Return(R),
    Panic(PanicPayload),
    Unwound,
}

impl<I, Y, R, S: FiberStack, B: Backend> Drop for Fiber<'_, I, Y, R, S, B> {
    fn drop(&mut self) {
        let pending = self.release();
        if !self.control.is_null() {
            // SAFETY: release() returned without leaking, so nothing lives on
            // the stack and the fiber never runs again; the stack is dropped
            // exactly once, here.
            unsafe {
                B::release(self.control);
                asan::unpoison(&*self.stack);
                valgrind::hand_back(self.control, &*self.stack);
                ManuallyDrop::drop(&mut self.stack)
            };
        }
        if let Some(payload) = pending {
            panic::resume_unwind(payload);
        }
    }
}

impl<I, Y, R, S: FiberStack, B: Backend> core::fmt::Debug for Fiber<'_, I, Y, R, S, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fiber")
            .field(
                "state",
                &match (self.is_finished(), self.is_started()) {
                    (true, _) => "finished",
                    (false, true) => "suspended",
                    (false, false) => "fresh",
                },
            )
            .field("backend", &B::KIND)
            .field("stack", &(self.stack.limit()..self.stack.top()))
            .finish()
    }
}

unsafe fn drop_start<F>(obj: *mut u8) {
    // SAFETY: the caller passes the never-read start object of type Start<F>.
    unsafe { ptr::drop_in_place(obj as *mut Start<F>) }
}

/// The first Rust code on a fiber's stack (entered from the backend).
#[cfg(not(miri))]
unsafe extern "C" fn entry<F, I, Y, R, B>(msg: *mut u8, control: *mut u8, obj: *mut u8) -> !
where
    F: FnOnce(I, &Suspender<I, Y, B>) -> R,
    B: Backend,
{
    // SAFETY: forwarded from the backend.
    unsafe { run::<F, I, Y, R, B>(msg, control, obj) }
}

/// The same under Miri, whose backend ends a finished fiber's thread by
/// unwinding out of it (backend/miri_threads.rs).
#[cfg(miri)]
unsafe extern "C-unwind" fn entry<F, I, Y, R, B>(msg: *mut u8, control: *mut u8, obj: *mut u8) -> !
where
    F: FnOnce(I, &Suspender<I, Y, B>) -> R,
    B: Backend,
{
    // SAFETY: forwarded from the backend.
    unsafe { run::<F, I, Y, R, B>(msg, control, obj) }
}

/// The body of `entry`, inlined into it: one frame, entered by a jump (see
/// `finish`), and the one ASan lays out on the real stack (asan.rs).
///
/// # Safety
///
/// Called once per fiber, as `entry`, by its backend.
#[inline(always)]
unsafe fn run<F, I, Y, R, B>(msg: *mut u8, control: *mut u8, obj: *mut u8) -> !
where
    F: FnOnce(I, &Suspender<I, Y, B>) -> R,
    B: Backend,
{
    // SAFETY: the first thing on a fresh fiber: this completes the parent's
    // switch into it (`Fiber::raw_resume`).
    let parent = unsafe { asan::Parent::entered() };
    // SAFETY: `with_stack` wrote a Start<F> at obj, read exactly once, here;
    // zeroing the drop function in the header (below the control block)
    // tells the parent that it is gone (`Fiber::is_fresh`).
    let start = unsafe {
        let start = ptr::read(obj as *mut Start<F>);
        (control.sub(HEADER_SIZE) as *mut *mut u8).write(ptr::null_mut());
        start
    };
    let suspender = Suspender::<I, Y, B> {
        control,
        limit: start.limit,
        size: start.top - start.limit,
        parent,
        _marker: PhantomData,
    };
    let f = start.f;
    let outcome = if msg.is_null() {
        // Never sent to a fresh fiber (its start object is dropped instead).
        Err(Box::new(ForcedUnwind { _private: () }) as PanicPayload)
    } else {
        // SAFETY: the first resume passed a live `I`, read exactly once.
        let input = unsafe { ptr::read(msg as *mut I) };
        panic::catch_unwind(AssertUnwindSafe(|| f(input, &suspender)))
    };
    // Each arm hands the parent a Parcel<T> for its own T and never comes
    // back: a finished fiber is not resumed again.
    let parent = &suspender.parent;
    match outcome {
        Ok(value) => finish::<R, B>(control, parent, Kind::Return, value),
        Err(payload) if payload.is::<ForcedUnwind>() => {
            finish::<(), B>(control, parent, Kind::Unwound, ())
        }
        Err(payload) => finish::<PanicPayload, B>(control, parent, Kind::Panic, payload),
    }
}

/// The fiber's last switch. Always inlined into `entry`, which was entered
/// by a jump: a `call` here would leave a return address on the CPU's
/// return-stack buffer that the switch's `ret` would then mispredict.
///
/// Under AddressSanitizer the parcel must not be on the fiber's fake stack,
/// which `exit` frees before the parent reads it (and checks): inlined, it
/// is in `entry`'s frame, which ASan lays out on the real stack (asan.rs).
#[inline(always)]
fn finish<T, B: Backend>(control: *mut u8, parent: &asan::Parent, kind: Kind, value: T) -> ! {
    let mut out = Parcel(MaybeUninit::new(value));
    let msg = ptr::addr_of_mut!(out)
        .cast::<u8>()
        .wrapping_add(kind as usize);
    // SAFETY: we are the running fiber of `control`, and `parent` is its
    // own; this is its last switch. Nothing on this stack needs dropping
    // any more: the parcel's value is moved out by the parent.
    unsafe {
        parent.exit(msg);
        B::suspend(control, msg)
    };
    abort_with("spindle-fiber: a finished fiber was resumed")
}
