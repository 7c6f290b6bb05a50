//! Write spindle plugins in Rust.
//!
//! ```ignore
//! use spindle_pdk::{export, import};
//!
//! #[import(module = "app")]
//! unsafe extern "C" {
//!     fn visits(delta: u32) -> u32;
//!     fn shout(text: &str) -> String;
//! }
//!
//! #[export]
//! fn greet(name: String) -> String {
//!     format!("Hello, {}! You are visitor #{}.", shout(&name), visits(1))
//! }
//! ```
//!
//! [`export`] makes a function an export of spindle's guest contract
//! (docs/guest-contract.md): the host calls it with `Instance::call_str` or
//! `call_bytes`. It takes nothing or one input (`String`, `&str`, `Vec<u8>`,
//! `&[u8]`) and returns `()`, `String`, `&str`, `Vec<u8>`, `&[u8]`, or a
//! `Result` of one of these whose error (any `Display`) reaches the host as
//! `ErrorKind::GuestError`. An input that is not UTF-8 for a `String` or
//! `&str` parameter is such an error too, before the function runs.
//! `#[export(name = "other")]` exports it under another name.
//!
//! [`import`] turns a block of host-function declarations into safe
//! functions of the same names, imported from the module it names. A
//! function takes and returns plain wasm values (`i32`, `u32`, `i64`,
//! `u64`, `f32`, `f64`), or it is a bytes function (the host's `func_bytes`
//! or `func_str`): one `&str`/`&[u8]`/`String`/`Vec<u8>` parameter and a
//! `String` or `Vec<u8>` return. A `String` return that the host sent as
//! invalid UTF-8 has the bad sequences replaced by U+FFFD.
//!
//! The kit exports `cabi_realloc` (on Rust's global allocator) once per
//! plugin, so a plugin must not define its own. `no_std`: see the crate's
//! README for the `allocator` and `panic-handler` features.

#![cfg_attr(not(test), no_std)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod convert;
mod guest;
mod host_call;

#[cfg(all(
    feature = "allocator",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
mod allocator;

#[cfg(all(
    feature = "panic-handler",
    not(feature = "std"),
    target_arch = "wasm32"
))]
mod panic;

pub use spindle_pdk_macros::{export, import};

/// What the macros expand to. Not a public API: it changes with the macros.
#[doc(hidden)]
pub mod __private {
    pub use crate::convert::{FromHostOutput, FromInput, Input, IntoOutput};
    pub use crate::guest::{finish, post};
    pub use crate::host_call::call_list;
}
