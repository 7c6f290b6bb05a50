//! The one implementation of every Spindle drop-in for
//! `wasmtime-internal-fiber`: `FiberStack`, `Fiber`, `Suspend` and
//! `RuntimeFiberStack` on spindle-fiber, generic over [`Api`], what one
//! epoch of the original crate's public API says (its error types, and
//! whether `Fiber::new` hands the stack back on failure).
//!
//! A drop-in is a thin crate named `wasmtime-internal-fiber`, with the
//! version, features and dependencies of the release it replaces, whose
//! root implements [`Api`] for its epoch and names these types with the
//! original's paths (`pub type FiberStack = FiberStack<Epoch>`, ...).
//! `spindle patch` writes that crate from its table of releases; the
//! drop-ins in Spindle's repository (`fiber/wasmtime-compat*`) are outputs
//! of the same generator. This crate is not meant to be used directly.
//!
//! # The contract kept
//!
//! * [`Fiber::resume`] returns `Ok(value)` when the function returned and
//!   `Err(value)` when it suspended with `value`.
//! * A panic inside the fiber propagates out of `resume`, after which the
//!   fiber counts as [`done`](Fiber::done).
//! * Dropping a fiber never unwinds it. wasmtime only drops fibers that are
//!   finished (it first resumes an unfinished one with a cancellation).
//! * [`FiberStack::top`], [`FiberStack::range`] and
//!   [`FiberStack::guard_range`] report the same addresses as the original
//!   for all three kinds of stack (mapped, raw parts, custom), because
//!   wasmtime's pooling allocator finds a stack's slot from `top()` and its
//!   signal handler reports a fault inside `guard_range()` as a stack
//!   overflow.
//!
//! # Differences
//!
//! * Stacks from [`FiberStack::new`] are at least 16 KiB (Spindle's
//!   minimum); the original rounds up to one page.
//! * A fiber dropped before it ever ran drops its function (the original
//!   leaks it).
//! * Stricter than the original: dropping a *suspended* fiber aborts the
//!   process (the original abandons its frames and frees its stack under
//!   them), and a [`Suspend`] used outside its own fiber (for example after
//!   `mem::swap` with a nested fiber's) panics (the original switches to
//!   whatever that `Suspend` points at). Like the original, `Fiber::new`
//!   takes a non-`'static` closure, so leaking a suspended fiber with
//!   `mem::forget` while other threads borrow its frames is the caller's to
//!   avoid.
//! * The `custom` feature changes nothing: Spindle picks its own switch for
//!   the target. `std` changes nothing either: this crate always uses `std`.
//! * Under `-Zsanitizer=address` the switches are announced to ASan by
//!   spindle-fiber itself; unlike the original, stacks are not kept mapped
//!   forever then, and `from_raw_parts` memory is used as given
//!   (`fiber/wasmtime-compat/README.md`).

#![warn(missing_docs)]

use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop};
use core::ops::Range;

use spindle_fiber::{FiberResult, FiberStack as _, Suspender};

#[doc(hidden)]
pub use spindle_fiber;

/// What one epoch of `wasmtime-internal-fiber`'s public API says: the
/// error of `FiberStack`'s constructors, and what `Fiber::new` returns on
/// failure. Implemented by each drop-in's crate root for a type of its own
/// (the error types are the original's, some from the exact
/// `wasmtime-environ` release, which only the drop-in names).
pub trait Api: Sized + 'static {
    /// The error of `FiberStack::new`, `from_raw_parts` and `from_custom`
    /// (the original's `Result` default).
    type Error;
    /// What `Fiber::new` fails with: the bare error, or (since 47) the
    /// error with the stack handed back.
    type NewError;
    /// Whether `Fiber::new` hands the stack back with its error (since 47).
    const HANDS_STACK_BACK: bool;
    /// An error of spindle-fiber's as this epoch's error.
    fn error<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self::Error;
    /// An operating-system error as this epoch's error.
    fn io_error(e: std::io::Error) -> Self::Error;
    /// `Fiber::new` failed with `e` on `stack`: this epoch's failure (the
    /// stack handed back, or dropped as the original does).
    fn new_failed(e: Self::Error, stack: FiberStack<Self>) -> Self::NewError;
    /// The OS error code inside an error, if any (for the shared tests).
    fn raw_os_error(e: &Self::Error) -> Option<i32>;
    /// `Fiber::new`'s error and the stack it hands back, if it does (for the
    /// shared tests).
    fn split_new_error(e: Self::NewError) -> (Self::Error, Option<FiberStack<Self>>);
}

