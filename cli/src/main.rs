//! `spindle`: run and check wasm plugins, and diagnose native build outputs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use spindle_cli::{Format, builtins, check, doctor, patch, run, term};

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
  spindle patch                                    wasmtime's async on Spindle's fibers, in your workspace

", spindle_cli::exit_codes!())
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
    Patch(patch::PatchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::HostFunctions { format } => builtins::list(format),
        Command::Doctor(args) => doctor::doctor(args),
        Command::Patch(args) => patch::patch(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            term::stderr_line(format_args!("error: {}", term::message(&f.message)));
            ExitCode::from(f.code)
        }
    }
}
