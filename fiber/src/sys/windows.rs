//! The few Win32 functions and constants spindle-fiber calls, declared by
//! hand (all from kernel32, which every Windows program links) instead of
//! pulling in a bindings crate for a dozen lines.

#![allow(non_snake_case, clippy::upper_case_acronyms)]

use core::ffi::c_void;

pub(crate) type BOOL = i32;

pub(crate) const MEM_COMMIT: u32 = 0x1000;
pub(crate) const MEM_RESERVE: u32 = 0x2000;
pub(crate) const MEM_RELEASE: u32 = 0x8000;
pub(crate) const PAGE_READWRITE: u32 = 0x04;
pub(crate) const PAGE_GUARD: u32 = 0x100;

/// `EXCEPTION_RECORD` (x64 layout; only the fields the handler reads are
/// named, the rest is never touched).
#[repr(C)]
pub(crate) struct ExceptionRecord {
    pub(crate) code: u32,
    pub(crate) flags: u32,
    pub(crate) record: *mut ExceptionRecord,
    pub(crate) address: *mut c_void,
    pub(crate) parameter_count: u32,
    pub(crate) information: [usize; 15],
}

/// `EXCEPTION_POINTERS`; the context record is passed through opaquely.
#[repr(C)]
pub(crate) struct ExceptionPointers {
    pub(crate) record: *mut ExceptionRecord,
    pub(crate) context: *mut c_void,
}

pub(crate) const EXCEPTION_ACCESS_VIOLATION: u32 = 0xC000_0005;
pub(crate) const EXCEPTION_GUARD_PAGE: u32 = 0x8000_0001;
pub(crate) const EXCEPTION_STACK_OVERFLOW: u32 = 0xC000_00FD;
pub(crate) const EXCEPTION_CONTINUE_SEARCH: i32 = 0;

pub(crate) type VectoredHandler = unsafe extern "system" fn(*mut ExceptionPointers) -> i32;

/// `LPFIBER_START_ROUTINE`.
pub(crate) type FiberStart = unsafe extern "system" fn(*mut c_void);
pub(crate) const FIBER_FLAG_FLOAT_SWITCH: u32 = 1;

pub(crate) const STD_ERROR_HANDLE: u32 = -12i32 as u32;

#[link(name = "kernel32")]
unsafe extern "system" {
    pub(crate) fn VirtualAlloc(
        address: *mut c_void,
        size: usize,
        kind: u32,
        protect: u32,
    ) -> *mut c_void;
    pub(crate) fn VirtualFree(address: *mut c_void, size: usize, kind: u32) -> BOOL;
    pub(crate) fn AddVectoredExceptionHandler(first: u32, handler: VectoredHandler) -> *mut c_void;
    pub(crate) fn GetStdHandle(which: u32) -> *mut c_void;
    pub(crate) fn WriteFile(
        file: *mut c_void,
        buffer: *const u8,
        len: u32,
        written: *mut u32,
        overlapped: *mut c_void,
    ) -> BOOL;
    pub(crate) fn CreateFiberEx(
        commit: usize,
        reserve: usize,
        flags: u32,
        start: FiberStart,
        parameter: *mut c_void,
    ) -> *mut c_void;
    pub(crate) fn DeleteFiber(fiber: *mut c_void);
    pub(crate) fn SwitchToFiber(fiber: *mut c_void);
    pub(crate) fn ConvertThreadToFiberEx(parameter: *mut c_void, flags: u32) -> *mut c_void;
    pub(crate) fn ConvertFiberToThread() -> BOOL;
    pub(crate) fn IsThreadAFiber() -> BOOL;
}
