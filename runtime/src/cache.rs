//! On-disk cache of compiled modules, safe against other local users.
//!
//! wasmtime can serialize compiled code, but loading it back is `unsafe`:
//! the bytes are native code trusted to be wasmtime output for this exact
//! engine. Whoever can write a cache entry that we load can therefore run
//! code in our process. The cache defends against that as follows (the
//! threat model is in SECURITY.md at the repository root):
//!
//! * **Authenticity.** Every entry carries an HMAC-SHA-256 tag under a
//!   32-byte per-user secret kept *outside* the cache directory (see
//!   [`default_key_file`]). Someone who can write the directory but not
//!   read the key file cannot produce an entry we accept.
//! * **Identity.** An entry is named by, and stores, the full SHA-256 of the
//!   wasmtime version, the engine's compatibility hash and the input bytes:
//!   two different plugins never share an entry.
//! * **Files.** Temp files get unpredictable names and are created with
//!   `O_CREAT|O_EXCL|O_NOFOLLOW` (mode 0600); entries are opened with
//!   `O_NOFOLLOW|O_NONBLOCK` and checked with `fstat` on the open
//!   descriptor: a regular file, ours, not writable by group or others.
//! * **Directory.** Created 0700. An existing directory owned by another
//!   user, or writable by group or others, is refused.
//!
//! A refused directory, entry or key file is never fatal: the plugin is
//! compiled as if there were no cache, and the host reports one warning.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// The wasmtime version this crate is pinned to (see Cargo.toml).
pub(crate) const WASMTIME_VERSION: &str = "48.0.8";
const MAGIC: &[u8; 8] = b"SPNDLC02";
/// MAGIC, key digest, payload length, tag.
const HEADER: usize = 8 + 32 + 8 + 32;
const KEY_LEN: usize = 32;
/// Compiled modules far beyond what the load-time limits let through are
/// not worth reading; a bigger file is refused before it is read.
const MAX_ENTRY_BYTES: u64 = 1 << 30;

type HmacSha256 = Hmac<Sha256>;

/// The full SHA-256 identifying one (wasmtime version, engine, input).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheKey([u8; 32]);

impl CacheKey {
    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Receives cache warnings (refused directory, entry or key file).
pub(crate) type WarnFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Writes a cache warning to stderr, ignoring a closed stderr.
pub(crate) fn warn_to_stderr(msg: &str) {
    let _ = writeln!(std::io::stderr(), "spindle: warning: {msg}");
}

pub(crate) struct Cache {
    dir: PathBuf,
    key_file: Option<PathBuf>,
    /// Loaded on first use; `Err` holds why the cache is off for this host.
    secret: Mutex<Option<Result<[u8; KEY_LEN], String>>>,
    warn: WarnFn,
    /// Messages already reported, so each problem is reported once.
    warned: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("dir", &self.dir)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// Feeds everything a `Hash` impl writes into SHA-256, so the engine's
/// compatibility hash (an `impl Hash`) becomes part of the digest.
struct ShaHasher<'a>(&'a mut Sha256);

impl Hasher for ShaHasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        // Never asked for: the digest is read from the Sha256 itself.
        0
    }
}

/// Where the per-user cache key lives unless [`HostBuilder::cache_key_file`]
/// says otherwise: `$SPINDLE_CACHE_KEY_FILE`, else
/// `$XDG_CONFIG_HOME/spindle/cache.key`, else `$HOME/.config/spindle/cache.key`.
///
/// [`HostBuilder::cache_key_file`]: crate::HostBuilder::cache_key_file
pub fn default_key_file() -> Option<PathBuf> {
    let non_empty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
    if let Some(p) = non_empty("SPINDLE_CACHE_KEY_FILE") {
        return Some(PathBuf::from(p));
    }
    let config = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("spindle").join("cache.key"))
}

