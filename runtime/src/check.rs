//! Checking a plugin against a host described by signatures alone, and
//! calling exports with dynamically typed values.
//!
//! Tools (the `spindle` command) check plugins against hosts they do not
//! run: a manifest lists what an application provides, with no closures
//! behind it. [`HostSpec`] is that description; its report is the same
//! [`LinkError`] that [`Host::load_file`](crate::Host::load_file) returns.

use std::path::Path;

use wasmtime::{Engine, Module, ValType};

use crate::error::{Error, ErrorKind, classify};
use crate::host::Host;
use crate::instance::Instance;
use crate::link::{self, HostFuncs, LinkError};
use crate::load_limits::LoadLimits;
use crate::types::Signature;

/// What a host provides and requires, as signatures only.
#[derive(Clone, Debug, Default)]
pub struct HostSpec {
    funcs: HostFuncs,
    wasi: bool,
    required_exports: Vec<(String, Signature)>,
}

impl HostSpec {
    /// A host that provides nothing and requires nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The functions and required exports of a built host.
    pub fn of_host<T>(host: &Host<T>) -> Self {
        HostSpec {
            funcs: host.inner.funcs.clone(),
            wasi: host.inner.shared.wasi.is_some(),
            required_exports: host.inner.required_exports.clone(),
        }
    }

    /// Declares host function `module`.`name`. Returns `false` (and keeps the
    /// first) if it was already declared.
    pub fn func(&mut self, module: &str, name: &str, signature: Signature) -> bool {
        let key = (module.to_string(), name.to_string());
        if self.funcs.contains_key(&key) {
            return false;
        }
        self.funcs.insert(key, signature);
        true
    }

    /// Declares that the host provides WASI preview 1
    /// ([`HostBuilder::wasi`](crate::HostBuilder::wasi)), so imports of its
    /// functions are satisfied (an unknown name is still reported).
    pub fn wasi(&mut self, provided: bool) {
        self.wasi = provided;
    }

    /// Whether the host is declared to provide WASI.
    pub fn provides_wasi(&self) -> bool {
        self.wasi
    }

    /// Requires plugins to export function `name` with `signature`.
    pub fn require_export(&mut self, name: &str, signature: Signature) {
        self.required_exports.push((name.to_string(), signature));
    }

    /// Declared functions as `(module, name, signature)`, sorted.
    pub fn functions(&self) -> impl Iterator<Item = (&str, &str, &Signature)> {
        self.funcs
            .iter()
            .map(|((m, n), s)| (m.as_str(), n.as_str(), s))
    }

    /// Required exports, in declaration order.
    pub fn required_exports(&self) -> &[(String, Signature)] {
        &self.required_exports
    }

    /// Every import/export problem of `module` against this host, at once.
    pub fn check(&self, plugin: &str, module: &Module) -> Result<(), LinkError> {
        link::check(
            plugin,
            module,
            &self.funcs,
            self.wasi,
            &self.required_exports,
        )
    }
}

impl Signature {
    /// A signature from wasm value types.
    pub fn from_types(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> Self {
        Signature::new(params.into_iter().collect(), results.into_iter().collect())
    }
}

/// Compiles a plugin file (`.wat` as text, anything else as a binary module)
/// without checking its imports, with the same error reports as
/// [`Host::load_file`](crate::Host::load_file), under the default
/// [`LoadLimits`].
pub fn compile_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
    compile_file_with(engine, path, &LoadLimits::default())
}

/// [`compile_file`] with explicit load limits.
pub fn compile_file_with(
    engine: &Engine,
    path: impl AsRef<Path>,
    limits: &LoadLimits,
) -> Result<Module, Error> {
    let (name, bytes) = crate::host::read_plugin_file(path.as_ref(), limits)?;
    crate::host::check_header(&name, &bytes)?;
    crate::host::check_load_limits(&name, &bytes, limits)?;
    Module::from_binary(engine, &bytes).map_err(|e| {
        ErrorKind::InvalidModule {
            plugin: name,
            reason: format!("{e:#}"),
        }
        .into()
    })
}

