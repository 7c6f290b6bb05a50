//! spindle-fiber's integration tests, one binary: each module is one
//! concern. The soak tests (`tests/soak.rs`) keep a binary of their own
//! because they measure the whole process's memory.
//!
//! Tests that must crash or need a fresh process run this same binary as a
//! child (`common::run_child`); a child test is named by its module path
//! (`child!`), as the test harness names it.

#[macro_use]
mod common;

mod audit_abi;
mod audit_values;
mod cet_landing_pads;
mod fiber;
mod leaking;
mod miri_only;
mod overflow_threads;
mod raw_stack_guard;
mod sanitizer;
mod unix_only;
mod unwinding;
mod windows;
