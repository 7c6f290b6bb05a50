//! A small global allocator for `no_std` plugins on wasm32 (feature
//! `allocator`): power-of-two size classes, each with a free list, carved
//! from pages taken with `memory.grow`. Freed blocks are reused by the next
//! allocation of their class, so a plugin that frees what it allocates
//! keeps its memory flat; memory is never given back (wasm cannot shrink
//! it). It trades space (up to 2x per block) for a few dozen lines with no
//! dependency; a plugin with heavy allocation brings its own allocator
//! instead (`talc`, `dlmalloc`, ...).

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;

const PAGE: usize = 65536;

struct State {
    /// Head of each class's free list (0: empty); a free block holds the
    /// address of the next one in its first word.
    free: [usize; usize::BITS as usize],
    /// Next unused byte and end of the region carved so far.
    bump: usize,
    end: usize,
}

pub struct Allocator(UnsafeCell<State>);

// SAFETY: compiled only for wasm32 without the `atomics` target feature,
// where an instance has exactly one thread, so `State` is never accessed
// concurrently; the allocator is not reentered from within itself.
unsafe impl Sync for Allocator {}

#[global_allocator]
static GLOBAL: Allocator = Allocator(UnsafeCell::new(State {
    free: [0; usize::BITS as usize],
    bump: 0,
    end: 0,
}));

/// The class (log2 of the block size) of a layout; `None` if too large or
/// aligned beyond a page, which `memory.grow` cannot promise.
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > PAGE {
        return None;
    }
    let size = layout.size().max(layout.align()).max(size_of::<usize>());
    Some(size.checked_next_power_of_two()?.trailing_zeros() as usize)
}

impl State {
    /// A fresh block of `1 << k` bytes aligned to `min(1 << k, PAGE)`.
    fn carve(&mut self, k: usize) -> Option<usize> {
        let size = 1usize << k;
        let align = size.min(PAGE);
        let fits = |bump: usize, end: usize| {
            let start = bump.checked_add(align - 1)? & !(align - 1);
            (start.checked_add(size)? <= end).then_some(start)
        };
        let start = match fits(self.bump, self.end) {
            Some(s) => s,
            None => {
                let pages = size.div_ceil(PAGE);
                let old = wasm32::memory_grow(0, pages);
                if old == usize::MAX {
                    return None;
                }
                let region = old.checked_mul(PAGE)?;
                let region_end = region.checked_add(pages * PAGE)?;
                // Continue the old region if the new pages extend it (nobody
                // else grew memory) and the block fits; else start afresh at
                // the new pages, which are page-aligned and large enough.
                let start = match fits(self.bump, region_end) {
                    Some(s) if region == self.end => s,
                    _ => region,
                };
                self.end = region_end;
                start
            }
        };
        self.bump = start + size;
        Some(start)
    }
}

// SAFETY: blocks handed out never overlap (each is either freshly carved
// past `bump` or popped off a free list it was pushed onto by `dealloc`),
// and each is at least `layout.size()` bytes aligned to `layout.align()`
// (block size and alignment are powers of two covering both).
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(k) = class(layout) else {
            return ptr::null_mut();
        };
        // SAFETY: single-threaded and not reentered (see `Sync`).
        let st = unsafe { &mut *self.0.get() };
        let head = st.free[k];
        if head != 0 {
            // SAFETY: `head` is a free block of class k, whose first word
            // `dealloc` set to the next free block.
            st.free[k] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        st.carve(k).map_or(ptr::null_mut(), |a| a as *mut u8)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(k) = class(layout) else { return };
        // SAFETY: single-threaded and not reentered (see `Sync`).
        let st = unsafe { &mut *self.0.get() };
        // SAFETY: `block` is a block of class k that the caller gives back;
        // it is at least a word large and word-aligned (classes start at a
        // word).
        unsafe { *(block as *mut usize) = st.free[k] };
        st.free[k] = block as usize;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller promises `new_size` rounded up to `align` does
        // not overflow, which is all `from_size_align_unchecked` requires.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class(layout) == class(new_layout) {
            // The block already has room.
            return block;
        }
        // SAFETY: `new_layout` is valid and non-zero-sized (GlobalAlloc's
        // contract for realloc).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least
            // `min(old, new)` bytes; the old one is the caller's to give up.
            unsafe {
                ptr::copy_nonoverlapping(block, new, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
        }
        new
    }
}
