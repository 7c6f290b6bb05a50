//! What to do about each cause, naming the versions, issues and the exact
//! code or command.

use super::classify::{Cause, Switch};
use super::context::Context;
use super::model::LinkLog;

/// One diagnosis line for people and tools.
#[derive(Clone, Debug)]
pub(super) struct Advice {
    /// A stable name for tools: `architecture-mismatch`, `switch-lost-under-lto`,
    /// `wasm-import-without-module`, `missing-library`, `unknown`.
    pub(super) kind: &'static str,
    pub(super) message: String,
    pub(super) next: Vec<String>,
}

/// The object-format family of the link, for naming Rust targets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    MachO,
    Elf,
    CoffMsvc,
    CoffGnu,
    Unknown,
}

fn family(log: &LinkLog, ctx: &Context) -> Family {
    if let Some(t) = &ctx.triple {
        if t.contains("-apple-") {
            return Family::MachO;
        }
        if t.contains("-windows-gnu") {
            return Family::CoffGnu;
        }
        if t.contains("-windows") {
            return Family::CoffMsvc;
        }
        if t.contains("-linux") {
            return Family::Elf;
        }
    }
    let has = |s: &str| log.linkers.iter().any(|l| l.contains(s));
    if has("ld64") || has("Mach-O") || has("zig") {
        // zig's "invalid cpu architecture" comes from its Mach-O linker.
        Family::MachO
    } else if has("mingw") {
        Family::CoffGnu
    } else if has("link.exe") || has("COFF") {
        Family::CoffMsvc
    } else if has("GNU ld") || has("gold") || has("ELF") {
        Family::Elf
    } else {
        Family::Unknown
    }
}

/// `arm64`, `ARM64`, `elf_x86_64`, `x64`, `i386:x86-64` → the Rust
/// architecture name.
fn rust_arch(word: &str) -> Option<&'static str> {
    let w = word.trim().to_ascii_lowercase();
    let w = w.strip_prefix("elf_").unwrap_or(&w);
    Some(match w {
        "arm64" | "arm64e" | "aarch64" | "aarch64elf" | "aarch64linux" => "aarch64",
        "x86_64" | "x64" | "amd64" | "x86-64" | "i386:x86-64" | "x86_64h" => "x86_64",
        "i386" | "x86" | "i686" => "i686",
        "arm" | "armv7" => "armv7",
        "riscv" | "riscv64" => "riscv64gc",
        _ => return None,
    })
}

fn triple(arch: &str, fam: Family) -> Option<String> {
    let a = rust_arch(arch)?;
    Some(match fam {
        Family::MachO => format!("{a}-apple-darwin"),
        Family::Elf => format!("{a}-unknown-linux-gnu"),
        Family::CoffMsvc => format!("{a}-pc-windows-msvc"),
        Family::CoffGnu => format!("{a}-pc-windows-gnu"),
        Family::Unknown => return None,
    })
}

/// The file an archive member lives in: `libfoo.a[2](foo.o)` and
/// `libfoo.a(foo.o)` → `libfoo.a`.
pub(super) fn container(file: &str) -> &str {
    let end = file.find(['[', '(']).unwrap_or(file.len());
    &file[..end]
}

fn list(names: &[String], max: usize) -> String {
    let mut s: Vec<String> = names.iter().take(max).map(|n| format!("`{n}`")).collect();
    if names.len() > max {
        s.push(format!("and {} more", names.len() - max));
    }
    s.join(", ")
}

