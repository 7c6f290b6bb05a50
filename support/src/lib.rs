//! What the tests, benches and build scripts of Spindle's crates share:
//! helpers that integration tests of different crates (and build scripts)
//! could otherwise only share by copying them or by including one another's
//! files with `#[path]`.
//!
//! Only ever a dev- or build-dependency. It needs std and nothing else, so
//! build scripts and spindle-fiber's tests can use it on rustc 1.85 and on
//! every cross target.

pub mod child;
pub mod nested_cargo;
