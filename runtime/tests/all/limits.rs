//! Each limit ends the call with its own error; the host and other instances
//! keep working.

use crate::common::*;
use spindle_runtime::{Error, ErrorKind, Limits};
use std::time::{Duration, Instant};

const SPIN: &str = r#"
(module $spin
  (memory (export "memory") 1)
  (table 1 funcref)
  (func $forever (export "forever") (loop $l (br $l)))
  (func $grow_bomb (export "grow_bomb")
    (loop $l (drop (memory.grow (i32.const 16))) (br $l)))
  (func (export "table_bomb")
    (loop $l (drop (table.grow (ref.null func) (i32.const 100))) (br $l)))
  (func (export "count") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1))
)"#;

#[test]
fn deadline_stops_infinite_loop() {
    let host = builder()
        .epoch_tick(Duration::from_millis(5))
        .build()
        .unwrap();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let deadline = Duration::from_millis(60);
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().deadline(deadline))
        .unwrap();
    let start = Instant::now();
    let err = inst.call::<(), ()>("forever", ()).unwrap_err();
    let took = start.elapsed();
    let ErrorKind::DeadlineExceeded {
        deadline: d,
        backtrace,
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(*d, deadline);
    assert!(backtrace.contains("forever"), "{backtrace}");
    // Never early; late by about one tick (generous margin for a busy CI box).
    assert!(took >= deadline, "stopped after {took:?}");
    assert!(
        took < deadline + Duration::from_millis(500),
        "stopped after {took:?}"
    );
    // The deadline is per call: the next call gets a fresh one.
    assert_eq!(inst.call::<i32, i32>("count", 1000).unwrap(), 1000);
    assert_good_plugin_runs(&host);
}

#[test]
fn fuel_stops_infinite_loop_deterministically() {
    let host = builder().enable_fuel().build().unwrap();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().fuel(100_000))
        .unwrap();
    let err = inst.call::<(), ()>("forever", ()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::OutOfFuel { fuel: 100_000, backtrace } if backtrace.contains("forever")),
        "{err:?}"
    );
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
    // Fuel is per call and the count is deterministic.
    assert_eq!(inst.call::<i32, i32>("count", 100).unwrap(), 100);
    let left_a = inst.fuel_left().unwrap();
    assert_eq!(inst.call::<i32, i32>("count", 100).unwrap(), 100);
    assert_eq!(inst.fuel_left().unwrap(), left_a);
    assert!(left_a < 100_000);
    assert!(matches!(
        inst.call::<i32, i32>("count", 1_000_000)
            .map_err(Error::into_kind),
        Err(ErrorKind::OutOfFuel { .. })
    ));
    assert_good_plugin_runs(&host);
}

#[test]
fn memory_grow_bomb_hits_the_cap() {
    let host = host();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let cap = 4 << 20;
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().max_memory_bytes(cap))
        .unwrap();
    let err = inst.call::<(), ()>("grow_bomb", ()).unwrap_err();
    let ErrorKind::MemoryLimit {
        requested,
        limit,
        backtrace,
    } = err.kind()
    else {
        panic!("{err:?}")
    };
    assert_eq!(*limit, cap);
    assert!(*requested > cap);
    assert!(backtrace.contains("grow_bomb"), "{backtrace}");
    // Memory stayed within the cap.
    assert!(inst.memory().len() <= cap);
    assert_good_plugin_runs(&host);
}

#[test]
fn initial_memory_over_cap_fails_instantiation() {
    let host = builder()
        .limits(Limits::new().max_memory_bytes(1 << 20))
        .build()
        .unwrap();
    let plugin = host.load_wat("big", "(module (memory 32))").unwrap();
    let err = plugin.instantiate(Journal::default()).err().unwrap();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::MemoryLimit {
                requested: 0x200000,
                limit: 0x100000,
                ..
            }
        ),
        "{err:?}"
    );
    assert_good_plugin_runs(&host);
}

