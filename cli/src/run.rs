//! `spindle run PLUGIN EXPORT [ARGS...]`, `spindle run --input TEXT PLUGIN EXPORT`
//! and `spindle run COMMAND [ARGS...]` for WASI commands.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use spindle_runtime::wasmtime::{Val, ValType};
use spindle_runtime::{ErrorKind, Host, Limits, LoadLimits, Output, Wasi};

use crate::builtins;
use crate::{EXIT_OK, Failure};

/// Call an export of a plugin with arguments from the command line, or run a WASI command
#[derive(Args)]
#[command(
    after_help = concat!("Arguments are parsed by the export's parameter types: i32/i64 take decimal
(negative allowed) or 0x hex, `_` between digits, and accept the unsigned range
too (4294967295 is i32 -1); f32/f64 take decimals (`1.5`, `-2e-3`), `inf`,
`-inf` and `nan`, rounded once into the type; a value too large for it, or a
non-zero one that would become 0, is refused. Results are printed on stdout,
one per line; the plugin's log lines and all errors go to stderr, with any
control characters a plugin chose escaped.

--timeout cannot interrupt a host function call or one of wasmtime's own
routines (memory.grow, table.grow, bulk memory instructions, instantiation);
--max-memory and --max-table bound those. See cli/README.md, \"Hostile input\".

With --input, EXPORT is called through the guest contract (docs/guest-contract.md:
the plugin exports `memory`, `cabi_realloc` and EXPORT as (param i32 i32) (result i32))
with TEXT, or the contents of FILE for `--input @FILE` (`@@TEXT` passes `@TEXT`), and
its output is written to stdout as it is: byte for byte into a pipe or file; on a
terminal, with control characters escaped and a final newline. An error result
of the plugin is reported on stderr with exit code 1.

WASI preview 1: a plugin that imports `wasi_snapshot_preview1` gets it, with
nothing granted but clocks and random numbers: argv is the plugin's path, the
environment is empty, no directory is visible, there is no network and stdin
is closed. Its stdout and stderr go to spindle's (control characters escaped
on a terminal). Grant more with --dir HOST[:/GUEST][:ro|:rw] (GUEST, an
absolute path, defaults to HOST; read-write unless `:ro`; modes in any case,
`r`/`readonly`/`read-only` also mean `ro`), --env KEY=VALUE and --arg VALUE
(each repeatable). Symbolic links cannot be created in granted directories
(the plugin gets EPERM): the host would follow them later. A WASI command (a plugin exporting `_start`, what Rust makes of a
`bin`) runs without an export name: the words after PLUGIN become its
arguments after --arg's (put `--` before the first one if it starts with `-`),
and its exit code is spindle's. A word after PLUGIN that names another
function export calls that export instead. A `proc_exit(N)` in an export
call ends spindle with code N too (a code outside 0..=255 becomes 1), except
that `proc_exit(0)` before a result that spindle was to print (an export with
results, or --input) is a failure, exit code 1: no output is not an empty one.

Examples:
  spindle run add.wat add 2 3
  spindle run --input world greeter.wasm greet
  spindle run --input @page.html --max-output 1MiB render.wasm minify > out.html
  spindle run --fuel 10000000 --timeout 2s --max-memory 64MiB plugin.wasm main
  spindle run plugin.wasm scale -- -1.5 2        (`--` before negative arguments is optional)
  spindle run hello.wasm                         a WASI command; its exit code is spindle's
  spindle run --dir ./data:/data:ro --env LANG=C tool.wasm -- --verbose input.txt

