#![no_main]
//! The import/export report against wasmtime's own linking.
//!
//! A wasm-smith module (arbitrary imports of every kind, arbitrary exports)
//! meets a random host spec: functions that match the module's imports,
//! mistype them, sit in another module, or are unrelated, and required
//! exports that match, mistype or miss the module's exports. Then:
//!
//! * `HostSpec::check` never panics, and neither does printing its report;
//! * it says "fits" exactly when wasmtime agrees: `Linker::instantiate_pre`
//!   with one host function per declared signature succeeds, and each
//!   required export is a function whose type matches the required one
//!   (wasmtime's `FuncType::matches`);
//! * every problem listed is real, checked against the module and
//!   wasmtime's type matching, and there is one per import wasmtime cannot
//!   resolve and one per unmet required export.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use spindle_runtime::wasmtime::{
    Config, Engine, ExternType, FuncType, HeapType, Linker, Module, RefType, ValType,
};
use spindle_runtime::{HostSpec, LinkProblem, Signature};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        // Only linking is under test: compile as fast as possible.
        config.cranelift_opt_level(spindle_runtime::wasmtime::OptLevel::None);
        Engine::new(&config).expect("engine")
    })
}

fn smith_config(u: &mut Unstructured<'_>) -> Result<wasm_smith::Config> {
    let mut c = wasm_smith::Config {
        // What spindle-runtime's wasmtime is built to run (no `gc` feature).
        gc_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        shared_everything_threads_enabled: false,
        max_funcs: 12,
        max_imports: 16,
        max_exports: 16,
        max_instructions: 20,
        max_types: 16,
        max_globals: 8,
        max_memories: 2,
        max_tables: 2,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 16,
        max_memory32_bytes: 1 << 20,
        max_memory64_bytes: 1 << 20,
        max_table_elements: 1000,
        ..wasm_smith::Config::default()
    };
    c.export_everything = u.arbitrary()?;
    c.memory64_enabled = u.arbitrary()?;
    Ok(c)
}

fn val_type(u: &mut Unstructured<'_>) -> Result<ValType> {
    Ok(match u.int_in_range(0..=8u8)? {
        0 => ValType::I32,
        1 => ValType::I64,
        2 => ValType::F32,
        3 => ValType::F64,
        4 => ValType::V128,
        5 => ValType::FUNCREF,
        6 => ValType::EXTERNREF,
        7 => ValType::Ref(RefType::new(false, HeapType::Func)),
        _ => ValType::NULLFUNCREF,
    })
}

fn random_sig(u: &mut Unstructured<'_>) -> Result<Signature> {
    let n = u.int_in_range(0..=3)?;
    let params = (0..n).map(|_| val_type(u)).collect::<Result<Vec<_>>>()?;
    let n = u.int_in_range(0..=2)?;
    let results = (0..n).map(|_| val_type(u)).collect::<Result<Vec<_>>>()?;
    Ok(Signature::from_types(params, results))
}

fn sig_of(ft: &FuncType) -> Signature {
    Signature::from_types(ft.params(), ft.results())
}

/// A signature close to `ft`: one type changed, one added or one dropped.
fn perturb(u: &mut Unstructured<'_>, ft: &FuncType) -> Result<Signature> {
    let mut params: Vec<ValType> = ft.params().collect();
    let mut results: Vec<ValType> = ft.results().collect();
    let list = if u.arbitrary()? {
        &mut params
    } else {
        &mut results
    };
    match u.int_in_range(0..=2u8)? {
        0 if !list.is_empty() => {
            let i = u.choose_index(list.len())?;
            list[i] = val_type(u)?;
        }
        1 if !list.is_empty() => {
            let i = u.choose_index(list.len())?;
            list.remove(i);
        }
        _ => list.push(val_type(u)?),
    }
    Ok(Signature::from_types(params, results))
}

fn func_type(sig: &Signature) -> FuncType {
    FuncType::new(
        engine(),
        sig.params().iter().cloned(),
        sig.results().iter().cloned(),
    )
}

