//! Names from a module's `name` custom section: what a function is called,
//! for load-limit errors, and what an exported function calls its
//! parameters, for a caller's argument errors (`spindle run` says
//! `($count i32)`, not only "argument 2").
//!
//! The section is optional debug information that wasmtime does not check,
//! and these readers may see bytes wasmtime never accepted. So they are best
//! effort and untrusted-input safe: they stop at the first thing they cannot
//! decode and answer with what they found, never panic, and allocate only
//! for names the bytes actually hold; no count or index the input claims
//! sizes anything.

use wasmparser::{ExternalKind, KnownCustom, Name, Parser, Payload};

/// The name the name section gives function `index` (imports counted
/// first, as wasm numbers functions), if any.
pub(crate) fn function_name(bytes: &[u8], index: u32) -> Option<String> {
    for payload in Parser::new(0).parse_all(bytes) {
        let Payload::CustomSection(custom) = payload.ok()? else {
            continue;
        };
        let KnownCustom::Name(names) = custom.as_known() else {
            continue;
        };
        for name in names {
            let Ok(Name::Function(map)) = name else {
                continue;
            };
            for naming in map.into_iter().flatten() {
                if naming.index == index {
                    return Some(naming.name.to_string());
                }
            }
        }
    }
    None
}

/// The names of the parameters of the function `wasm` exports as `export`,
/// by position, from the module's name section: `$a` in WAT, argument names
/// in Rust debug builds.
///
/// `params` is the export's parameter count as its signature gives it
/// (`FuncType::params().len()` of the loaded module); the result has that
/// length, with `None` where the module names nothing. A module without
/// names, or without that export, gives all `None`. Names of the function's
/// other locals, whose indices follow the parameters, are ignored, and so
/// is any index from `params` on, however large (0xFFFFFFFF included).
pub fn param_names(wasm: &[u8], export: &str, params: usize) -> Vec<Option<String>> {
    let mut func = None;
    let mut names = vec![None; params];
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::ExportSection(reader)) => {
                func = reader.into_iter().flatten().find_map(|e| {
                    (e.name == export && e.kind == ExternalKind::Func).then_some(e.index)
                });
            }
            Ok(Payload::CustomSection(c)) => {
                let (Some(func), KnownCustom::Name(reader)) = (func, c.as_known()) else {
                    continue;
                };
                for name in reader.into_iter().flatten() {
                    let Name::Local(map) = name else {
                        continue;
                    };
                    for f in map.into_iter().flatten() {
                        if f.index != func {
                            continue;
                        }
                        for n in f.names.into_iter().flatten() {
                            if let Some(slot) = names.get_mut(n.index as usize) {
                                *slot = Some(n.name.to_string());
                            }
                        }
                    }
                }
            }
            Err(_) => break,
            _ => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMED: &str = r#"(module
        (import "host" "f" (func $imported (param $x i32)))
        (func $scale (export "scale") (param $factor f64) (param i32) (param $count i32)
            (local $tmp i32))
        (func (export "bare") (param i32))
        (export "reexported" (func $imported))
        (memory (export "memory") 1))"#;

    fn named() -> Vec<u8> {
        wat::parse_str(NAMED).unwrap()
    }

    /// `(module (func (export "f") (param i32)))` with a name section
    /// holding one local-names subsection, `local_names` (its count first).
    fn with_local_names(local_names: &[u8]) -> Vec<u8> {
        let mut wasm = vec![
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
            0x01, 0x05, 0x01, 0x60, 0x01, 0x7f, 0x00, // type: (func (param i32))
            0x03, 0x02, 0x01, 0x00, // function 0 has type 0
            0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // export "f" = func 0
            0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: an empty body
        ];
        let size = |n: usize| u8::try_from(n).expect("a small test section");
        wasm.extend([0x00, size(5 + 2 + local_names.len())]); // custom section
        wasm.extend([0x04, b'n', b'a', b'm', b'e']);
        wasm.extend([0x02, size(local_names.len())]); // local names
        wasm.extend(local_names);
        wasm
    }

    /// LEB128 for 0xFFFFFFFF.
    const U32_MAX: [u8; 5] = [0xff, 0xff, 0xff, 0xff, 0x0f];

    #[test]
    fn parameters_are_named_by_position_and_locals_are_not() {
        let wasm = named();
        assert_eq!(
            param_names(&wasm, "scale", 3),
            [Some("factor".to_string()), None, Some("count".to_string())]
        );
        // Local 3 is `$tmp`, past the parameters.
        assert_eq!(param_names(&wasm, "scale", 3).len(), 3);
        assert_eq!(param_names(&wasm, "bare", 1), [None]);
        assert_eq!(param_names(&wasm, "reexported", 1), [Some("x".to_string())]);
    }

    #[test]
    fn what_is_not_an_exported_function_has_no_names() {
        let wasm = named();
        assert_eq!(param_names(&wasm, "missing", 2), [None, None]);
        assert_eq!(param_names(&wasm, "memory", 1), [None]);
        assert_eq!(param_names(&wasm, "scale", 0), Vec::<Option<String>>::new());
    }

    #[test]
    fn a_local_index_far_past_the_parameters_is_ignored() {
        // Function 0, one name: local 0xFFFFFFFF is `x`. This sized a vector
        // by the index once (96 GiB, then SIGABRT).
        let wasm =
            with_local_names(&[[0x01, 0x00, 0x01].as_slice(), &U32_MAX, &[0x01, b'x']].concat());
        assert_eq!(param_names(&wasm, "f", 1), [None]);
        let wasm = with_local_names(&[0x01, 0x00, 0x01, 0x00, 0x01, b'x']);
        assert_eq!(param_names(&wasm, "f", 1), [Some("x".to_string())]);
    }

    #[test]
    fn a_count_the_input_claims_reserves_nothing() {
        // 0xFFFFFFFF functions claimed, one held: that one is read.
        let wasm =
            with_local_names(&[U32_MAX.as_slice(), &[0x00, 0x01, 0x00, 0x01, b'x']].concat());
        assert_eq!(param_names(&wasm, "f", 1), [Some("x".to_string())]);
        // 0xFFFFFFFF names of function 0 claimed, one held: the entry does
        // not decode, so it names nothing.
        let wasm =
            with_local_names(&[[0x01, 0x00].as_slice(), &U32_MAX, &[0x00, 0x01, b'x']].concat());
        assert_eq!(param_names(&wasm, "f", 1), [None]);
    }

    #[test]
    fn damaged_modules_give_what_was_read_and_never_panic() {
        let wasm = named();
        let want = param_names(&wasm, "scale", 3);
        // Every truncation, and every byte replaced by a few values that
        // turn counts, sizes and indices into extremes.
        for len in 0..wasm.len() {
            let got = param_names(&wasm[..len], "scale", 3);
            assert_eq!(got.len(), 3, "truncated at {len}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.is_none() || g == w, "truncated at {len}: {got:?}");
            }
            let _ = function_name(&wasm[..len], 1);
        }
        for at in 8..wasm.len() {
            for byte in [0x00, 0x7f, 0x80, 0xff] {
                let mut bad = wasm.clone();
                bad[at] = byte;
                assert_eq!(param_names(&bad, "scale", 3).len(), 3);
                let _ = function_name(&bad, 1);
            }
        }
        assert_eq!(param_names(b"", "scale", 2), [None, None]);
        assert_eq!(param_names(b"not wasm at all", "scale", 1), [None]);
    }

    #[test]
    fn functions_are_named_by_index_imports_first() {
        let wasm = named();
        assert_eq!(function_name(&wasm, 0).as_deref(), Some("imported"));
        assert_eq!(function_name(&wasm, 1).as_deref(), Some("scale"));
        assert_eq!(function_name(&wasm, 2), None);
        assert_eq!(function_name(&wasm, u32::MAX), None);
    }
}
