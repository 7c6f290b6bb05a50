//! One epoch ticker thread for every host in the process.
//!
//! Deadlines and cancellation are checked when an engine's epoch advances.
//! A thread per host made `HostBuilder::build` panic once the process could
//! not start another thread (about 950 live hosts under a 3 GB address-space
//! limit); one shared thread serves any number of hosts, each at its own
//! tick, and a failure to start it is an error from `build`, not a panic.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use wasmtime::Engine;

struct Entry {
    id: u64,
    engine: Engine,
    tick: Duration,
    next: Instant,
}

#[derive(Default)]
struct Shared {
    entries: Vec<Entry>,
    /// Wakers of calls polled by an application's executor, each woken at
    /// its instant so the call sees its deadline pass while it waits.
    timers: Vec<Timer>,
    next_id: u64,
    running: bool,
}

struct Timer {
    id: u64,
    at: Instant,
    waker: Waker,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    entries: Vec::new(),
    timers: Vec::new(),
    next_id: 0,
    running: false,
});
static CHANGED: Condvar = Condvar::new();

fn lock() -> MutexGuard<'static, Shared> {
    // The ticker never panics while holding the lock (it only adds to
    // instants and increments epochs), so a poisoned state is still sound.
    SHARED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps one engine's epoch advancing until dropped.
pub(crate) struct Registration(u64);

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ticker registration {}", self.0)
    }
}

/// Advances `engine`'s epoch every `tick` from now on. Starts the shared
/// thread if it is not running; the only error is failing to start it.
pub(crate) fn register(engine: Engine, tick: Duration) -> std::io::Result<Registration> {
    let tick = tick.max(Duration::from_micros(100));
    let mut shared = lock();
    if !shared.running {
        std::thread::Builder::new()
            .name("spindle-epoch".into())
            // It only loops over a short list: no need for the 2 MiB default.
            .stack_size(64 << 10)
            .spawn(run)?;
        shared.running = true;
    }
    let id = shared.next_id;
    shared.next_id += 1;
    let next = Instant::now() + tick;
    shared.entries.push(Entry {
        id,
        engine,
        tick,
        next,
    });
    CHANGED.notify_one();
    Ok(Registration(id))
}

/// Wakes `waker` at `at` (or soon after), once, unless cancelled first.
/// Only while some host is registered, which every instance guarantees (it
/// keeps its host's registration alive). `id` names a timer set before: it
/// is moved instead of adding another.
pub(crate) fn wake_at(id: Option<TimerId>, at: Instant, waker: &Waker) -> TimerId {
    let mut shared = lock();
    if let Some(TimerId(id)) = id
        && let Some(t) = shared.timers.iter_mut().find(|t| t.id == id)
    {
        t.at = at;
        t.waker.clone_from(waker);
        CHANGED.notify_one();
        return TimerId(id);
    }
    let id = shared.next_id;
    shared.next_id += 1;
    shared.timers.push(Timer {
        id,
        at,
        waker: waker.clone(),
    });
    CHANGED.notify_one();
    TimerId(id)
}

/// A timer set by [`wake_at`], removed by [`cancel_timer`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerId(u64);

/// Removes a timer that has not fired (a call that ended before its limit).
pub(crate) fn cancel_timer(id: TimerId) {
    lock().timers.retain(|t| t.id != id.0);
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut shared = lock();
        shared.entries.retain(|e| e.id != self.0);
        CHANGED.notify_one();
    }
}

fn run() {
    let mut shared = lock();
    loop {
        let now = Instant::now();
        let mut earliest: Option<Instant> = None;
        for e in &mut shared.entries {
            if e.next <= now {
                e.engine.increment_epoch();
                e.next += e.tick;
                if e.next <= now {
                    // We fell behind (suspended machine): don't burst.
                    e.next = now + e.tick;
                }
            }
            earliest = Some(earliest.map_or(e.next, |t| t.min(e.next)));
        }
        shared.timers.retain(|t| {
            if t.at <= now {
                t.waker.wake_by_ref();
                return false;
            }
            earliest = Some(earliest.map_or(t.at, |e| e.min(t.at)));
            true
        });
        shared = match earliest {
            // Idle: sleep until a host registers. The thread stays for the
            // life of the process, so later hosts never need a new thread.
            None => CHANGED.wait(shared).unwrap_or_else(PoisonError::into_inner),
            Some(t) => {
                let wait = t.saturating_duration_since(Instant::now());
                CHANGED
                    .wait_timeout(shared, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}
