//! Typed calls, host functions with state and guest memory, plugin loading
//! from every source.

use crate::common::*;
use spindle_runtime::wasmtime::Val;
use spindle_runtime::{BoxError, Ctx, ErrorKind, Host, Limits};

#[test]
fn typed_calls_and_host_state() {
    let host = host();
    let plugin = host.load_wat("good", GOOD).unwrap();
    let mut a = plugin.instantiate(Journal::default()).unwrap();
    let mut b = plugin
        .instantiate(Journal {
            lines: vec![],
            total: 100,
        })
        .unwrap();
    assert_eq!(a.call::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);
    assert_eq!(a.call::<(u32, u32), u32>("add", (u32::MAX, 2)).unwrap(), 1);
    // Per-instance state: b started at 100.
    assert_eq!(a.call::<i64, i64>("bump", 1).unwrap(), 1);
    assert_eq!(b.call::<i64, i64>("bump", 1).unwrap(), 101);
    b.state_mut().total = 0;
    assert_eq!(b.call::<i64, i64>("bump", 2).unwrap(), 2);
    assert_eq!(&a.memory()[16..31], b"hello from wasm");

    let mut add = a.func::<(i32, i32), i32>("add").unwrap();
    let sum: i32 = (0..1000).map(|i| add.call((i, 1)).unwrap()).sum();
    assert_eq!(sum, (1..=1000).sum());
}

#[test]
fn host_writes_into_guest_memory() {
    let host = Host::<u32>::builder()
        .func(
            "host",
            "fill",
            |mut cx: Ctx<'_, u32>, ptr: u32, len: u32| {
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                cx.write(ptr, &data)?;
                *cx.state_mut() += len;
                Ok::<u32, BoxError>(len)
            },
        )
        .build()
        .unwrap();
    let plugin = host
        .load_wat(
            "fill",
            r#"(module
                (import "host" "fill" (func $fill (param i32 i32) (result i32)))
                (memory (export "memory") 1)
                (func (export "run") (param i32 i32) (result i32)
                  (call $fill (local.get 0) (local.get 1)))
                (func (export "sum") (param i32 i32) (result i32) (local $acc i32)
                  (block $done (loop $l
                    (br_if $done (i32.eqz (local.get 1)))
                    (local.set $acc (i32.add (local.get $acc) (i32.load8_u (local.get 0))))
                    (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                    (local.set 1 (i32.sub (local.get 1) (i32.const 1)))
                    (br $l)))
                  (local.get $acc)))"#,
        )
        .unwrap();
    let mut inst = plugin.instantiate(0).unwrap();
    assert_eq!(
        inst.call::<(u32, u32), u32>("run", (1000, 300)).unwrap(),
        300
    );
    let expected: u32 = (0..300u32).map(|i| i % 251).sum();
    assert_eq!(
        inst.call::<(u32, u32), u32>("sum", (1000, 300)).unwrap(),
        expected
    );
    assert_eq!(*inst.state(), 300);
    // Past the end of memory: refused, memory untouched.
    assert!(inst.call::<(u32, u32), u32>("run", (65_000, 1000)).is_err());
    assert_eq!(inst.memory()[65_000], 0);
}

