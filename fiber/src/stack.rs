//! Fiber stacks: the [`FiberStack`] trait, Spindle's own mmap-backed
//! [`Stack`], [`RawStack`] for memory owned by someone else, and
//! [`StackPool`] so that creating a fiber needs no system call.

use core::ops::Range;
use core::ptr::NonNull;

use crate::Error;

#[cfg(windows)]
pub(crate) mod windows;

/// Smallest stack `Stack::new` maps, and the least room a fiber must have
/// below its start object.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// Default usable size of a [`Stack`] made by `Fiber::new`: 256 KiB.
///
/// Pages are only committed when touched, so a generous default costs address
/// space, not memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Memory a fiber can run on.
///
/// The fiber uses `[limit, top)`, growing down from `top`. Implement this for
/// stacks that come from elsewhere (a pooling allocator, a runtime's own
/// stack cache); Spindle's [`Stack`] and [`RawStack`] implement it.
///
/// A fiber's frames live in this memory, and other threads may hold
/// references into it (a `std::thread::scope` inside the fiber), so the
/// memory must stay valid until the *value* is dropped, not merely until
/// some borrow ends. That is why there is no implementation for `&mut T`: a
/// leaked fiber (`mem::forget`) would end the borrow while its frames are
/// still live, and the stack could be reused or unmapped under them. Box
/// your stack or hand it over by value; [`Fiber::into_stack`] gives it back.
///
/// ```compile_fail
/// use spindle_fiber::{Fiber, Stack, Suspender};
/// let mut stack = Stack::new(64 * 1024)?;
/// // error: `&mut Stack` is not a FiberStack
/// let fiber = Fiber::with_stack(&mut stack, |(), _: &Suspender<(), ()>| {})?;
/// std::mem::forget(fiber); // would end the borrow with the frames still live
/// # Ok::<(), spindle_fiber::Error>(())
/// ```
///
/// # Safety
///
/// Until the value is dropped (and forever if it is leaked, as it is with a
/// leaked fiber):
/// - `[limit(), top())` is readable and writable memory used by nothing else,
///   at least 4 KiB long, and `top()` is 16-byte aligned;
/// - `top()`, `limit()` and `guard_range()` return the same values every time;
/// - `guard_range()`, if not empty, is inaccessible memory directly below
///   `limit()` (a fault there is reported as a fiber stack overflow).
///
/// A type that borrows its memory (one with a lifetime) cannot keep this
/// promise, since leaking it ends the borrow.
///
/// [`Fiber::into_stack`]: crate::Fiber::into_stack
pub unsafe trait FiberStack {
    /// One past the highest usable byte; the stack grows down from here.
    fn top(&self) -> *mut u8;
    /// The lowest usable byte.
    fn limit(&self) -> *mut u8;
    /// The inaccessible region below `limit`, or an empty range if none.
    fn guard_range(&self) -> Range<*mut u8>;

    /// Whether the guard range is known to the overflow handler for as long
    /// as the stack lives, without help from the fiber. Only Spindle's
    /// [`Stack`] can say yes: it registers its guard page when it is mapped.
    /// For other stacks (`false`, the default), `Fiber::resume` tells the
    /// handler which guard is current on each switch once
    /// [`install_overflow_handler`](crate::install_overflow_handler) has been
    /// called. A wrong `true` only loses the overflow report.
    #[inline(always)]
    fn guard_registered(&self) -> bool {
        false
    }

    /// Whether this value owns its memory outright: dropping it frees the
    /// memory and nothing else ever does, so leaking the value leaks the
    /// memory (Spindle's [`Stack`], and a `Box` of one). Spindle leaks a
    /// fiber it cannot unwind only when this is `true` (and the fiber borrows
    /// nothing); otherwise it aborts the process, because the memory's owner
    /// could not tell that the memory is still in use. A wrong `true` is
    /// undefined behaviour; the default `false` only turns such leaks into
    /// aborts.
    #[inline(always)]
    fn owns_memory(&self) -> bool {
        false
    }

    /// Usable bytes.
    fn size(&self) -> usize {
        self.top() as usize - self.limit() as usize
    }
}

