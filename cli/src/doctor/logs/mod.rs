//! `spindle doctor --log FILE` and `spindle doctor -- CMD ARGS…`: diagnosis
//! from the linker's own words.
//!
//! One idea per file: `model` (what a log says), `parse` (one parser per
//! linker family), `context` (versions and targets the rest of the log
//! names), `classify` (which known failure it is), `advice` (what to do),
//! `crosscheck` (the log against build outputs given too), `command`
//! (running the build), `report` (printing).

mod advice;
mod classify;
mod context;
mod model;
mod parse;
