//! Which known link failure a log shows. Every undefined symbol is given to
//! exactly one cause: a lost stack switch, a wasm import without a module,
//! a file the linker ignored (whose symbols it then missed), or none of
//! them ("not one of the link failures Spindle knows").

use super::context::Context;
use super::model::{Ignored, LinkLog, Undefined};

/// wasmtime's stack-switch symbols that LTO has been seen to lose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Switch {
    /// `wasmtime_fiber_switch` (and its `_init`/`_start` siblings):
    /// wasmtime 38.0.3, aarch64-apple-darwin, ThinLTO.
    Fiber,
    /// `wasmtime_continuation_start`: wasmtime 40.0.0, x86_64 macOS.
    Continuation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// A link input built for another architecture; `symbols` are the
    /// undefined ones it most likely defines.
    ArchMismatch {
        ignored: Ignored,
        symbols: Vec<String>,
    },
    SwitchLost {
        switch: Switch,
        symbol: Undefined,
    },
    /// Host functions declared without `#[link(wasm_import_module)]`.
    WasmImportWithoutModule {
        functions: Vec<String>,
    },
    MissingLibrary {
        name: String,
    },
    /// Undefined symbols none of the above explains.
    Unknown {
        symbols: Vec<String>,
    },
    /// cargo did not use a `[patch.crates-io]` drop-in for
    /// wasmtime-internal-fiber: the build runs on wasmtime's own fiber.
    PatchUnused {
        version: String,
        path: String,
        /// The fiber crate the build compiled instead, if the log says.
        used: Option<String>,
    },
    /// The build holds both wasmtime's switch and Spindle's: the drop-in is
    /// built, but (some) wasmtime still switches on its own fiber.
    BothSwitches {
        wasmtime: Vec<String>,
        spindle: Vec<String>,
    },
}

fn switch_of(u: &Undefined) -> Option<Switch> {
    let s = u.raw.as_str();
    if s.contains("wasmtime_continuation_start") {
        Some(Switch::Continuation)
    } else if s.contains("wasmtime_fiber_switch")
        || s.contains("wasmtime_fiber_init")
        || s.contains("wasmtime_fiber_start")
    {
        Some(Switch::Fiber)
    } else {
        None
    }
}

/// Whether the log is a wasm link.
pub(super) fn is_wasm(log: &LinkLog, ctx: &Context) -> bool {
    log.linkers.iter().any(|l| l.contains("wasm"))
        || ctx.triple.as_deref().is_some_and(|t| t.starts_with("wasm"))
}

/// A C-named symbol (a Rust path is never a host function).
fn is_plain_c_name(u: &Undefined) -> bool {
    u.name == u.raw
        && !u.raw.is_empty()
        && u.raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !u.raw.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether `file` is the library `-l{lib}` (`…/libfoo.a`, `foo.lib`).
fn names_library(file: &str, lib: &str) -> bool {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = name.split('.').next().unwrap_or(name);
    stem == format!("lib{lib}") || name.eq_ignore_ascii_case(lib)
}

pub(super) fn classify(log: &LinkLog, ctx: &Context) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut rest: Vec<&Undefined> = Vec::new();
    for u in &log.undefined {
        match switch_of(u) {
            Some(switch) => causes.push(Cause::SwitchLost {
                switch,
                symbol: u.clone(),
            }),
            None => rest.push(u),
        }
    }
    if is_wasm(log, ctx) {
        let (imports, others): (Vec<&Undefined>, Vec<&Undefined>) =
            rest.into_iter().partition(|u| is_plain_c_name(u));
        if !imports.is_empty() {
            causes.push(Cause::WasmImportWithoutModule {
                functions: imports.iter().map(|u| u.raw.clone()).collect(),
            });
        }
        rest = others;
    }
    let mut first_mismatch = true;
    for ig in &log.ignored {
        let symbols = if first_mismatch {
            std::mem::take(&mut rest)
                .iter()
                .map(|u| u.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        first_mismatch = false;
        causes.push(Cause::ArchMismatch {
            ignored: ig.clone(),
            symbols,
        });
    }
    for l in &log.missing_libraries {
        // GNU ld's `skipping incompatible libfoo.a when searching for
        // -lfoo` then `cannot find -lfoo`: the library is there, for
        // another architecture.
        if log.ignored.iter().any(|ig| names_library(&ig.file, l)) {
            continue;
        }
        causes.push(Cause::MissingLibrary { name: l.clone() });
    }
    if !rest.is_empty() {
        causes.push(Cause::Unknown {
            symbols: rest.iter().map(|u| u.name.clone()).collect(),
        });
    }
    if let Some((version, path)) = &ctx.unused_fiber_patch {
        causes.push(Cause::PatchUnused {
            version: version.clone(),
            path: path.clone(),
            used: ctx.fiber_compiled.clone(),
        });
    }
    if !ctx.wasmtime_switch_names.is_empty() && !ctx.spindle_switch_names.is_empty() {
        causes.push(Cause::BothSwitches {
            wasmtime: ctx.wasmtime_switch_names.clone(),
            spindle: ctx.spindle_switch_names.clone(),
        });
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn kinds(text: &str) -> Vec<Cause> {
        classify(&parse(text), &super::super::context::context(text))
    }

    #[test]
    fn each_symbol_gets_one_cause() {
        let c = kinds(
            "Undefined symbols for architecture arm64:\n  \"_wasmtime_fiber_switch\", referenced from:\n      x in y.o\n  \"_other\", referenced from:\n      x in y.o\n",
        );
        assert!(
            matches!(
                &c[0],
                Cause::SwitchLost {
                    switch: Switch::Fiber,
                    ..
                }
            ),
            "{c:?}"
        );
        assert_eq!(
            c[1],
            Cause::Unknown {
                symbols: vec!["_other".into()]
            }
        );
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn wasm_c_names_are_imports_rust_paths_are_not() {
        let c = kinds(
            "wasm-ld: error: a.o: undefined symbol: host_log\nwasm-ld: error: a.o: undefined symbol: _ZN3foo3bar17h0123456789abcdefE\n",
        );
        assert_eq!(
            c[0],
            Cause::WasmImportWithoutModule {
                functions: vec!["host_log".into()]
            }
        );
        assert_eq!(
            c[1],
            Cause::Unknown {
                symbols: vec!["foo::bar".into()]
            }
        );
        // The same symbol in a native link is no wasm import.
        let c = kinds("ld.lld: error: undefined symbol: host_log\n");
        assert_eq!(
            c,
            [Cause::Unknown {
                symbols: vec!["host_log".into()]
            }]
        );
    }

    #[test]
    fn an_ignored_file_explains_the_symbols_it_would_define() {
        let c = kinds(
            "ld: warning: ignoring file 'l.a': found architecture 'arm64', required architecture 'x86_64'\nUndefined symbols for architecture x86_64:\n  \"_h\", referenced from:\n      _main in m.o\n",
        );
        assert!(
            matches!(&c[..], [Cause::ArchMismatch { symbols, .. }] if symbols == &["_h"]),
            "{c:?}"
        );
        assert!(kinds("nothing here\n").is_empty());
        let c = kinds(
            "/usr/bin/ld: skipping incompatible ./libarm.a when searching for -larm\n/usr/bin/ld: cannot find -larm: No such file or directory\n",
        );
        assert!(matches!(&c[..], [Cause::ArchMismatch { .. }]), "{c:?}");
    }
}
