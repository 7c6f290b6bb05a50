//! Reads `sizeof`, `_Alignof` and the offsets of `uc_link` and `uc_stack` of
//! glibc's `ucontext_t` for the target being built, from the target's own
//! headers, without running anything: a C file declares one `char` array per
//! number, sized by it; the target's C compiler turns it into an object file
//! whose symbol sizes are the numbers. The test compares them with the
//! layout spindle-fiber declares.
//!
//! The C compiler is the target's linker from `.cargo/config.toml` (cargo
//! passes it as `RUSTC_LINKER`; the cross gcc of scripts/setup.sh), or `cc`
//! for the host.

use std::path::PathBuf;
use std::process::Command;

use object::{Object, ObjectSymbol};

const SOURCE: &str = r#"
#include <stddef.h>
#include <ucontext.h>
char spindle_layout_size[sizeof(ucontext_t)];
char spindle_layout_align[_Alignof(ucontext_t)];
char spindle_layout_link[offsetof(ucontext_t, uc_link)];
char spindle_layout_stack[offsetof(ucontext_t, uc_stack)];
"#;

const NAMES: [&str; 4] = [
    "spindle_layout_size",
    "spindle_layout_align",
    "spindle_layout_link",
    "spindle_layout_stack",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    if !target.ends_with("-linux-gnu") && !target.ends_with("-linux-gnueabihf") {
        println!("cargo:rustc-env=GLIBC_UCONTEXT_LAYOUT=none");
        return;
    }
    let cc = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".into());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let source = out.join("layout.c");
    let object_path = out.join("layout.o");
    std::fs::write(&source, SOURCE).expect("writing layout.c");
    let status = Command::new(&cc)
        .args(["-c", "-fno-common", "-o"])
        .arg(&object_path)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| {
            panic!("could not run the C compiler `{cc}` for {target} (scripts/setup.sh installs it): {e}")
        });
    assert!(
        status.success(),
        "`{cc}` failed to compile {}",
        source.display()
    );
    let data = std::fs::read(&object_path).expect("reading layout.o");
    let file = object::File::parse(&*data).expect("parsing layout.o");
    let numbers: Vec<String> = NAMES
        .iter()
        .map(|name| {
            file.symbols()
                .find(|s| s.name() == Ok(*name))
                .unwrap_or_else(|| panic!("layout.o has no symbol {name}"))
                .size()
                .to_string()
        })
        .collect();
    println!(
        "cargo:rustc-env=GLIBC_UCONTEXT_LAYOUT={}",
        numbers.join(",")
    );
    println!("cargo:rustc-env=GLIBC_UCONTEXT_CC={cc}");
}
