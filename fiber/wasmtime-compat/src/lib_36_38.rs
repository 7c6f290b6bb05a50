//! `wasmtime-internal-fiber` 38.0.3 or 36.0.20, reimplemented on
//! [`spindle_fiber`]: the crate root of `fiber/wasmtime-compat-38` and
//! `fiber/wasmtime-compat-36`, which differ only in the version their
//! manifests name.
//!
//! The code is the 48.0.8 drop-in's (`fiber.rs`, beside this file); see
//! that crate's root (`lib.rs`) for the contract kept and the differences
//! from the original. What these versions' API says differently is in
//! `api_36_38.rs`: `Result` defaults to `std::io::Error`, a stack creator
//! fails with `anyhow::Error`, and `Fiber::new` fails with the bare error.
//! These versions have no `custom` feature; `std` changes nothing here.

#![warn(missing_docs)]

#[path = "api_36_38.rs"]
mod api;
mod fiber;

pub use fiber::*;
