//! spindle-runtime's integration tests, one module per area, in one test
//! binary: each binary links wasmtime, so one binary instead of one per file
//! saves a link per file on every build. `many_hosts` and `soak` stay
//! binaries of their own because they measure the whole process (its
//! threads, its memory), which the other tests here would disturb.

mod common;

mod bad_input;
mod bytes;
mod cache;
mod cache_security;
mod calls;
mod failure_modes;
mod hostile_guests;
mod instance_totals;
mod layering;
mod limits;
mod link_report;
mod load_limits;
mod plugin_files;
mod resumable;
mod wasi;