/// A stack mapped with `mmap`: `size` usable bytes (rounded up to whole
/// pages) above one inaccessible guard page. Unmapped on drop.
///
/// ```text
///   top ──► +-------------------+  base + guard + size
///           | usable stack      |  read/write, committed on first touch
/// limit ──► +-------------------+  base + guard
///           | guard page        |  PROT_NONE: an overflow faults here
///  base ──► +-------------------+
/// ```
///
/// Two words (the usable range); the guard is always one page. Stacks are
/// moved in and out of fibers on the hot path of fiber creation, and a third
/// word measurably slowed that down.
#[derive(Debug)]
pub struct Stack {
    limit: NonNull<u8>,
    size: usize,
}

impl Stack {
    /// Maps a stack with at least `size` usable bytes plus a guard page.
    pub fn new(size: usize) -> Result<Stack, Error> {
        Self::map(size)
    }

    #[cfg(all(unix, not(miri)))]
    fn map(size: usize) -> Result<Stack, Error> {
        let page = crate::sys::page_size();
        let size = size
            .max(MIN_STACK_SIZE)
            .checked_next_multiple_of(page)
            .ok_or(Error::StackTooLarge { requested: size })?;
        let total = size
            .checked_add(page)
            .ok_or(Error::StackTooLarge { requested: size })?;
        // SAFETY: an anonymous private mapping with no address hint has no
        // preconditions; we check the result.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::StackAllocation(std::io::Error::last_os_error()));
        }
        // SAFETY: [base + page, base + total) lies inside the mapping we
        // just made; on failure we unmap the whole of it.
        unsafe {
            let usable = (base as *mut u8).add(page);
            if libc::mprotect(usable.cast(), size, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                let err = std::io::Error::last_os_error();
                libc::munmap(base, total);
                return Err(Error::StackAllocation(err));
            }
        }
        // Drop unregisters it (a no-op if the registry was full).
        crate::overflow::register(base as usize, base as usize + page);
        Ok(Stack {
            // SAFETY: mmap succeeded, so base (and base + page) is not null.
            limit: unsafe { NonNull::new_unchecked((base as *mut u8).add(page)) },
            size,
        })
    }

    #[cfg(all(windows, not(miri)))]
    fn map(size: usize) -> Result<Stack, Error> {
        windows::map(size)
    }

    /// Under Miri, which can neither map memory inaccessible nor fault on
    /// it: whole pages from the allocator, with no guard below them. (A
    /// fiber runs on a thread of its own there, so its frames are not even
    /// on this memory; see backend/miri_threads.rs.)
    #[cfg(miri)]
    fn map(size: usize) -> Result<Stack, Error> {
        let size = size
            .max(MIN_STACK_SIZE)
            .checked_next_multiple_of(crate::sys::page_size())
            .ok_or(Error::StackTooLarge { requested: size })?;
        let layout = miri_layout(size).ok_or(Error::StackTooLarge { requested: size })?;
        // SAFETY: the layout has a non-zero size.
        let limit = unsafe { std::alloc::alloc_zeroed(layout) };
        let limit = NonNull::new(limit).ok_or_else(|| {
            Error::StackAllocation(std::io::Error::from(std::io::ErrorKind::OutOfMemory))
        })?;
        Ok(Stack { limit, size })
    }

    #[cfg(not(any(unix, windows, miri)))]
    fn map(_size: usize) -> Result<Stack, Error> {
        Err(Error::Unsupported {
            what: "mmap-backed stacks",
        })
    }
}

#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
const MAP_NORESERVE: libc::c_int = libc::MAP_NORESERVE;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android", miri))))]
const MAP_NORESERVE: libc::c_int = 0;

/// The allocation of a `size`-byte [`Stack`] under Miri.
#[cfg(miri)]
fn miri_layout(size: usize) -> Option<std::alloc::Layout> {
    std::alloc::Layout::from_size_align(size, crate::sys::page_size()).ok()
}

