//! Shared fixtures: a host with a few host functions and a known-good plugin.
#![allow(dead_code)]

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

/// A unique scratch directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "spindle-runtime-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A host caching in `dir`, with its cache key file next to (not inside) it.
pub fn cached_builder(dir: &std::path::Path) -> HostBuilder<Journal> {
    builder().cache_dir(dir).cache_key_file(key_file_for(dir))
}

/// The key file `cached_builder` uses for `dir`: in a directory of its own
/// beside it (spindle creates it 0700), since the temp directory itself is
/// writable by others and a key file there is refused.
pub fn key_file_for(dir: &std::path::Path) -> std::path::PathBuf {
    dir.with_extension("keydir").join("cache.key")
}

/// Removes a scratch cache directory and its key file.
pub fn remove_cache(dir: &std::path::Path) {
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(dir.with_extension("keydir"));
}

/// Reports a test that cannot run here for a missing tool, target or
/// privilege. With `SPINDLE_REQUIRE_ALL` set (`scripts/test.sh` sets it on
/// CI, where setup installed everything) it fails the test instead, so
/// nothing passes on CI by not running.
pub fn not_run(why: &str) {
    if std::env::var_os("SPINDLE_REQUIRE_ALL").is_some() {
        panic!("cannot run: {why} (SPINDLE_REQUIRE_ALL is set)");
    }
    eprintln!("NOT RUN: {why}");
}
