//! Which files doctor examines: the paths given, and the build outputs found
//! by walking a directory (a cargo target directory's layout in mind).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Directories of a cargo target dir that hold no outputs of the target:
/// build scripts run on the build machine, caches.
const SKIP_DIRS: &[&str] = &[
    "build",
    "incremental",
    ".fingerprint",
    ".git",
    "doc",
    "criterion",
    "tmp",
    "package",
    "flycheck0",
];

/// Files of a directory that doctor should look at. `dir` itself must be
/// readable; whatever below it is not (a subdirectory, an entry) is added
/// to `unreadable` with the reason, and the walk goes on.
pub(super) fn walk(
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    unreadable: &mut Vec<(PathBuf, String)>,
) -> Result<(), String> {
    let listing =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut entries = Vec::new();
    for entry in listing {
        match entry {
            Ok(entry) => entries.push(entry),
            Err(e) => unreadable.push((dir.to_path_buf(), format!("cannot read an entry: {e}"))),
        }
    }
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            Err(e) => {
                unreadable.push((path, format!("cannot tell what it is: {e}")));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if depth > 0
                && !SKIP_DIRS.contains(&name.as_str())
                && !name.ends_with(".dSYM")
                && let Err(e) = walk(&path, depth - 1, out, unreadable)
            {
                unreadable.push((path, e));
            }
        } else if ft.is_file() {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let wanted = matches!(
                ext,
                "rlib" | "a" | "o" | "so" | "dylib" | "dll" | "lib" | "exe"
            ) || (ext.is_empty() && looks_binary(&path));
            if wanted {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// An extension-less file that starts like an executable.
fn looks_binary(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    // Opened without blocking: the entry was a regular file when listed,
    // but may have been replaced by a FIFO since.
    crate::files::open_regular(path, "file", u64::MAX)
        .is_ok_and(|(mut f, _)| f.read_exact(&mut head).is_ok())
        && (head == *b"\x7fELF"
            || head == [0xcf, 0xfa, 0xed, 0xfe]
            || head == [0xce, 0xfa, 0xed, 0xfe]
            || head == [0xca, 0xfe, 0xba, 0xbe]
            || head == [0xca, 0xfe, 0xba, 0xbf])
}

pub(super) fn is_plugin(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm" || e == "wat")
}

/// Cargo hard-links each final binary into the profile directory and keeps
/// it in `deps/` too: examine one of them.
pub(super) fn dedupe(files: &mut Vec<(PathBuf, bool)>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mut seen = BTreeSet::new();
        files.retain(|(p, _)| match std::fs::metadata(p) {
            Ok(m) => seen.insert((m.dev(), m.ino())),
            Err(_) => true,
        });
    }
    #[cfg(not(unix))]
    {
        let mut seen = BTreeSet::new();
        files.retain(|(p, _)| seen.insert(p.clone()));
    }
}