", host_functions_help!(), "\n\n", exit_codes!())
)]
pub struct RunArgs {
    /// The plugin: a `.wasm` binary or a `.wat` text module
    plugin: PathBuf,
    /// The exported function to call (none for a WASI command)
    export: Option<String>,
    /// Arguments for the export, one per parameter
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
    /// Fuel for the call (about one unit per wasm instruction); unlimited if absent
    #[arg(long, value_name = "UNITS")]
    fuel: Option<u64>,
    /// Wall-clock limit for the call, e.g. `500ms`, `2s`, `1m`
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Cap on the plugin's linear memory, e.g. `64MiB`, `1GiB`, `65536`
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<usize>,
    /// Cap on each of the plugin's tables, in elements
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TABLE)]
    max_table: usize,
    /// Seed for `spindle.random_*`, to make runs reproducible
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Call EXPORT with this input through the guest contract and print its
    /// output; `@FILE` reads the input from FILE
    #[arg(long, value_name = "TEXT|@FILE")]
    input: Option<String>,
    /// Cap on the output (or error message) an --input call copies out of the
    /// plugin, e.g. `64MiB` [default: 4MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_output: Option<usize>,
    /// Grant a WASI plugin the directory HOST, seen as GUEST (an absolute
    /// path; default: HOST), read-write unless `:ro`; repeatable
    #[arg(long = "dir", value_name = "HOST[:/GUEST][:ro]", value_parser = parse_dir)]
    dirs: Vec<DirGrant>,
    /// Set an environment variable for a WASI plugin; repeatable
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    envs: Vec<(String, String)>,
    /// Append an argument to a WASI plugin's argv; repeatable
    #[arg(long = "arg", value_name = "VALUE", allow_hyphen_values = true)]
    wasi_args: Vec<String>,
}

/// A `--dir` grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The host directory.
    pub host: PathBuf,
    /// Its name in the plugin.
    pub guest: String,
    /// Read-only (`:ro`).
    pub read_only: bool,
}

/// What `spindle run`'s command line came to: the words after `run`
/// parsed exactly as `main` parses them. For the `run_args` fuzz target,
/// which checks that every accepted command line means one thing.
#[doc(hidden)]
#[derive(Debug)]
pub struct ParsedRun {
    pub export: Option<String>,
    pub args: Vec<String>,
    pub dirs: Vec<DirGrant>,
    pub envs: Vec<(String, String)>,
    pub wasi_args: Vec<String>,
}

/// Parses `words` (what follows `spindle run`) as the command line does;
/// the error is clap's message.
#[doc(hidden)]
pub fn parse_run_words(words: &[String]) -> Result<ParsedRun, String> {
    use clap::FromArgMatches;
    let matches = RunArgs::augment_args(clap::Command::new("run"))
        .try_get_matches_from(std::iter::once("run").chain(words.iter().map(String::as_str)))
        .map_err(|e| e.to_string())?;
    let a = RunArgs::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    Ok(ParsedRun {
        export: a.export,
        args: a.args,
        dirs: a.dirs,
        envs: a.envs,
        wasi_args: a.wasi_args,
    })
}

/// The accepted `--dir` forms, for messages.
const DIR_FORMS: &str = "HOST, HOST:MODE, HOST:/GUEST or HOST:/GUEST:MODE, where GUEST is an \
     absolute path in the plugin and MODE is `ro` (also `r`, `readonly`, `read-only`) or `rw` \
     (also `readwrite`, `read-write`), in any case";

/// A `--dir` mode word, matched without case; `None` if it is not one.
fn dir_mode(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "ro" | "r" | "readonly" | "read-only" | "read_only" => Some(true),
        "rw" | "readwrite" | "read-write" | "read_write" => Some(false),
        _ => None,
    }
}

