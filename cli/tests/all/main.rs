//! The `spindle` command's tests, one module per area, in one test binary
//! (one link instead of one per file). Each test runs the real binary
//! (`CARGO_BIN_EXE_spindle`) in a child process.

mod common;

mod c_plugin;
mod doctor;
mod doctor_logs;
mod doctor_wasm_members;
mod hostile_files;
mod hostile_plugins;
mod patch;
mod run_check;
mod run_input;
mod wasi;
