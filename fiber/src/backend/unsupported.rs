//! The backend of targets where Spindle cannot switch stacks (yet).
//!
//! It exists so that every target compiles and links: `Fiber::new` checks
//! [`BackendKind::Unsupported`] first and returns `Error::Unsupported`, so
//! none of the methods below is ever reached.

use super::{Backend, BackendKind, EntryFn, Sealed};

/// No stack switching on this target; fibers report `Error::Unsupported`.
#[derive(Debug)]
pub enum Unsupported {}

impl Sealed for Unsupported {}

// SAFETY: no fiber is ever created with this backend (see module docs), so
// the methods are unreachable.
unsafe impl Backend for Unsupported {
    const KIND: BackendKind = BackendKind::Unsupported;
    const CONTROL_SIZE: usize = 16;

    unsafe fn init(_: *mut u8, _: *mut u8, _: *mut u8, _: EntryFn) -> *mut u8 {
        unreachable!("Fiber::new refuses the unsupported backend")
    }

    unsafe fn resume(_: *mut u8, _: &mut *mut u8, _: *mut u8) -> *mut u8 {
        unreachable!("Fiber::new refuses the unsupported backend")
    }

    unsafe fn suspend(_: *mut u8, _: *mut u8) -> *mut u8 {
        unreachable!("Fiber::new refuses the unsupported backend")
    }
}