impl<T: 'static> Instance<T> {
    /// The signature of function export `name`, if there is one.
    pub fn export_signature(&self, name: &str) -> Option<Signature> {
        match self.module.get_export(name)? {
            wasmtime::ExternType::Func(ft) => Some(Signature::from_func_type(&ft)),
            _ => None,
        }
    }

    /// Calls export `name` with values whose types are known only at run
    /// time (a command line, a script). Same limits and errors as
    /// [`Instance::call`]; a wrong argument count or type is
    /// [`ErrorKind::ExportSignature`].
    pub fn call_dynamic(
        &mut self,
        name: &str,
        args: &[wasmtime::Val],
    ) -> Result<Vec<wasmtime::Val>, Error> {
        let Some(func) = self.instance.get_func(&mut self.store, name) else {
            return Err(ErrorKind::MissingExport {
                name: name.to_string(),
                available: self.function_exports_near(name),
            }
            .into());
        };
        let ty = func.ty(&self.store);
        let given: Option<Vec<ValType>> = args
            .iter()
            .map(|a| match a {
                wasmtime::Val::I32(_) => Some(ValType::I32),
                wasmtime::Val::I64(_) => Some(ValType::I64),
                wasmtime::Val::F32(_) => Some(ValType::F32),
                wasmtime::Val::F64(_) => Some(ValType::F64),
                _ => None,
            })
            .collect();
        let fits = given.as_ref().is_some_and(|g| {
            g.len() == ty.params().len() && g.iter().zip(ty.params()).all(|(a, b)| a.matches(&b))
        });
        if !fits {
            return Err(ErrorKind::ExportSignature {
                name: name.to_string(),
                expected: Signature::new(given.unwrap_or_default(), ty.results().collect()),
                found: Signature::from_func_type(&ty),
            }
            .into());
        }
        let mut results = vec![wasmtime::Val::I32(0); ty.results().len()];
        self.arming.arm(&mut self.store)?;
        let called = match self.async_call {
            Some(run) => {
                if let Some(ex) = &self.store.data().exchange {
                    // As in a plain call: nothing may suspend here.
                    crate::exchange::deactivate(ex);
                }
                run(&mut self.store, func, args, &mut results)
            }
            None => {
                self.arming.check_native_stack()?;
                func.call(&mut self.store, args, &mut results)
            }
        };
        match called {
            Ok(()) => Ok(results),
            Err(e) => {
                let e = classify(e, self.arming.budget);
                match e.kind() {
                    // proc_exit(0) ends a call without results normally.
                    ErrorKind::Exit { code: 0 } if results.is_empty() => Ok(results),
                    _ => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, Limits};

    fn host() -> Host<()> {
        Host::<()>::builder()
            .func("m", "log", |_cx: Ctx<'_, ()>, _p: u32, _l: u32| {})
            .require_export::<i32, i32>("run")
            .enable_fuel()
            .build()
            .unwrap()
    }

    const PLUGIN: &str = r#"(module
        (import "m" "lgo" (func (param i32 i32)))
        (func (export "run") (param i32) (result i32) (local.get 0))
        (func (export "spin") (loop (br 0))))"#;

    #[test]
    fn spec_of_a_host_reports_like_the_host() {
        let host = host();
        let spec = HostSpec::of_host(&host);
        let funcs: Vec<String> = spec
            .functions()
            .map(|(m, n, s)| format!("{m}.{n}{s}"))
            .collect();
        assert_eq!(funcs, ["m.log(func (param i32 i32))"]);
        let module = Module::new(host.engine(), PLUGIN).unwrap();
        let from_spec = spec.check("p", &module).unwrap_err().to_string();
        let from_host = host.load_wat("p", PLUGIN).err().unwrap().to_string();
        assert_eq!(from_spec, from_host);
        assert!(from_spec.contains(r#"did you mean (import "m" "log""#));
    }

    #[test]
    fn declared_signatures_are_checked() {
        let mut spec = HostSpec::new();
        assert!(spec.func("m", "lgo", Signature::from_types([ValType::I64], [])));
        assert!(!spec.func("m", "lgo", Signature::from_types([], [])));
        spec.require_export("run", Signature::from_types([ValType::I32], [ValType::I32]));
        let engine = Engine::default();
        let module = Module::new(&engine, PLUGIN).unwrap();
        let err = spec.check("p", &module).unwrap_err();
        assert_eq!(err.problems().len(), 1, "{err}");
        assert!(matches!(
            err.problems()[0],
            crate::LinkProblem::ImportType { .. }
        ));
        spec = HostSpec::new();
        spec.func(
            "m",
            "lgo",
            Signature::from_types([ValType::I32, ValType::I32], []),
        );
        assert!(spec.check("p", &module).is_ok());
    }

    #[test]
    fn dynamic_calls_check_types_and_keep_limits() {
        let host = Host::<()>::builder().enable_fuel().build().unwrap();
        let plugin = host
            .load_wat(
                "p",
                r#"(module
                    (func (export "run") (param i32) (result i32) (local.get 0))
                    (func (export "spin") (loop (br 0))))"#,
            )
            .unwrap();
        let mut inst = plugin
            .instantiate_with((), Limits::new().fuel(1000))
            .unwrap();
        let out = inst.call_dynamic("run", &[wasmtime::Val::I32(7)]).unwrap();
        assert_eq!(out[0].unwrap_i32(), 7);
        let err = inst
            .call_dynamic("run", &[wasmtime::Val::I64(7)])
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::ExportSignature { .. }),
            "{err}"
        );
        let err = inst.call_dynamic("rnu", &[]).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::MissingExport { .. }),
            "{err}"
        );
        let err = inst.call_dynamic("spin", &[]).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::OutOfFuel { fuel: 1000, .. }),
            "{err}"
        );
        // Fuel is per call: the next call has its full budget again.
        assert!(inst.call_dynamic("run", &[wasmtime::Val::I32(1)]).is_ok());
        assert_eq!(
            inst.export_signature("run").unwrap().to_string(),
            "(func (param i32) (result i32))"
        );
        assert!(inst.export_signature("nope").is_none());
    }
}