/// Memory a [`Fiber`] runs on.
///
/// Made by mapping it ([`new`](FiberStack::new)), from memory owned by the
/// caller ([`from_raw_parts`](FiberStack::from_raw_parts), as wasmtime's
/// pooling allocator does), or from a [`RuntimeFiberStack`]
/// ([`from_custom`](FiberStack::from_custom), for
/// `wasmtime::Config::with_host_stack`'s stack creators).
pub struct FiberStack<A: Api> {
    /// Lowest usable byte.
    limit: *mut u8,
    /// Usable bytes above `limit`.
    len: usize,
    storage: Storage,
    api: PhantomData<fn() -> A>,
}

enum Storage {
    /// Spindle's own mmap stack (one guard page below `limit`).
    Mapped(spindle_fiber::Stack),
    /// Someone else's memory: `guard_size` inaccessible bytes below `limit`.
    Raw { guard_size: usize },
    /// An embedder's stack, kept alive here.
    Custom(Box<dyn RuntimeFiberStack>),
}

// SAFETY: a FiberStack is a description of memory plus, at most, the value
// that owns it; `Stack` and `Box<dyn RuntimeFiberStack>` are Send + Sync, and
// the raw pointers are only ever read as addresses.
unsafe impl<A: Api> Send for FiberStack<A> {}
// SAFETY: as above; `&FiberStack` exposes addresses only.
unsafe impl<A: Api> Sync for FiberStack<A> {}

impl<A: Api> core::fmt::Debug for FiberStack<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FiberStack").finish_non_exhaustive()
    }
}

#[cfg(unix)]
#[doc(hidden)]
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

#[cfg(not(unix))]
#[doc(hidden)]
pub fn page_size() -> usize {
    4096
}

/// `addr` is a multiple of `page` (a power of two). Written as a mask, not
/// `is_multiple_of`, which is newer (1.87) than the 36.x drop-in's rustc.
fn is_aligned(addr: usize, page: usize) -> bool {
    addr & (page - 1) == 0
}

/// On spindle-fiber's Win32 Fibers backend a fiber always runs on a stack
/// Windows allocates (`CreateFiberEx` cannot use caller memory), so a custom
/// or raw-parts stack would be silently ignored. Refused instead, with the
/// error wasmtime's own Windows fiber gives for both (ERROR_NOT_SUPPORTED).
fn refuse_caller_memory_on_win32_fibers<A: Api>() -> Result<(), A::Error> {
    #[cfg(windows)]
    if spindle_fiber::backend() == spindle_fiber::BackendKind::WindowsFibers {
        const ERROR_NOT_SUPPORTED: i32 = 50;
        return Err(A::io_error(std::io::Error::from_raw_os_error(
            ERROR_NOT_SUPPORTED,
        )));
    }
    Ok(())
}

impl<A: Api> FiberStack<A> {
    /// Maps a stack of at least `size` usable bytes above a guard page.
    ///
    /// Fresh mappings are always zero, so `zeroed` needs no extra work.
    pub fn new(size: usize, zeroed: bool) -> Result<Self, A::Error> {
        let _ = zeroed;
        let stack = spindle_fiber::Stack::new(size).map_err(A::error)?;
        Ok(FiberStack {
            limit: stack.limit(),
            len: stack.size(),
            storage: Storage::Mapped(stack),
            api: PhantomData,
        })
    }

    /// Uses a stack an embedder made through the drop-in's
    /// `RuntimeFiberStackCreator` (wasmtime's `StackCreator`).
    ///
    /// The usable part is `custom.range()`; like the original, the top of the
    /// stack is the end of that range.
    ///
    /// # Panics
    ///
    /// If either end of `custom.range()` is not page aligned (as the
    /// original).
    pub fn from_custom(custom: Box<dyn RuntimeFiberStack>) -> Result<Self, A::Error> {
        refuse_caller_memory_on_win32_fibers::<A>()?;
        let range = custom.range();
        let page = page_size();
        assert!(
            is_aligned(range.start, page),
            "expected fiber stack base ({:#x}) to be page aligned ({page:#x})",
            range.start
        );
        assert!(
            is_aligned(range.end, page),
            "expected fiber stack end ({:#x}) to be page aligned ({page:#x})",
            range.end
        );
        Ok(FiberStack {
            limit: range.start as *mut u8,
            len: range.len(),
            storage: Storage::Custom(custom),
            api: PhantomData,
        })
    }

