//! The backend under Miri: every fiber is a thread of its own, and a switch
//! hands control from one thread to the other.
//!
//! Miri interprets Rust, not machine code, so neither the assembly switch
//! nor `swapcontext` can run under it. A thread, though, is a stack Miri
//! knows, and two threads that strictly take turns behave like one thread
//! switching stacks: exactly one of them runs at any time, and each hand-off
//! goes through a mutex, so Miri sees every value passed across as properly
//! synchronised. Everything above the switch (`fiber.rs`: values in flight,
//! panics, forced unwinding, the start object, stacks and pools) is the same
//! code as on every other backend, which is what running it under Miri is
//! for.
//!
//! What differs from a real switch, and why it does not matter for that:
//!
//! * The fiber's frames live on its thread's stack, not on the
//!   [`FiberStack`](crate::FiberStack): the stack memory holds only the
//!   control block, the header and the start object. So `runs_on` asks
//!   which thread is running instead of comparing addresses.
//! * Thread-locals (and `std::thread::panicking()`) are the fiber thread's
//!   own, not the parent's.
//! * A fiber's thread is started at its first resume (a fiber dropped fresh
//!   never has one) and ended when the finished fiber is released: its
//!   final suspend then unwinds with a private payload, out of the entry
//!   function (`extern "C-unwind"` under Miri) to the thread's first frame.
//!   A fiber that is leaked while suspended keeps its thread, blocked,
//!   forever, which Miri reports at exit like any other leak.
//!
//! ```text
//!        top ──► +--------------------------+
//!                | Handoff                  |  CONTROL_SIZE bytes
//!                |   state: Mutex<State>    |  whose turn, the message,
//!                |   turned: Condvar        |  the thread
//!                |   entry, obj             |
//!    control ──► +--------------------------+
//!                ~ header, start object     ~  placed by fiber.rs
//! ```

use core::mem;
use core::ptr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};

use super::{Backend, BackendKind, EntryFn, Sealed};

/// Each fiber on a thread of its own (Miri only).
#[derive(Debug)]
pub enum MiriThreads {}

impl Sealed for MiriThreads {}

/// A message pointer crossing from one thread to the other. The pointee is
/// only touched by whichever side holds the turn, and the turn passes
/// through the mutex.
#[derive(Clone, Copy)]
struct Msg(*mut u8);

impl Msg {
    /// The pointer. A method, so that a closure moves the whole `Msg` (and
    /// is `Send`), not just its field.
    fn get(self) -> *mut u8 {
        self.0
    }
}

// SAFETY: see above: only the side whose turn it is dereferences it, and
// taking the turn synchronises with the side that gave it.
unsafe impl Send for Msg {}

enum Turn {
    /// The parent runs; the fiber waits. Carries the fiber's last message
    /// (null before the first resume).
    Parent(Msg),
    /// The fiber runs; the parent waits. Carries the parent's message.
    Fiber(Msg),
    /// The fiber finished and was released: its thread unwinds and ends.
    Exit,
}

struct State {
    turn: Turn,
    /// The fiber's thread, once started (first resume).
    thread: Option<JoinHandle<()>>,
    /// Its id, which `runs_on` compares with the running thread's.
    fiber: Option<ThreadId>,
}

/// The control block.
struct Handoff {
    state: Mutex<State>,
    turned: Condvar,
    entry: EntryFn,
    obj: *mut u8,
}

const _: () = assert!(mem::align_of::<Handoff>() <= 16);

/// What a finished fiber's thread unwinds with when it is released.
struct Exit;

/// # Safety
///
/// `control` is a live control block made by `init`, not yet released.
unsafe fn handoff<'a>(control: *mut u8) -> &'a Handoff {
    // SAFETY: forwarded; a Handoff is only ever shared (its mutable parts
    // are behind the mutex).
    unsafe { &*(control as *const Handoff) }
}

fn lock(h: &Handoff) -> MutexGuard<'_, State> {
    // Nothing panics while holding the lock; a poisoned one is still valid.
    h.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits, holding the lock between checks, until `take` accepts the turn.
fn wait_for<T>(
    h: &Handoff,
    mut state: MutexGuard<'_, State>,
    mut take: impl FnMut(&Turn) -> Option<T>,
) -> T {
    loop {
        if let Some(out) = take(&state.turn) {
            return out;
        }
        state = h.turned.wait(state).unwrap_or_else(PoisonError::into_inner);
    }
}