#[test]
fn table_grow_bomb_hits_the_cap() {
    let host = host();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().max_table_elements(1000))
        .unwrap();
    let err = inst.call::<(), ()>("table_bomb", ()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::TableLimit { limit: 1000, .. }),
        "{err:?}"
    );
    assert_good_plugin_runs(&host);
}

#[test]
fn cancel_from_another_thread() {
    let host = host();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let cancel = inst.cancel_handle();
    // Taken before the canceller exists: on a loaded machine this thread
    // may be descheduled for longer than the canceller's 50 ms sleep.
    let start = Instant::now();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        cancel.cancel();
    });
    let err = inst.call::<(), ()>("forever", ()).unwrap_err();
    canceller.join().unwrap();
    assert!(
        matches!(err.kind(), ErrorKind::Cancelled { backtrace } if backtrace.contains("forever")),
        "{err:?}"
    );
    assert!(start.elapsed() >= Duration::from_millis(50));
    // One cancel stops one call.
    assert_eq!(inst.call::<i32, i32>("count", 10).unwrap(), 10);

    // A cancel while idle fails the next call at once.
    inst.cancel_handle().cancel();
    assert!(matches!(
        inst.call::<i32, i32>("count", 10).map_err(Error::into_kind),
        Err(ErrorKind::Cancelled { .. })
    ));
    assert_eq!(inst.call::<i32, i32>("count", 10).unwrap(), 10);
    assert_good_plugin_runs(&host);
}

#[test]
fn a_runaway_instance_does_not_disturb_others() {
    let host = builder()
        .epoch_tick(Duration::from_millis(5))
        .build()
        .unwrap();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let runaway = plugin.clone();
    let stuck = std::thread::spawn(move || {
        let mut inst = runaway
            .instantiate_with(
                Journal::default(),
                Limits::new().deadline(Duration::from_millis(300)),
            )
            .unwrap();
        inst.call::<(), ()>("forever", ())
    });
    // Meanwhile, other instances of the same plugin and host run normally,
    // with their own (no) deadline.
    let mut calm = plugin.instantiate(Journal::default()).unwrap();
    for i in 0..50 {
        assert_eq!(calm.call::<i32, i32>("count", i).unwrap(), i.max(1));
        assert_good_plugin_runs(&host);
    }
    assert!(matches!(
        stuck.join().unwrap().map_err(Error::into_kind),
        Err(ErrorKind::DeadlineExceeded { .. })
    ));
}

#[test]
fn host_default_limits_apply_and_instance_limits_override() {
    let host = builder()
        .limits(Limits::new().fuel(50_000))
        .build()
        .unwrap();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut default = plugin.instantiate(Journal::default()).unwrap();
    assert!(matches!(
        default
            .call::<i32, i32>("count", 100_000)
            .map_err(Error::into_kind),
        Err(ErrorKind::OutOfFuel { fuel: 50_000, .. })
    ));
    let mut roomy = plugin
        .instantiate_with(Journal::default(), Limits::new().fuel(10_000_000))
        .unwrap();
    assert_eq!(roomy.call::<i32, i32>("count", 100_000).unwrap(), 100_000);
}

#[test]
fn pooling_allocator_reuses_slots_and_reports_exhaustion() {
    let host = builder()
        .pooling(4)
        .limits(Limits::new().max_memory_bytes(1 << 20))
        .build()
        .unwrap();
    let plugin = host.load_wat("good", GOOD).unwrap();
    // Far more instantiations than slots: slots are recycled on drop.
    for i in 0..40 {
        let mut inst = plugin.instantiate(Journal::default()).unwrap();
        assert_eq!(inst.call::<(i32, i32), i32>("add", (i, 1)).unwrap(), i + 1);
    }
    let live: Vec<_> = (0..4)
        .map(|_| plugin.instantiate(Journal::default()).unwrap())
        .collect();
    let err = plugin
        .instantiate(Journal::default())
        .err()
        .expect("pool is full");
    assert!(matches!(err.kind(), ErrorKind::Wasmtime(_)), "{err:?}");
    drop(live);
    assert_good_plugin_runs(&host);
}

