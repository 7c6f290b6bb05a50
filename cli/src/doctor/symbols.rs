//! Symbol-table evidence: which fiber switch routines (spindle-fiber's and
//! wasmtime's) an object defines or leaves undefined.

use std::collections::BTreeSet;

use object::{BinaryFormat, Object, ObjectSymbol, ReadRef};

/// What the symbol tables say about the fiber switch routines.
#[derive(Debug, Default)]
pub(super) struct Switch {
    pub(super) spindle_defined: BTreeSet<String>,
    pub(super) spindle_undefined: BTreeSet<String>,
    pub(super) wasmtime_defined: BTreeSet<String>,
    pub(super) wasmtime_undefined: BTreeSet<String>,
    pub(super) symbols_seen: usize,
    pub(super) proc_macro: bool,
    /// Symbols doctor may still visit in this file (see [`symbol_budget`]).
    pub(super) budget: u64,
    /// The budget ran out: the symbol tables were not all read.
    pub(super) budget_exhausted: bool,
}

/// Symbol visits allowed for a file of `len` bytes. A symbol entry takes at
/// least 12 bytes (a 32-bit Mach-O `nlist`; ELF and COFF take 16 to 24),
/// so a file whose objects and tables do not overlap never needs more than
/// `len / 12`. A crafted universal binary whose slices all point at one
/// symbol table would otherwise make the work slices × symbols.
pub(super) fn symbol_budget(len: u64) -> u64 {
    len / 8 + 64
}

/// Is `name` (without a Mach-O `_`) one of spindle-fiber's switch routines,
/// of any version? `spindle_fiber_<version>_{resume,suspend,trampoline}`.
pub(super) fn spindle_switch_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("spindle_fiber_") else {
        return false;
    };
    ["_resume", "_suspend", "_trampoline"].iter().any(|r| {
        rest.strip_suffix(r).is_some_and(|v| {
            !v.is_empty() && v.split('_').all(|p| p.chars().all(|c| c.is_ascii_digit()))
        })
    })
}

/// wasmtime's fiber switch: a plain versioned symbol in old releases
/// (`wasmtime_fiber_switch_22_0_0`), a mangled naked function since
/// (`..wasmtime_fiber_switch_..`, wasmtime 38 and 48).
fn wasmtime_switch_name(name: &str) -> bool {
    name.contains("wasmtime_fiber_switch")
}

/// Adds what `file`'s symbol tables say to `into`, within `into.budget`.
pub(super) fn scan_symbols<'d, R: ReadRef<'d>>(file: &object::File<'d, R>, into: &mut Switch) {
    let macho = file.format() == BinaryFormat::MachO;
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if into.budget == 0 {
            into.budget_exhausted = true;
            return;
        }
        into.budget -= 1;
        let Ok(raw) = sym.name() else { continue };
        into.symbols_seen += 1;
        let name = if macho {
            raw.strip_prefix('_').unwrap_or(raw)
        } else {
            raw
        };
        if name.starts_with("__rustc_proc_macro_decls_") && !sym.is_undefined() {
            into.proc_macro = true;
        }
        let set = if spindle_switch_name(name) {
            if sym.is_undefined() {
                &mut into.spindle_undefined
            } else {
                &mut into.spindle_defined
            }
        } else if wasmtime_switch_name(name) {
            if sym.is_undefined() {
                &mut into.wasmtime_undefined
            } else {
                &mut into.wasmtime_defined
            }
        } else {
            continue;
        };
        set.insert(name.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_names() {
        for s in spindle_fiber::SWITCH_SYMBOLS {
            assert!(spindle_switch_name(s), "{s}");
        }
        assert!(spindle_switch_name("spindle_fiber_0_1_0_resume"));
        assert!(spindle_switch_name("spindle_fiber_1_20_3_trampoline"));
        assert!(!spindle_switch_name("spindle_fiber_resume"));
        assert!(!spindle_switch_name("spindle_fiber_0_1_0_resume_helper"));
        assert!(wasmtime_switch_name(
            "_ZN24wasmtime_internal_fiber11stackswitch7aarch6422wasmtime_fiber_switch_17h0123456789abcdefE"
        ));
    }
}
