//! `spindle patch`: the drop-in `wasmtime-internal-fiber` for the wasmtime a
//! workspace actually has, written, patched in and verified.
//!
//! - [`releases`]: the one table of releases and their API epochs.
//! - [`generate`]: a release's drop-in crate (a thin shell around
//!   `spindle-wasmtime-fiber`).
//! - [`manifest`]: the `[patch.crates-io]` entry, edited in place.
//! - [`graph`]: what `cargo metadata` says about the workspace.
//! - [`command`]: the command itself (`--check`, `--remove`).

pub mod command;
pub mod generate;
pub mod graph;
pub mod manifest;
pub mod releases;

pub use command::{PatchArgs, patch};
