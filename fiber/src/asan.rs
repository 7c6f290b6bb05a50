//! AddressSanitizer's view of the stack switch.
//!
//! ASan keeps, per thread, the bounds of "the" stack and a *fake stack*
//! (where, to catch use-after-return, it puts the frames of functions whose
//! locals escape). A fiber switch that it is not told about breaks both:
//! `__asan_handle_no_return` (run before every unwind) refuses to clean a
//! "stack" that spans from the fiber to the thread's stack and warns that
//! false reports may follow, and frames of two stacks end up interleaved on
//! one fake stack, whose garbage collector then frees the live frames of
//! whichever side is suspended.
//!
//! So every switch is bracketed by the runtime's fiber annotations:
//! `__sanitizer_start_switch_fiber(save, bottom, size)` names the stack about
//! to run and parks the running side's fake stack in `*save`;
//! `__sanitizer_finish_switch_fiber(saved, &bottom, &size)`, the first thing
//! done after the switch lands, brings back the fake stack parked when this
//! side last left and reports the bounds of the stack just left. Which
//! side calls what:
//!
//! | moment                       | side   | start (save, to)        | finish (restore, learn)  |
//! |------------------------------|--------|-------------------------|--------------------------|
//! | resume                       | parent | own slot, fiber's stack | own slot, ignored        |
//! | first entry                  | fiber  |                         | nothing, parent's stack  |
//! | suspend                      | fiber  | own slot, parent's      | own slot, parent's stack |
//! | final switch (return, panic, forced unwind done) | fiber | **null**, parent's | |
//!
//! The parent's bounds are learned at every entry, not once: a fiber may be
//! resumed from the thread's stack one time and from inside another fiber
//! the next. A null slot on the final switch tells ASan the fiber is dying,
//! and it frees the fiber's fake stack there and then (so nothing the
//! parent reads after that switch may live on it: the final message lives in
//! `entry`'s own frame, which is made while the first switch is still in
//! progress, when ASan puts no frame on a fake stack).
//!
//! The switch itself leaves poison behind: the frames of `entry` and of
//! the final switch never return, so their redzones stay marked in the
//! shadow memory. Before a stack is handed back (into a pool, to another
//! fiber, to its owner, or to `munmap`), [`unpoison`] clears its whole
//! usable range, so the next user of that memory (a new fiber, or the heap
//! after the owner frees it) does not trip over them.
//!
//! Compiled in only under `-Zsanitizer=address` on a unix target (the
//! `spindle_asan` cfg, set by build.rs); elsewhere every function here is an
//! empty `#[inline(always)]` one and the types are zero-sized, so the switch
//! is exactly what it is without this module.

#[cfg(spindle_asan)]
mod imp {
    use core::cell::Cell;
    use core::ffi::c_void;
    use core::ptr;

    use crate::FiberStack;

    unsafe extern "C" {
        fn __sanitizer_start_switch_fiber(
            fake_stack_save: *mut *mut c_void,
            bottom: *const c_void,
            size: usize,
        );
        fn __sanitizer_finish_switch_fiber(
            fake_stack_save: *mut c_void,
            bottom_old: *mut *const c_void,
            size_old: *mut usize,
        );
        fn __asan_unpoison_memory_region(addr: *const c_void, size: usize);
        fn __asan_get_current_fake_stack() -> *mut c_void;
        fn __asan_addr_is_in_fake_stack(
            fake_stack: *mut c_void,
            addr: *mut c_void,
            beg: *mut *mut c_void,
            end: *mut *mut c_void,
        ) -> *mut c_void;
    }

    /// The stack that resumed a fiber, as the fiber learned it when it was
    /// entered: where its own suspends and its final switch go back to.
    pub(crate) struct Parent {
        bottom: Cell<*const c_void>,
        size: Cell<usize>,
    }

    impl Parent {
        /// Completes the switch into a fresh fiber. The first thing the
        /// fiber does, before anything can use a fake stack.
        ///
        /// # Safety
        ///
        /// Called once, on a fiber's stack, right after the switch into it.
        #[inline(always)]
        pub(crate) unsafe fn entered() -> Parent {
            let mut bottom = ptr::null();
            let mut size = 0;
            // SAFETY: the parent started this switch (`resume` below); a
            // fresh fiber has no fake stack to bring back, hence null.
            unsafe { __sanitizer_finish_switch_fiber(ptr::null_mut(), &mut bottom, &mut size) };
            Parent {
                bottom: Cell::new(bottom),
                size: Cell::new(size),
            }
        }

