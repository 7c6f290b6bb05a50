//! The host side of the guest contract (docs/guest-contract.md) that needs
//! no store: export names and signatures, checking what `cabi_realloc`
//! returned, and decoding a result area. Calling into the guest is left to
//! the two users, `Instance::call_bytes` and bytes host functions, which
//! reach the guest through different store handles.

use std::ops::Range;

use wasmtime::TypedFunc;

use crate::classify::{CallBudget, classify};
use crate::error::{AllocatorProblem, Error, ErrorKind};

/// The allocator export, named and typed as in the component model's
/// canonical ABI: `(old_ptr, old_size, align, new_size) -> ptr`.
pub(crate) const REALLOC: &str = "cabi_realloc";
pub(crate) type Realloc = TypedFunc<(u32, u32, u32, u32), u32>;

/// An export of the contract: `(input_ptr, input_len) -> result_area_ptr`.
pub(crate) type ListFunc = TypedFunc<(u32, u32), u32>;

/// The optional export called with the result area once the host has
/// copied a result out, so the guest can free it.
pub(crate) type PostFunc = TypedFunc<u32, ()>;

/// `cabi_post_NAME`, the canonical ABI's post-return name for export `NAME`.
pub(crate) fn post_name(export: &str) -> String {
    format!("cabi_post_{export}")
}

/// Byte list elements are align 1 in the canonical ABI.
pub(crate) const LIST_ALIGN: u32 = 1;

/// The result area: a `u8` tag at 0 (0 ok, 1 error), then the `(ptr, len)`
/// of the payload as two little-endian `u32`s at 4 and 8.
pub(crate) const RESULT_AREA: u32 = 12;
pub(crate) const RESULT_ALIGN: u32 = 4;

/// A list return area of an import: `(ptr, len)` as two `u32`s.
pub(crate) const LIST_AREA: u32 = 8;

/// `[ptr, ptr + len)` if it lies inside a memory of `size` bytes.
pub(crate) fn region(ptr: u32, len: u32, size: usize) -> Option<Range<usize>> {
    let start = ptr as usize;
    let end = start.checked_add(len as usize)?;
    (end <= size).then_some(start..end)
}

#[inline]
pub(crate) fn bounds(
    function: &str,
    what: &'static str,
    ptr: u32,
    len: u32,
    mem: &[u8],
) -> Result<Range<usize>, Error> {
    match region(ptr, len, mem.len()) {
        Some(r) => Ok(r),
        None => Err(out_of_bounds(function, what, ptr, len, mem.len())),
    }
}

/// The error of [`bounds`], built out of line: every call checks bounds
/// and almost none fails.
#[cold]
#[inline(never)]
fn out_of_bounds(
    function: &str,
    what: &'static str,
    ptr: u32,
    len: u32,
    memory_size: usize,
) -> Error {
    ErrorKind::GuestBounds {
        function: function.to_string(),
        what,
        ptr,
        len,
        memory_size,
    }
    .into()
}

/// Checks the pointer `cabi_realloc` returned for `size` bytes, in a memory
/// of `memory_size` bytes as it is after the call (it may have grown it).
/// An empty allocation may point anywhere up to the end, even at 0: nothing
/// is written there.
#[inline]
pub(crate) fn check_allocation(
    function: &str,
    ptr: u32,
    size: u32,
    memory_size: usize,
) -> Result<Range<usize>, Error> {
    match region(ptr, size, memory_size) {
        Some(r) if size == 0 || ptr != 0 => Ok(r),
        _ => Err(bad_allocation(function, ptr, size, memory_size)),
    }
}

#[cold]
#[inline(never)]
fn bad_allocation(function: &str, ptr: u32, size: u32, memory_size: usize) -> Error {
    let problem = if size > 0 && ptr == 0 {
        AllocatorProblem::Null
    } else {
        AllocatorProblem::OutOfBounds { ptr, memory_size }
    };
    ErrorKind::Allocator {
        function: function.to_string(),
        size,
        problem,
    }
    .into()
}

/// An error from calling `cabi_realloc`: a plain trap is the allocator's
/// fault and says so; limits and cancellation keep their own kinds.
#[cold]
pub(crate) fn allocator_failed(
    function: &str,
    size: u32,
    error: wasmtime::Error,
    budget: CallBudget,
) -> Error {
    let error = classify(error, budget);
    match error.into_kind() {
        ErrorKind::Trap { code, backtrace } => ErrorKind::Allocator {
            function: function.to_string(),
            size,
            problem: AllocatorProblem::Trapped { code, backtrace },
        }
        .into(),
        other => other.into(),
    }
}

#[cold]
pub(crate) fn contract(function: &str, problem: impl Into<String>) -> Error {
    ErrorKind::GuestContract {
        function: function.to_string(),
        problem: problem.into(),
    }
    .into()
}

