//! `wasmtime-internal-fiber` 48.0.8, reimplemented on [`spindle_fiber`].
//!
//! wasmtime runs async calls on stackful fibers from the crate
//! `wasmtime-internal-fiber` (imported there as `wasmtime_fiber`). This crate
//! has the same package name, version, library name, public API and cargo
//! features, so an application can swap it in with
//!
//! ```toml
//! [patch.crates-io]
//! wasmtime-internal-fiber = { path = "path/to/spindle/fiber/wasmtime-compat" }
//! ```
//!
//! and wasmtime compiles against it unchanged. Stacks are then switched by
//! Spindle's assembly (or its ucontext fallback), and the binary contains
//! Spindle's versioned switch symbols ([`spindle_fiber::SWITCH_SYMBOLS`])
//! instead of wasmtime's `wasmtime_fiber_switch_`.
//!
//! # The contract kept
//!
//! * [`Fiber::resume`] returns `Ok(value)` when the function returned and
//!   `Err(value)` when it suspended with `value`.
//! * A panic inside the fiber propagates out of `resume`, after which the
//!   fiber counts as [`done`](Fiber::done).
//! * Dropping a fiber never unwinds it. wasmtime only drops fibers that are
//!   finished (it first resumes an unfinished one with a cancellation).
//! * [`FiberStack::top`], [`FiberStack::range`] and
//!   [`FiberStack::guard_range`] report the same addresses as the original
//!   for all three kinds of stack (mapped, raw parts, custom), because
//!   wasmtime's pooling allocator finds a stack's slot from `top()` and its
//!   signal handler reports a fault inside `guard_range()` as a stack
//!   overflow.
//!
//! # Differences
//!
//! * Stacks from [`FiberStack::new`] are at least 16 KiB (Spindle's
//!   minimum); the original rounds up to one page.
//! * A fiber dropped before it ever ran drops its function (the original
//!   leaks it).
//! * Stricter than the original: dropping a *suspended* fiber aborts the
//!   process (the original abandons its frames and frees its stack under
//!   them), and a [`Suspend`] used outside its own fiber (for example after
//!   `mem::swap` with a nested fiber's) panics (the original switches to
//!   whatever that `Suspend` points at). Like the original, `Fiber::new`
//!   takes a non-`'static` closure, so leaking a suspended fiber with
//!   `mem::forget` while other threads borrow its frames is the caller's to
//!   avoid.
//! * The `custom` feature changes nothing: Spindle picks its own switch for
//!   the target. `std` changes nothing either: this crate always uses `std`.
//! * Under `-Zsanitizer=address` the switches are announced to ASan by
//!   spindle-fiber itself; unlike the original, stacks are not kept mapped
//!   forever then, and `from_raw_parts` memory is used as given (README).

#![warn(missing_docs)]

#[path = "api_48.rs"]
mod api;
mod fiber;

pub use fiber::*;