fn arch_mismatch(
    file: &str,
    found: Option<&str>,
    required: Option<&str>,
    symbols: &[String],
    fam: Family,
) -> Advice {
    let found_s = found.unwrap_or("another architecture");
    let required_s = required.unwrap_or("this link's architecture");
    let mut message = match required {
        Some(r) => format!(
            "architecture mismatch: {file} was built for {found_s}, but the link is for {r}; the linker ignored it"
        ),
        None => format!(
            "architecture mismatch: {file} was built for {found_s}, not for this link's architecture; the linker ignored it"
        ),
    };
    if !symbols.is_empty() {
        message.push_str(&format!(
            ", so the symbols it defines are missing: {}",
            list(symbols, 8)
        ));
    }
    let lib = container(file);
    let mut next = Vec::new();
    match required.and_then(|r| triple(r, fam)) {
        Some(t) => next.push(format!(
            "rebuild {lib} for {required_s}: if a build script compiles it (cc, cmake), build with `cargo build --target {t}` so it sees TARGET={t} (after `cargo clean -p <its -sys crate>` if a stale build is cached); if it is prebuilt, get its {required_s} (or universal) build{}",
            if fam == Family::MachO {
                format!(" (a universal one: `lipo -create <{found_s} build> <{required_s} build> -output {lib}`)")
            } else {
                String::new()
            }
        )),
        None => next.push(format!(
            "rebuild {lib} for {required_s}, or replace it by a build for that architecture"
        )),
    }
    if let Some(t) = found.and_then(|f| triple(f, fam)) {
        next.push(format!(
            "if the program is meant for {found_s}: `rustup target add {t}` and `cargo build --target {t}`"
        ));
    }
    next.push(format!(
        "see which architectures it holds: `spindle doctor {lib}{}`",
        required
            .and_then(|r| triple(r, fam))
            .map(|t| format!(" --target {t}"))
            .unwrap_or_default()
    ));
    Advice {
        kind: "architecture-mismatch",
        message,
        next,
    }
}

/// What to do to run this wasmtime on Spindle's fibers: `spindle patch`
/// when the release has a drop-in, else the supported range.
fn spindle_patch_next(wasmtime: Option<&str>) -> String {
    use crate::patch::releases;
    let (oldest, newest) = releases::supported_range();
    let what_it_does = "it writes the drop-in wasmtime-internal-fiber for the wasmtime in Cargo.lock into spindle/wasmtime-internal-fiber and adds the two lines\n[patch.crates-io]\nwasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" }\nto the workspace's Cargo.toml, then checks that cargo uses it";
    match wasmtime.map(releases::find) {
        Some(Ok((v, _))) => format!(
            "or keep wasmtime {v} and switch stacks with Spindle's LTO-proof assembly: run `spindle patch` in the workspace ({what_it_does})"
        ),
        Some(Err(e)) => format!("Spindle's drop-in cannot replace this wasmtime's fiber: {e}"),
        None => format!(
            "or, on wasmtime {oldest} to {newest}, switch stacks with Spindle's LTO-proof assembly: run `spindle patch` in the workspace ({what_it_does})"
        ),
    }
}

fn switch_lost(switch: Switch, symbol: &str, refs: &[String], ctx: &Context) -> Advice {
    let seen = match (&ctx.wasmtime, &ctx.rustc) {
        (Some(w), Some(r)) => format!(" (this log builds wasmtime {w} with rustc {r})"),
        (Some(w), None) => format!(" (this log builds wasmtime {w})"),
        (None, Some(r)) => format!(" (this log shows rustc {r})"),
        (None, None) => String::new(),
    };
    let by = refs
        .first()
        .map(|r| format!(", referenced by {r}"))
        .unwrap_or_default();
    let (message, mut next) = match switch {
        Switch::Fiber => (
            format!(
                "fiber switch lost under LTO: `{symbol}` is undefined{by}. wasmtime's stack switch is assembly in a global_asm! block, and ThinLTO drops it: wasmtime 38.0.3 on aarch64-apple-darwin with rustc before 1.94 (wasmtime#11957, rust-lang/rust#148307){seen}"
            ),
            vec![
                "upgrade wasmtime to 38.0.4 or later (`cargo update -p wasmtime --precise 38.0.4`), or Rust to 1.94 or later (`rustup update stable`)".to_string(),
            ],
        ),
        Switch::Continuation => (
            format!(
                "stack switch lost under LTO: `{symbol}` is undefined{by}. wasmtime 40.0.0's continuation entry is assembly that LTO drops on x86_64 macOS (wasmtime#12217){seen}"
            ),
            vec![
                "upgrade wasmtime past 40.0.0 to a release with the fix for wasmtime#12217 (`cargo update -p wasmtime`)".to_string(),
            ],
        ),
    };
    next.push(format!(
        "or change the profile's LTO{}: `[profile.release] lto = false` (ThinLTO is the affected mode), rebuild with `cargo clean && cargo build --release`",
        ctx.lto
            .as_deref()
            .map(|l| format!(" (the log shows {l} LTO)"))
            .unwrap_or_default()
    ));
    next.push(spindle_patch_next(ctx.wasmtime.as_deref()));
    Advice {
        kind: "switch-lost-under-lto",
        message,
        next,
    }
}

