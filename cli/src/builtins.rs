//! The host functions `spindle run` gives plugins: logging, time, randomness.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use spindle_runtime::{BoxError, Ctx, Host, HostBuilder, HostSpec, MemoryAccessError};

use crate::{EXIT_OK, Failure, Format};

/// Longest text one `log` call prints. `--timeout` cannot interrupt a host
/// function, so each built-in does a bounded amount of work per call.
pub const MAX_LOG_BYTES: u32 = 64 << 10;

/// Most bytes one `random_fill` call fills (about a millisecond of work).
pub const MAX_FILL_BYTES: u32 = 1 << 20;

/// The import module of every built-in function.
pub const MODULE: &str = "spindle";

/// Shown by `spindle run --help` and `spindle host-functions --help`.
pub const HOST_FUNCTIONS_HELP: &str = host_functions_help!();

/// One-line descriptions, by function name (signatures come from the host).
const DOCS: &[(&str, &str)] = &[
    (
        "log",
        "print the UTF-8 string at (ptr, len) to stderr (len <= 64 KiB)",
    ),
    ("log_i64", "print a number to stderr"),
    ("now_ns", "wall clock: nanoseconds since 1970-01-01 UTC"),
    (
        "monotonic_ns",
        "monotonic clock: nanoseconds since the instance started",
    ),
    ("random_u64", "a random 64-bit number"),
    (
        "random_fill",
        "fill (ptr, len) with random bytes (len <= 1 MiB)",
    ),
];

/// Per-instance state of the built-in host.
pub struct State {
    started: Instant,
    rng: u64,
}

impl State {
    /// A fresh state; `seed` makes the random functions reproducible.
    pub fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(entropy);
        State {
            started: Instant::now(),
            rng: seed,
        }
    }

    /// splitmix64: small, fast, good enough for plugin testing (not crypto).
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A seed from the OS-randomised hasher keys and the clock.
fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// The built-in host functions, registered on `builder`.
pub fn register(builder: HostBuilder<State>) -> HostBuilder<State> {
    builder
        .func(
            MODULE,
            "log",
            |mut cx: Ctx<'_, State>, ptr: u32, len: u32| -> Result<(), BoxError> {
                if len > MAX_LOG_BYTES {
                    return Err(format!(
                        "log: {len} bytes is over the {MAX_LOG_BYTES}-byte limit of one call"
                    )
                    .into());
                }
                let text = cx.read_str(ptr, len)?;
                // One line per call, inert: the text is the plugin's.
                errln!("[plugin] {}", crate::term::untrusted(text));
                Ok(())
            },
        )
        .func(MODULE, "log_i64", |_cx: Ctx<'_, State>, v: i64| {
            errln!("[plugin] {v}");
        })
        .func(MODULE, "now_ns", |_cx: Ctx<'_, State>| -> i64 {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0)
        })
        .func(MODULE, "monotonic_ns", |cx: Ctx<'_, State>| -> i64 {
            cx.state().started.elapsed().as_nanos() as i64
        })
        .func(MODULE, "random_u64", |mut cx: Ctx<'_, State>| -> u64 {
            cx.state_mut().next()
        })
        .func(
            MODULE,
            "random_fill",
            |mut cx: Ctx<'_, State>, ptr: u32, len: u32| -> Result<(), BoxError> {
                // Bounds first, then the bytes go straight into guest
                // memory: nothing is allocated for them.
                let (memory, state) = cx.memory_and_state();
                let size = memory.len();
                let target = (ptr as usize)
                    .checked_add(len as usize)
                    .filter(|&end| end <= size && size > 0)
                    .map(|end| &mut memory[ptr as usize..end])
                    .ok_or(MemoryAccessError {
                        ptr: ptr.into(),
                        len: len.into(),
                        memory_size: size,
                    })?;
                if len > MAX_FILL_BYTES {
                    return Err(format!(
                        "random_fill: {len} bytes is over the {MAX_FILL_BYTES}-byte limit of one call; fill in pieces"
                    )
                    .into());
                }
                for chunk in target.chunks_mut(8) {
                    let r = state.next().to_le_bytes();
                    chunk.copy_from_slice(&r[..chunk.len()]);
                }
                Ok(())
            },
        )
}

/// The signatures of the built-in host, for `check` and `doctor`.
pub fn spec() -> Result<HostSpec, Failure> {
    let host = register(Host::builder())
        .build()
        .map_err(|e| Failure::plugin(format!("cannot build the built-in host: {e}")))?;
    let mut spec = HostSpec::of_host(&host);
    // `spindle run` adds WASI to this host (run/mod.rs).
    spec.wasi(true);
    Ok(spec)
}

/// `spindle host-functions`.
pub fn list(format: Format) -> Result<u8, Failure> {
    let spec = spec()?;
    let doc = |name: &str| {
        DOCS.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| *d)
            .unwrap_or("")
    };
    match format {
        Format::Text => {
            outln!("Host functions of `spindle run` (import module {MODULE:?}):");
            for (m, n, sig) in spec.functions() {
                let import = format!("(import {m:?} {n:?} {sig})");
                outln!("  {import:<57} {}", doc(n));
            }
            outln!("Memory arguments need the plugin to export its memory as \"memory\".");
        }
        Format::Json => {
            let list: Vec<serde_json::Value> = spec
                .functions()
                .map(|(m, n, sig)| {
                    serde_json::json!({
                        "module": m,
                        "name": n,
                        "params": sig.params().iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                        "results": sig.results().iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                        "signature": sig.to_string(),
                        "doc": doc(n),
                    })
                })
                .collect();
            outln!("{}", serde_json::Value::Array(list));
        }
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help text is written by hand; it must say what the host registers.
    #[test]
    fn help_lists_every_registered_function_with_its_signature() {
        let spec = spec().unwrap();
        let mut count = 0;
        for (m, n, sig) in spec.functions() {
            let line = format!("(import {m:?} {n:?}");
            let row = HOST_FUNCTIONS_HELP
                .lines()
                .find(|l| l.trim_start().starts_with(&line))
                .unwrap_or_else(|| panic!("help misses {m}.{n}"));
            let rest = row.trim_start()[line.len()..].trim_start();
            assert!(
                rest.starts_with(&format!("{sig})")),
                "help row for {n}: {row}"
            );
            assert!(DOCS.iter().any(|(d, _)| *d == n), "no doc for {n}");
            count += 1;
        }
        assert_eq!(count, DOCS.len());
        assert_eq!(
            HOST_FUNCTIONS_HELP.matches("(import \"").count(),
            count,
            "help lists a function the host does not register"
        );
    }
}
