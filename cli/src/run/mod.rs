//! `spindle run PLUGIN EXPORT [ARGS...]`, `spindle run --input TEXT PLUGIN EXPORT`
//! and `spindle run COMMAND [ARGS...]` for WASI commands.
//!
//! This file sets up the host from the flags, loads the plugin and chooses
//! the mode; each other file holds one idea:
//!
//! - `args`: the command line, its help and the parsers of flag values;
//! - `literals`: the wasm value literals of call arguments, and printed results;
//! - `modes`: the three ways to run (export call, `--input`, WASI command);
//! - `failures`: runtime errors as exit codes and messages.

mod args;
mod failures;
mod literals;
mod modes;

use spindle_runtime::{Host, Limits, LoadLimits};

pub use args::{
    DEFAULT_MAX_OUTPUT, DEFAULT_MAX_TABLE, DirGrant, MAX_INPUT_FILE, ParsedRun, RunArgs, parse_dir,
    parse_duration, parse_env, parse_run_words, parse_size,
};
pub use failures::load_failure;
pub use literals::{parse_value, show_value};

use crate::Failure;
use crate::builtins;
use modes::{call_export, run_command, run_with_input, wasi_grants};

/// `spindle run`.
pub fn run(args: RunArgs) -> Result<u8, Failure> {
    let mut limits = Limits::new();
    if let Some(fuel) = args.fuel {
        limits = limits.fuel(fuel);
    }
    if let Some(t) = args.timeout {
        limits = limits.deadline(t);
    }
    if let Some(m) = args.max_memory {
        limits = limits.max_memory_bytes(m);
    }
    limits = limits.max_table_elements(args.max_table);
    limits = limits.max_output_bytes(args.max_output.unwrap_or(DEFAULT_MAX_OUTPUT));
    let host = builtins::register(Host::builder())
        .limits(limits.clone())
        .wasi(wasi_grants(&args, &[]))
        .build()
        .map_err(|e| Failure::plugin(format!("cannot set up the host: {}", e.report())))?;
    // Read by the runtime's reader (regular files only, within the host's
    // load limits), kept here to ask it for parameter names (`param_names`).
    let (name, binary) = spindle_runtime::read_plugin_file(&args.plugin, &LoadLimits::default())
        .map_err(load_failure)?;
    let plugin = host.load_bytes(&name, &binary).map_err(load_failure)?;
    let name = plugin.name().to_string();

    let names_an_export = |e: &str| {
        e != "_start"
            && matches!(
                plugin.module().get_export(e),
                Some(spindle_runtime::wasmtime::ExternType::Func(_))
            )
    };
    let export = match &args.export {
        Some(e) if args.input.is_some() || !plugin.is_command() || names_an_export(e) => e.clone(),
        _ if plugin.is_command() && args.input.is_none() => {
            return run_command(&args, &plugin, &name, limits);
        }
        Some(e) => e.clone(),
        None if args.input.is_some() => {
            return Err(Failure::usage(format!(
                "--input needs the name of the export to call; {}",
                export_list(&plugin)
            )));
        }
        None => {
            return Err(Failure::usage(format!(
                "plugin `{name}` is not a WASI command (it exports no `_start`): name the \
                 export to call; {}",
                export_list(&plugin)
            )));
        }
    };
    let sig = match plugin.module().get_export(&export) {
        Some(spindle_runtime::wasmtime::ExternType::Func(ft)) => ft,
        _ => {
            return Err(Failure::usage(format!(
                "plugin `{name}` has no exported function `{export}`; {}",
                export_list(&plugin)
            )));
        }
    };
    if let Some(input) = &args.input {
        return run_with_input(&args, &export, &plugin, &name, input, &sig);
    }
    call_export(&args, &export, &plugin, &name, &sig, &binary)
}

/// The plugin's function exports with signatures, for usage errors.
fn export_list(plugin: &spindle_runtime::Plugin<builtins::State>) -> String {
    let mut funcs: Vec<String> = plugin
        .module()
        .exports()
        .filter(|e| matches!(e.ty(), spindle_runtime::wasmtime::ExternType::Func(_)))
        .map(|e| {
            format!(
                "  {} {}",
                crate::term::untrusted(e.name()),
                signature_of(&e.ty())
            )
        })
        .collect();
    funcs.sort();
    if funcs.is_empty() {
        "it exports no functions".to_string()
    } else {
        format!("its function exports:\n{}", funcs.join("\n"))
    }
}

fn signature_of(ty: &spindle_runtime::wasmtime::ExternType) -> String {
    match ty {
        spindle_runtime::wasmtime::ExternType::Func(ft) => {
            spindle_runtime::Signature::from_types(ft.params(), ft.results()).to_string()
        }
        other => format!("{other:?}"),
    }
}