        /// Runs `switch` (a suspend of the running fiber) annotated.
        ///
        /// # Safety
        ///
        /// On the fiber that made this `Parent`, and `switch` is its switch
        /// back to the parent, returning when the fiber is resumed.
        #[inline(always)]
        pub(crate) unsafe fn suspend<T>(&self, switch: impl FnOnce() -> T) -> T {
            let mut fake: *mut c_void = ptr::null_mut();
            // SAFETY: the bounds are those of the stack that resumed us,
            // which is where `switch` goes; `fake` outlives the switch.
            unsafe {
                __sanitizer_start_switch_fiber(&mut fake, self.bottom.get(), self.size.get())
            };
            let out = switch();
            let (mut bottom, mut size) = (ptr::null(), 0);
            // SAFETY: the resumer started this switch; `fake` is what our
            // own start parked.
            unsafe { __sanitizer_finish_switch_fiber(fake, &mut bottom, &mut size) };
            self.bottom.set(bottom);
            self.size.set(size);
            out
        }

        /// Announces the fiber's final switch: it will never run again, so
        /// ASan frees its fake stack. `last` is the final message, which
        /// the parent reads after that: it must not be on the fake stack.
        ///
        /// # Safety
        ///
        /// On the fiber that made this `Parent`, immediately before its last
        /// switch back to the parent; nothing on its fake stack is used
        /// afterwards.
        #[inline(always)]
        pub(crate) unsafe fn exit(&self, last: *mut u8) {
            // SAFETY: both calls only look the address up in ASan's
            // bookkeeping of this thread's current fake stack.
            let on_fake_stack = unsafe {
                let fake = __asan_get_current_fake_stack();
                !fake.is_null()
                    && !__asan_addr_is_in_fake_stack(
                        fake,
                        last.cast(),
                        ptr::null_mut(),
                        ptr::null_mut(),
                    )
                    .is_null()
            };
            if on_fake_stack {
                crate::abort_with(
                    "spindle-fiber: a dying fiber's last message is on its ASan fake stack, \
                     which is freed before the parent can read it",
                );
            }
            // SAFETY: as documented; a null slot marks a dying fiber.
            unsafe {
                __sanitizer_start_switch_fiber(ptr::null_mut(), self.bottom.get(), self.size.get())
            };
        }
    }

    /// Runs `switch` (the parent's switch into a fiber running on `stack`)
    /// annotated.
    ///
    /// # Safety
    ///
    /// `switch` switches into that fiber and returns when it suspends or
    /// finishes.
    #[inline(always)]
    pub(crate) unsafe fn resume<T>(stack: &impl FiberStack, switch: impl FnOnce() -> T) -> T {
        let mut fake: *mut c_void = ptr::null_mut();
        let limit = stack.limit();
        // SAFETY: `[limit, top)` is the stack `switch` runs on; `fake`
        // outlives the switch.
        unsafe { __sanitizer_start_switch_fiber(&mut fake, limit.cast(), stack.size()) };
        let out = switch();
        // SAFETY: the fiber started the switch back (`suspend` or `exit`);
        // `fake` is what our own start parked. The fiber's bounds are not
        // needed: it says where it goes next time it leaves.
        unsafe { __sanitizer_finish_switch_fiber(fake, ptr::null_mut(), ptr::null_mut()) };
        out
    }

    /// An address on the real stack for `addr`, the address of a local:
    /// ASan moves locals whose address is taken onto the running side's
    /// fake stack, and each fake frame remembers where on the real stack
    /// it stands in for.
    #[inline(always)]
    pub(crate) fn real_stack_address(addr: *mut u8) -> usize {
        // SAFETY: both calls only read ASan's bookkeeping of this thread's
        // current fake stack.
        let real = unsafe {
            __asan_addr_is_in_fake_stack(
                __asan_get_current_fake_stack(),
                addr.cast(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if real.is_null() {
            addr as usize
        } else {
            real as usize
        }
    }

    /// Clears ASan's poison from the usable range of `stack`, on which
    /// nothing runs any more.
    ///
    /// # Safety
    ///
    /// No live frame is on `stack`.
    #[inline(always)]
    pub(crate) unsafe fn unpoison(stack: &impl FiberStack) {
        // SAFETY: the range is memory we may use (FiberStack's contract);
        // unpoisoning only writes ASan's shadow of it.
        unsafe { __asan_unpoison_memory_region(stack.limit().cast(), stack.size()) };
    }
}

#[cfg(not(spindle_asan))]
mod imp {
    use crate::FiberStack;

    /// Without ASan: nothing to remember.
    pub(crate) struct Parent;

    impl Parent {
        #[inline(always)]
        pub(crate) unsafe fn entered() -> Parent {
            Parent
        }

        #[inline(always)]
        pub(crate) unsafe fn suspend<T>(&self, switch: impl FnOnce() -> T) -> T {
            switch()
        }

        #[inline(always)]
        pub(crate) unsafe fn exit(&self, _last: *mut u8) {}
    }

    #[inline(always)]
    pub(crate) unsafe fn resume<T>(_stack: &impl FiberStack, switch: impl FnOnce() -> T) -> T {
        switch()
    }

    #[inline(always)]
    pub(crate) fn real_stack_address(addr: *mut u8) -> usize {
        addr as usize
    }

    #[inline(always)]
    pub(crate) unsafe fn unpoison(_stack: &impl FiberStack) {}
}

pub(crate) use imp::{Parent, real_stack_address, resume, unpoison};