/// The first frame of a fiber's thread.
///
/// # Safety
///
/// `control` is a live control block whose fiber this thread is.
unsafe fn fiber_main(control: *mut u8) {
    // SAFETY: the control block lives until `release`, which waits for
    // this thread to end.
    let h = unsafe { handoff(control) };
    let first = wait_for(h, lock(h), |turn| match turn {
        Turn::Fiber(msg) => Some(*msg),
        _ => None,
    });
    // SAFETY: `init` stored the entry function and start object for this
    // fiber; `first` is the first resume's message.
    let ended = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        (h.entry)(first.0, control, h.obj)
    }));
    // The entry function catches every panic of the fiber's own; the only
    // thing that leaves it is `Exit`, by design.
    match ended {
        Err(payload) if payload.is::<Exit>() => {}
        _ => crate::abort_with("spindle-fiber: a Miri fiber thread ended without being released"),
    }
}

// SAFETY: the turn makes exactly one of the two threads run at a time, as
// one thread switching stacks would; see the module docs for the rest of
// the contract of each method.
unsafe impl Backend for MiriThreads {
    const KIND: BackendKind = BackendKind::MiriThreads;
    const CONTROL_SIZE: usize = (mem::size_of::<Handoff>() + 15) & !15;

    unsafe fn init(control: *mut u8, _limit: *mut u8, obj: *mut u8, entry: EntryFn) -> *mut u8 {
        let block = Handoff {
            state: Mutex::new(State {
                turn: Turn::Parent(Msg(ptr::null_mut())),
                thread: None,
                fiber: None,
            }),
            turned: Condvar::new(),
            entry,
            obj,
        };
        // SAFETY: the caller gives us CONTROL_SIZE bytes at `control`,
        // 16-aligned, which is enough for a Handoff.
        unsafe { ptr::write(control as *mut Handoff, block) };
        // Never null, as a handle must be; unused otherwise.
        control
    }

    unsafe fn resume(control: *mut u8, _handle: &mut *mut u8, msg: *mut u8) -> *mut u8 {
        // SAFETY: a live control block (the fiber is not finished).
        let h = unsafe { handoff(control) };
        let mut state = lock(h);
        if state.thread.is_none() {
            let block = Msg(control);
            let thread = thread::Builder::new()
                .name("spindle-fiber".into())
                // SAFETY: the thread is this fiber's, and `release` joins it
                // before the control block goes away.
                .spawn(move || unsafe { fiber_main(block.get()) })
                .unwrap_or_else(|e| {
                    crate::abort_with(&format!(
                        "spindle-fiber: could not start a Miri fiber thread: {e}"
                    ))
                });
            state.fiber = Some(thread.thread().id());
            state.thread = Some(thread);
        }
        state.turn = Turn::Fiber(Msg(msg));
        h.turned.notify_all();
        wait_for(h, state, |turn| match turn {
            Turn::Parent(back) => Some(back.0),
            _ => None,
        })
    }

    unsafe fn suspend(control: *mut u8, msg: *mut u8) -> *mut u8 {
        // SAFETY: we are this control block's fiber, so it is live.
        let h = unsafe { handoff(control) };
        let mut state = lock(h);
        state.turn = Turn::Parent(Msg(msg));
        h.turned.notify_all();
        let next = wait_for(h, state, |turn| match turn {
            Turn::Fiber(next) => Some(Some(next.0)),
            Turn::Exit => Some(None),
            Turn::Parent(_) => None,
        });
        match next {
            Some(next) => next,
            // Released after its final suspend: unwind this thread's frames
            // to `fiber_main` (no panic hook runs for resume_unwind).
            None => panic::resume_unwind(Box::new(Exit)),
        }
    }

    fn runs_on(control: *mut u8, _sp: usize, _limit: usize, _size: usize) -> bool {
        // SAFETY: the control block lives as long as the suspender that asks.
        let h = unsafe { &*(control as *const Handoff) };
        lock(h).fiber == Some(thread::current().id())
    }

    unsafe fn release(control: *mut u8) {
        // SAFETY: a live control block, released exactly once.
        let h = unsafe { handoff(control) };
        let thread = {
            let mut state = lock(h);
            state.turn = Turn::Exit;
            h.turned.notify_all();
            state.thread.take()
        };
        if let Some(thread) = thread {
            if thread.join().is_err() {
                crate::abort_with("spindle-fiber: a Miri fiber thread panicked on its way out");
            }
        }
        // SAFETY: the fiber's thread is gone, so nothing refers to the
        // block any more; it is dropped once, here.
        unsafe { ptr::drop_in_place(control as *mut Handoff) };
    }
}