/// `HOST`, `HOST:MODE`, `HOST:/GUEST`, `HOST:/GUEST:MODE`. HOST must be an
/// existing directory; GUEST (HOST itself when absent) is where the plugin
/// sees it and, when given, must be absolute, so that no mode word, in any
/// spelling, can be taken for a guest path and grant write. Read-write
/// unless the mode says otherwise.
pub fn parse_dir(s: &str) -> Result<DirGrant, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let guest_or_mode = |w: &str| -> Result<(Option<String>, Option<bool>), String> {
        if let Some(ro) = dir_mode(w) {
            return Ok((None, Some(ro)));
        }
        if w.starts_with('/') {
            return Ok((Some(w.to_string()), None));
        }
        if w.is_empty() {
            return Err(format!("`{s}` names an empty guest path; use {DIR_FORMS}"));
        }
        Err(format!(
            "`{w}` in `{s}` is neither a mode nor an absolute guest path; use {DIR_FORMS}"
        ))
    };
    let (host, guest, read_only) = match parts.as_slice() {
        [host] => (*host, None, None),
        [host, second] => {
            let (guest, mode) = guest_or_mode(second)?;
            (*host, guest, mode)
        }
        [host, guest, mode] => {
            let Some(ro) = dir_mode(mode) else {
                return Err(format!("unknown mode `{mode}` in `{s}`; use {DIR_FORMS}"));
            };
            match guest_or_mode(guest)? {
                (Some(g), None) => (*host, Some(g), Some(ro)),
                _ => {
                    return Err(format!(
                        "`{guest}` in `{s}` is not an absolute guest path; use {DIR_FORMS}"
                    ));
                }
            }
        }
        _ => {
            return Err(format!(
                "`{s}` has {} `:`-separated parts; use {DIR_FORMS} (paths with `:` cannot \
                 be granted)",
                parts.len()
            ));
        }
    };
    if host.is_empty() {
        return Err(format!("`{s}` names no host directory"));
    }
    match std::fs::metadata(host) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("`{host}` is not a directory")),
        Err(e) => return Err(format!("cannot use `{host}`: {e}")),
    }
    Ok(DirGrant {
        host: PathBuf::from(host),
        guest: guest.unwrap_or_else(|| host.to_string()),
        read_only: read_only.unwrap_or(false),
    })
}

/// `KEY=VALUE`: a non-empty KEY without `=` or NUL; VALUE may be empty but
/// holds no NUL.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    let Some((key, value)) = s.split_once('=') else {
        return Err(format!("`{s}` is not KEY=VALUE"));
    };
    if key.is_empty() {
        return Err(format!("`{s}` has an empty variable name"));
    }
    if key.contains('\0') || value.contains('\0') {
        return Err("a variable name or value cannot hold a NUL byte".to_string());
    }
    Ok((key.to_string(), value.to_string()))
}

/// What `spindle run` grants a WASI plugin: the flags, with `args` after
/// the `--arg` values; stdout and stderr passed through.
fn wasi_grants(args: &RunArgs, extra: &[String]) -> Wasi {
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

/// A WASI exit code as a process exit code.
fn exit_status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or_else(|_| {
        errln!("note: the plugin's exit code {code} is outside 0..=255; exiting with 1");
        1
    })
}

/// `--max-output` when not given: a result (or error message) a plugin
/// claims to be longer is refused before it is copied, so a small plugin
/// cannot make `spindle run` allocate gigabytes.
pub const DEFAULT_MAX_OUTPUT: usize = 4 << 20;

/// An `--input @FILE` larger than this is refused before it is read.
pub const MAX_INPUT_FILE: u64 = 256 << 20;

/// `--max-table` when not given: far above what real plugins use (a table
/// holds one entry per function called indirectly), far below the 2 GB a
/// single `table.grow` asked for in the audit.
pub const DEFAULT_MAX_TABLE: usize = 1_000_000;

/// `500ms`, `2s`, `1.5s`, `1m`, `100us`, `10ns`, `1h`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; try `500ms`, `2s` or `1m`"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use ns, us, ms, s, m or h"
            ));
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("`{s}`: the timeout must be more than zero"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

/// `65536`, `64KiB`, `64MiB`, `1GiB`, `10MB` (decimal), `64k`/`64M`/`1G` (binary).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; try `64MiB`, `1GiB` or a byte count"))?;
    let mul: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "k" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use B, KiB, MiB, GiB (or KB, MB, GB)"
            ));
        }
    };
    n.checked_mul(mul)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses one command-line argument as a value of wasm type `ty`.
///
/// One grammar for all four types, and nothing outside it: an optional sign,
/// then digits. Integers take decimal or `0x` hex digits, `_` allowed
/// between digits, and the unsigned range too (4294967295 is i32 -1).
/// Floats take decimal notation (`1.5`, `-2e-3`, `.5`, `5.`), `inf`,
/// `infinity` and `nan` (any case, signed), parsed straight into the
/// parameter's type: correctly rounded once, never through f64 for an f32.
/// A finite number too large for the type is refused (not made infinite),
/// and so is a non-zero number too small for it (not made zero).
pub fn parse_value(text: &str, ty: &ValType) -> Result<Val, String> {
    match ty {
        ValType::I32 => parse_int(text, 32).map(|v| Val::I32(v as i32)),
        ValType::I64 => parse_int(text, 64).map(Val::I64),
        ValType::F32 => parse_float::<f32>(text).map(|v| Val::F32(v.to_bits())),
        ValType::F64 => parse_float::<f64>(text).map(|v| Val::F64(v.to_bits())),
        other => Err(format!(
            "has type {other}, which cannot be given on the command line"
        )),
    }
}