    /// Describes memory the caller owns: `guard_size` inaccessible bytes
    /// from `bottom`, then `len` usable bytes.
    ///
    /// # Safety
    ///
    /// `[bottom, bottom + guard_size)` must be inaccessible and
    /// `[bottom + guard_size, bottom + guard_size + len)` readable, writable
    /// and used by nothing else, for as long as this stack (or a fiber on it)
    /// lives. The caller frees the memory.
    pub unsafe fn from_raw_parts(
        bottom: *mut u8,
        guard_size: usize,
        len: usize,
    ) -> Result<Self, A::Error> {
        refuse_caller_memory_on_win32_fibers::<A>()?;
        Ok(FiberStack {
            limit: bottom.wrapping_add(guard_size),
            len,
            storage: Storage::Raw { guard_size },
            api: PhantomData,
        })
    }

    /// One past the highest usable byte (the stack grows down from here).
    /// Always `Some`.
    pub fn top(&self) -> Option<*mut u8> {
        Some(self.limit.wrapping_add(self.len))
    }

    /// The usable memory as addresses. Always `Some`.
    pub fn range(&self) -> Option<Range<usize>> {
        let start = self.limit as usize;
        Some(start..start + self.len)
    }

    /// Whether this stack was made by
    /// [`from_raw_parts`](FiberStack::from_raw_parts), i.e. its memory is
    /// managed by whoever made it.
    pub fn is_from_raw_parts(&self) -> bool {
        matches!(self.storage, Storage::Raw { .. })
    }

    /// The guard region below the stack. Always `Some`; for a custom stack it
    /// is whatever the [`RuntimeFiberStack`] reports.
    pub fn guard_range(&self) -> Option<Range<*mut u8>> {
        Some(match &self.storage {
            Storage::Mapped(stack) => stack.guard_range(),
            Storage::Raw { guard_size } => self.limit.wrapping_sub(*guard_size)..self.limit,
            Storage::Custom(custom) => custom.guard_range(),
        })
    }

    /// What Spindle's fiber runs on: the same addresses, owning nothing.
    fn view(&self) -> StackView {
        StackView {
            top: self.limit.wrapping_add(self.len),
            limit: self.limit,
            guard: self.guard_range().unwrap_or(self.limit..self.limit),
        }
    }
}

/// Borrowed addresses of a [`FiberStack`], handed to `spindle_fiber::Fiber`
/// so that the [`Fiber`] itself keeps owning the stack (wasmtime reads
/// `Fiber::stack()` between resumes).
struct StackView {
    top: *mut u8,
    limit: *mut u8,
    guard: Range<*mut u8>,
}

// SAFETY: a view is only made by `Fiber::new` from the `FiberStack` that the
// same `Fiber` owns, and that stack outlives the spindle fiber (it is dropped
// after it, or taken by `into_stack` only once the fiber is done). Each kind
// of FiberStack promises `[limit, top)` is usable memory: a mapping we made,
// the `from_raw_parts` caller's promise, or the `RuntimeFiberStack` contract.
// The addresses never change. Spindle checks the 16-byte alignment of `top`
// itself and refuses the stack otherwise.
unsafe impl spindle_fiber::FiberStack for StackView {
    fn top(&self) -> *mut u8 {
        self.top
    }
    fn limit(&self) -> *mut u8 {
        self.limit
    }
    fn guard_range(&self) -> Range<*mut u8> {
        self.guard.clone()
    }
}

/// A stack in memory an embedder owns.
///
/// # Safety
///
/// `range()` must be page-aligned, readable and writable memory used by
/// nothing else while the stack lives, and every method must return the
/// same values each time.
pub unsafe trait RuntimeFiberStack: Send + Sync {
    /// The top of the stack. (Like the original, this crate runs fibers
    /// from `range().end` and does not call this.)
    fn top(&self) -> *mut u8;
    /// The usable part, without guard pages.
    fn range(&self) -> Range<usize>;
    /// The guard pages, or an empty range.
    fn guard_range(&self) -> Range<*mut u8>;
}

