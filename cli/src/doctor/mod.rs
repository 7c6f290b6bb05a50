//! `spindle doctor PATH...`: diagnoses from real build outputs, read with the
//! `object` crate: architecture mismatches, fiber switch symbols, plugin
//! imports.

//!
//! One idea per file: `inputs` (which files), `objects` (object, archive and
//! universal Mach-O evidence), `symbols` (switch symbols), `target` (which
//! architecture is wanted), `findings` (what is wrong), `plugins` (wasm
//! evidence), `diagnose` (all of it together), `report` (printing).

use std::path::PathBuf;

use clap::Args;

use crate::{EXIT_FAILURE, EXIT_OK, Failure, Format};

mod diagnose;
mod findings;
mod inputs;
mod logs;
mod objects;
mod plugins;
mod report;
mod source;
mod symbols;
mod target;
mod wasm_members;

/// Diagnose build outputs: architecture mismatches, fiber switch symbols, plugin imports
#[derive(Args)]
#[command(after_help = concat!("PATH can be an executable, a shared library, an object file, a static
library (.a), an rlib, a universal (fat) Mach-O, a cargo target directory
(walked: deps/*.rlib, *.a, executables; build scripts, proc macros and
incremental caches are skipped), or a wasm plugin (.wasm/.wat, checked like
`spindle check`).

What it looks for:
  architecture   objects built for another architecture than the target: the
                 \"Undefined symbols for architecture x86_64\" link error when an
                 arm64-only archive joins an x86_64 link (and the reverse)
  switch symbols whether spindle-fiber's (spindle_fiber_<version>_resume, ...)
                 and wasmtime's (wasmtime_fiber_switch) stack-switch symbols are
                 defined, undefined or absent; undefined in a final binary is
                 the wasmtime 38 + ThinLTO bug (wasmtime#11957)
  plugin imports every missing or mistyped import of a wasm plugin

The target is --target, else the triple in the path (target/<triple>/...),
else the architecture of the executables given, else the majority.

Link logs (--log FILE, - for stdin; or -- CMD ARGS... to run a build):
  reads what ld64, lld (ELF/Mach-O/COFF/wasm), GNU ld, gold, zig and MSVC
  link.exe printed, and names the cause and the fix: an input built for
  another architecture, wasmtime's stack switch lost under LTO, a wasm host
  import without #[link(wasm_import_module)], a missing native library, or
  \"not one of the link failures Spindle knows\". PATHs given too are
  cross-checked. `doctor -- CMD` streams CMD's output and exits with its
  status.

Examples:
  spindle doctor target/aarch64-apple-darwin/release
  spindle doctor libfoo.a --target x86_64-apple-darwin
  spindle doctor target/release/myapp plugin.wasm --format json
  spindle doctor --log build.log
  cargo build --release 2>&1 | spindle doctor --log -
  spindle doctor -- cargo build --release --target x86_64-apple-darwin

", exit_codes!()))]
pub struct DoctorArgs {
    /// Files or directories to examine (with --log or `-- CMD`: build
    /// outputs to cross-check the log against)
    #[arg(required_unless_present_any = ["log", "command"], value_name = "PATH")]
    pub(super) paths: Vec<PathBuf>,
    /// Diagnose a build log: cargo's output or the linker's alone (`-`: stdin)
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub(super) log: Option<PathBuf>,
    /// Run CMD, stream its output, diagnose it if it fails; exits with its status
    #[arg(last = true, value_name = "CMD")]
    pub(super) command: Vec<std::ffi::OsString>,
    /// The target the outputs are meant for, e.g. `x86_64-apple-darwin`
    #[arg(long, value_name = "TRIPLE")]
    pub(super) target: Option<String>,
    /// Host manifest for wasm plugins (default: `spindle run`'s built-in host)
    #[arg(long, value_name = "FILE")]
    pub(super) host_manifest: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    /// Also list every file examined in a directory, not only those with findings
    #[arg(long, short)]
    pub(super) verbose: bool,
}

/// `spindle doctor`.
pub fn doctor(args: DoctorArgs) -> Result<u8, Failure> {
    if let Some(log) = &args.log {
        return logs::from_log(log, &args);
    }
    if !args.command.is_empty() {
        return logs::run_command(&args.command, &args);
    }
    let d = diagnose::diagnose(&args)?;
    let errors = report::print(&d, args.format, args.verbose);
    Ok(if errors > 0 { EXIT_FAILURE } else { EXIT_OK })
}

/// `doctor PATH...` without printing the report: how many files were
/// reported on plus how many findings were made. For the fuzz target
/// (`fuzz/fuzz_targets/doctor.rs`), which feeds it mutated build outputs.
#[doc(hidden)]
pub fn diagnose_quietly(paths: Vec<PathBuf>, target: Option<String>) -> Result<usize, Failure> {
    let args = DoctorArgs {
        paths,
        log: None,
        command: Vec::new(),
        target,
        host_manifest: None,
        format: Format::Json,
        verbose: true,
    };
    let d = diagnose::diagnose(&args)?;
    Ok(d.reports.len() + d.findings.len())
}

/// `doctor --log` on a log already in memory, without printing: each cause
/// found, as its stable kind (the JSON report's `kind`, e.g.
/// `switch-lost-under-lto`) and its message. For spindle-tests, which feeds
/// it the real failing link of the seed application (tests/seed-38).
#[doc(hidden)]
pub fn diagnose_log_quietly(
    text: &str,
    target: Option<String>,
) -> Result<Vec<(String, String)>, Failure> {
    let args = DoctorArgs {
        paths: Vec::new(),
        log: None,
        command: Vec::new(),
        target,
        host_manifest: None,
        format: Format::Json,
        verbose: false,
    };
    logs::causes(text, &args)
}

/// What `doctor --log` read in a log, before diagnosing it: the undefined
/// symbols as the linker printed them, the most references kept for one,
/// the libraries not found, the files ignored for their architecture and
/// the linkers that spoke. For the `doctor_log` fuzz target, which checks
/// that each known linker line embedded in noise is recognised.
#[doc(hidden)]
#[derive(Debug)]
pub struct LogContents {
    pub undefined: Vec<String>,
    pub most_references: usize,
    pub missing_libraries: Vec<String>,
    pub ignored: Vec<String>,
    pub linkers: Vec<String>,
}

/// The parse behind `doctor --log`, without the diagnosis.
#[doc(hidden)]
pub fn read_log_quietly(text: &str) -> LogContents {
    logs::contents(text)
}