impl Cache {
    pub(crate) fn new(dir: PathBuf, key_file: Option<PathBuf>, warn: WarnFn) -> Self {
        Cache {
            dir,
            key_file,
            secret: Mutex::new(None),
            warn,
            warned: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn key(engine: &Engine, input: &[u8]) -> CacheKey {
        let mut sha = Sha256::new();
        sha.update(b"spindle compile cache v2\0");
        sha.update((WASMTIME_VERSION.len() as u64).to_le_bytes());
        sha.update(WASMTIME_VERSION.as_bytes());
        engine
            .precompile_compatibility_hash()
            .hash(&mut ShaHasher(&mut sha));
        sha.update((input.len() as u64).to_le_bytes());
        sha.update(input);
        CacheKey(sha.finalize().into())
    }

    pub(crate) fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.spindle-cwasm", key.hex()))
    }

    fn warn_once(&self, msg: String) {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if !warned.contains(&msg) {
            (self.warn)(&msg);
            warned.push(msg);
        }
    }

    /// The secret, loading or creating the key file on first use.
    fn secret(&self) -> Option<[u8; KEY_LEN]> {
        let mut slot = self.secret.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = slot.get_or_insert_with(|| match &self.key_file {
            Some(path) => load_or_create_key(path, &self.dir),
            None => Err(
                "no place for the cache key file: set HostBuilder::cache_key_file, \
                 $SPINDLE_CACHE_KEY_FILE, $XDG_CONFIG_HOME or $HOME"
                    .into(),
            ),
        });
        match loaded {
            Ok(k) => Some(*k),
            Err(why) => {
                let msg = format!("compile cache disabled: {why}");
                drop(slot);
                self.warn_once(msg);
                None
            }
        }
    }

    /// Whether the directory may be used; warns (once) if not.
    fn dir_is_trusted(&self) -> bool {
        match os::check_dir(&self.dir) {
            Ok(()) => true,
            Err(why) => {
                self.warn_once(format!(
                    "compile cache directory {} not used: {why}; plugins are compiled without the cache",
                    self.dir.display()
                ));
                false
            }
        }
    }

    /// The cached module for `key`, or `None` on any miss: absent, refused,
    /// forged, truncated, corrupt, or rejected by wasmtime.
    pub(crate) fn load(&self, engine: &Engine, key: &CacheKey) -> Option<Module> {
        if !self.dir.exists() || !self.dir_is_trusted() {
            return None;
        }
        let secret = self.secret()?;
        let path = self.path(key);
        let bytes = match os::read_entry(&path) {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(why) => {
                self.warn_once(format!("cache entry {} not used: {why}", path.display()));
                return None;
            }
        };
        let payload = unwrap_envelope(&bytes, key, &secret)?;
        // SAFETY: `payload` carries a valid HMAC-SHA-256 tag under this
        // user's secret key, which only this user can read, over exactly
        // these bytes and this key digest. So it is byte for byte what
        // `Module::serialize` produced in a process of this user, for an
        // engine with the same wasmtime version and compatibility hash
        // (both are in the key digest). wasmtime also re-checks its own
        // header and rejects a mismatching engine.
        unsafe { Module::deserialize(engine, payload) }.ok()
    }

    /// Best effort: a cache that cannot be written only costs a recompile.
    pub(crate) fn store(&self, key: &CacheKey, module: &Module) {
        if !self.dir.exists()
            && let Err(e) = os::ensure_dir(&self.dir)
        {
            self.warn_once(format!(
                "compile cache directory {} cannot be created: {e}",
                self.dir.display()
            ));
            return;
        }
        if !self.dir_is_trusted() {
            return;
        }
        let Some(secret) = self.secret() else { return };
        let Ok(payload) = module.serialize() else {
            return;
        };
        let envelope = wrap_envelope(key, &secret, &payload);
        // Write-then-rename, so concurrent loaders never read a half file.
        // rename(2) replaces whatever is at the entry's name, a planted
        // symlink included, without following it.
        let Ok((tmp, mut file)) = os::create_temp(&self.dir, &key.hex()[..16]) else {
            return;
        };
        let written = file
            .write_all(&envelope)
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, self.path(key)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

fn tag(secret: &[u8; KEY_LEN], key: &CacheKey, payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(MAGIC);
    mac.update(&key.0);
    mac.update(&(payload.len() as u64).to_le_bytes());
    mac.update(payload);
    mac
}

fn wrap_envelope(key: &CacheKey, secret: &[u8; KEY_LEN], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&tag(secret, key, payload).finalize().into_bytes());
    out.extend_from_slice(payload);
    out
}

fn unwrap_envelope<'b>(
    bytes: &'b [u8],
    key: &CacheKey,
    secret: &[u8; KEY_LEN],
) -> Option<&'b [u8]> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC || bytes[8..40] != key.0 {
        return None;
    }
    let len = u64::from_le_bytes(bytes[40..48].try_into().ok()?);
    let payload = &bytes[HEADER..];
    if len != payload.len() as u64 {
        return None;
    }
    // Constant-time comparison of the tag.
    tag(secret, key, payload)
        .verify_slice(&bytes[48..80])
        .ok()?;
    Some(payload)
}