type Inner<'a, Resume, Yield, Return> =
    spindle_fiber::Fiber<'a, Resume, Yield, Return, StackView, spindle_fiber::Native>;

/// A function running on its own [`FiberStack`], which can
/// [`suspend`](Suspend::suspend) with a `Yield` and is resumed with a
/// `Resume`, until it returns a `Return`.
pub struct Fiber<'a, Resume, Yield, Return, A: Api> {
    /// Released first in `Drop` (finished; a suspended one aborts the process).
    inner: ManuallyDrop<UnsafeCell<Inner<'a, Resume, Yield, Return>>>,
    /// Owned here rather than by `inner`, so that `stack()` never touches
    /// `inner`; freed after it. `None` only inside `into_stack`.
    stack: Option<FiberStack<A>>,
    /// True once the function returned or panicked, and also while a
    /// `resume` is running (so that a re-entrant resume is refused before it
    /// can touch `inner`).
    done: Cell<bool>,
    /// This fiber's number, which its `Suspend` carries too.
    id: u64,
}

/// Given to a fiber's function; lets it suspend the fiber.
///
/// Every `Suspend` has the same type, so safe code can swap two of them
/// (`mem::swap(inner_s, outer_s)` with a nested fiber's); each one stays
/// bound to its own fiber, and using it on any other is a clear panic.
pub struct Suspend<Resume, Yield, Return> {
    /// The spindle suspender on the fiber's first frame. Only dereferenced
    /// once `id` is found to be the running fiber's, which means this value
    /// is that fiber's own `Suspend` and the frame is alive.
    inner: *const Suspender<Resume, Yield>,
    /// The number of the fiber `inner` belongs to.
    id: u64,
    _phantom: PhantomData<(Resume, Yield, Return)>,
}

/// Which compat fiber runs on this thread: its number, or 0 outside all
/// of them. Set by `resume` around each switch into a fiber and restored
/// after it (even if the fiber panics), so nested fibers and fibers resumed
/// on another thread than before (wasmtime moves futures) see the right
/// one. Read only through these `#[inline(never)]` functions: a fiber that
/// moved to another thread must not reuse a thread-local address computed
/// before it suspended.
mod running {
    use core::cell::Cell;

    thread_local! {
        static RUNNING: Cell<u64> = const { Cell::new(0) };
    }

    #[inline(never)]
    pub(crate) fn get() -> u64 {
        RUNNING.with(Cell::get)
    }

    #[inline(never)]
    pub(crate) fn replace(id: u64) -> u64 {
        RUNNING.with(|r| r.replace(id))
    }

    /// Puts the previous number back when the switch returns or unwinds.
    pub(crate) struct Restore(pub(crate) u64);

    impl Drop for Restore {
        fn drop(&mut self) {
            replace(self.0);
        }
    }

    /// A number no other fiber of this process has had.
    pub(crate) fn fresh_id() -> u64 {
        use core::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
}

impl<'a, Resume, Yield, Return, A: Api> Fiber<'a, Resume, Yield, Return, A> {
    /// A fiber that will run `func` on `stack` from its first
    /// [`resume`](Fiber::resume), whose value becomes `func`'s first
    /// argument.
    ///
    /// The error is the original's for this epoch ([`Api::NewError`]): since
    /// 47 it hands the stack back so that its owner can free it.
    pub fn new(
        stack: FiberStack<A>,
        func: impl FnOnce(Resume, &mut Suspend<Resume, Yield, Return>) -> Return + 'a,
    ) -> Result<Self, A::NewError> {
        let id = running::fresh_id();
        let entry = move |first: Resume, suspender: &Suspender<Resume, Yield>| {
            let mut suspend = Suspend {
                inner: suspender,
                id,
                _phantom: PhantomData,
            };
            func(first, &mut suspend)
        };
        // SAFETY: the spindle fiber never outlives this `Fiber`, which owns
        // it: `Drop` finishes with it (see there). Leaking this `Fiber`
        // itself is the caller's to avoid, as with the original, whose
        // `Fiber::new` takes a non-`'static` closure too (README).
        match unsafe { Inner::with_stack_unchecked(stack.view(), entry) } {
            Ok(inner) => Ok(Fiber {
                inner: ManuallyDrop::new(UnsafeCell::new(inner)),
                stack: Some(stack),
                done: Cell::new(false),
                id,
            }),
            Err(e) => Err(A::new_failed(A::error(e), stack)),
        }
    }

