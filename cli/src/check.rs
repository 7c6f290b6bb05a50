//! `spindle check PLUGIN [--host-manifest FILE]`: the load-time import/export
//! report, without running anything.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};
use spindle_runtime::wasmtime::{Config, Engine, ValType};
use spindle_runtime::{HostSpec, LinkError, LinkProblem, Signature};

use crate::{EXIT_FAILURE, EXIT_OK, Failure, Format, builtins};

/// Check a plugin's imports and exports against a host, without running it
#[derive(Args)]
#[command(after_help = concat!("Reports every missing, misspelled or mistyped import at once, with WAT
signatures and the nearest names the host has. Without --host-manifest the
host is `spindle run`'s built-in one (see `spindle host-functions`), which
provides WASI preview 1.

A host manifest is TOML:

  # host.toml: what my application gives plugins
  wasi = true                  # it provides WASI preview 1 (default: false)

  [[function]]
  module = \"env\"
  name = \"log\"
  params = [\"i32\", \"i32\"]     # i32, i64, f32, f64 (default: none)
  results = []

  [[function]]
  module = \"env\"
  name = \"now\"
  results = [\"i64\"]

  [[export]]                   # exports every plugin must have (optional)
  name = \"run\"
  params = [\"i32\"]
  results = [\"i32\"]

Examples:
  spindle check plugin.wasm
  spindle check plugin.wat --host-manifest host.toml
  spindle check plugin.wasm --format json | jq .problems

", exit_codes!()))]
pub struct CheckArgs {
    /// The plugin: a `.wasm` binary or a `.wat` text module
    pub plugin: PathBuf,
    /// TOML file listing the host's functions (and required exports)
    #[arg(long, value_name = "FILE")]
    pub host_manifest: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The application provides WASI preview 1 (`HostBuilder::wasi`).
    #[serde(default)]
    wasi: bool,
    #[serde(default, rename = "function")]
    functions: Vec<ManifestFunc>,
    #[serde(default, rename = "export")]
    exports: Vec<ManifestExport>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFunc {
    module: String,
    name: String,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    results: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestExport {
    name: String,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    results: Vec<String>,
}

fn val_type(s: &str, what: &str) -> Result<ValType, String> {
    match s {
        "i32" => Ok(ValType::I32),
        "i64" => Ok(ValType::I64),
        "f32" => Ok(ValType::F32),
        "f64" => Ok(ValType::F64),
        "v128" => Ok(ValType::V128),
        "funcref" => Ok(ValType::FUNCREF),
        "externref" => Ok(ValType::EXTERNREF),
        other => Err(format!(
            "{what}: unknown type `{other}` (use i32, i64, f32, f64, v128, funcref or externref)"
        )),
    }
}

fn signature(params: &[String], results: &[String], what: &str) -> Result<Signature, String> {
    let p = params
        .iter()
        .map(|t| val_type(t, what))
        .collect::<Result<Vec<_>, _>>()?;
    let r = results
        .iter()
        .map(|t| val_type(t, what))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Signature::from_types(p, r))
}

/// Reads a host manifest into a [`HostSpec`].
pub fn load_manifest(path: &Path) -> Result<HostSpec, Failure> {
    let bytes = crate::files::read_regular(path, "host manifest", crate::files::MAX_MANIFEST_FILE)
        .map_err(Failure::io)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::io(format!(
            "host manifest {} is not valid: it is not UTF-8 ({e})",
            path.display()
        ))
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| {
        Failure::io(format!(
            "host manifest {} is not valid: {e}(run `spindle check --help` for the format)",
            path.display()
        ))
    })?;
    let bad = |msg: String| Failure::io(format!("host manifest {}: {msg}", path.display()));
    let mut spec = HostSpec::new();
    spec.wasi(manifest.wasi);
    for f in &manifest.functions {
        let what = format!("function {:?} {:?}", f.module, f.name);
        let sig = signature(&f.params, &f.results, &what).map_err(bad)?;
        if !spec.func(&f.module, &f.name, sig) {
            return Err(bad(format!("{what} is listed twice")));
        }
    }
    for e in &manifest.exports {
        let what = format!("export {:?}", e.name);
        let sig = signature(&e.params, &e.results, &what).map_err(bad)?;
        spec.require_export(&e.name, sig);
    }
    Ok(spec)
}

/// The outcome of checking one plugin.
pub enum Outcome {
    /// Imports and exports fit.
    Clean,
    /// The import/export report.
    Problems(LinkError),
    /// The file is not a loadable module (message).
    Invalid(String),
}

/// Compiles `plugin` and checks it against `spec`. I/O errors are failures.
pub fn check_plugin(plugin: &Path, spec: &HostSpec) -> Result<Outcome, Failure> {
    // The runtime's reader refuses what would hang or exhaust memory (a
    // FIFO, a device, a file over the load limit) on the open descriptor.
    let engine = Engine::new(&Config::new())
        .map_err(|e| Failure::plugin(format!("cannot create the wasm engine: {e:#}")))?;
    let module = match spindle_runtime::compile_file(&engine, plugin) {
        Ok(m) => m,
        Err(e) => {
            return match e.kind() {
                spindle_runtime::ErrorKind::Io { .. } => Err(Failure::io(e.report().to_string())),
                _ => Ok(Outcome::Invalid(e.report().to_string())),
            };
        }
    };
    Ok(match spec.check(&plugin.display().to_string(), &module) {
        Ok(()) => Outcome::Clean,
        Err(report) => Outcome::Problems(report),
    })
}

/// The report as JSON.
pub fn to_json(plugin: &Path, host: &str, outcome: &Outcome) -> Value {
    let (ok, problems, hint, error) = match outcome {
        Outcome::Clean => (true, vec![], false, None),
        Outcome::Invalid(msg) => (false, vec![], false, Some(msg.clone())),
        Outcome::Problems(r) => (
            false,
            r.problems().iter().map(problem_json).collect(),
            r.has_env_hint(),
            None,
        ),
    };
    json!({
        "plugin": plugin.display().to_string(),
        "host": host,
        "ok": ok,
        "error": error,
        "problems": problems,
        "wasm_import_module_hint": hint,
    })
}

fn problem_json(p: &LinkProblem) -> Value {
    match p {
        LinkProblem::MissingImport {
            module,
            name,
            expected,
            suggestions,
        } => json!({
            "kind": "missing_import",
            "module": module,
            "name": name,
            "plugin_wants": expected,
            "suggestions": suggestions.iter().map(|(m, n, s)| json!({
                "module": m, "name": n, "signature": s.to_string(),
            })).collect::<Vec<_>>(),
        }),
        LinkProblem::ImportType {
            module,
            name,
            plugin_wants,
            host_has,
        } => json!({
            "kind": "import_type",
            "module": module,
            "name": name,
            "plugin_wants": plugin_wants,
            "host_has": host_has.to_string(),
        }),
        LinkProblem::MissingExport {
            name,
            expected,
            suggestions,
        } => json!({
            "kind": "missing_export",
            "name": name,
            "host_requires": expected.to_string(),
            "suggestions": suggestions,
        }),
        LinkProblem::ExportType {
            name,
            expected,
            found,
        } => json!({
            "kind": "export_type",
            "name": name,
            "host_requires": expected.to_string(),
            "plugin_exports": found,
        }),
        LinkProblem::WasiNotEnabled { names, feature } => json!({
            "kind": "wasi_not_enabled",
            "module": "wasi_snapshot_preview1",
            "functions": names,
            "runtime_has_wasi_feature": feature,
        }),
        LinkProblem::UnknownWasiFunction {
            name,
            expected,
            suggestions,
        } => json!({
            "kind": "unknown_wasi_function",
            "module": "wasi_snapshot_preview1",
            "name": name,
            "plugin_wants": expected,
            "suggestions": suggestions,
        }),
        other => json!({ "kind": "other", "message": format!("{other:?}") }),
    }
}

/// The host a check runs against, and how to name it in reports.
pub fn host_for(manifest: Option<&Path>) -> Result<(HostSpec, String), Failure> {
    match manifest {
        Some(p) => Ok((load_manifest(p)?, p.display().to_string())),
        None => Ok((builtins::spec()?, "built-in".to_string())),
    }
}

/// `spindle check`.
pub fn check(args: CheckArgs) -> Result<u8, Failure> {
    let (spec, host) = host_for(args.host_manifest.as_deref())?;
    let outcome = check_plugin(&args.plugin, &spec)?;
    match args.format {
        Format::Json => outln!("{:#}", to_json(&args.plugin, &host, &outcome)),
        Format::Text => match &outcome {
            Outcome::Clean => outln!(
                "ok: `{}` fits the {} host ({} function{}{})",
                crate::term::untrusted(&args.plugin.display().to_string()),
                if host == "built-in" {
                    "built-in".to_string()
                } else {
                    format!("`{host}`")
                },
                spec.functions().count(),
                if spec.functions().count() == 1 {
                    ""
                } else {
                    "s"
                },
                match spec.required_exports().len() {
                    0 => String::new(),
                    n => format!(", {n} required export{}", if n == 1 { "" } else { "s" }),
                }
            ),
            // The report names the plugin's imports and exports.
            Outcome::Problems(r) => outln!("{}", crate::term::message(&r.to_string())),
            Outcome::Invalid(msg) => outln!("{}", crate::term::message(msg)),
        },
    }
    Ok(match outcome {
        Outcome::Clean => EXIT_OK,
        _ => EXIT_FAILURE,
    })
}