impl Drop for Stack {
    fn drop(&mut self) {
        #[cfg(miri)]
        // SAFETY: allocated by `map` with this layout (which it checked),
        // and nothing runs on it any more.
        unsafe {
            let layout = miri_layout(self.size).expect("checked when mapped");
            std::alloc::dealloc(self.limit.as_ptr(), layout);
        }
        #[cfg(all(unix, not(miri)))]
        // SAFETY: we own the whole mapping and nothing runs on it any more
        // (a Fiber gives its stack back only when nothing lives on it).
        unsafe {
            let page = crate::sys::page_size();
            let base = self.limit.as_ptr().sub(page);
            // Before the unmap: the address may be reused at once.
            crate::overflow::unregister(base as usize);
            libc::munmap(base.cast(), page + self.size);
        }
        #[cfg(all(windows, not(miri)))]
        // SAFETY: we own the reservation and nothing runs on it any more.
        unsafe {
            windows::unmap(self.limit.as_ptr())
        };
    }
}

// SAFETY: a Stack is plain memory that we exclusively own.
unsafe impl Send for Stack {}
// SAFETY: shared access exposes only addresses.
unsafe impl Sync for Stack {}

// SAFETY: the mapping is [guard | size], read/write above the guard page,
// owned by this value until drop; mmap returns page-aligned memory and sizes
// are whole pages, so top is 16-aligned.
unsafe impl FiberStack for Stack {
    #[inline(always)]
    fn guard_registered(&self) -> bool {
        cfg!(all(any(unix, windows), not(miri)))
    }

    #[inline(always)]
    fn owns_memory(&self) -> bool {
        true
    }

    fn top(&self) -> *mut u8 {
        // SAFETY: one past the end of the mapping.
        unsafe { self.limit.as_ptr().add(self.size) }
    }
    fn limit(&self) -> *mut u8 {
        self.limit.as_ptr()
    }
    fn guard_range(&self) -> Range<*mut u8> {
        if cfg!(miri) {
            return self.limit.as_ptr()..self.limit.as_ptr();
        }
        self.limit.as_ptr().wrapping_sub(crate::sys::page_size())..self.limit.as_ptr()
    }
}

/// A stack in memory that someone else owns and frees, such as a region
/// handed out by a pooling allocator laid out as `[guard | stack]`.
///
/// Spindle never frees it; the owner must keep it alive until the
/// `RawStack` is dropped, which Spindle does only once nothing lives on the
/// stack any more (a fiber on it was dropped or finished, or `into_stack`
/// gave it back). Spindle never leaks a fiber on a `RawStack`: where it
/// would (a fiber that swallows [`ForcedUnwind`](crate::ForcedUnwind), or a
/// suspended fiber dropped under `panic = "abort"`) it aborts the process
/// instead, since the owner could not tell that the memory is still in use.
#[derive(Debug)]
pub struct RawStack {
    top: *mut u8,
    limit: *mut u8,
    guard: Range<*mut u8>,
}

impl RawStack {
    /// Describes `[base, base + guard_size)` as the guard and
    /// `[base + guard_size, base + guard_size + len)` as the usable stack.
    /// `top` is rounded down to 16 bytes.
    ///
    /// # Panics
    ///
    /// If `guard_size` is 0: without a guard, a fiber that uses more stack
    /// than `len` silently overwrites the memory below it. Memory without a
    /// guard is described with [`from_raw_parts_unguarded`], whose contract
    /// makes the caller bound the fiber's stack use.
    ///
    /// [`from_raw_parts_unguarded`]: RawStack::from_raw_parts_unguarded
    ///
    /// # Safety
    ///
    /// The memory must satisfy [`FiberStack`]'s contract until the returned
    /// value is dropped: if the caller leaks it, or a fiber on it (for
    /// example with `mem::forget`), the memory must never be freed or
    /// reused. The guard part, if `guard_size > 0`, must be inaccessible.
    pub unsafe fn from_raw_parts(base: *mut u8, guard_size: usize, len: usize) -> RawStack {
        assert!(
            guard_size > 0,
            "RawStack::from_raw_parts with guard_size 0: a fiber that overflows would overwrite \
             the memory below the stack silently; use RawStack::from_raw_parts_unguarded, whose \
             contract says the caller bounds the fiber's stack use"
        );
        // SAFETY: forwarded from our caller.
        unsafe {
            Self::from_raw_parts_unguarded(base.wrapping_add(guard_size), len).with_guard(base)
        }
    }