#[test]
fn load_from_file_text_and_binary() {
    let host = host();
    let dir = scratch_dir("files");
    let wat_path = dir.join("good.wat");
    std::fs::write(&wat_path, GOOD).unwrap();
    let wasm_path = dir.join("good.wasm");
    std::fs::write(&wasm_path, wat::parse_str(GOOD).unwrap()).unwrap();
    for path in [&wat_path, &wasm_path] {
        let plugin = host.load_file(path).unwrap();
        assert_eq!(plugin.name(), path.display().to_string());
        let mut inst = plugin.instantiate(Journal::default()).unwrap();
        assert_eq!(inst.call::<(i32, i32), i32>("add", (1, 1)).unwrap(), 2);
    }
    let missing = dir.join("nope.wasm");
    let err = host.load_file(&missing).err().unwrap();
    assert!(
        matches!(err.kind(), spindle_runtime::ErrorKind::Io { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("nope.wasm"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn one_plugin_many_instances_across_threads() {
    let host = host();
    let plugin = host.load_wat("good", GOOD).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let plugin = plugin.clone();
            std::thread::spawn(move || {
                let mut inst = plugin.instantiate(Journal::default()).unwrap();
                (0..100)
                    .map(|i| inst.call::<i64, i64>("bump", i + t).unwrap())
                    .last()
                    .unwrap()
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let t = t as i64;
        assert_eq!(h.join().unwrap(), (0..100).map(|i| i + t).sum::<i64>());
    }
}

#[test]
fn instance_memory_writes_are_bounds_checked() {
    let host = host();
    let plugin = host.load_wat("good", GOOD).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    inst.write_memory(16, b"HELLO").unwrap();
    inst.call::<(), ()>("greet", ()).unwrap();
    assert_eq!(inst.state().lines, ["HELLO from wasm"]);
    let err = inst.write_memory(65_534, b"xyz").unwrap_err();
    assert_eq!(err.memory_size, 65_536);
    assert_eq!(&inst.memory()[65_534..], [0, 0]);
    // A plugin without memory: every write is refused.
    let bare = host.load_wat("bare", "(module)").unwrap();
    let mut inst = bare.instantiate(Journal::default()).unwrap();
    assert!(inst.memory().is_empty());
    assert!(inst.write_memory(0, b"x").is_err());
}

#[test]
fn repeated_calls_by_name_recheck_types() {
    let host = host();
    let plugin = host.load_wat("good", GOOD).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    // Cached after the first call...
    assert_eq!(inst.call::<(i32, i32), i32>("add", (1, 2)).unwrap(), 3);
    assert_eq!(inst.call::<(i32, i32), i32>("add", (3, 4)).unwrap(), 7);
    // ...but a call with other types is still checked, not trusted.
    assert!(matches!(
        inst.call::<(i64, i64), i64>("add", (1, 2))
            .map_err(spindle_runtime::Error::into_kind),
        Err(spindle_runtime::ErrorKind::ExportSignature { .. })
    ));
    assert!(matches!(
        inst.call::<i32, i32>("add", 1)
            .map_err(spindle_runtime::Error::into_kind),
        Err(spindle_runtime::ErrorKind::ExportSignature { .. })
    ));
    // Same wasm types through other Rust types: allowed and re-cached.
    assert_eq!(inst.call::<(u32, u32), u32>("add", (1, 2)).unwrap(), 3);
    assert_eq!(inst.call::<(i32, i32), i32>("add", (5, 5)).unwrap(), 10);
}

#[test]
fn handles_are_thread_safe() {
    fn send_sync<X: Send + Sync>() {}
    fn send<X: Send>() {}
    send_sync::<Host<Journal>>();
    send_sync::<spindle_runtime::Plugin<Journal>>();
    send_sync::<spindle_runtime::CancelHandle>();
    send::<spindle_runtime::Instance<Journal>>();
    send_sync::<spindle_runtime::Error>();
    // And a whole instance can move to another thread mid-life.
    let plugin = host().load_wat("good", GOOD).unwrap();
    let mut inst = plugin.instantiate(Journal::default()).unwrap();
    inst.call::<i64, i64>("bump", 1).unwrap();
    let total = std::thread::spawn(move || inst.call::<i64, i64>("bump", 1).unwrap())
        .join()
        .unwrap();
    assert_eq!(total, 2);
}

#[test]
fn error_is_one_pointer() {
    // Keeps `Result<R, Error>` in registers on the success path of every
    // call (see benches/runtime.rs); a fat enum here measurably slowed calls.
    assert_eq!(
        std::mem::size_of::<spindle_runtime::Error>(),
        std::mem::size_of::<usize>()
    );
    assert_eq!(
        std::mem::size_of::<Result<(), spindle_runtime::Error>>(),
        std::mem::size_of::<usize>()
    );
}

#[test]
fn dynamic_calls_check_types_and_keep_limits() {
    let host = Host::<()>::builder().enable_fuel().build().unwrap();
    let plugin = host
        .load_wat(
            "p",
            r#"(module
                (func (export "run") (param i32) (result i32) (local.get 0))
                (func (export "spin") (loop (br 0))))"#,
        )
        .unwrap();
    let mut inst = plugin
        .instantiate_with((), Limits::new().fuel(1000))
        .unwrap();
    let out = inst.call_dynamic("run", &[Val::I32(7)]).unwrap();
    assert_eq!(out[0].unwrap_i32(), 7);
    let err = inst.call_dynamic("run", &[Val::I64(7)]).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::ExportSignature { .. }),
        "{err}"
    );
    let err = inst.call_dynamic("rnu", &[]).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MissingExport { .. }),
        "{err}"
    );
    let err = inst.call_dynamic("spin", &[]).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::OutOfFuel { fuel: 1000, .. }),
        "{err}"
    );
    // Fuel is per call: the next call has its full budget again.
    assert!(inst.call_dynamic("run", &[Val::I32(1)]).is_ok());
    assert_eq!(
        inst.export_signature("run").unwrap().to_string(),
        "(func (param i32) (result i32))"
    );
    assert!(inst.export_signature("nope").is_none());
}
