//! Empty: this crate is its test, `tests/wasmtime_fibers.rs` of the main workspace on wasmtime 36.