    /// Describes `[limit, limit + len)` as a usable stack with no guard
    /// below it. `top` is rounded down to 16 bytes.
    ///
    /// # Safety
    ///
    /// As for [`from_raw_parts`](RawStack::from_raw_parts), and, since
    /// nothing stops the fiber at `limit`: the fiber must never use more
    /// than the stack's size (bounded recursion, frames of known size; in
    /// debug builds frames are several times larger). Beyond it, the fiber
    /// writes below `limit` into whatever memory is there, with no fault
    /// and no overflow report.
    pub unsafe fn from_raw_parts_unguarded(limit: *mut u8, len: usize) -> RawStack {
        let top_addr = (limit as usize + len) & !15;
        RawStack {
            top: limit.wrapping_add(top_addr - limit as usize),
            limit,
            guard: limit..limit,
        }
    }

    fn with_guard(mut self, base: *mut u8) -> RawStack {
        self.guard = base..self.limit;
        self
    }
}

// SAFETY: forwarded from from_raw_parts' contract.
unsafe impl FiberStack for RawStack {
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

// SAFETY: forwarded to the boxed stack, which the box owns.
unsafe impl<T: FiberStack + ?Sized> FiberStack for Box<T> {
    #[inline(always)]
    fn guard_registered(&self) -> bool {
        (**self).guard_registered()
    }

    #[inline(always)]
    fn owns_memory(&self) -> bool {
        (**self).owns_memory()
    }

    fn top(&self) -> *mut u8 {
        (**self).top()
    }
    fn limit(&self) -> *mut u8 {
        (**self).limit()
    }
    fn guard_range(&self) -> Range<*mut u8> {
        (**self).guard_range()
    }
}

/// A free list of equally sized [`Stack`]s, so that creating a fiber costs
/// no `mmap`/`munmap` once the pool is warm.
///
/// ```
/// use spindle_fiber::{Fiber, FiberResult, StackPool, Suspender};
/// let mut pool = StackPool::new(64 * 1024);
/// for i in 0..3u32 {
///     let stack = pool.take()?;
///     let mut fiber = Fiber::with_stack(stack, |x: u32, _: &Suspender<u32, ()>| x * 2)?;
///     assert!(matches!(fiber.resume(i), FiberResult::Return(r) if r == i * 2));
///     pool.give(fiber.into_stack());
/// }
/// assert_eq!(pool.len(), 1); // one stack, reused three times
/// # Ok::<(), spindle_fiber::Error>(())
/// ```
#[derive(Debug)]
pub struct StackPool {
    stack_size: usize,
    max_idle: usize,
    idle: Vec<Stack>,
}

impl StackPool {
    /// A pool of stacks with at least `stack_size` usable bytes each, keeping
    /// up to 1024 idle stacks.
    pub fn new(stack_size: usize) -> StackPool {
        StackPool {
            stack_size,
            max_idle: 1024,
            idle: Vec::new(),
        }
    }

    /// Sets how many idle stacks the pool keeps; extra ones are unmapped.
    pub fn with_max_idle(mut self, max_idle: usize) -> StackPool {
        self.max_idle = max_idle;
        self.idle.truncate(max_idle);
        self
    }

    /// An idle stack, or a freshly mapped one if none is idle.
    pub fn take(&mut self) -> Result<Stack, Error> {
        match self.idle.pop() {
            Some(stack) => Ok(stack),
            None => Stack::new(self.stack_size),
        }
    }

    /// Returns a stack to the pool (unmapping it if the pool is full or the
    /// stack is smaller than the pool's size).
    pub fn give(&mut self, stack: Stack) {
        if self.idle.len() < self.max_idle && stack.size() >= self.stack_size {
            self.idle.push(stack);
        }
    }

    /// Number of idle stacks.
    pub fn len(&self) -> usize {
        self.idle.len()
    }

    /// Whether no stack is idle.
    pub fn is_empty(&self) -> bool {
        self.idle.is_empty()
    }
}
