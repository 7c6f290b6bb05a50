//! Load-time limits: modules whose shape makes Cranelift take gigabytes are
//! refused before compiling, each with its own error naming the limit, the
//! value and the function: compilation is bounded before it starts.

use crate::common::*;

use spindle_runtime::{ErrorKind, LoadLimit, LoadLimitError, LoadLimits};
use std::path::Path;

fn data(file: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file),
    )
    .unwrap()
}

fn refused(host: &spindle_runtime::Host<Journal>, bytes: &[u8]) -> LoadLimitError {
    match host
        .load_bytes("hostile", bytes)
        .map(|_| ())
        .map_err(|e| e.into_kind())
    {
        Err(ErrorKind::LoadLimit { plugin, error }) => {
            assert_eq!(plugin, "hostile");
            error
        }
        Err(other) => panic!("expected a load limit, got {other}"),
        Ok(()) => panic!("loaded"),
    }
}

fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(payload.len(), out);
    out.extend_from_slice(payload);
}

/// `n` empty functions of type `() -> ()`: 4 bytes each.
fn many_functions(n: usize) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut m);
    let mut funcs = Vec::new();
    leb(n, &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, n));
    section(3, &funcs, &mut m);
    let mut code = Vec::new();
    leb(n, &mut code);
    for _ in 0..n {
        code.extend_from_slice(&[2, 0, 0x0b]);
    }
    section(10, &code, &mut m);
    m
}

#[test]
fn nested_multi_value_blocks_are_refused_before_compiling() {
    // bt_2000_200.wasm (genbt.py 2000 200): 2000 nested blocks of a type
    // with 200 params and 200 results, one br_table; 10.9 KB that took
    // 4.7 GB and 7.6 s to compile at 9b1ab03.
    let e = refused(&host(), &data("bt_2000_200.wasm"));
    assert_eq!(e.limit, LoadLimit::BlockTypeArity);
    assert_eq!((e.value, e.max), (400, 32));
    assert_eq!(e.func_index, Some(0));
    let shown = e.to_string();
    assert!(
        shown.contains("block_type_arity") && shown.contains("400"),
        "{shown}"
    );
    // With the arity allowed, the nesting bound is what stops it.
    let host = builder()
        .load_limits(LoadLimits::new().block_type_arity(400).block_nesting(1000))
        .build()
        .unwrap();
    let e = refused(&host, &data("bt_2000_200.wasm"));
    assert_eq!(
        (e.limit, e.value, e.max),
        (LoadLimit::BlockNesting, 1001, 1000)
    );
}

#[test]
fn a_million_functions_are_refused_without_compiling_any() {
    let bytes = many_functions(1_000_000);
    let e = refused(&host(), &bytes);
    assert_eq!(e.limit, LoadLimit::Functions);
    assert_eq!((e.value, e.max, e.func_index), (1_000_000, 50_000, None));
    // Right at the bound it loads.
    let host = builder()
        .load_limits(LoadLimits::new().functions(1000))
        .build()
        .unwrap();
    host.load_bytes("ok", &many_functions(1000)).unwrap();
    assert_eq!(refused(&host, &many_functions(1001)).value, 1001);
}

#[test]
fn each_limit_has_its_own_error_naming_the_function() {
    let host = builder()
        .load_limits(
            LoadLimits::new()
                .block_nesting(4)
                .br_table_width(8)
                .locals(16)
                .body_bytes(200),
        )
        .build()
        .unwrap();
    let wat = |body: &str| {
        wat::parse_str(format!(
            "(module (func $ok) (func $bad (param i32) {body}))"
        ))
        .unwrap()
    };
    let cases: [(&str, LoadLimit, u64, u64); 4] = [
        (
            "(block (block (block (block (block)))))",
            LoadLimit::BlockNesting,
            5,
            4,
        ),
        (
            "(block (block (block (block (block (block (block (block (br_table 0 1 2 3 4 5 6 7 8 (local.get 0))))))))))",
            LoadLimit::BlockNesting,
            5,
            4,
        ),
        (
            "(block (br_table 0 0 0 0 0 0 0 0 0 (local.get 0)))",
            LoadLimit::BrTableWidth,
            9,
            8,
        ),
        (
            "(local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 f32)",
            LoadLimit::Locals,
            17,
            16,
        ),
    ];
    for (body, limit, value, max) in cases {
        let e = refused(&host, &wat(body));
        assert_eq!((e.limit, e.value, e.max), (limit, value, max), "{body}");
        assert_eq!(e.func_index, Some(1), "{body}");
        assert_eq!(e.func_name.as_deref(), Some("bad"), "{body}");
        assert!(e.to_string().contains("in function 1 (\"bad\")"), "{e}");
    }
    let big = format!("{} drop", "(i32.const 1000000) drop ".repeat(60));
    let e = refused(&host, &wat(&big));
    assert_eq!(
        (e.limit, e.func_name.as_deref()),
        (LoadLimit::BodyBytes, Some("bad"))
    );
    // Function indices count imports first, as in backtraces.
    let imported = wat::parse_str(
        r#"(module (import "host" "log" (func (param i32 i32)))
            (func $deep (block (block (block (block (block)))))))"#,
    )
    .unwrap();
    let e = refused(&host, &imported);
    assert_eq!(
        (e.func_index, e.func_name.as_deref()),
        (Some(1), Some("deep"))
    );
    // Module size is checked first, on the bytes alone.
    let tiny = builder()
        .load_limits(LoadLimits::new().module_bytes(16))
        .build()
        .unwrap();
    let e = refused(&tiny, &wat("(nop)"));
    assert_eq!((e.limit, e.func_index), (LoadLimit::ModuleBytes, None));
}

#[test]
fn malformed_modules_are_still_reported_by_wasmtime() {
    // The pre-pass decodes only: garbage after the header is wasmtime's
    // InvalidModule, as before, not a limit.
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend_from_slice(&[10, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = host().load_bytes("bad", &bytes).err().unwrap();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidModule { .. }),
        "{err}"
    );
}

#[test]
fn every_example_plugin_passes_the_defaults() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/wat");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = wat::parse_file(&path).unwrap();
        let r = spindle_runtime::compile_file(&spindle_runtime::wasmtime::Engine::default(), &path);
        if let Err(e) = &r {
            assert!(
                !matches!(e.kind(), ErrorKind::LoadLimit { .. }),
                "{}: {e}",
                path.display()
            );
        }
        assert!(bytes.len() < LoadLimits::default().module_bytes);
        n += 1;
    }
    assert!(
        n >= 4,
        "found only {n} example plugins in {}",
        dir.display()
    );
}

#[test]
fn spindle_check_path_applies_the_limits_too() {
    // `compile_file` (what `spindle check` uses) runs the same pre-pass.
    let dir = scratch_dir("loadlimits");
    let path = dir.join("bt.wasm");
    std::fs::write(&path, data("bt_2000_200.wasm")).unwrap();
    let engine = spindle_runtime::wasmtime::Engine::default();
    let err = spindle_runtime::compile_file(&engine, &path).err().unwrap();
    assert!(
        matches!(err.kind(), ErrorKind::LoadLimit { error, .. } if error.limit == LoadLimit::BlockTypeArity),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
