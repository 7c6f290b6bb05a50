//! The `[patch.crates-io]` entry in a workspace's root manifest, edited with
//! `toml_edit` so that everything else (comments, order, inline tables,
//! other patches) stays as the user wrote it; and the atomic file writes
//! that never leave a manifest half-written.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

/// The crate the entry patches.
pub const CRATE: &str = "wasmtime-internal-fiber";

/// Why a manifest cannot be edited.
#[derive(Debug, PartialEq, Eq)]
pub enum EditError {
    /// Not TOML.
    Parse(String),
    /// `patch`, `patch.crates-io` or the entry is there but not a table
    /// (`patch = 3`, say): left for the user to fix rather than overwritten.
    NotATable(&'static str),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Parse(e) => write!(f, "it is not valid TOML: {}", e.trim_end()),
            EditError::NotATable(key) => write!(
                f,
                "its `{key}` is not a table, so no [patch.crates-io] entry can be added without \
                 changing what it means"
            ),
        }
    }
}

/// What the manifest's entry for [`CRATE`] says.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    Absent,
    /// `path = "..."`, as written.
    Path(String),
    /// Some other form (git, version, registry): not ours.
    Other(String),
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>()
        .map_err(|e| EditError::Parse(e.to_string()))
}

/// The entry for [`CRATE`] in `[patch.crates-io]`.
pub fn entry(text: &str) -> Result<Entry, EditError> {
    let doc = parse(text)?;
    let Some(item) = doc
        .get("patch")
        .and_then(|p| p.get("crates-io"))
        .and_then(|c| c.get(CRATE))
    else {
        return Ok(Entry::Absent);
    };
    Ok(match item.get("path").and_then(|p| p.as_str()) {
        Some(path) => Entry::Path(path.to_string()),
        None => Entry::Other(item.to_string().trim().to_string()),
    })
}

/// `text` with `[patch.crates-io] wasmtime-internal-fiber = { path = ... }`,
/// replacing any entry for the crate and leaving everything else as it was.
/// `None` if the manifest already says exactly that.
pub fn set_entry(text: &str, path: &str) -> Result<Option<String>, EditError> {
    let mut doc = parse(text)?;
    if entry(text)? == Entry::Path(path.to_string()) {
        // Also when written as a table with other keys: path is what counts
        // for a path patch, so leave the user's form alone.
        return Ok(None);
    }
    let root = doc.as_table_mut();
    if !root.contains_key("patch") {
        let mut patch = Table::new();
        // `[patch.crates-io]` alone, not an empty `[patch]` header above it.
        patch.set_implicit(true);
        root.insert("patch", Item::Table(patch));
    }
    let patch = root["patch"]
        .as_table_like_mut()
        .ok_or(EditError::NotATable("patch"))?;
    if patch.get("crates-io").is_none() {
        patch.insert("crates-io", Item::Table(Table::new()));
    }
    let crates_io = patch
        .get_mut("crates-io")
        .and_then(Item::as_table_like_mut)
        .ok_or(EditError::NotATable("patch.crates-io"))?;
    let mut entry = InlineTable::new();
    entry.insert("path", Value::from(path));
    match crates_io.get_mut(CRATE) {
        // Replace the value, keeping the key's place and its comments: the
        // ones above it belong to the key, the one after it on its line to
        // the old value, so that one moves onto the new value.
        // An entry written as its own `[patch.crates-io.<crate>]` table
        // stays one, so the comments above its header stay too.
        Some(Item::Table(table)) => {
            table.clear();
            table.insert("path", toml_edit::value(path));
        }
        Some(item) => {
            let mut value = Value::InlineTable(entry);
            if let Some(old) = item.as_value() {
                *value.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(value);
        }
        None => {
            crates_io.insert(CRATE, Item::Value(Value::InlineTable(entry)));
        }
    }
    Ok(Some(with_line_ends_of(text, doc.to_string())))
}

/// `toml_edit` writes `\n`; a manifest written with `\r\n` keeps them.
fn with_line_ends_of(original: &str, out: String) -> String {
    if original.contains("\r\n") {
        out.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        out
    }
}

/// `text` without the entry for [`CRATE`] (and without `[patch.crates-io]`
/// and `[patch]` if nothing else is left in them). `None` if there is no
/// entry.
pub fn remove_entry(text: &str) -> Result<Option<String>, EditError> {
    let mut doc = parse(text)?;
    let root = doc.as_table_mut();
    let Some(patch) = root.get_mut("patch").and_then(Item::as_table_like_mut) else {
        return Ok(None);
    };
    let Some(crates_io) = patch.get_mut("crates-io").and_then(Item::as_table_like_mut) else {
        return Ok(None);
    };
    if crates_io.remove(CRATE).is_none() {
        return Ok(None);
    }
    if crates_io.is_empty() {
        patch.remove("crates-io");
    }
    if patch.is_empty() {
        root.remove("patch");
    }
    Ok(Some(with_line_ends_of(text, doc.to_string())))
}

/// A path as written into a manifest: `/` separators, so the file means the
/// same on every platform.
pub fn manifest_path_string(path: &Path) -> String {
    let s = path.to_string_lossy();
    if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    }
}