/// The sign and the rest: `-` or `+` at most once.
fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Digits in `radix` with `_` only between two of them; the `_`s removed.
fn digits(body: &str, radix: u32) -> Option<String> {
    let bytes = body.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.iter().enumerate().all(|(i, &b)| {
            (b as char).is_digit(radix)
                || (b == b'_'
                    && i > 0
                    && i + 1 < bytes.len()
                    && (bytes[i - 1] as char).is_digit(radix)
                    && (bytes[i + 1] as char).is_digit(radix))
        });
    ok.then(|| body.replace('_', ""))
}

fn parse_int(text: &str, bits: u32) -> Result<i64, String> {
    let (neg, body) = split_sign(text);
    let (radix, body) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => (16, hex),
        None => (10, body),
    };
    let digits = digits(body, radix).ok_or_else(|| "is not an integer".to_string())?;
    let (min, max_unsigned) = if bits == 32 {
        (-(1i128 << 31), (1i128 << 32) - 1)
    } else {
        (-(1i128 << 63), (1i128 << 64) - 1)
    };
    let range = || format!("is out of range for i{bits} ({min} to {max_unsigned})");
    // Only overflow is left to fail: the digits are valid.
    let magnitude = i128::from_str_radix(&digits, radix).map_err(|_| range())?;
    let v = if neg { -magnitude } else { magnitude };
    if v < min || v > max_unsigned {
        return Err(range());
    }
    // Wasm integers carry no sign: the unsigned range wraps.
    Ok(if bits == 32 {
        v as u32 as i32 as i64
    } else {
        v as u64 as i64
    })
}

/// What [`parse_float`] needs of f32 and f64.
trait Float: std::str::FromStr + Copy + std::fmt::Display + std::fmt::LowerExp {
    const NAME: &'static str;
    const MAX: Self;
    const MIN_POSITIVE_SUBNORMAL: Self;
    const INFINITY: Self;
    const NAN: Self;
    fn is_infinite(self) -> bool;
    fn is_zero(self) -> bool;
    fn negate(self) -> Self;
}

macro_rules! float_impl {
    ($t:ty, $name:literal) => {
        impl Float for $t {
            const NAME: &'static str = $name;
            const MAX: Self = <$t>::MAX;
            const MIN_POSITIVE_SUBNORMAL: Self = <$t>::from_bits(1);
            const INFINITY: Self = <$t>::INFINITY;
            const NAN: Self = <$t>::NAN;
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            fn is_zero(self) -> bool {
                self == 0.0
            }
            fn negate(self) -> Self {
                -self
            }
        }
    };
}
float_impl!(f32, "f32");
float_impl!(f64, "f64");

fn parse_float<F: Float>(text: &str) -> Result<F, String> {
    let (neg, body) = split_sign(text);
    let sign = |v: F| if neg { v.negate() } else { v };
    match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Ok(sign(F::INFINITY)),
        "nan" => return Ok(sign(F::NAN)),
        _ => {}
    }
    // mantissa [e exponent]; the mantissa has a digit on some side of `.`.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) || !exponent_ok {
        return Err("is not a number".to_string());
    }
    let value: F = body.parse().map_err(|_| "is not a number".to_string())?;
    if value.is_infinite() {
        return Err(format!(
            "is too large for {} (largest finite: {:e})",
            F::NAME,
            F::MAX
        ));
    }
    let nonzero = int.bytes().chain(frac.bytes()).any(|b| b != b'0');
    if value.is_zero() && nonzero {
        return Err(format!(
            "is too small for {}: it would be 0 (smallest non-zero: {:e})",
            F::NAME,
            F::MIN_POSITIVE_SUBNORMAL
        ));
    }
    Ok(sign(value))
}

