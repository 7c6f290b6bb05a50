//! The Rust types a plugin's functions take and return, to and from the
//! bytes of the guest contract.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Display;

/// An export's input block, owned by the plugin from the moment the export
/// is called (docs/guest-contract.md, "Who owns and frees what").
pub struct Input {
    bytes: Option<Vec<u8>>,
}

impl Input {
    /// Takes ownership of the `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// For `len > 0`, `[ptr, ptr + len)` is a block this module's
    /// `cabi_realloc` returned for `new_size = len`, `align = 1`, initialised
    /// and owned by nobody else. For `len == 0`, `ptr` is ignored.
    pub unsafe fn adopt(ptr: *mut u8, len: usize) -> Input {
        if len == 0 {
            // `cabi_realloc` allocated nothing for it.
            return Input {
                bytes: Some(Vec::new()),
            };
        }
        // SAFETY: by the caller's promise, the block came from the global
        // allocator with Layout(len, 1), which is what a Vec<u8> of capacity
        // `len` frees with, and it is fully initialised.
        let bytes = unsafe { Vec::from_raw_parts(ptr, len, len) };
        Input { bytes: Some(bytes) }
    }

    fn bytes(&self) -> &[u8] {
        self.bytes.as_deref().unwrap_or(&[])
    }

    fn take(&mut self) -> Vec<u8> {
        self.bytes.take().unwrap_or_default()
    }
}

/// A type an export takes as its input.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the input of a #[spindle_pdk::export] function",
    label = "use `String`, `&str`, `Vec<u8>` or `&[u8]`"
)]
pub trait FromInput<'a>: Sized {
    /// Converts the input; an `Err` is returned to the host as the export's
    /// error (tag 1) without calling the function.
    fn from_input(input: &'a mut Input) -> Result<Self, String>;
}

fn not_utf8(e: core::str::Utf8Error) -> String {
    format!("the input is not UTF-8: {e}")
}

impl<'a> FromInput<'a> for &'a [u8] {
    fn from_input(input: &'a mut Input) -> Result<Self, String> {
        Ok(input.bytes())
    }
}

impl<'a> FromInput<'a> for Vec<u8> {
    fn from_input(input: &'a mut Input) -> Result<Self, String> {
        Ok(input.take())
    }
}

impl<'a> FromInput<'a> for &'a str {
    fn from_input(input: &'a mut Input) -> Result<Self, String> {
        core::str::from_utf8(input.bytes()).map_err(not_utf8)
    }
}

impl<'a> FromInput<'a> for String {
    fn from_input(input: &'a mut Input) -> Result<Self, String> {
        String::from_utf8(input.take()).map_err(|e| not_utf8(e.utf8_error()))
    }
}

/// A type an export returns: its output (tag 0) or its error (tag 1).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a #[spindle_pdk::export] function",
    label = "return `()`, `String`, `&str`, `Vec<u8>`, `&[u8]`, `Box<[u8]>` or a `Result` of one, with an error that implements `Display`"
)]
pub trait IntoOutput {
    fn into_output(self) -> Result<Vec<u8>, String>;
}

impl IntoOutput for () {
    fn into_output(self) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

impl IntoOutput for Vec<u8> {
    fn into_output(self) -> Result<Vec<u8>, String> {
        Ok(self)
    }
}

impl IntoOutput for Box<[u8]> {
    fn into_output(self) -> Result<Vec<u8>, String> {
        Ok(self.into_vec())
    }
}

impl IntoOutput for &[u8] {
    fn into_output(self) -> Result<Vec<u8>, String> {
        Ok(self.to_vec())
    }
}

impl IntoOutput for String {
    fn into_output(self) -> Result<Vec<u8>, String> {
        Ok(self.into_bytes())
    }
}

impl IntoOutput for &str {
    fn into_output(self) -> Result<Vec<u8>, String> {
        Ok(self.to_owned().into_bytes())
    }
}

impl<T: IntoOutput, E: Display> IntoOutput for Result<T, E> {
    fn into_output(self) -> Result<Vec<u8>, String> {
        self.map_err(|e| e.to_string())?.into_output()
    }
}

/// A type a bytes host function returns to the plugin.
pub trait FromHostOutput {
    fn from_host_output(bytes: Vec<u8>) -> Self;
}

impl FromHostOutput for Vec<u8> {
    fn from_host_output(bytes: Vec<u8>) -> Self {
        bytes
    }
}

impl FromHostOutput for String {
    fn from_host_output(bytes: Vec<u8>) -> Self {
        // The host's `func_str` only returns UTF-8; a `func_bytes` function
        // declared with a `String` return gets the lossy reading rather than
        // a trap.
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(b: &[u8]) -> Input {
        Input {
            bytes: Some(b.to_vec()),
        }
    }

    #[test]
    fn inputs_convert_and_bad_utf8_is_an_error_not_a_panic() {
        let mut i = input(b"abc");
        assert_eq!(<&str>::from_input(&mut i).unwrap(), "abc");
        let mut i = input(b"abc");
        assert_eq!(String::from_input(&mut i).unwrap(), "abc");
        let mut i = input(&[0xff, b'a']);
        let e = String::from_input(&mut i).unwrap_err();
        assert!(e.starts_with("the input is not UTF-8"), "{e}");
        let mut i = input(&[0xff]);
        assert!(<&str>::from_input(&mut i).is_err());
        let mut i = input(&[0xff]);
        assert_eq!(Vec::<u8>::from_input(&mut i).unwrap(), [0xff]);
        // SAFETY: a zero length never reads the pointer.
        let mut empty = unsafe { Input::adopt(core::ptr::null_mut(), 0) };
        assert_eq!(<&[u8]>::from_input(&mut empty).unwrap(), b"");
    }

    #[test]
    fn outputs_and_errors() {
        assert_eq!("hi".into_output().unwrap(), b"hi");
        assert_eq!(().into_output().unwrap(), b"");
        let r: Result<String, &str> = Err("no such user");
        assert_eq!(r.into_output().unwrap_err(), "no such user");
        let r: Result<&[u8], core::fmt::Error> = Ok(b"x");
        assert_eq!(r.into_output().unwrap(), b"x");
        assert_eq!(String::from_host_output(vec_of(&[b'a', 0xff])), "a\u{fffd}");
    }

    fn vec_of(b: &[u8]) -> Vec<u8> {
        b.to_vec()
    }
}
