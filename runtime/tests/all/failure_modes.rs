//! The library's own failure modes: a host thread with a small
//! native stack, and cancels that race the end of a call.

use crate::common::*;

use spindle_runtime::{Error, ErrorKind};

const DEEP: &str = r#"(module
  (func $d (export "d") (param i32) (result i32)
    (i32.add (i32.const 1) (call $d (local.get 0))))
  (func (export "short") (result i32) (i32.const 1)))"#;

fn on_thread<R: Send + 'static>(stack: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn a_small_host_thread_stack_is_an_error_not_an_abort() {
    // 256 KiB thread, default 512 KiB max wasm stack: at 9b1ab03 the
    // recursion ran past the thread's guard page and aborted the process.
    let host = host();
    let plugin = host.load_wat("deep", DEEP).unwrap();
    let p = plugin.clone();
    let err = on_thread(256 << 10, move || {
        p.instantiate(Journal::default())
            .err()
            .map(Error::into_kind)
    });
    assert!(
        matches!(err, Some(ErrorKind::NativeStack { needed, .. }) if needed == (512 + 128) << 10),
        "instantiating on a 256 KiB thread: {err:?}"
    );
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let (inst, err) = on_thread(256 << 10, move || {
        let r = inst.call::<i32, i32>("d", 0).map_err(Error::into_kind);
        (inst, r)
    });
    match err {
        Err(ErrorKind::NativeStack { available, needed }) => {
            assert!(available < 256 << 10, "{available}");
            assert_eq!(needed, (512 + 128) << 10);
        }
        other => panic!("call on a 256 KiB thread: {other:?}"),
    }
    // The same instance still works where the stack is big enough, and the
    // recursion ends in wasmtime's own, clean stack overflow.
    let mut inst = inst;
    assert_eq!(inst.call::<(), i32>("short", ()).unwrap(), 1);
    let err = inst.call::<i32, i32>("d", 0).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::StackOverflow { .. }),
        "{err}"
    );

    // A host sized for small threads runs there, to a clean overflow.
    let small = builder().max_wasm_stack(64 << 10).build().unwrap();
    let plugin = small.load_wat("deep", DEEP).unwrap();
    let err = on_thread(256 << 10, move || {
        let mut inst = plugin.instantiate(Journal::default()).unwrap();
        inst.call::<i32, i32>("d", 0).map_err(Error::into_kind)
    });
    assert!(
        matches!(err, Err(ErrorKind::StackOverflow { .. })),
        "{err:?}"
    );
}

#[test]
fn a_cancel_that_loses_the_race_never_stops_the_next_call() {
    // At 9b1ab03 a cancel landing after `short` returned stopped the next,
    // unrelated call (1993 of 2000).
    let host = builder()
        .epoch_tick(std::time::Duration::from_millis(1))
        .build()
        .unwrap();
    let plugin = host.load_wat("deep", DEEP).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let (mut raced, mut stray) = (0, 0);
    for i in 0..2000 {
        let cancel = inst.cancel_handle();
        let canceller = std::thread::spawn(move || {
            if i % 2 == 0 {
                std::thread::yield_now();
            }
            cancel.cancel();
        });
        // The call the handle was taken for: either outcome is right.
        match inst.call::<(), i32>("short", ()) {
            Ok(1) => {}
            Err(e) if matches!(e.kind(), ErrorKind::Cancelled { .. }) => raced += 1,
            other => panic!("{other:?}"),
        }
        canceller.join().unwrap();
        // The next call was never targeted: it must not be cancelled.
        match inst.call::<(), i32>("short", ()) {
            Ok(1) => {}
            Err(e) if matches!(e.kind(), ErrorKind::Cancelled { .. }) => stray += 1,
            other => panic!("{other:?}"),
        }
    }
    println!("2000 races: {raced} cancels hit their own call, {stray} hit the next one");
    assert_eq!(stray, 0, "{stray} of 2000 cancels hit a later call");
}

#[test]
fn a_handle_taken_before_a_call_cancels_it_even_if_it_starts_late() {
    let host = host();
    let plugin = host.load_wat("deep", DEEP).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    let cancel = inst.cancel_handle();
    cancel.cancel();
    cancel.cancel();
    assert!(matches!(
        inst.call::<(), i32>("short", ()).map_err(Error::into_kind),
        Err(ErrorKind::Cancelled { .. })
    ));
    // Used up with its call: a second cancel does nothing.
    cancel.cancel();
    assert_eq!(inst.call::<(), i32>("short", ()).unwrap(), 1);
}
