//! The load-time import/export report: every problem at once, with WAT
//! signatures, suggestions and the `env` hint.

use crate::common::*;
use spindle_runtime::{Error, ErrorKind, LinkProblem};

const BAD_IMPORTS: &str = r#"
(module $bad
  (import "host" "lgo" (func (param i32 i32)))
  (import "env" "log" (func (param i32 i32)))
  (import "host" "accumulate" (func (param i32) (result i32)))
  (import "host" "clock" (func (result i64)))
  (import "host" "log" (memory 1))
  (func (export "main") (result i64) (i64.const 0))
)"#;

#[test]
fn every_import_problem_is_reported_at_once() {
    let host = builder()
        .require_export::<(), i32>("main")
        .require_export::<(), ()>("init")
        .build()
        .unwrap();
    let err = host
        .load_wat("bad.wat", BAD_IMPORTS)
        .err()
        .expect("must not load");
    eprintln!("{err}");
    let link = err.as_link().expect("a link error");
    assert_eq!(link.plugin(), "bad.wat");
    let problems = link.problems();
    assert_eq!(problems.len(), 7, "{err}");

    // 1. misspelled name: suggestion in the same module, with its signature.
    match &problems[0] {
        LinkProblem::MissingImport {
            module,
            name,
            expected,
            suggestions,
        } => {
            assert_eq!((module.as_str(), name.as_str()), ("host", "lgo"));
            assert_eq!(expected, "(func (param i32 i32))");
            assert_eq!(suggestions[0].0, "host");
            assert_eq!(suggestions[0].1, "log");
            assert_eq!(suggestions[0].2.to_string(), "(func (param i32 i32))");
        }
        p => panic!("{p:?}"),
    }
    // 2. right name, wrong module: cross-module suggestion.
    match &problems[1] {
        LinkProblem::MissingImport {
            module,
            suggestions,
            ..
        } => {
            assert_eq!(module, "env");
            assert_eq!(
                (suggestions[0].0.as_str(), suggestions[0].1.as_str()),
                ("host", "log")
            );
        }
        p => panic!("{p:?}"),
    }
    // 3. type mismatch shows both signatures.
    match &problems[2] {
        LinkProblem::ImportType {
            name,
            plugin_wants,
            host_has,
            ..
        } => {
            assert_eq!(name, "accumulate");
            assert_eq!(plugin_wants, "(func (param i32) (result i32))");
            assert_eq!(host_has.to_string(), "(func (param i64) (result i64))");
        }
        p => panic!("{p:?}"),
    }
    // 4. nothing similar: no suggestion.
    assert!(
        matches!(&problems[3], LinkProblem::MissingImport { name, suggestions, .. }
        if name == "clock" && suggestions.is_empty())
    );
    // 5. a function name imported as a memory.
    assert!(
        matches!(&problems[4], LinkProblem::ImportType { plugin_wants, .. }
        if plugin_wants == "(memory 1)")
    );
    // 6. required export with the wrong type, 7. missing required export.
    assert!(
        matches!(&problems[5], LinkProblem::ExportType { name, found, .. }
        if name == "main" && found == "(func (result i64))")
    );
    assert!(matches!(&problems[6], LinkProblem::MissingExport { name, .. } if name == "init"));

    assert!(link.has_env_hint());
    let text = err.report().to_string();
    for needle in [
        "plugin `bad.wat` does not fit this host (7 problems):",
        "missing import: (import \"host\" \"lgo\" (func (param i32 i32)))",
        "did you mean (import \"host\" \"log\" (func (param i32 i32)))?",
        "plugin imports: (func (param i32) (result i32))",
        "host provides:  (func (param i64) (result i64))",
        "missing export: (export \"init\" (func))",
        "wasm_import_module",
        "1.96",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Downcastable through std::error::Error too.
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(
        boxed
            .downcast_ref::<Error>()
            .and_then(Error::as_link)
            .is_some()
    );

    // The same host loads a plugin that fixes all seven problems.
    let fixed = host
        .load_wat(
            "fixed.wat",
            r#"(module
                (import "host" "log" (func (param i32 i32)))
                (import "host" "accumulate" (func (param i64) (result i64)))
                (func (export "main") (result i32) (i32.const 7))
                (func (export "init")))"#,
        )
        .unwrap();
    let mut inst = fixed.instantiate(Journal::default()).unwrap();
    assert_eq!(inst.call::<(), i32>("main", ()).unwrap(), 7);
}

