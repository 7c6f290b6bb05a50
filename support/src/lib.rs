//! What the tests, benches and build scripts of Spindle's crates share:
//! helpers that integration tests of different crates (and build scripts)
//! could otherwise only share by copying them or by including one another's
//! files with `#[path]`.
//!
//! Only ever a dev- or build-dependency. Without features it needs std and
//! nothing else, so spindle-fiber's tests can use it on rustc 1.85 and on
//! every cross target; the `runtime` feature adds the spindle-runtime host
//! fixture.

pub mod child;
#[cfg(feature = "runtime")]
pub mod fixture_host;
pub mod nested_cargo;
pub mod not_run;
pub mod soak;
pub mod wasi_plugins;
