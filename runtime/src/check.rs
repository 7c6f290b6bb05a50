//! Checking a plugin against a host described by signatures alone, and
//! compiling a plugin file without a host.
//!
//! Tools (the `spindle` command) check plugins against hosts they do not
//! run: a manifest lists what an application provides, with no closures
//! behind it. [`HostSpec`] is that description; its report is the same
//! [`LinkError`] that [`Host::load_file`](crate::Host::load_file) returns.

use std::path::Path;

use wasmtime::{Engine, Module, ValType};

use crate::error::{Error, ErrorKind};
use crate::host::Host;
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
    let (name, bytes) = crate::files::read_plugin_file(path.as_ref(), limits)?;
    crate::files::check_header(&name, &bytes)?;
    crate::files::check_load_limits(&name, &bytes, limits)?;
    Module::from_binary(engine, &bytes).map_err(|e| {
        ErrorKind::InvalidModule {
            plugin: name,
            reason: format!("{e:#}"),
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ctx;

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
        let loaded = host.load_wat("p", PLUGIN).err().unwrap();
        // The host's error says what failed; its cause is the same report.
        assert_eq!(loaded.to_string(), "cannot load plugin `p`");
        let from_host = std::error::Error::source(&loaded).unwrap().to_string();
        assert_eq!(from_spec, from_host);
        assert_eq!(
            loaded.report().to_string(),
            format!("cannot load plugin `p`: {from_spec}")
        );
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
}
