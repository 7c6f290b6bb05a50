//! On-disk cache of compiled modules.
//!
//! wasmtime can serialize compiled code, but loading it back is `unsafe`:
//! the bytes are trusted to be wasmtime output for this exact engine. The
//! cache therefore (a) keys every entry on the wasmtime version, the engine's
//! compatibility hash and the input bytes, so another configuration never
//! even opens a stale entry, and (b) wraps the artifact in a checksummed
//! envelope, so a truncated or bit-flipped file is a miss, not a crash.
//! It does not defend against someone deliberately forging entries: the
//! cache directory must be as trusted as the host binary.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::{Engine, Module};

/// The wasmtime version this crate is pinned to (see Cargo.toml).
pub(crate) const WASMTIME_VERSION: &str = "48.0.8";
const MAGIC: &[u8; 8] = b"SPNDLC01";
const HEADER: usize = 8 + 8 + 8 + 8;

#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

impl Cache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Cache { dir }
    }

    pub(crate) fn key(engine: &Engine, input: &[u8]) -> u64 {
        let mut h = DefaultHasher::new();
        WASMTIME_VERSION.hash(&mut h);
        engine.precompile_compatibility_hash().hash(&mut h);
        h.write(input);
        h.finish()
    }

    pub(crate) fn path(&self, key: u64) -> PathBuf {
        self.dir.join(format!("{key:016x}.spindle-cwasm"))
    }

    /// The cached module for `key`, or `None` on any miss: absent, foreign,
    /// truncated, corrupt, or rejected by wasmtime.
    pub(crate) fn load(&self, engine: &Engine, key: u64) -> Option<Module> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let payload = unwrap_envelope(&bytes, key)?;
        // SAFETY: `payload` is exactly what `Module::serialize` produced for
        // an engine with the same wasmtime version and compatibility hash
        // (both are in `key`, checked in the envelope), and its checksum
        // matches, so it is unmodified since we wrote it. wasmtime still
        // re-checks its own header and rejects a mismatching engine.
        unsafe { Module::deserialize(engine, payload) }.ok()
    }

    /// Best effort: a cache that cannot be written only costs a recompile.
    pub(crate) fn store(&self, key: u64, module: &Module) -> std::io::Result<()> {
        let payload = module.serialize().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(&self.dir)?;
        // Write-then-rename, so concurrent loaders never read a half file.
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".{key:016x}.{}.{}.tmp",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let result = write_envelope(&tmp, key, &payload)
            .and_then(|()| std::fs::rename(&tmp, self.path(key)));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn write_envelope(path: &Path, key: u64, payload: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(MAGIC)?;
    f.write_all(&key.to_le_bytes())?;
    f.write_all(&hash_bytes(payload).to_le_bytes())?;
    f.write_all(&(payload.len() as u64).to_le_bytes())?;
    f.write_all(payload)?;
    f.sync_all()
}

fn unwrap_envelope(bytes: &[u8], key: u64) -> Option<&[u8]> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER..];
    (word(8) == key && word(24) == payload.len() as u64 && word(16) == hash_bytes(payload))
        .then_some(payload)
}