fn patch_unused(version: &str, path: &str, used: Option<&str>) -> Advice {
    let instead = match used {
        Some(u) if !u.contains('(') => {
            format!("; the build compiled wasmtime-internal-fiber {u} from crates.io instead")
        }
        _ => String::new(),
    };
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" ({path})")
    };
    Advice {
        kind: "fiber-patch-unused",
        message: format!(
            "the drop-in wasmtime-internal-fiber {version}{at} was not used in the crate graph, so this build switches stacks with wasmtime's own fiber{instead}. wasmtime requires its fiber crate at exactly its own version, so a drop-in for any other release (after `cargo update`, say) is silently left out"
        ),
        next: vec![
            "run `spindle patch` in the workspace: it writes the drop-in for the wasmtime in Cargo.lock and checks that cargo uses it (or says why not: two wasmtime versions, async off)".to_string(),
            "in CI, `spindle patch --check` fails while the drop-in does not match the lock".to_string(),
        ],
    }
}

fn both_switches(wasmtime: &[String], spindle: &[String]) -> Advice {
    Advice {
        kind: "both-fiber-switches",
        message: format!(
            "this build has both wasmtime's fiber switch ({}) and Spindle's ({}): Spindle's drop-in is built, but a wasmtime in it still switches stacks with its own fiber (the patch is for another release, or two wasmtime versions are linked)",
            list(wasmtime, 2),
            list(spindle, 3)
        ),
        next: vec![
            "run `spindle patch --check` in the workspace to see which; `spindle patch` writes the drop-in for the wasmtime in Cargo.lock and refuses a graph with two wasmtime versions, naming who pulls each".to_string(),
        ],
    }
}

fn wasm_import(functions: &[String]) -> Advice {
    let mut block = String::from("#[link(wasm_import_module = \"env\")]\nunsafe extern \"C\" {\n");
    for f in functions.iter().take(32) {
        block.push_str(&format!(
            "    fn {f}(/* parameters as you declared them */);\n"
        ));
    }
    if functions.len() > 32 {
        block.push_str(&format!(
            "    // ... and the {} others named above\n",
            functions.len() - 32
        ));
    }
    block.push('}');
    Advice {
        kind: "wasm-import-without-module",
        message: format!(
            "wasm host import without a module: {} {} declared in an `extern` block without `#[link(wasm_import_module = \"…\")]`. Until Rust 1.96 rustc passed --allow-undefined to wasm-ld and such functions became imports from module \"env\"; since 1.96 they are undefined symbols (rust-lang/rust#149868)",
            list(functions, 8),
            if functions.len() == 1 { "is" } else { "are" }
        ),
        next: vec![
            format!(
                "put the declarations in a block naming the import module the host provides them in (\"env\" gives the imports you had before 1.96; `spindle run`'s built-in host uses \"spindle\"):\n{block}"
            ),
            "or keep the old behaviour for the whole build: `-C link-arg=--import-undefined` (e.g. `[target.wasm32-unknown-unknown] rustflags = [\"-C\", \"link-arg=--import-undefined\"]` in .cargo/config.toml)".to_string(),
            "then `spindle check plugin.wasm` shows each import against the host".to_string(),
        ],
    }
}

/// Where a library usually comes from, for the common ones.
fn package_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "ssl" | "crypto" => {
            "OpenSSL: Debian/Ubuntu `libssl-dev`, Fedora `openssl-devel`, macOS `brew install openssl@3`"
        }
        "z" => "zlib: Debian/Ubuntu `zlib1g-dev`, Fedora `zlib-devel`",
        "sqlite3" => "SQLite: Debian/Ubuntu `libsqlite3-dev`, Fedora `sqlite-devel`",
        "curl" => "libcurl: Debian/Ubuntu `libcurl4-openssl-dev`, Fedora `libcurl-devel`",
        "zstd" => "zstd: Debian/Ubuntu `libzstd-dev`, Fedora `libzstd-devel`",
        "lzma" => "xz: Debian/Ubuntu `liblzma-dev`, Fedora `xz-devel`",
        "bz2" => "bzip2: Debian/Ubuntu `libbz2-dev`, Fedora `bzip2-devel`",
        "ffi" => "libffi: Debian/Ubuntu `libffi-dev`, Fedora `libffi-devel`",
        "pq" => "PostgreSQL client: Debian/Ubuntu `libpq-dev`, Fedora `libpq-devel`",
        "xml2" => "libxml2: Debian/Ubuntu `libxml2-dev`, Fedora `libxml2-devel`",
        "stdc++" => "the C++ runtime: Debian/Ubuntu `libstdc++-<version>-dev` (comes with `g++`)",
        "c" | "m" | "pthread" | "dl" | "rt" | "util" => {
            "the C library: Debian/Ubuntu `libc6-dev` (with `build-essential`)"
        }
        "gcc_s" | "gcc_eh" => "gcc's runtime: Debian/Ubuntu `libgcc-<version>-dev` (with `gcc`)",
        _ => return None,
    })
}

