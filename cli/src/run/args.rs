//! `spindle run`'s command line: the flags and their help, and the parsers
//! for the values they take (`--dir`, `--env`, `--timeout`, sizes).
//!
//! Kept apart from what the flags do so the whole grammar can be read, and
//! fuzzed (`fuzz/fuzz_targets/run_args.rs` through [`parse_run_words`]),
//! without a plugin or a host.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

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
    pub(super) plugin: PathBuf,
    /// The exported function to call (none for a WASI command)
    pub(super) export: Option<String>,
    /// Arguments for the export, one per parameter
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub(super) args: Vec<String>,
    /// Fuel for the call (about one unit per wasm instruction); unlimited if absent
    #[arg(long, value_name = "UNITS")]
    pub(super) fuel: Option<u64>,
    /// Wall-clock limit for the call, e.g. `500ms`, `2s`, `1m`
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(super) timeout: Option<Duration>,
    /// Cap on the plugin's linear memory, e.g. `64MiB`, `1GiB`, `65536`
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(super) max_memory: Option<usize>,
    /// Cap on each of the plugin's tables, in elements
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TABLE)]
    pub(super) max_table: usize,
    /// Seed for `spindle.random_*`, to make runs reproducible
    #[arg(long, value_name = "N")]
    pub(super) seed: Option<u64>,
    /// Call EXPORT with this input through the guest contract and print its
    /// output; `@FILE` reads the input from FILE
    #[arg(long, value_name = "TEXT|@FILE")]
    pub(super) input: Option<String>,
    /// Cap on the output (or error message) an --input call copies out of the
    /// plugin, e.g. `64MiB` [default: 4MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(super) max_output: Option<usize>,
    /// Grant a WASI plugin the directory HOST, seen as GUEST (an absolute
    /// path; default: HOST), read-write unless `:ro`; repeatable
    #[arg(long = "dir", value_name = "HOST[:/GUEST][:ro]", value_parser = parse_dir)]
    pub(super) dirs: Vec<DirGrant>,
    /// Set an environment variable for a WASI plugin; repeatable
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub(super) envs: Vec<(String, String)>,
    /// Append an argument to a WASI plugin's argv; repeatable
    #[arg(long = "arg", value_name = "VALUE", allow_hyphen_values = true)]
    pub(super) wasi_args: Vec<String>,
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
}