#[test]
fn deadline_still_fires_after_host_and_plugin_are_dropped() {
    let host = builder()
        .epoch_tick(Duration::from_millis(5))
        .build()
        .unwrap();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut inst = plugin
        .instantiate_with(
            Journal::default(),
            Limits::new().deadline(Duration::from_millis(30)),
        )
        .unwrap();
    drop(plugin);
    drop(host);
    assert!(matches!(
        inst.call::<(), ()>("forever", ()).map_err(Error::into_kind),
        Err(ErrorKind::DeadlineExceeded { .. })
    ));
}

#[test]
fn long_calls_without_limits_are_never_interrupted() {
    // No deadline, no cancel handle: the instance checks nothing per tick,
    // and a call spanning many ticks must still complete.
    let host = builder()
        .epoch_tick(Duration::from_millis(1))
        .build()
        .unwrap();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let start = Instant::now();
    assert_eq!(
        inst.call::<i32, i32>("count", 200_000_000).unwrap(),
        200_000_000
    );
    assert!(
        start.elapsed() > Duration::from_millis(5),
        "too fast to span ticks: {:?}",
        start.elapsed()
    );
}

#[test]
fn cancel_wins_over_a_later_deadline() {
    let host = builder()
        .epoch_tick(Duration::from_millis(5))
        .build()
        .unwrap();
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut inst = plugin
        .instantiate_with(
            Journal::default(),
            Limits::new().deadline(Duration::from_secs(30)),
        )
        .unwrap();
    let cancel = inst.cancel_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        cancel.cancel();
    });
    let start = Instant::now();
    let err = inst.call::<(), ()>("forever", ()).unwrap_err();
    t.join().unwrap();
    assert!(matches!(err.kind(), ErrorKind::Cancelled { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // The deadline still works for the next call.
    assert_eq!(inst.call::<i32, i32>("count", 5).unwrap(), 5);
}

/// The deadline is wall-clock time from the start of the call: time spent
/// in host functions counts. The audit saw a 1 s deadline let ten 300 ms
/// host calls finish (`Ok` after 3.0 s): it counted epoch callbacks, and a
/// host call is at most one. Now the call ends when wasm runs again after
/// the deadline passed: at the fourth call's return (1.2 s), never later.
#[test]
fn time_in_host_functions_counts_against_the_deadline() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = calls.clone();
    let host = spindle_runtime::Host::<()>::builder()
        .func("app", "block", move |_cx: spindle_runtime::Ctx<'_, ()>| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
        })
        .build()
        .unwrap();
    let plugin = host
        .load_wat(
            "blocker",
            r#"(module (import "app" "block" (func $b))
                 (func (export "run") (local $i i32)
                   (loop $l (call $b)
                     (local.set $i (i32.add (local.get $i) (i32.const 1)))
                     (br_if $l (i32.lt_u (local.get $i) (i32.const 10)))))
                 (func (export "once") (call $b)))"#,
        )
        .unwrap();
    let mut inst = plugin
        .instantiate_with((), Limits::new().deadline(Duration::from_secs(1)))
        .unwrap();
    let err = inst.call::<(), ()>("run", ()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::DeadlineExceeded { deadline, .. } if *deadline == Duration::from_secs(1)),
        "{err:?}"
    );
    // 0.3 s each: the fourth returns past 1 s, and no fifth starts.
    let made = calls.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=4).contains(&made), "{made} host calls");

    // A host call that returns after the deadline ends the call even when
    // the plugin would return right after it, with no loop to check in.
    let mut inst = plugin
        .instantiate_with((), Limits::new().deadline(Duration::from_millis(100)))
        .unwrap();
    let err = inst.call::<(), ()>("once", ()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::DeadlineExceeded { .. }),
        "{err:?}"
    );
    // The next call has its own deadline again.
    let mut inst = plugin
        .instantiate_with((), Limits::new().deadline(Duration::from_secs(5)))
        .unwrap();
    inst.call::<(), ()>("once", ()).unwrap();
}
