//! What spindle-fiber asks of the operating system outside the stacks
//! themselves: the page size, and on Windows the few Win32 declarations
//! every Windows module shares.

#[cfg(windows)]
pub(crate) mod windows;

/// The page size, asked of the OS once: every `Stack` has exactly one guard
/// page, so its size need not be stored in each stack.
pub(crate) fn page_size() -> usize {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    cfg_if::cfg_if! {
        if #[cfg(unix)] {
            // SAFETY: sysconf has no preconditions.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let size = if size > 0 { size as usize } else { 4096 };
        } else {
            // Windows' pages are 4 KiB on every architecture it runs on.
            let size = 4096;
        }
    }
    PAGE.store(size, Ordering::Relaxed);
    size
}