/// `to` relative to the directory `from` when `to` is inside `within`
/// (both absolute and normalized), else `to` itself.
pub fn relative_within(from: &Path, to: &Path, within: &Path) -> PathBuf {
    if !to.starts_with(within) || !from.starts_with(within) {
        return to.to_path_buf();
    }
    let from: Vec<_> = from.components().collect();
    let to_c: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to_c[common..] {
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    rel
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed
/// to disk, then renamed over it (keeping the old file's permissions). A
/// failure leaves `path` as it was and no temporary file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.spindle-patch-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "spindle/wasmtime-internal-fiber";

    fn set(text: &str) -> String {
        set_entry(text, P).unwrap().expect("changed")
    }

    #[test]
    fn adds_a_table_after_everything_keeping_comments() {
        let text = "# my app\n[package]\nname = \"app\" # the name\nversion = \"0.1.0\"\n\n\
                    [dependencies]\n# async on!\nwasmtime = { version = \"48\", features = [\"async\"] }\n";
        let out = set(text);
        assert!(out.starts_with(text), "{out}");
        assert_eq!(
            &out[text.len()..],
            "\n[patch.crates-io]\nwasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" }\n"
        );
        assert_eq!(entry(&out).unwrap(), Entry::Path(P.into()));
    }

    #[test]
    fn replacing_the_entry_keeps_the_comment_on_its_line() {
        // Found by the patch_manifest fuzz target: the comment after the old
        // value was dropped with it.
        let text = "patch.crates-io.foo = { path = \"../foo\" }\t# c1\n\
                    patch.crates-io.wasmtime-internal-fiber = { git = \"https://x.invalid/w\" }\t# c2 pinned\n\
                    [package]\t# c3\nname = \"app\"\n";
        let out = set(text);
        assert_eq!(
            out,
            "patch.crates-io.foo = { path = \"../foo\" }\t# c1\n\
             patch.crates-io.wasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" }\t# c2 pinned\n\
             [package]\t# c3\nname = \"app\"\n"
        );
        let table = "[patch.crates-io]\nwasmtime-internal-fiber = { version = \"38\" } # why\n";
        assert_eq!(
            set(table),
            "[patch.crates-io]\nwasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" } # why\n"
        );
    }

    #[test]
    fn an_entry_written_as_a_table_stays_one_with_its_comments() {
        // Found by the patch_manifest fuzz target: the comment above the
        // entry's own table header was dropped with the table.
        let text = "# c0 top\n[patch.crates-io.wasmtime-internal-fiber]\nversion = \"38.0.3\"\n\
                    [patch.crates-io.bar]\ngit = \"https://x.invalid/bar\"\n\n[package]# c1\nname = \"app\"\n";
        let out = set(text);
        assert_eq!(
            out,
            "# c0 top\n[patch.crates-io.wasmtime-internal-fiber]\npath = \"spindle/wasmtime-internal-fiber\"\n\
             [patch.crates-io.bar]\ngit = \"https://x.invalid/bar\"\n\n[package]# c1\nname = \"app\"\n"
        );
        assert_eq!(entry(&out).unwrap(), Entry::Path(P.into()));
        assert_eq!(set_entry(&out, P).unwrap(), None);
    }

    #[test]
    fn keeps_other_patches_and_their_comments() {
        let text = "[workspace]\nmembers = [\"a\", \"b\"]  # two\n\n[patch.crates-io]\n# pinned fork\n\
                    foo = { git = \"https://example.invalid/foo\" }\nbar = { path = \"../bar\" } # local\n\n\
                    [profile.release]\nlto = \"thin\"\n";
        let out = set(text);
        assert!(out.contains("# pinned fork\nfoo = { git = \"https://example.invalid/foo\" }\nbar = { path = \"../bar\" } # local\n"), "{out}");
        assert!(
            out.contains(
                "wasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" }"
            )
        );
        assert!(out.contains("members = [\"a\", \"b\"]  # two\n"));
        assert!(
            out.ends_with("[profile.release]\nlto = \"thin\"\n"),
            "{out}"
        );
        // Removing ours leaves theirs byte for byte.
        assert_eq!(remove_entry(&out).unwrap().unwrap(), text);
    }

    #[test]
    fn replaces_an_existing_entry_in_place() {
        let text = "[patch.crates-io]\n# spindle\nwasmtime-internal-fiber = { path = \"../spindle/fiber/wasmtime-compat\" }\nother = { path = \"o\" }\n";
        let out = set(text);
        assert_eq!(
            out,
            "[patch.crates-io]\n# spindle\nwasmtime-internal-fiber = { path = \"spindle/wasmtime-internal-fiber\" }\nother = { path = \"o\" }\n"
        );
        // Already right: nothing to write.
        assert_eq!(set_entry(&out, P).unwrap(), None);
    }

    #[test]
    fn an_entry_written_as_its_own_table() {
        let text = "[package]\nname = \"x\"\n\n[patch.crates-io.wasmtime-internal-fiber]\npath = \"old\"\n";
        assert_eq!(entry(text).unwrap(), Entry::Path("old".into()));
        let out = set(text);
        assert_eq!(entry(&out).unwrap(), Entry::Path(P.into()));
        assert!(out.starts_with("[package]\nname = \"x\"\n"));
        let removed = remove_entry(&out).unwrap().unwrap();
        assert_eq!(entry(&removed).unwrap(), Entry::Absent);
        assert!(!removed.contains("patch"), "{removed}");
    }

    #[test]
    fn patch_as_inline_and_dotted_tables() {
        let inline = "[package]\nname = \"x\"\n[patch]\ncrates-io = { foo = { path = \"f\" } }\n";
        let out = set(inline);
        assert_eq!(entry(&out).unwrap(), Entry::Path(P.into()));
        assert!(out.contains("foo = { path = \"f\" }"), "{out}");
        let dotted = "[package]\nname = \"x\"\npatch.crates-io.foo.path = \"f\"\n";
        let out = set(dotted);
        assert_eq!(entry(&out).unwrap(), Entry::Path(P.into()));
        assert!(out.contains("foo"), "{out}");
        let back = remove_entry(&out).unwrap().unwrap();
        assert_eq!(entry(&back).unwrap(), Entry::Absent);
        assert!(back.contains("foo"), "{back}");
    }

    #[test]
    fn a_patch_for_another_registry_stays() {
        let text =
            "[workspace]\nmembers = [\"m\"]\n\n[patch.my-registry]\nfoo = { path = \"f\" }\n";
        let out = set(text);
        assert!(out.starts_with(text), "{out}");
        assert_eq!(remove_entry(&out).unwrap().unwrap(), text);
    }

    #[test]
    fn virtual_manifest_with_crlf_line_ends() {
        let text = "[workspace]\r\nresolver = \"2\"\r\nmembers = [\r\n  \"a\", # first\r\n  \"b\",\r\n]\r\n";
        let out = set(text);
        assert!(out.starts_with(text), "{out:?}");
        assert_eq!(entry(&out).unwrap(), Entry::Path(P.into()));
        assert_eq!(remove_entry(&out).unwrap().unwrap(), text);
    }

    #[test]
    fn other_forms_are_reported_not_guessed() {
        let text = "[patch.crates-io]\nwasmtime-internal-fiber = { git = \"https://example.invalid/x\" }\n";
        assert!(matches!(entry(text).unwrap(), Entry::Other(_)));
        assert_eq!(
            set_entry("patch = 3\n", P),
            Err(EditError::NotATable("patch"))
        );
        assert_eq!(
            set_entry("[patch]\ncrates-io = \"x\"\n", P),
            Err(EditError::NotATable("patch.crates-io"))
        );
        let err = set_entry("[package\nname = 1", P).unwrap_err();
        assert!(matches!(err, EditError::Parse(_)));
        assert!(err.to_string().starts_with("it is not valid TOML"), "{err}");
        assert_eq!(remove_entry("[package]\nname = \"x\"\n").unwrap(), None);
    }

    #[test]
    fn paths_inside_the_workspace_are_relative() {
        let root = Path::new("/w");
        assert_eq!(
            relative_within(
                Path::new("/w/spindle/fiber"),
                Path::new("/w/vendor/spindle/fiber/wasmtime-fiber"),
                root
            ),
            PathBuf::from("../../vendor/spindle/fiber/wasmtime-fiber")
        );
        assert_eq!(
            relative_within(Path::new("/w/a"), Path::new("/elsewhere/x"), root),
            PathBuf::from("/elsewhere/x")
        );
        assert_eq!(
            relative_within(root, Path::new("/w/spindle/x"), root),
            PathBuf::from("spindle/x")
        );
    }

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let dir = std::env::temp_dir().join(format!("spindle-patch-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("Cargo.toml");
        std::fs::write(&file, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&file, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        // Into a directory that does not exist: an error, nothing written.
        assert!(write_atomic(&dir.join("missing/Cargo.toml"), b"x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