fn missing_library(name: &str, fam: Family) -> Advice {
    let msvc = name.to_ascii_lowercase().ends_with(".lib");
    let shown = if msvc {
        name.to_string()
    } else {
        format!("-l{name}")
    };
    let stem = name.strip_suffix(".lib").unwrap_or(name);
    let mut next = Vec::new();
    if let Some(p) = package_of(stem) {
        next.push(format!("install it: {p}"));
    } else if msvc {
        next.push(format!("install the SDK or vcpkg port that ships {name}"));
    } else if fam == Family::CoffGnu {
        next.push(format!(
            "install lib{name}.a (or lib{name}.dll.a) for mingw, e.g. a `mingw-w64-…` package, or build it with x86_64-w64-mingw32-gcc"
        ));
    } else {
        next.push(format!(
            "install the package that ships lib{name}.so / lib{name}.a: usually `lib{name}-dev` on Debian/Ubuntu (`apt-file search lib{name}.so`), `{name}-devel` on Fedora, `brew install {name}` on macOS"
        ));
    }
    next.push(if msvc {
        "if it is installed, name its directory: add it to the LIB environment variable, or print `cargo:rustc-link-search=native=DIR` from the build script".to_string()
    } else {
        format!(
            "if it is installed outside the search path, name its directory: `cargo:rustc-link-search=native=DIR` from the build script, or `RUSTFLAGS=\"-L native=DIR\"`; `pkg-config --libs {name}` shows where pkg-config finds it"
        )
    });
    Advice {
        kind: "missing-library",
        message: format!("missing native library: the linker cannot find {shown}"),
        next,
    }
}

pub(super) fn advise(causes: &[Cause], log: &LinkLog, ctx: &Context) -> Vec<Advice> {
    let fam = family(log, ctx);
    causes
        .iter()
        .map(|c| match c {
            Cause::ArchMismatch { ignored, symbols } => arch_mismatch(
                &ignored.file,
                ignored.found.as_deref(),
                ignored.required.as_deref().or(log.target_arch.as_deref()),
                symbols,
                fam,
            ),
            Cause::SwitchLost { switch, symbol } => {
                switch_lost(*switch, &symbol.name, &symbol.referenced_by, ctx)
            }
            Cause::WasmImportWithoutModule { functions } => wasm_import(functions),
            Cause::MissingLibrary { name } => missing_library(name, fam),
            Cause::PatchUnused {
                version,
                path,
                used,
            } => patch_unused(version, path, used.as_deref()),
            Cause::BothSwitches { wasmtime, spindle } => both_switches(wasmtime, spindle),
            Cause::Unknown { symbols } => Advice {
                kind: "unknown",
                message: format!(
                    "not one of the link failures Spindle knows: undefined {}",
                    list(symbols, 12)
                ),
                next: vec![
                    "find which crate or library should define them (`nm -C` on the build outputs, or `spindle doctor` on the target directory)".to_string(),
                ],
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_map_to_rust_targets() {
        assert_eq!(
            triple("arm64", Family::MachO).as_deref(),
            Some("aarch64-apple-darwin")
        );
        assert_eq!(
            triple("elf_x86_64", Family::Elf).as_deref(),
            Some("x86_64-unknown-linux-gnu")
        );
        assert_eq!(
            triple("ARM64", Family::CoffMsvc).as_deref(),
            Some("aarch64-pc-windows-msvc")
        );
        assert_eq!(triple("sparc", Family::Elf), None);
        assert_eq!(container("/b/libfoo.a[2](foo.o)"), "/b/libfoo.a");
        assert_eq!(container("libfoo.a(foo.o)"), "libfoo.a");
    }

    #[test]
    fn the_wasm_block_names_every_function() {
        let a = wasm_import(&["host_log".into(), "host_now_ns".into()]);
        assert!(a.next[0].contains(
            "#[link(wasm_import_module = \"env\")]\nunsafe extern \"C\" {\n    fn host_log("
        ));
        assert!(a.next[0].contains("    fn host_now_ns("));
        assert!(a.message.contains("rust-lang/rust#149868"));
    }
}
