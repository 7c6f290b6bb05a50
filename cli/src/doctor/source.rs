//! Reading a build output piecewise, within a budget.
//!
//! Doctor never loads a whole file: the `object` parsers ask for the ranges
//! they need (headers, symbol and string tables) through [`Window`], and
//! only those are read, through `object`'s `ReadCache`. A 2 GB archive,
//! sparse or not, costs what its headers cost. Every distinct range read
//! and every string looked up is charged to the file's budget; a file whose
//! headers claim more (an archive's name table of 2 GB, a symbol table
//! larger than anything real) stops being read, and the report says so.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fs::File;
use std::ops::Range;
use std::path::Path;

use object::ReadRef;
use object::read::ReadCache;

/// Bytes of one file doctor reads at most: the sum of the distinct ranges
/// and strings its parsers ask for. Headers, symbol and string tables of
/// real outputs (a 1 GB debug archive) stay far below it.
pub(super) const READ_BUDGET: u64 = 256 << 20;

/// An open regular file and what has been read of it.
pub(super) struct Source {
    cache: ReadCache<File>,
    len: u64,
    spent: Cell<u64>,
    charged: RefCell<HashSet<(u64, u64)>>,
    strings: RefCell<HashSet<(u64, u8)>>,
    over_budget: Cell<bool>,
}

impl Source {
    /// Opens `path`: a regular file (a FIFO or a device is refused, not
    /// read), of any size.
    pub(super) fn open(path: &Path) -> Result<Source, String> {
        let (file, len) = crate::files::open_regular(path, "file", u64::MAX)?;
        Ok(Source {
            cache: ReadCache::new(file),
            len,
            spent: Cell::new(0),
            charged: RefCell::new(HashSet::new()),
            strings: RefCell::new(HashSet::new()),
            over_budget: Cell::new(false),
        })
    }

    /// The file's length, from `fstat` when it was opened.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The whole file.
    pub(super) fn whole(&self) -> Window<'_> {
        Window {
            source: self,
            offset: 0,
            size: self.len,
        }
    }

    /// Did a parser ask for more than [`READ_BUDGET`]? (Its request was
    /// refused, so the report on this file is incomplete.)
    pub(super) fn over_budget(&self) -> bool {
        self.over_budget.get()
    }

    fn charge(&self, bytes: u64) -> Result<(), ()> {
        let spent = self.spent.get().saturating_add(bytes);
        if spent > READ_BUDGET {
            self.over_budget.set(true);
            return Err(());
        }
        self.spent.set(spent);
        Ok(())
    }

    fn read_at(&self, offset: u64, size: u64) -> Result<&[u8], ()> {
        if size == 0 {
            return Ok(&[]);
        }
        if !self.charged.borrow().contains(&(offset, size)) {
            // Charged before the read: the cache allocates `size` bytes.
            self.charge(size)?;
            self.charged.borrow_mut().insert((offset, size));
        }
        (&self.cache).read_bytes_at(offset, size)
    }

    fn read_until(&self, range: Range<u64>, delimiter: u8) -> Result<&[u8], ()> {
        let start = range.start;
        // The cache reads at most 4 KiB looking for the delimiter.
        let bytes = (&self.cache).read_bytes_at_until(range, delimiter)?;
        if self.strings.borrow_mut().insert((start, delimiter)) {
            self.charge(bytes.len() as u64 + 1)?;
        }
        Ok(bytes)
    }
}

/// A range of a [`Source`] that the `object` parsers read as if it were the
/// whole file (an archive member, a universal slice).
#[derive(Clone, Copy)]
pub(super) struct Window<'a> {
    source: &'a Source,
    offset: u64,
    size: u64,
}

impl<'a> Window<'a> {
    /// `size` bytes at `offset` of this window, if they lie inside it.
    pub(super) fn sub(self, offset: u64, size: u64) -> Option<Window<'a>> {
        let end = offset.checked_add(size)?;
        (end <= self.size).then_some(Window {
            source: self.source,
            offset: self.offset + offset,
            size,
        })
    }
}

impl<'a> ReadRef<'a> for Window<'a> {
    fn len(self) -> Result<u64, ()> {
        Ok(self.size)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        let end = offset.checked_add(size).ok_or(())?;
        if end > self.size {
            return Err(());
        }
        self.source.read_at(self.offset + offset, size)
    }

    fn read_bytes_at_until(self, range: Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        if range.start > range.end || range.end > self.size {
            return Err(());
        }
        let room = range.end - range.start;
        let bytes = self.source.read_until(
            self.offset + range.start..self.offset + range.end,
            delimiter,
        )?;
        // The cache keys strings by their start alone: one found through a
        // wider window must not run past this one.
        if bytes.len() as u64 >= room {
            return Err(());
        }
        Ok(bytes)
    }
}