    /// Runs the fiber until it suspends (`Err(yielded)`) or returns
    /// (`Ok(returned)`).
    ///
    /// # Panics
    ///
    /// If the fiber is done, or is already running. A panic inside the fiber
    /// propagates out of this call, and the fiber is then done.
    pub fn resume(&self, val: Resume) -> Result<Return, Yield> {
        assert!(!self.done.replace(true), "cannot resume a finished fiber");
        // SAFETY: `done` was false and is now true until this fiber suspends,
        // so no other `resume` (a re-entrant one from inside the fiber; the
        // type is not Sync) gets past the assert above while this `&mut`
        // lives, and nothing else touches `inner` except `Drop`/`into_stack`,
        // which need the fiber by value.
        let inner = unsafe { &mut *self.inner.get() };
        let _restore = running::Restore(running::replace(self.id));
        match inner.resume(val) {
            FiberResult::Yield(y) => {
                self.done.set(false);
                Err(y)
            }
            FiberResult::Return(r) => Ok(r),
        }
    }

    /// Whether the function has returned or panicked.
    pub fn done(&self) -> bool {
        self.done.get()
    }

    /// The stack this fiber runs on.
    pub fn stack(&self) -> &FiberStack<A> {
        self.stack.as_ref().unwrap()
    }

    /// The stack back, once the fiber is done.
    ///
    /// # Panics
    ///
    /// If the fiber is not done; a suspended one then aborts the process as
    /// it is dropped (see `Drop`).
    pub fn into_stack(mut self) -> FiberStack<A> {
        assert!(self.done());
        self.stack.take().unwrap()
    }
}

impl<Resume, Yield, Return> Suspend<Resume, Yield, Return> {
    /// Suspends the running fiber: its `resume` returns `Err(value)`, and
    /// this call returns the value of the next `resume`.
    ///
    /// # Panics
    ///
    /// If called anywhere but in this `Suspend`'s own fiber (from the
    /// parent, from another fiber, or after being swapped into another
    /// fiber's function). wasmtime's own crate does not check this.
    pub fn suspend(&mut self, value: Yield) -> Resume {
        if running::get() != self.id {
            suspend_outside_own_fiber();
        }
        // SAFETY: the running fiber is this Suspend's own (checked above;
        // numbers are never reused), so we are on its stack, below its
        // entry frame, where `inner` points.
        let suspender = unsafe { &*self.inner };
        suspender.suspend(value)
    }
}

#[cold]
#[inline(never)]
fn suspend_outside_own_fiber() -> ! {
    panic!(
        "wasmtime_internal_fiber::Suspend::suspend called outside its own fiber (from the \
         parent, another fiber, or after being swapped with another fiber's Suspend); a \
         Suspend can only suspend the fiber it was given to"
    );
}

#[cold]
fn spindle_abort(message: &str) -> ! {
    eprintln!("{message}");
    std::process::abort()
}

impl<Resume, Yield, Return, A: Api> Drop for Fiber<'_, Resume, Yield, Return, A> {
    fn drop(&mut self) {
        // SAFETY: `inner` is taken exactly once, here.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) }.into_inner();
        if inner.is_started() && !inner.is_finished() {
            // Suspended: its frames can be neither unwound (they may be wasm
            // frames, and wasmtime never asks for it) nor abandoned. The
            // original abandons them and frees the stack, but other threads
            // may still borrow those frames (a `std::thread::scope` in a
            // host function), or data they borrow from the caller ('a);
            // leaking the stack would save the former, not the latter. So
            // stop here. wasmtime never gets here: it finishes every fiber
            // before dropping it (`StoreFiber::dispose`), and asserts so.
            mem::forget(inner);
            spindle_abort(
                "wasmtime_internal_fiber: a suspended fiber was dropped; its frames can be \
                 neither unwound nor safely abandoned, aborting (finish a fiber before \
                 dropping it, as wasmtime does)",
            );
        } else {
            // Finished, or never started (its function is dropped).
            drop(inner);
        }
        // The original asserts this too; not while already panicking (as
        // when `into_stack` refused an unfinished fiber), where it would
        // abort the process.
        if !std::thread::panicking() {
            debug_assert!(self.done.get(), "fiber dropped without finishing");
        }
    }
}
