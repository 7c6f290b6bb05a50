//! The three ways `spindle run` runs a plugin once it is loaded and the
//! mode chosen: an export called with arguments from the command line
//! (results printed one per line), an export called through the guest
//! contract with `--input` (its output written as it is), and a WASI
//! command (`_start`, its exit code spindle's).

use std::io::{IsTerminal, Write};
use std::path::Path;

use spindle_runtime::wasmtime::{FuncType, ValType};
use spindle_runtime::{Limits, Output, Plugin, Wasi, param_names};

use super::args::{MAX_INPUT_FILE, RunArgs};
use super::failures::{call_failure, exit_status, result_missing};
use super::literals::{parse_value, show_value};
use super::signature_of;
use crate::builtins;
use crate::{EXIT_OK, Failure};

/// What `spindle run` grants a WASI plugin: the flags, with `args` after
/// the `--arg` values; stdout and stderr passed through.
pub(super) fn wasi_grants(args: &RunArgs, extra: &[String]) -> Wasi {
    let mut w = Wasi::new()
        .args(args.wasi_args.iter().cloned())
        .args(extra.iter().cloned())
        .stdout(Output::sink(crate::term::passthrough(false)))
        .stderr(Output::sink(crate::term::passthrough(true)));
    for (k, v) in &args.envs {
        w = w.env(k, v);
    }
    for d in &args.dirs {
        w = if d.read_only {
            w.dir_ro(&d.host, &d.guest)
        } else {
            w.dir_rw(&d.host, &d.guest)
        };
    }
    w
}

/// An export called with the words after its name as arguments, parsed by
/// its parameter types; its results printed one per line.
pub(super) fn call_export(
    args: &RunArgs,
    export: &str,
    plugin: &Plugin<builtins::State>,
    name: &str,
    sig: &FuncType,
    binary: &[u8],
) -> Result<u8, Failure> {
    if args.max_output.is_some() {
        return Err(Failure::usage(
            "--max-output only applies to calls with --input",
        ));
    }
    let params: Vec<ValType> = sig.params().collect();
    let shown_sig = signature_of(&spindle_runtime::wasmtime::ExternType::Func(sig.clone()));
    if params.len() != args.args.len() {
        return Err(Failure::usage(format!(
            "export `{}` takes {} argument{} but {} {} given\n  signature: {shown_sig}",
            export,
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.args.len(),
            if args.args.len() == 1 { "was" } else { "were" },
        )));
    }
    let mut values = Vec::with_capacity(params.len());
    for (i, (text, ty)) in args.args.iter().zip(&params).enumerate() {
        let v = parse_value(text, ty).map_err(|why| {
            let name = param_names(binary, export, params.len())
                .get(i)
                .cloned()
                .flatten()
                .map(|n| format!("${} ", crate::term::untrusted(&n)))
                .unwrap_or_default();
            Failure::usage(format!(
                "argument {} of `{}` ({name}{ty}): `{text}` {why}\n  signature: {shown_sig}",
                i + 1,
                export
            ))
        })?;
        values.push(v);
    }

    let mut instance = plugin
        .instantiate(builtins::State::new(args.seed))
        .map_err(|e| call_failure(name, "instantiating", e))?;
    let expects_result = sig.results().len() > 0;
    let results = instance.call_dynamic(export, &values).map_err(|e| {
        let what = format!("calling `{}`", export);
        match expects_result {
            true => result_missing(name, &what, e),
            false => call_failure(name, &what, e),
        }
    })?;
    for r in &results {
        outln!("{}", show_value(r));
    }
    Ok(EXIT_OK)
}

/// `spindle run --input`: one `call_bytes` of the export, its output on stdout.
pub(super) fn run_with_input(
    args: &RunArgs,
    export: &str,
    plugin: &Plugin<builtins::State>,
    name: &str,
    input: &str,
    sig: &FuncType,
) -> Result<u8, Failure> {
    if !args.args.is_empty() {
        return Err(Failure::usage(format!(
            "--input gives export `{}` its one input; arguments after the export name ({}) \
             cannot be combined with it",
            export,
            args.args.join(" ")
        )));
    }
    let expected = [ValType::I32, ValType::I32];
    let fits = sig.params().len() == 2
        && sig.params().zip(&expected).all(|(a, b)| a.matches(b))
        && sig.results().len() == 1
        && sig.results().all(|r| r.matches(&ValType::I32));
    if !fits {
        let shown = signature_of(&spindle_runtime::wasmtime::ExternType::Func(sig.clone()));
        return Err(Failure::usage(format!(
            "--input needs an export of the guest contract, (func (param i32 i32) (result i32)); \
             `{}` is {shown} (see docs/guest-contract.md)",
            export
        )));
    }
    let bytes = input_bytes(input)?;
    let mut instance = plugin
        .instantiate(builtins::State::new(args.seed))
        .map_err(|e| call_failure(name, "instantiating", e))?;
    let output = instance
        .call_bytes(export, &bytes)
        .map_err(|e| result_missing(name, &format!("calling `{}`", export), e))?;
    write_output(&output);
    Ok(EXIT_OK)
}

/// A WASI command: `_start` with the words after PLUGIN as its arguments;
/// its exit code is spindle's.
pub(super) fn run_command(
    args: &RunArgs,
    plugin: &Plugin<builtins::State>,
    name: &str,
    limits: Limits,
) -> Result<u8, Failure> {
    if args.max_output.is_some() {
        return Err(Failure::usage(
            "--max-output only applies to calls with --input",
        ));
    }
    let words: Vec<String> = args.export.iter().chain(&args.args).cloned().collect();
    let mut instance = plugin
        .instantiate_with_wasi(
            builtins::State::new(args.seed),
            limits,
            &wasi_grants(args, &words),
        )
        .map_err(|e| call_failure(name, "instantiating", e))?;
    let code = instance
        .run_command()
        .map_err(|e| call_failure(name, "running `_start`", e))?;
    Ok(exit_status(code))
}

/// The bytes `--input` names: the text itself, or a file's contents for
/// `@FILE` (`@@` escapes a literal `@`).
fn input_bytes(input: &str) -> Result<Vec<u8>, Failure> {
    if let Some(text) = input.strip_prefix("@@") {
        return Ok(format!("@{text}").into_bytes());
    }
    match input.strip_prefix('@') {
        Some("") => Err(Failure::usage(
            "--input @ needs a file name (`--input @FILE`; `@@TEXT` passes `@TEXT`)",
        )),
        Some(path) => crate::files::read_regular(Path::new(path), "input file", MAX_INPUT_FILE)
            .map_err(Failure::io),
        None => Ok(input.as_bytes().to_vec()),
    }
}

/// The plugin's output on stdout: exact bytes unless stdout is a terminal,
/// where control characters a plugin chose are escaped like its log lines,
/// streamed, with a final newline.
fn write_output(output: &[u8]) {
    let mut out = std::io::stdout().lock();
    let written = if out.is_terminal() {
        crate::term::write_escaped(&mut out, output, false).and_then(|last| match last {
            Some('\n') => Ok(()),
            _ => out.write_all(b"\n"),
        })
    } else {
        out.write_all(output)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        drop(out);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            errln!("error: cannot write to stdout: {e}");
        }
        std::process::exit(i32::from(crate::EXIT_IO));
    }
}
