//! `spindle`: run and check wasm plugins, and diagnose native build outputs.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: success, or nothing wrong found.
pub const EXIT_OK: u8 = 0;
/// Exit code: the plugin failed, or `check`/`doctor` found problems.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line is wrong (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: an input could not be read (missing file, malformed manifest,
/// not a regular file, too large), or stdout could not be written.
pub const EXIT_IO: u8 = 3;

/// The exit-code table, shared by every `--help`.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success; `check`/`doctor` found nothing wrong
  1  the plugin failed (trap, limit, import problems, invalid module),
     or `check`/`doctor` found problems
  2  usage error: bad flags, bad argument values, unknown export
  3  an input could not be read (missing file, malformed host manifest,
     not a regular file, too large), or stdout could not be written"
    };
}

/// The built-in host functions, as help text (a macro so `concat!` can use it).
macro_rules! host_functions_help {
    () => {
        "\
Host functions (import module \"spindle\"):
  (import \"spindle\" \"log\"          (func (param i32 i32)))   print the UTF-8 string at (ptr, len) to stderr (len <= 64 KiB)
  (import \"spindle\" \"log_i64\"      (func (param i64)))       print a number to stderr
  (import \"spindle\" \"now_ns\"       (func (result i64)))      wall clock: nanoseconds since 1970-01-01 UTC
  (import \"spindle\" \"monotonic_ns\" (func (result i64)))      monotonic clock: nanoseconds since the instance started
  (import \"spindle\" \"random_u64\"   (func (result i64)))      a random 64-bit number
  (import \"spindle\" \"random_fill\"  (func (param i32 i32)))   fill (ptr, len) with random bytes (len <= 1 MiB)
Memory arguments need the plugin to export its memory as \"memory\"."
    };
}

#[macro_use]
mod term;

mod builtins;
mod check;
mod doctor;
mod files;
mod run;

#[derive(Parser)]
#[command(
    name = "spindle",
    version,
    about = "Run and check wasm plugins; diagnose native build outputs",
    long_about = "Run and check WebAssembly plugins with the spindle runtime (wasmtime 48), \
and diagnose native build outputs (architecture mismatches, fiber switch symbols).",
    after_help = concat!("Examples:
  spindle run plugin.wat add 2 3                   call export `add` with (i32 2, i32 3)
  spindle run --fuel 1000000 --timeout 500ms plugin.wasm main
  spindle check plugin.wasm                        imports vs. spindle's built-in host
  spindle check plugin.wasm --host-manifest host.toml --format json
  spindle host-functions                           what `run` provides to plugins
  spindle doctor target/aarch64-apple-darwin/release
  spindle doctor libfoo.a --target x86_64-apple-darwin

", exit_codes!())
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(run::RunArgs),
    Check(check::CheckArgs),
    /// List the host functions `spindle run` provides to plugins
    #[command(after_help = builtins::HOST_FUNCTIONS_HELP)]
    HostFunctions {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    Doctor(doctor::DoctorArgs),
}

/// How to print a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document on stdout, for tools.
    Json,
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code.
    pub code: u8,
    /// What to print on stderr (already formatted; may span lines).
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
    pub fn io(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_IO,
            message: message.into(),
        }
    }
    pub fn plugin(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::HostFunctions { format } => builtins::list(format),
        Command::Doctor(args) => doctor::doctor(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            errln!("error: {}", term::message(&f.message));
            ExitCode::from(f.code)
        }
    }
}

/// A path as shown in reports.
pub fn show(p: &std::path::Path) -> String {
    p.display().to_string()
}
