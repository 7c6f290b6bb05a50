//! Shared fixtures: the host with a few host functions and the known-good
//! plugin (from the workspace's test support, which the soak binary shares),
//! and scratch cache directories.
#![allow(dead_code)]

use spindle_runtime::HostBuilder;

pub use spindle_test_support::fixture_host::*;
pub use spindle_test_support::not_run::not_run;

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