/// Reads the secret, or creates it (32 random bytes, mode 0600) if there is
/// none. The key file must be outside the cache directory (compared after
/// resolving symlinks), in a directory owned by this user that nobody else
/// can write (checked like the cache directory), and a regular file owned
/// by this user and readable by nobody else.
fn load_or_create_key(path: &Path, cache_dir: &Path) -> Result<[u8; KEY_LEN], String> {
    let shown = path.display();
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = path.file_name() else {
        return Err(format!("the cache key file {shown} names no file"));
    };
    os::ensure_dir(parent).map_err(|e| {
        format!(
            "cannot create the cache key's directory {}: {e}",
            parent.display()
        )
    })?;
    // Resolved, not just made absolute: a key path through a symlink into
    // the cache directory is inside it.
    let key = std::fs::canonicalize(parent)
        .map_err(|e| {
            format!(
                "cannot resolve the cache key's directory {}: {e}",
                parent.display()
            )
        })?
        .join(name);
    let dir = std::fs::canonicalize(cache_dir)
        .or_else(|_| std::path::absolute(cache_dir))
        .map_err(|e| format!("cannot resolve the cache directory: {e}"))?;
    if key.starts_with(&dir) {
        return Err(format!(
            "the cache key file {shown} is inside the cache directory ({}); it must be kept \
             elsewhere",
            key.display()
        ));
    }
    os::check_dir(parent)
        .map_err(|why| format!("the cache key's directory {}: {why}", parent.display()))?;
    match os::read_key(path) {
        Ok(Some(k)) => return Ok(k),
        Ok(None) => {}
        Err(why) => return Err(format!("cache key file {shown}: {why}")),
    }
    let mut secret = [0u8; KEY_LEN];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness for a cache key: {e}"))?;
    match os::publish_key(path, &secret) {
        Ok(true) => Ok(secret),
        // Another process created it first: use theirs.
        Ok(false) => match os::read_key(path) {
            Ok(Some(k)) => Ok(k),
            Ok(None) => Err(format!(
                "cache key file {shown} vanished while being created"
            )),
            Err(why) => Err(format!("cache key file {shown}: {why}")),
        },
        Err(e) => Err(format!("cannot create cache key file {shown}: {e}")),
    }
}

fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(unix)]
mod os {
    //! The file-system checks, on the open descriptor wherever possible.

    use std::fs::{DirBuilder, File, OpenOptions};
    use std::io::{self, Read, Write};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    use std::path::{Path, PathBuf};

    use super::{KEY_LEN, MAX_ENTRY_BYTES, random_hex};
    use crate::files::{Links, OpenError, open_regular};

    fn euid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    /// Owner and permission rule shared by directory, entries and key.
    fn check_owner_mode(meta: &std::fs::Metadata, forbidden: u32) -> Result<(), String> {
        if meta.uid() != euid() {
            return Err(format!(
                "owned by uid {}, not by this user (uid {})",
                meta.uid(),
                euid()
            ));
        }
        let mode = meta.mode() & 0o7777;
        if mode & forbidden != 0 {
            let access = if forbidden & 0o044 != 0 {
                "read or write"
            } else {
                "write"
            };
            return Err(format!("mode {mode:04o} lets group or others {access} it"));
        }
        Ok(())
    }

