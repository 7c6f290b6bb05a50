#![no_main]
//! `spindle doctor` on mutated build outputs: ELF and Mach-O objects and
//! images, universal (fat) Mach-O, `ar` archives and rlibs, wasm and WAT
//! plugins. Each input is written to a file, named as the build would name
//! it (by its magic), and diagnosed as `spindle doctor FILE [--target T]`
//! does, or, for one input in four, found by walking a directory. It must
//! never panic; hangs and runaway memory are caught by libFuzzer's
//! `-timeout` and `-rss_limit_mb` (scripts/fuzz.sh sets both).

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const TARGETS: &[Option<&str>] = &[
    None,
    Some("x86_64-unknown-linux-gnu"),
    Some("aarch64-apple-darwin"),
    Some("x86_64-apple-darwin"),
    Some("wasm32-unknown-unknown"),
    Some("aarch64-unknown-linux-gnu"),
    Some("riscv64gc-unknown-linux-gnu"),
    Some("x86_64-pc-windows-msvc"),
];

/// A directory of this process's own, emptied for each input.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("spindle-fuzz-doctor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

/// The file name a build would give these bytes.
fn file_name(data: &[u8]) -> &'static str {
    if data.starts_with(b"\0asm") {
        "plugin.wasm"
    } else if data.starts_with(b"(") {
        "plugin.wat"
    } else if data.starts_with(b"!<arch>\n") {
        if data.len() % 2 == 0 {
            "libfoo.a"
        } else {
            "libfoo-0123.rlib"
        }
    } else if data.starts_with(b"\x7fELF") {
        if data.len() % 2 == 0 {
            "foo.o"
        } else {
            "libfoo.so"
        }
    } else {
        "foo"
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    let sub = dir.join("target").join("release");
    let _ = std::fs::remove_dir_all(dir.join("target"));
    std::fs::create_dir_all(&sub).expect("scratch subdirectory");
    let path = sub.join(file_name(data));
    std::fs::write(&path, data).expect("writing the input");
    let last = data.last().copied().unwrap_or(0);
    let target = TARGETS[usize::from(last) % TARGETS.len()].map(String::from);
    let walk = last & 0x30 == 0x30 && !file_name(data).starts_with("plugin");
    let given = if walk { dir.join("target") } else { path };
    // Errors are fine (a malformed file is a finding or a clear failure);
    // only a panic, a hang or runaway memory is a bug.
    let _ = spindle_cli::doctor::diagnose_quietly(vec![given], target);
});