#[test]
fn no_env_hint_without_env_imports() {
    let host = host();
    let err = host
        .load_wat(
            "typo",
            r#"(module (import "hots" "log" (func (param i32 i32))))"#,
        )
        .err()
        .unwrap();
    let link = err.as_link().unwrap();
    assert!(!link.has_env_hint());
    assert!(
        !err.report().to_string().contains("wasm_import_module"),
        "{err}"
    );
    // "hots" is not a module the host has; the name still matches host.log.
    assert!(
        err.report()
            .to_string()
            .contains("did you mean (import \"host\" \"log\""),
        "{err}"
    );
    assert_good_plugin_runs(&host);
}

#[test]
fn missing_required_export_suggests_near_names() {
    let host = builder()
        .require_export::<(i32, i32), i32>("add")
        .build()
        .unwrap();
    let err = host
        .load_wat(
            "near",
            r#"(module (func (export "ad") (param i32 i32) (result i32) i32.const 0))"#,
        )
        .err()
        .unwrap();
    match err.as_link().unwrap().problems() {
        [
            LinkProblem::MissingExport {
                name, suggestions, ..
            },
        ] => {
            assert_eq!(name, "add");
            assert_eq!(suggestions, &["ad"]);
        }
        p => panic!("{p:?}"),
    }
    assert_good_plugin_runs(&host);
}

#[test]
fn duplicate_host_function_is_refused() {
    let result = builder()
        .func("host", "log", |_cx: spindle_runtime::Ctx<'_, Journal>| {})
        .build();
    assert!(
        matches!(result.map_err(Error::into_kind), Err(ErrorKind::Config(ref m)) if m.contains("registered twice"))
    );
}

/// A required export whose type is a subtype of the one asked for is what
/// wasmtime accepts (`FuncType::matches`: parameters contravariant,
/// results covariant), so the report accepts it too; it once demanded
/// equal types and refused what wasmtime would run (found by the
/// `import_report` fuzz target). Here: a non-nullable `(ref func)` result
/// where `funcref` is required, and the other way round.
#[test]
fn a_required_export_of_a_subtype_is_accepted() {
    use spindle_runtime::wasmtime::{Engine, Module, RefType, ValType};
    use spindle_runtime::{HostSpec, Signature};
    let engine = Engine::default();
    let module = |wat: &str| Module::new(&engine, wat).unwrap();
    let nullable = ValType::Ref(RefType::FUNCREF);
    let non_null = ValType::Ref(RefType::new(
        false,
        spindle_runtime::wasmtime::HeapType::Func,
    ));
    let returning = |t: &ValType| Signature::from_types([], [t.clone()]);
    let taking = |t: &ValType| Signature::from_types([t.clone()], []);
    let exports_non_null = module(
        r#"(module (func $g) (elem declare func $g)
             (func (export "f") (result (ref func)) (ref.func $g))
             (func (export "g") (param funcref)))"#,
    );
    let mut spec = HostSpec::new();
    spec.require_export("f", returning(&nullable));
    spec.require_export("g", taking(&non_null));
    spec.check("subtype", &exports_non_null).unwrap();
    // The other way round is refused, as wasmtime refuses it.
    let exports_nullable = module(
        r#"(module (func (export "f") (result funcref) (ref.null func))
             (func (export "g") (param (ref func))))"#,
    );
    let mut spec = HostSpec::new();
    spec.require_export("f", returning(&non_null));
    spec.require_export("g", taking(&nullable));
    let err = spec.check("supertype", &exports_nullable).unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
    assert!(
        err.problems()
            .iter()
            .all(|p| matches!(p, LinkProblem::ExportType { .. })),
        "{err}"
    );
}