    pub(super) fn ensure_dir(dir: &Path) -> io::Result<()> {
        // 0700 for every directory created; existing ones are checked, not
        // changed (someone else's directory must not be chmod-ed by us).
        DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }

    pub(super) fn check_dir(dir: &Path) -> Result<(), String> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(dir)
            .map_err(|e| format!("cannot open it as a directory (not following symlinks): {e}"))?;
        let meta = f.metadata().map_err(|e| e.to_string())?;
        check_owner_mode(&meta, 0o022)
    }

    /// Opens a file of the cache's own (an entry, the key), refusing a
    /// symbolic link or anything but a regular file; `Ok(None)` when there
    /// is none.
    fn open_own(path: &Path) -> Result<Option<(File, std::fs::Metadata)>, String> {
        match open_regular(path, Links::Refuse) {
            Ok(opened) => Ok(Some(opened)),
            Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::ELOOP) => {
                Err("it is a symbolic link".into())
            }
            Err(OpenError::Io(e)) => Err(e.to_string()),
            Err(OpenError::NotRegular(_)) => Err("not a regular file".into()),
        }
    }

    /// `Ok(None)` when there is no entry.
    pub(super) fn read_entry(path: &Path) -> Result<Option<Vec<u8>>, String> {
        let Some((f, meta)) = open_own(path)? else {
            return Ok(None);
        };
        check_owner_mode(&meta, 0o022)?;
        if meta.len() > MAX_ENTRY_BYTES {
            return Err(format!(
                "{} bytes, over the {MAX_ENTRY_BYTES}-byte bound",
                meta.len()
            ));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        f.take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        Ok(Some(bytes))
    }

    /// A new file with an unpredictable name in `dir`, never an existing
    /// file or a symlink's target.
    pub(super) fn create_temp(dir: &Path, tag: &str) -> io::Result<(PathBuf, File)> {
        let path = dir.join(format!(".{tag}.{}.tmp", random_hex(16)?));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        Ok((path, file))
    }

    pub(super) fn read_key(path: &Path) -> Result<Option<[u8; KEY_LEN]>, String> {
        let Some((f, meta)) = open_own(path)? else {
            return Ok(None);
        };
        check_owner_mode(&meta, 0o077)?;
        if meta.len() != KEY_LEN as u64 {
            return Err(format!("{} bytes, expected {KEY_LEN}", meta.len()));
        }
        let mut key = [0u8; KEY_LEN];
        (&f).read_exact(&mut key).map_err(|e| e.to_string())?;
        Ok(Some(key))
    }

    /// Writes the key to a private temp file, then links it into place, so
    /// nobody ever reads a half-written key. `Ok(false)` if a key file
    /// already exists (another process won the race).
    pub(super) fn publish_key(path: &Path, secret: &[u8; KEY_LEN]) -> io::Result<bool> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        ensure_dir(dir)?;
        let (tmp, mut f) = create_temp(dir, "cache-key")?;
        let result = f
            .write_all(secret)
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(not(unix))]
mod os {
    //! Owner and permission checks are implemented for Unix only; elsewhere
    //! the cache refuses to run rather than trust a directory it cannot check.

    use std::fs::File;
    use std::io;
    use std::path::{Path, PathBuf};

    use super::KEY_LEN;

    const WHY: &str = "owner and permission checks are only implemented on Unix";

    pub(super) fn ensure_dir(_: &Path) -> io::Result<()> {
        Err(io::Error::other(WHY))
    }
    pub(super) fn check_dir(_: &Path) -> Result<(), String> {
        Err(WHY.into())
    }
    pub(super) fn read_entry(_: &Path) -> Result<Option<Vec<u8>>, String> {
        Err(WHY.into())
    }
    pub(super) fn create_temp(_: &Path, _: &str) -> io::Result<(PathBuf, File)> {
        Err(io::Error::other(WHY))
    }
    pub(super) fn read_key(_: &Path) -> Result<Option<[u8; KEY_LEN]>, String> {
        Err(WHY.into())
    }
    pub(super) fn publish_key(_: &Path, _: &[u8; KEY_LEN]) -> io::Result<bool> {
        Err(io::Error::other(WHY))
    }
}
