//! Per-instance resource limits and the wasmtime limiter that enforces them.
//!
//! Memory and table caps are totals over *all* memories (tables) of an
//! instance, and the number of memories and tables is capped too: a cap per
//! memory lets a plugin declare 64 memories and take 64 times the cap.

use std::time::Duration;

use wasmtime::ResourceLimiter;

use crate::classify::Internal;

/// Per-instance limits. `None` means unlimited.
///
/// One bound is on by default: a plugin's error message is cut at
/// [`Limits::max_error_bytes`] (64 KiB).
///
/// Fuel and the deadline apply to each call separately (and to the plugin's
/// start function at instantiation): a long-lived instance is not starved by
/// the calls it already served. The memory and table caps are totals for the
/// instance, across all of its memories and tables.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// Fuel per call (roughly one unit per wasm instruction). Needs a host
    /// with fuel metering, which [`HostBuilder::limits`](crate::HostBuilder::limits)
    /// turns on when its default limits set fuel.
    pub fuel: Option<u64>,
    /// Wall-clock time per call, enforced within one epoch tick. Durations
    /// too long to count in ticks (up to `Duration::MAX`) mean "never".
    /// A deadline interrupts wasm code only; see SECURITY.md for what it
    /// cannot interrupt (host functions, wasmtime's own routines).
    pub deadline: Option<Duration>,
    /// Cap on the instance's linear memories together, in bytes.
    pub max_memory_bytes: Option<usize>,
    /// Cap on the instance's tables together, in elements.
    pub max_table_elements: Option<usize>,
    /// Cap on the number of linear memories the module defines.
    pub max_memories: Option<usize>,
    /// Cap on the number of tables the module defines.
    pub max_tables: Option<usize>,
    /// Cap on the bytes one [`Instance::call_bytes`](crate::Instance::call_bytes)
    /// or [`Instance::call_str`](crate::Instance::call_str) copies out of the
    /// plugin (its output, or its error message), checked before copying.
    pub max_output_bytes: Option<usize>,
    /// Bytes of a plugin's error message (an error result of a bytes or
    /// string call) that are kept: a longer one is cut there, with a note
    /// that says so, and only that much is copied out of the plugin.
    /// Default [`DEFAULT_MAX_ERROR_BYTES`]. [`Limits::max_output_bytes`]
    /// still refuses a longer one outright.
    pub max_error_bytes: usize,
}

/// [`Limits::max_error_bytes`] unless set: plenty for any message a person
/// reads, and a bound on what a hostile plugin can make the host copy.
pub const DEFAULT_MAX_ERROR_BYTES: usize = 64 << 10;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: None,
            deadline: None,
            max_memory_bytes: None,
            max_table_elements: None,
            max_memories: None,
            max_tables: None,
            max_output_bytes: None,
            max_error_bytes: DEFAULT_MAX_ERROR_BYTES,
        }
    }
}

impl Limits {
    /// No limits.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`Limits::fuel`].
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }
    /// Sets [`Limits::deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
    /// Sets [`Limits::max_memory_bytes`].
    pub fn max_memory_bytes(mut self, bytes: usize) -> Self {
        self.max_memory_bytes = Some(bytes);
        self
    }
    /// Sets [`Limits::max_table_elements`].
    pub fn max_table_elements(mut self, elements: usize) -> Self {
        self.max_table_elements = Some(elements);
        self
    }
    /// Sets [`Limits::max_memories`].
    pub fn max_memories(mut self, count: usize) -> Self {
        self.max_memories = Some(count);
        self
    }
    /// Sets [`Limits::max_tables`].
    pub fn max_tables(mut self, count: usize) -> Self {
        self.max_tables = Some(count);
        self
    }
    /// Sets [`Limits::max_output_bytes`].
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = Some(bytes);
        self
    }
    /// Sets [`Limits::max_error_bytes`].
    pub fn max_error_bytes(mut self, bytes: usize) -> Self {
        self.max_error_bytes = bytes;
        self
    }
}

/// wasmtime asks this before creating or growing any memory or table of the
/// store (one store per instance), creation included (`current == 0`).
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_cap: Option<usize>,
    table_cap: Option<usize>,
    memories: usize,
    tables: usize,
    /// Bytes (elements) granted so far over all memories (tables).
    memory_total: usize,
    table_total: usize,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Limiter {
            memory_cap: limits.max_memory_bytes,
            table_cap: limits.max_table_elements,
            // wasmtime's own defaults (10 000) when not capped.
            memories: limits.max_memories.unwrap_or(10_000),
            tables: limits.max_tables.unwrap_or(10_000),
            memory_total: 0,
            table_total: 0,
        }
    }
}

/// The total after growing one of them from `current` to `desired`.
fn total_after(total: usize, current: usize, desired: usize) -> usize {
    total.saturating_sub(current).saturating_add(desired)
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = total_after(self.memory_total, current, desired);
        match self.memory_cap {
            // An error (rather than `Ok(false)`, which makes `memory.grow`
            // return -1) ends the call with a distinct error instead of letting
            // a plugin spin on failed grows or abort with a vague trap.
            Some(limit) if total > limit => Err(Internal::MemoryLimit {
                requested: total,
                limit,
            }
            .into()),
            _ => {
                self.memory_total = total;
                Ok(true)
            }
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = total_after(self.table_total, current, desired);
        match self.table_cap {
            Some(limit) if total > limit => Err(Internal::TableLimit {
                requested: total,
                limit,
            }
            .into()),
            _ => {
                self.table_total = total;
                Ok(true)
            }
        }
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        self.memories
    }

    fn tables(&self) -> usize {
        self.tables
    }
}