fn name(u: &mut Unstructured<'_>) -> Result<String> {
    const NAMES: &[&str] = &["", "env", "host", "log", "lgo", "run", "memory", "a", "b"];
    Ok(if u.arbitrary()? {
        NAMES[u.choose_index(NAMES.len())?].to_string()
    } else {
        u.arbitrary::<String>()?
    })
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let config = smith_config(&mut u)?;
    let smith = wasm_smith::Module::new(config, &mut u)?;
    let bytes = smith.to_bytes();
    let Ok(module) = Module::new(engine(), &bytes) else {
        // Not a module this engine takes: not the report's business.
        return Ok(());
    };

    // The host spec, remembered as wasmtime function types too.
    let mut spec = HostSpec::new();
    let mut host: BTreeMap<(String, String), FuncType> = BTreeMap::new();
    let mut declare = |spec: &mut HostSpec, m: String, n: String, sig: Signature| {
        if spec.func(&m, &n, sig.clone()) {
            host.insert((m, n), func_type(&sig));
        }
    };
    for import in module.imports() {
        let (m, n) = (import.module().to_string(), import.name().to_string());
        match (u.int_in_range(0..=4u8)?, import.ty()) {
            (0, _) => {}
            (1 | 2, ExternType::Func(ft)) => declare(&mut spec, m, n, sig_of(&ft)),
            (3, ExternType::Func(ft)) => {
                let sig = perturb(&mut u, &ft)?;
                declare(&mut spec, m, n, sig)
            }
            (4, ExternType::Func(ft)) => declare(&mut spec, format!("{m}_"), n, sig_of(&ft)),
            _ => {
                let sig = random_sig(&mut u)?;
                declare(&mut spec, m, n, sig)
            }
        }
    }
    for _ in 0..u.int_in_range(0..=3)? {
        let (m, n, sig) = (name(&mut u)?, name(&mut u)?, random_sig(&mut u)?);
        declare(&mut spec, m, n, sig);
    }
    let mut required: Vec<(String, Signature)> = Vec::new();
    for export in module.exports() {
        let ExternType::Func(ft) = export.ty() else {
            if u.ratio(1, 4)? {
                required.push((export.name().to_string(), random_sig(&mut u)?));
            }
            continue;
        };
        match u.int_in_range(0..=3u8)? {
            0 => {}
            1 | 2 => required.push((export.name().to_string(), sig_of(&ft))),
            _ => required.push((export.name().to_string(), perturb(&mut u, &ft)?)),
        }
    }
    for _ in 0..u.int_in_range(0..=2)? {
        required.push((name(&mut u)?, random_sig(&mut u)?));
    }
    for (n, sig) in &required {
        spec.require_export(n, sig.clone());
    }

    let report = spec.check("fuzz.wasm", &module);
    if let Err(e) = &report {
        let _ = e.to_string();
    }

    // wasmtime's view of the imports.
    let mut linker: Linker<()> = Linker::new(engine());
    for ((m, n), ft) in &host {
        linker
            .func_new(m, n, ft.clone(), |_, _, _| Ok(()))
            .expect("defining a host function");
    }
    let imports_link = linker.instantiate_pre(&module).is_ok();
    let import_unresolved =
        |m: &str, n: &str, ty: &ExternType| match (host.get(&(m.into(), n.into())), ty) {
            (Some(have), ExternType::Func(want)) => !have.matches(want),
            _ => true,
        };
    let unresolved_imports = module
        .imports()
        .filter(|i| import_unresolved(i.module(), i.name(), &i.ty()))
        .count();
    let export_unmet = |n: &str, sig: &Signature| match module.get_export(n) {
        Some(ExternType::Func(ft)) => !ft.matches(&func_type(sig)),
        _ => true,
    };
    let unmet_exports = required.iter().filter(|(n, s)| export_unmet(n, s)).count();
    assert_eq!(
        imports_link,
        unresolved_imports == 0,
        "per-import matching disagrees with instantiate_pre"
    );
    let wasmtime_fits = imports_link && unmet_exports == 0;

    match &report {
        Ok(()) => assert!(
            wasmtime_fits,
            "report says it fits; wasmtime: imports link {imports_link}, {unmet_exports} unmet exports"
        ),
        Err(e) => {
            assert!(
                !wasmtime_fits,
                "report lists problems wasmtime does not see:\n{e}"
            );
            let mut import_problems = 0;
            let mut export_problems = 0;
            for p in e.problems() {
                match p {
                    LinkProblem::MissingImport {
                        module: m, name: n, ..
                    } => {
                        import_problems += 1;
                        assert!(
                            module.imports().any(|i| i.module() == m && i.name() == n),
                            "missing import {m}.{n} that the module does not import"
                        );
                        assert!(
                            !host.contains_key(&(m.clone(), n.clone())),
                            "{m}.{n} is declared"
                        );
                    }
                    LinkProblem::ImportType {
                        module: m, name: n, ..
                    } => {
                        import_problems += 1;
                        assert!(
                            host.contains_key(&(m.clone(), n.clone())),
                            "{m}.{n} not declared"
                        );
                        assert!(
                            module.imports().any(|i| i.module() == m
                                && i.name() == n
                                && import_unresolved(m, n, &i.ty())),
                            "import {m}.{n} is said to be mistyped, but wasmtime links it"
                        );
                    }
                    LinkProblem::MissingExport { name: n, .. } => {
                        export_problems += 1;
                        assert!(module.get_export(n).is_none(), "export {n:?} exists");
                    }
                    LinkProblem::ExportType {
                        name: n, expected, ..
                    } => {
                        export_problems += 1;
                        assert!(
                            module.get_export(n).is_some(),
                            "export {n:?} does not exist"
                        );
                        assert!(
                            export_unmet(n, expected),
                            "export {n:?} is said to be mistyped, but wasmtime matches it"
                        );
                    }
                    other => panic!("a problem this target does not know: {other:?}"),
                }
            }
            assert_eq!(
                import_problems, unresolved_imports,
                "one problem per unresolved import:\n{e}"
            );
            assert_eq!(
                export_problems, unmet_exports,
                "one problem per unmet export:\n{e}"
            );
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
