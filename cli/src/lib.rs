//! The `spindle` command's subcommands, as a library: `main.rs` parses the
//! command line and calls them, and the fuzz targets (`fuzz/`) reach the
//! doctor's parsers through [`doctor::diagnose_quietly`].

use clap::ValueEnum;

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
#[doc(hidden)]
#[macro_export]
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success; `check`/`doctor` found nothing wrong
  1  the plugin failed (trap, limit, import problems, invalid module, or
     exited with code 0 before returning the result `run` was to print),
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
pub mod term;

pub mod builtins;
pub mod check;
pub mod doctor;
mod files;
pub mod patch;
pub mod run;

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

/// A path as shown in reports.
pub fn show(p: &std::path::Path) -> String {
    p.display().to_string()
}
