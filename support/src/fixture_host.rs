//! The runtime's test fixture: a host with a few host functions that write
//! to a [`Journal`], and a known-good plugin that uses them. The runtime's
//! tests and its soak (a process of its own) run against it, and check with
//! [`assert_good_plugin_runs`] that a host still works after each kind of
//! failure.

use spindle_runtime::{BoxError, Ctx, Host, HostBuilder};

#[derive(Default, Debug)]
pub struct Journal {
    pub lines: Vec<String>,
    pub total: i64,
}

pub const GOOD: &str = r#"
(module $good
  (import "host" "log" (func $log (param i32 i32)))
  (import "host" "accumulate" (func $acc (param i64) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm")
  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "greet") (call $log (i32.const 16) (i32.const 15)))
  (func (export "bump") (param i64) (result i64) (call $acc (local.get 0)))
  (func (export "nop"))
)"#;

pub fn builder() -> HostBuilder<Journal> {
    Host::<Journal>::builder()
        .func(
            "host",
            "log",
            |mut cx: Ctx<'_, Journal>, ptr: u32, len: u32| {
                let line = cx.read_str(ptr, len)?.to_string();
                cx.state_mut().lines.push(line);
                Ok::<(), BoxError>(())
            },
        )
        .func("host", "accumulate", |mut cx: Ctx<'_, Journal>, by: i64| {
            cx.state_mut().total += by;
            cx.state().total
        })
}

pub fn host() -> Host<Journal> {
    builder().build().expect("host builds")
}

/// Loads and runs the good plugin: the "host still works" check used after
/// every kind of failure.
pub fn assert_good_plugin_runs(host: &Host<Journal>) {
    let plugin = host.load_wat("good.wat", GOOD).expect("good plugin loads");
    let mut inst = plugin
        .instantiate(Journal::default())
        .expect("instantiates");
    assert_eq!(inst.call::<(i32, i32), i32>("add", (40, 2)).unwrap(), 42);
    inst.call::<(), ()>("greet", ()).unwrap();
    assert_eq!(inst.state().lines, ["hello from wasm"]);
    assert_eq!(inst.call::<i64, i64>("bump", 5).unwrap(), 5);
    assert_eq!(inst.call::<i64, i64>("bump", 7).unwrap(), 12);
}
