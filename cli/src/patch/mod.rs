//! `spindle patch`: the drop-in `wasmtime-internal-fiber` for the wasmtime a
//! workspace actually has, written, patched in and verified.

pub mod generate;
pub mod releases;