/// A result as `run` prints it. [`parse_value`] reads it back to the same
/// value: the same bits, except that a NaN prints without sign or payload.
#[doc(hidden)]
pub fn show_value(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        other => format!("{other:?}"),
    }
}

/// Names of the parameters of export `export`, from the module's name
/// section (`$a` in WAT, argument names in Rust debug builds), by position.
/// Best effort: a module without names gives none. Entries past `params`
/// (locals, or a crafted index such as 0xFFFFFFFF) are ignored.
fn param_names(binary: &[u8], export: &str, params: usize) -> Vec<Option<String>> {
    let mut func = None;
    let mut names = vec![None; params];
    for payload in wasmparser::Parser::new(0).parse_all(binary) {
        match payload {
            Ok(wasmparser::Payload::ExportSection(reader)) => {
                func = reader.into_iter().flatten().find_map(|e| {
                    (e.name == export && e.kind == wasmparser::ExternalKind::Func)
                        .then_some(e.index)
                });
            }
            Ok(wasmparser::Payload::CustomSection(c)) => {
                let (Some(func), wasmparser::KnownCustom::Name(reader)) = (func, c.as_known())
                else {
                    continue;
                };
                for name in reader.into_iter().flatten() {
                    let wasmparser::Name::Local(map) = name else {
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
    // load limits), kept here for the parameter names of the name section.
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
            let name = param_names(&binary, &export, params.len())
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
        .map_err(|e| call_failure(&name, "instantiating", e))?;
    let expects_result = sig.results().len() > 0;
    let results = instance.call_dynamic(&export, &values).map_err(|e| {
        let what = format!("calling `{}`", export);
        match expects_result {
            true => result_missing(&name, &what, e),
            false => call_failure(&name, &what, e),
        }
    })?;
    for r in &results {
        outln!("{}", show_value(r));
    }
    Ok(EXIT_OK)
}

/// `spindle run --input`: one `call_bytes` of the export, its output on stdout.
fn run_with_input(
    args: &RunArgs,
    export: &str,
    plugin: &spindle_runtime::Plugin<builtins::State>,
    name: &str,
    input: &str,
    sig: &spindle_runtime::wasmtime::FuncType,
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
fn run_command(
    args: &RunArgs,
    plugin: &spindle_runtime::Plugin<builtins::State>,
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

fn signature_of(ty: &spindle_runtime::wasmtime::ExternType) -> String {
    match ty {
        spindle_runtime::wasmtime::ExternType::Func(ft) => {
            spindle_runtime::Signature::from_types(ft.params(), ft.results()).to_string()
        }
        other => format!("{other:?}"),
    }
}

/// Load errors: unreadable file (3), or a plugin that does not load (1).
pub fn load_failure(e: spindle_runtime::Error) -> Failure {
    match e.kind() {
        ErrorKind::Io { .. } => Failure::io(e.report().to_string()),
        ErrorKind::Link(_) => Failure::plugin(format!(
            "{}\n(`spindle host-functions` lists what `spindle run` provides)",
            e.report()
        )),
        _ => Failure::plugin(e.report().to_string()),
    }
}

/// [`call_failure`] for a call whose result spindle prints: a
/// `proc_exit(0)` before the result came is a failure (exit 1), since a
/// caller checking only the exit code would take the missing output for
/// an empty one. A non-zero exit code is still the plugin's.
fn result_missing(plugin: &str, what: &str, e: spindle_runtime::Error) -> Failure {
    if let ErrorKind::Exit { code: 0 } = e.kind() {
        return Failure::plugin(format!(
            "`{plugin}`: {what}: {} before returning its result; nothing was printed",
            e.report()
        ));
    }
    call_failure(plugin, what, e)
}

fn call_failure(plugin: &str, what: &str, e: spindle_runtime::Error) -> Failure {
    if let ErrorKind::Exit { code } = e.kind() {
        // The plugin chose to end: its code is spindle's, with a note.
        return Failure {
            code: exit_status(*code),
            message: format!("`{plugin}`: {what}: {}", e.report()),
        };
    }
    let hint = match e.kind() {
        ErrorKind::OutOfFuel { .. } => "\nhint: raise --fuel, or look for a loop that does not end",
        ErrorKind::DeadlineExceeded { .. } => {
            "\nhint: raise --timeout, or look for a loop that does not end"
        }
        ErrorKind::MemoryLimit { .. } => "\nhint: raise --max-memory",
        ErrorKind::TableLimit { .. } => "\nhint: raise --max-table",
        ErrorKind::OutputLimit { .. } => "\nhint: raise --max-output",
        ErrorKind::WasiDir { .. } => "\nhint: check the --dir flags",
        _ => "",
    };
    Failure::plugin(format!("`{plugin}`: {what}: {}{hint}", e.report()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_grants_mean_one_thing() {
        let d = std::env::temp_dir();
        let d = d.to_str().unwrap();
        let grant = |s: &str| parse_dir(&s.replace('@', d));
        let ok = |s: &str, guest: &str, read_only: bool| {
            assert_eq!(
                grant(s),
                Ok(DirGrant {
                    host: PathBuf::from(d),
                    guest: guest.replace('@', d),
                    read_only,
                }),
                "{s}"
            )
        };
        ok("@", "@", false);
        ok("@:ro", "@", true);
        ok("@:READ-ONLY", "@", true);
        ok("@:Readonly", "@", true);
        ok("@:r", "@", true);
        ok("@:rw", "@", false);
        ok("@:Read_Write", "@", false);
        ok("@:/data", "/data", false);
        ok("@:/data:RO", "/data", true);
        ok("@:/data:rw", "/data", false);
        ok("@:/", "/", false);
        for (bad, says) in [
            ("@:data", "neither a mode nor an absolute guest path"),
            ("@:x", "neither a mode nor an absolute guest path"),
            ("@:", "names an empty guest path"),
            ("@:/data:rx", "unknown mode `rx`"),
            ("@:ro:/data", "unknown mode `/data`"),
            ("@:data:ro", "neither a mode nor an absolute guest path"),
            ("@:ro:rw", "`ro` in"),
            ("@::ro", "names an empty guest path"),
            ("@:/a:ro:x", "has 4 `:`-separated parts"),
            (":/a", "names no host directory"),
        ] {
            let e = grant(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("64 furlongs").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn values() {
        let i = |t| parse_value(t, &ValType::I32).map(|v| v.unwrap_i32());
        assert_eq!(i("-5"), Ok(-5));
        assert_eq!(i("0x10"), Ok(16));
        assert_eq!(i("4294967295"), Ok(-1));
        assert!(i("4294967296").unwrap_err().contains("out of range"));
        assert!(i("1.5").unwrap_err().contains("not an integer"));
        let l = |t| parse_value(t, &ValType::I64).map(|v| v.unwrap_i64());
        assert_eq!(l("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(l("18446744073709551615"), Ok(-1));
        let f = |t| parse_value(t, &ValType::F64).map(|v| v.unwrap_f64());
        assert_eq!(f("-1.5"), Ok(-1.5));
        assert_eq!(f("inf"), Ok(f64::INFINITY));
        assert!(f("one").is_err());
        assert!(f("1e309").unwrap_err().contains("too large"));
        assert!(f("-1e-400").unwrap_err().contains("too small"));
        assert_eq!(f("0e-400"), Ok(0.0));
        assert!(f("nan").unwrap().is_nan());
        assert!(f("-NaN").unwrap().is_sign_negative());
        assert!(f(".").is_err() && f("e5").is_err() && f("1.5e+").is_err() && f("--1").is_err());
        let s = |t| parse_value(t, &ValType::F32).map(|v| v.unwrap_f32());
        assert!(s("1e39").unwrap_err().contains("too large for f32"));
        assert!(s("1e-50").unwrap_err().contains("too small for f32"));
        assert_eq!(s("3.4028235e38"), Ok(f32::MAX));
        assert_eq!(
            s("1.00000005960464477539062500001").map(f32::to_bits),
            Ok(0x3f80_0001)
        );
        assert!(i("+0x+5").is_err() && l("+0x+5").is_err());
        assert!(i("_1").is_err() && i("1_").is_err() && i("1__0").is_err());
        assert_eq!(i("1_000"), Ok(1000));
        assert!(
            l("99999999999999999999999999999999999999999")
                .unwrap_err()
                .contains("out of range")
        );
    }
}
