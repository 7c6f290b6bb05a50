//! `spindle-runtime`: a minimal wasmtime embedding for running wasm plugins.
