//! A spindle plugin written with the kit: every export below is called by
//! the host with `call_str` or `call_bytes`, and `app`'s functions are the
//! host's (`func` and `func_str`).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use spindle_pdk::{export, import};

#[import(module = "app")]
unsafe extern "C" {
    /// Adds `delta` to the host's visit counter and returns the new total.
    fn visits(delta: u32) -> u32;
    /// The host's upper-casing (a `func_str` host function).
    fn shout(text: &str) -> String;
}

/// `greet("world")` = `"Hello, world! You are visitor #1."`
#[export]
fn greet(name: String) -> String {
    format!("Hello, {name}! You are visitor #{}.", visits(1))
}

/// Borrowed input, borrowed output: the first word.
#[export]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

/// Bytes in, bytes out: the input reversed.
#[export]
fn reverse(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().rev().copied().collect()
}

/// Owned bytes, modified in place.
#[export]
fn rot13(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        *b = match *b {
            b'a'..=b'z' => (*b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (*b - b'A' + 13) % 26 + b'A',
            other => other,
        };
    }
    bytes
}

/// An error reaches the host as `ErrorKind::GuestError` with this message.
#[export]
fn parse_age(text: &str) -> Result<String, core::num::ParseIntError> {
    let age: u8 = text.trim().parse()?;
    Ok(format!("{age} years"))
}

/// Calls the host's bytes function from an export.
#[export(name = "loud_greet")]
fn loud(name: &str) -> String {
    format!("HEY {}!", shout(name))
}

/// A line on the plugin's stdout: with std on wasm32-wasip1 it is WASI's
/// `fd_write`, which the host captures or forwards (the `wasi_plugin`
/// example); elsewhere there is no stdout and nothing is written.
#[export]
fn log(line: &str) {
    #[cfg(feature = "std")]
    std::println!("{line}");
    #[cfg(not(feature = "std"))]
    let _ = line;
}

/// No input, no output.
#[export]
fn touch() {
    visits(0);
}