#[inline(always)]
fn u32_at(mem: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(mem[at..at + 4].try_into().expect("4 bytes"))
}

/// Reads the `(ptr, len)` pair at `at`, which must be in bounds.
#[inline(always)]
pub(crate) fn pair_at(mem: &[u8], at: usize) -> (u32, u32) {
    (u32_at(mem, at), u32_at(mem, at + 4))
}

/// What an export's result area says.
pub(crate) enum Outcome {
    Ok(Range<usize>),
    Err(Range<usize>),
}

/// Decodes the result area at `area` in `mem`: its alignment, bounds and
/// tag, then the payload's bounds and size (against `max_output`).
#[inline(always)]
pub(crate) fn decode_result(
    function: &str,
    mem: &[u8],
    area: u32,
    max_output: Option<usize>,
) -> Result<Outcome, Error> {
    if !area.is_multiple_of(RESULT_ALIGN) {
        return Err(misaligned_area(function, area));
    }
    let head = bounds(function, "return area", area, RESULT_AREA, mem)?;
    let tag = mem[head.start];
    let (ptr, len) = pair_at(mem, head.start + 4);
    let what = match tag {
        0 => "output",
        1 => "error message",
        other => return Err(unknown_tag(function, other)),
    };
    let range = bounds(function, what, ptr, len, mem)?;
    if let Some(limit) = max_output
        && len as usize > limit
    {
        return Err(over_output_limit(function, what, len, limit));
    }
    Ok(if tag == 0 {
        Outcome::Ok(range)
    } else {
        Outcome::Err(range)
    })
}

#[cold]
#[inline(never)]
fn misaligned_area(function: &str, area: u32) -> Error {
    contract(
        function,
        format!("its result area pointer {area:#x} is not 4-byte aligned"),
    )
}

#[cold]
#[inline(never)]
fn unknown_tag(function: &str, tag: u8) -> Error {
    contract(
        function,
        format!("its result tag is {tag}; 0 (ok) and 1 (error) are the only tags"),
    )
}

#[cold]
#[inline(never)]
fn over_output_limit(function: &str, what: &'static str, len: u32, limit: usize) -> Error {
    ErrorKind::OutputLimit {
        function: function.to_string(),
        what,
        len,
        limit,
    }
    .into()
}

/// A plugin's error message, cut at `max` bytes with a note giving the
/// whole length: only the kept part is copied out of the plugin. Invalid
/// UTF-8 (including a character split by the cut) becomes U+FFFD.
pub(crate) fn error_message(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut message = String::from_utf8_lossy(&bytes[..max]).into_owned();
    message.push_str(&format!(
        " [... cut: the first {max} of {} bytes]",
        bytes.len()
    ));
    message
}

/// The `ErrorKind::InvalidUtf8` for `bytes`.
#[cold]
pub(crate) fn not_utf8(
    function: &str,
    what: &'static str,
    bytes: &[u8],
    e: std::str::Utf8Error,
) -> Error {
    ErrorKind::InvalidUtf8 {
        function: function.to_string(),
        what,
        valid_up_to: e.valid_up_to(),
        len: bytes.len(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_cut_with_a_note() {
        assert_eq!(error_message(b"oops", 4), "oops");
        assert_eq!(
            error_message(b"oops!", 4),
            "oops [... cut: the first 4 of 5 bytes]"
        );
        // A character split by the cut is replaced, not a panic.
        assert_eq!(
            error_message("é".as_bytes(), 1),
            "\u{fffd} [... cut: the first 1 of 2 bytes]"
        );
        assert_eq!(error_message(b"", 0), "");
    }

    #[test]
    fn regions_refuse_overflow_and_the_end() {
        assert_eq!(region(0, 0, 0), Some(0..0));
        assert_eq!(region(10, 6, 16), Some(10..16));
        assert_eq!(region(10, 7, 16), None);
        assert_eq!(
            region(u32::MAX, 1, usize::MAX),
            Some(u32::MAX as usize..1 << 32)
        );
        assert_eq!(region(u32::MAX - 3, 8, 1 << 16), None);
    }

    #[test]
    fn allocations() {
        assert!(check_allocation("f", 0, 0, 0).is_ok());
        assert!(check_allocation("f", 8, 8, 16).is_ok());
        let null = check_allocation("f", 0, 1, 16).unwrap_err();
        assert!(matches!(
            null.kind(),
            ErrorKind::Allocator {
                problem: AllocatorProblem::Null,
                size: 1,
                ..
            }
        ));
        let oob = check_allocation("f", 12, 8, 16).unwrap_err();
        assert!(matches!(
            oob.kind(),
            ErrorKind::Allocator {
                problem: AllocatorProblem::OutOfBounds {
                    ptr: 12,
                    memory_size: 16
                },
                ..
            }
        ));
    }
}
