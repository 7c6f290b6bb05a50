//! Plugin files the host is handed may be anything a path can name: a FIFO
//! that nobody writes (opening it would block forever), a device that never
//! ends, a directory, a sparse file claiming gigabytes. Each must be refused
//! with its own error before anything large is read, and the host goes on.

use crate::common::*;
use spindle_runtime::{ErrorKind, LoadLimit};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

fn scratch(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("spindle-plugin-files-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads `path` on a helper thread. A load that blocks (a FIFO opened
/// without O_NONBLOCK waits for a writer that never comes) would hang the
/// test binary forever; the watchdog turns that into a failure that says so.
fn load_kind(path: &Path) -> Result<(), ErrorKind> {
    let (tx, rx) = mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let host = host();
        let r = host
            .load_file(&owned)
            .map(|_| ())
            .map_err(|e| e.into_kind());
        let _ = tx.send(r);
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("loading {} blocked: the host hung on it", path.display()))
}

fn expect_io_not_regular(path: &Path) {
    match load_kind(path) {
        Err(ErrorKind::Io { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{source}");
            assert!(
                source.to_string().contains("regular files only"),
                "{source}"
            );
        }
        Err(other) => panic!("{}: expected an I/O error, got {other:?}", path.display()),
        Ok(()) => panic!("{} loaded", path.display()),
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = scratch("fifo");
    let fifo = dir.join("plugin.wasm");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    expect_io_not_regular(&fifo);
    assert_good_plugin_runs(&host());
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_device_is_refused_not_read() {
    // /dev/zero never ends: reading it to the end grows memory until the OOM
    // killer comes.
    expect_io_not_regular(Path::new("/dev/zero"));
}

#[test]
fn a_directory_is_refused() {
    let dir = scratch("dir");
    let sub = dir.join("plugin.wasm");
    std::fs::create_dir(&sub).unwrap();
    // Opening a directory read-only succeeds on Linux; the fstat check is
    // what refuses it.
    expect_io_not_regular(&sub);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_over_the_module_size_limit_is_refused_before_reading() {
    let dir = scratch("big");
    let big = dir.join("big.wasm");
    // Sparse: 2 GiB claimed, nothing stored. Reading it whole would cost
    // 2 GiB of memory.
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(2 << 30).unwrap();
    drop(f);
    match load_kind(&big) {
        Err(ErrorKind::LoadLimit { plugin, error }) => {
            assert_eq!(plugin, big.display().to_string());
            assert_eq!(error.limit, LoadLimit::ModuleBytes);
            assert_eq!(error.value, 2 << 30);
            assert_eq!(error.max, 64 << 20);
        }
        other => panic!("expected the module-size limit, got {other:?}"),
    }
    // A .wat file is text, several times its binary: it may be 4× as large.
    let wat = dir.join("big.wat");
    let f = std::fs::File::create(&wat).unwrap();
    f.set_len((64 << 20) * 4 + 1).unwrap();
    drop(f);
    match load_kind(&wat) {
        Err(ErrorKind::LoadLimit { error, .. }) => assert_eq!(error.max, (64 << 20) * 4),
        other => panic!("expected the module-size limit, got {other:?}"),
    }
    assert_good_plugin_runs(&host());
    std::fs::remove_dir_all(dir).unwrap();
}
