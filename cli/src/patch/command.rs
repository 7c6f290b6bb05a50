//! `spindle patch`, `--check` and `--remove`: what each does to a workspace,
//! in an order that leaves nothing half-written. The drop-in directory is
//! staged beside its place and renamed in; the manifest is rewritten
//! atomically; and if cargo then does not use the drop-in, the manifest,
//! the directory and Cargo.lock are put back as they were.

use std::path::{Component, Path, PathBuf};

use clap::Args;

use super::generate::{DropIn, Layout, MARKER, Source};
use super::graph::{self, CargoError, Graph, GraphError};
use super::manifest::{self, CRATE, Entry};
use super::releases;
use crate::{EXIT_FAILURE, EXIT_OK, Failure};

/// Where `spindle patch` puts the drop-in when `--dir` is not given,
/// relative to the workspace root.
pub const DEFAULT_DIR: &str = "spindle/wasmtime-internal-fiber";

/// The drop-in wasmtime-internal-fiber for this workspace's wasmtime: write
/// it, patch it in, verify cargo uses it
#[derive(Args, Debug)]
#[command(
    long_about = "Writes the drop-in `wasmtime-internal-fiber` for exactly the wasmtime release in \
this workspace's Cargo.lock (so that wasmtime's async switches stacks with Spindle's LTO-proof \
assembly), adds `[patch.crates-io] wasmtime-internal-fiber = { path = ... }` to the workspace's \
root Cargo.toml (keeping its comments and layout), and checks with `cargo metadata` that cargo \
now builds the drop-in. If cargo does not, everything is put back and the reason is printed.",
    after_help = "Examples:
  spindle patch                          in your workspace; writes spindle/wasmtime-internal-fiber
  spindle patch --check                  in CI, after `cargo update`: exit 1 unless the patch is used
  spindle patch --remove                 undo: the entry and the directory go, Cargo.lock follows
  spindle patch --manifest-path app/Cargo.toml --dir third_party/wasmtime-fiber

Exit codes:
  0  patched (or --check: the patch is current and used; --remove: removed)
  1  refused or --check failed: no wasmtime/async in the graph, several wasmtime versions, a
     release without a drop-in, a patch cargo does not use, a stale drop-in
  2  usage error
  3  an input could not be read or written: no Cargo.lock, a manifest cargo cannot parse, an
     unwritable directory"
)]
pub struct PatchArgs {
    /// The workspace's (or a member's) Cargo.toml [default: found from the current directory]
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Where to write the drop-in [default: spindle/wasmtime-internal-fiber in the workspace root]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Change nothing; exit 1 unless Cargo.lock's wasmtime-internal-fiber is the current drop-in
    #[arg(long, conflicts_with = "remove")]
    check: bool,
    /// Remove the [patch.crates-io] entry and the drop-in directory spindle patch wrote
    #[arg(long)]
    remove: bool,
    /// The Spindle checkout whose fiber/wasmtime-fiber the drop-in builds on
    /// [default: the one this spindle was built from]
    #[arg(long, value_name = "PATH")]
    spindle: Option<PathBuf>,
}

/// The workspace being patched.
struct Workspace {
    /// Its root Cargo.toml and directory (absolute).
    manifest: PathBuf,
    root: PathBuf,
}

impl Workspace {
    fn lock(&self) -> PathBuf {
        self.root.join("Cargo.lock")
    }

    fn require_lock(&self) -> Result<(), Failure> {
        if self.lock().is_file() {
            Ok(())
        } else {
            Err(Failure::io(format!(
                "no Cargo.lock in {}: spindle patch writes the drop-in for the wasmtime release \
                 your lock file pins. Run `cargo generate-lockfile` (or any build) first",
                self.root.display()
            )))
        }
    }

    fn read_manifest(&self) -> Result<String, Failure> {
        std::fs::read_to_string(&self.manifest)
            .map_err(|e| Failure::io(format!("cannot read {}: {e}", self.manifest.display())))
    }
}

fn cargo_failure(e: CargoError) -> Failure {
    match e {
        CargoError::Spawn(_) | CargoError::Manifest(_) => Failure::io(e.to_string()),
        CargoError::LockStale(_) | CargoError::Failed(_) => Failure::plugin(e.to_string()),
    }
}

fn graph_failure(e: GraphError) -> Failure {
    Failure::plugin(e.to_string())
}

/// `path` made absolute against the current directory, `.` and `..`
/// resolved lexically (the path may not exist yet).
fn absolute(path: &Path) -> PathBuf {
    let joined = std::env::current_dir().unwrap_or_default().join(path);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` with symlinks resolved where it exists, for comparing with what
/// cargo reports.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

pub fn patch(args: PatchArgs) -> Result<u8, Failure> {
    // locate-project loads the workspace: any failure is a manifest cargo
    // cannot read (or a missing one).
    let manifest = graph::locate_workspace(args.manifest_path.as_deref()).map_err(|e| match e {
        CargoError::Failed(text) => cargo_failure(CargoError::Manifest(text)),
        other => cargo_failure(other),
    })?;
    let manifest = absolute(&manifest);
    let root = manifest.parent().unwrap().to_path_buf();
    let ws = Workspace { manifest, root };
    if args.check {
        check(&ws)
    } else if args.remove {
        remove(&ws)
    } else {
        apply(&ws, &args)
    }
}

/// The drop-in directory from `--dir` or the default.
fn drop_in_dir(ws: &Workspace, dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(d) => absolute(d),
        None => ws.root.join(DEFAULT_DIR),
    }
}

/// Whether `dir` holds a crate `spindle patch` wrote.
fn is_generated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|m| m.starts_with(MARKER))
}

/// The `spindle-wasmtime-fiber` the drop-in builds on, as its manifest
/// names it.
fn source_for(spindle: Option<&Path>, dir: &Path, ws: &Workspace) -> Result<Source, Failure> {
    let checkout = match spindle {
        Some(p) => absolute(p),
        // Until spindle-wasmtime-fiber is published, a checkout: the one
        // this binary was built from. Once published, `Source::Registry`
        // becomes the default here.
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf(),
    };
    let crate_dir = checkout.join("fiber/wasmtime-fiber");
    if !crate_dir.join("Cargo.toml").is_file() {
        return Err(Failure::io(format!(
            "no Spindle checkout at {} (fiber/wasmtime-fiber/Cargo.toml is missing); pass \
             --spindle PATH to a Spindle checkout",
            checkout.display()
        )));
    }
    let crate_dir = canonical(&crate_dir);
    // Relative when the checkout is inside the workspace (vendored, a
    // submodule), so the committed drop-in works on every clone; else
    // absolute.
    let root = canonical(&ws.root);
    let dir_c = canonical(dir.parent().unwrap_or(dir)).join(dir.file_name().unwrap_or_default());
    let written = manifest::relative_within(&dir_c, &crate_dir, &root);
    Ok(Source::Path(manifest::manifest_path_string(&written)))
}

/// What the drop-in for `version` is, or why there is none.
fn row(version: &str) -> Result<(releases::Version, &'static releases::Line), Failure> {
    releases::find(version).map_err(|e| Failure::plugin(e.to_string()))
}

/// The registry crate's features and rust-version against the table's row:
/// a release whose manifest differs from what the row says is refused
/// rather than half-matched.
fn cross_check(fiber: &graph::Package, line: &releases::Line) -> Result<(), Failure> {
    if fiber.source.is_none() {
        return Ok(());
    }
    let mut expected = vec!["std"];
    if line.custom_feature {
        expected.push("custom");
    }
    expected.sort_unstable();
    let mut actual: Vec<&str> = fiber.features.keys().map(String::as_str).collect();
    actual.sort_unstable();
    let rust = fiber.rust_version.as_deref().unwrap_or("none");
    if actual != expected || rust != line.rust_version {
        return Err(Failure::plugin(format!(
            "wasmtime-internal-fiber {} on the registry has features [{}] and rust-version {rust}, \
             but Spindle's table says [{}] and {}: the table is wrong for this release, so no \
             drop-in is written (please report it)",
            fiber.version,
            actual.join(", "),
            expected.join(", "),
            line.rust_version
        )));
    }
    Ok(())
}

fn apply(ws: &Workspace, args: &PatchArgs) -> Result<u8, Failure> {
    ws.require_lock()?;
    let text = ws.read_manifest()?;
    // Before anything is written: the manifest must be editable.
    manifest::entry(&text)
        .map_err(|e| Failure::io(format!("cannot edit {}: {e}", ws.manifest.display())))?;
    let graph = graph::metadata(&ws.manifest, false).map_err(cargo_failure)?;
    let fiber = graph.the_fiber().map_err(graph_failure)?;
    let (version, line) = row(&fiber.version)?;
    cross_check(fiber, line)?;

    let dir = drop_in_dir(ws, args.dir.as_deref());
    if dir == ws.root || ws.root.starts_with(&dir) {
        return Err(Failure::usage(format!(
            "--dir {} would put the drop-in over the workspace itself",
            dir.display()
        )));
    }
    if dir.exists() && !is_generated(&dir) && !is_empty_dir(&dir) {
        return Err(Failure::plugin(format!(
            "{} exists and was not written by spindle patch; choose another --dir or move it",
            dir.display()
        )));
    }
    let source = source_for(args.spindle.as_deref(), &dir, ws)?;
    let files = DropIn {
        version,
        line,
        source,
        layout: Layout::User,
    }
    .files();
    let entry_path =
        manifest::manifest_path_string(&manifest::relative_within(&ws.root, &dir, &ws.root));
    let previous = manifest::entry(&text).unwrap_or(Entry::Absent);
    let new_text = manifest::set_entry(&text, &entry_path)
        .map_err(|e| Failure::io(format!("cannot edit {}: {e}", ws.manifest.display())))?;

    let lock_before = std::fs::read(ws.lock())
        .map_err(|e| Failure::io(format!("cannot read {}: {e}", ws.lock().display())))?;
    let staged = Staged::write(&dir, &files)?;
    let swapped = staged.swap_in()?;
    if let Some(new_text) = &new_text
        && let Err(e) = manifest::write_atomic(&ws.manifest, new_text.as_bytes())
    {
        swapped.roll_back();
        return Err(Failure::io(format!(
            "cannot write {}: {e} (nothing was changed)",
            ws.manifest.display()
        )));
    }
    let verdict = graph::metadata(&ws.manifest, false)
        .map_err(|e| e.to_string())
        .and_then(|g| uses_drop_in(&g, &dir, &version.to_string()));
    match verdict {
        Ok(()) => {
            swapped.commit();
            let shown = |p: &Path| p.strip_prefix(&ws.root).unwrap_or(p).display().to_string();
            println!(
                "spindle patch: wasmtime-internal-fiber {version} now builds from {}",
                shown(&dir)
            );
            println!(
                "  drop-in:  {} (API epoch of wasmtime {}, rust-version {}), on spindle-wasmtime-fiber",
                shown(&dir),
                line.epoch.lines(),
                line.rust_version
            );
            println!(
                "  manifest: {} [patch.crates-io] {CRATE} = {{ path = {entry_path:?} }}{}",
                shown(&ws.manifest),
                match (&new_text, &previous) {
                    (None, _) => " (already there)".to_string(),
                    (Some(_), Entry::Absent) => String::new(),
                    (Some(_), Entry::Path(p)) => format!(" (replaces `path = {p:?}`)"),
                    (Some(_), Entry::Other(e)) => format!(" (replaces `{e}`)"),
                }
            );
            println!(
                "  verified: cargo metadata resolves {CRATE} v{version} from that directory, none from crates.io"
            );
            let proven = releases::proven_in(line);
            if proven.is_empty() {
                println!(
                    "  note:     no proof cell has built wasmtime {}.x on a drop-in yet; this one \
                     follows the API read from the original's source. Build and run your async \
                     tests before relying on it (Spindle's docs/patch-report.md)",
                    version.major
                );
            } else {
                println!(
                    "  proven:   wasmtime {} built, run and inspected on its drop-in (cargo patch-full)",
                    proven.join(", ")
                );
            }
            println!(
                "Commit the directory, Cargo.toml and Cargo.lock. After `cargo update`, \
                 `spindle patch --check` tells whether the drop-in still matches."
            );
            Ok(EXIT_OK)
        }
        Err(why) => {
            // Put everything back: manifest, directory, lock.
            let _ = manifest::write_atomic(&ws.manifest, text.as_bytes());
            swapped.roll_back();
            let _ = manifest::write_atomic(&ws.lock(), &lock_before);
            Err(Failure::plugin(format!(
                "cargo does not use the drop-in, so nothing was changed: {why}"
            )))
        }
    }
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Whether `graph` builds `CRATE` `version` from `dir`; else why not.
fn uses_drop_in(graph: &Graph, dir: &Path, version: &str) -> Result<(), String> {
    let fiber = graph.the_fiber().map_err(|e| e.to_string())?;
    let want = canonical(&dir.join("Cargo.toml"));
    if fiber.source.is_none() && canonical(&fiber.manifest_path) == want {
        return Ok(());
    }
    let mut why = if fiber.source.is_none() {
        format!(
            "cargo builds {CRATE} {} from {}, not from {}",
            fiber.version,
            fiber.manifest_path.display(),
            dir.display()
        )
    } else if fiber.version != version {
        format!(
            "Cargo.lock pins {CRATE} {} (from crates.io) and the drop-in is {version}. Run \
             `spindle patch` to write the drop-in for {}, or go back with `cargo update -p \
             {CRATE} --precise {version}`",
            fiber.version, fiber.version
        )
    } else {
        format!(
            "Cargo.lock still has {CRATE} {} from crates.io",
            fiber.version
        )
    };
    if let Some(w) = graph.unused_patch_warning() {
        why.push_str(&format!("\n  cargo: {w}"));
    }
    Err(why)
}

/// The drop-in written beside its place, not yet in it.
struct Staged {
    dir: PathBuf,
    tmp: PathBuf,
    /// The outermost directory made for it (`--dir a/b/c` with no `a`),
    /// removed again if it is not kept.
    made: Option<PathBuf>,
}

/// The drop-in in place, the previous directory (if any) kept aside until
/// [`Swapped::commit`] or [`Swapped::roll_back`].
struct Swapped {
    dir: PathBuf,
    old: Option<PathBuf>,
    made: Option<PathBuf>,
}

/// The outermost missing ancestor of `dir` (which `create_dir_all` makes).
fn outermost_missing(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut p = dir;
    while !p.exists() {
        missing = Some(p.to_path_buf());
        p = p.parent()?;
    }
    missing
}

fn sibling(dir: &Path, what: &str) -> PathBuf {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    dir.with_file_name(format!(".{name}.spindle-{what}-{}", std::process::id()))
}

impl Staged {
    fn write(dir: &Path, files: &super::generate::Files) -> Result<Staged, Failure> {
        let unwritable = |e: std::io::Error| {
            Failure::io(format!(
                "cannot write the drop-in to {}: {e} (nothing was changed; pick a writable --dir)",
                dir.display()
            ))
        };
        let parent = dir
            .parent()
            .ok_or_else(|| unwritable(std::io::Error::other("no parent")))?;
        let made = outermost_missing(parent);
        let tmp = sibling(dir, "new");
        let result = (|| {
            std::fs::create_dir_all(parent)?;
            std::fs::create_dir_all(tmp.join("src"))?;
            std::fs::write(tmp.join("Cargo.toml"), &files.manifest)?;
            std::fs::write(tmp.join("src/lib.rs"), &files.lib)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            if let Some(made) = &made {
                let _ = std::fs::remove_dir_all(made);
            }
            return Err(unwritable(e));
        }
        Ok(Staged {
            dir: dir.to_path_buf(),
            tmp,
            made,
        })
    }

    fn swap_in(self) -> Result<Swapped, Failure> {
        let fail = |e: std::io::Error, tmp: &Path| {
            let _ = std::fs::remove_dir_all(tmp);
            if let Some(made) = &self.made {
                let _ = std::fs::remove_dir_all(made);
            }
            Failure::io(format!(
                "cannot put the drop-in in {}: {e} (nothing was changed)",
                self.dir.display()
            ))
        };
        let old = if self.dir.exists() {
            let old = sibling(&self.dir, "old");
            std::fs::rename(&self.dir, &old).map_err(|e| fail(e, &self.tmp))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&self.tmp, &self.dir) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &self.dir);
            }
            return Err(fail(e, &self.tmp));
        }
        Ok(Swapped {
            dir: self.dir,
            old,
            made: self.made,
        })
    }
}

impl Swapped {
    fn commit(self) {
        if let Some(old) = self.old {
            let _ = std::fs::remove_dir_all(old);
        }
    }

    fn roll_back(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(old) = self.old {
            let _ = std::fs::rename(old, &self.dir);
        }
        if let Some(made) = self.made {
            let _ = std::fs::remove_dir_all(made);
        }
    }
}

/// `--check`: read-only.
fn check(ws: &Workspace) -> Result<u8, Failure> {
    ws.require_lock()?;
    let text = ws.read_manifest()?;
    let entry = manifest::entry(&text)
        .map_err(|e| Failure::io(format!("cannot read {}: {e}", ws.manifest.display())))?;
    let graph = graph::metadata(&ws.manifest, true).map_err(|e| match e {
        CargoError::LockStale(_) => Failure::plugin(format!(
            "{e}\nRun a build (or `spindle patch`) so that Cargo.lock is current, then check again"
        )),
        other => cargo_failure(other),
    })?;
    let fiber = graph.the_fiber().map_err(graph_failure)?;
    let fail = |msg: String| -> Result<u8, Failure> {
        println!("spindle patch --check: FAILED: {msg}");
        Ok(EXIT_FAILURE)
    };
    let dir = match entry {
        Entry::Absent => {
            return fail(format!(
                "{} has no [patch.crates-io] entry for {CRATE}, so wasmtime {} builds on its own \
                 fiber. Run `spindle patch`",
                ws.manifest.display(),
                fiber.version
            ));
        }
        Entry::Other(e) => {
            return fail(format!(
                "the [patch.crates-io] entry for {CRATE} is not a path ({e}); run `spindle patch`"
            ));
        }
        Entry::Path(p) => absolute(&ws.root.join(p)),
    };
    if !is_generated(&dir) {
        return fail(format!(
            "the [patch.crates-io] entry points to {}, which spindle patch did not write; run \
             `spindle patch`",
            dir.display()
        ));
    }
    if let Err(why) = uses_drop_in(&graph, &dir, &fiber.version) {
        let generated = drop_in_version(&dir).unwrap_or_else(|| "?".into());
        return fail(if fiber.source.is_some() && fiber.version != generated {
            let mut msg = format!(
                "Cargo.lock pins {CRATE} {} (wasmtime {}) but the drop-in in {} is for {generated}, \
                 so cargo builds wasmtime's own fiber. Run `spindle patch` to write the drop-in for {}",
                fiber.version,
                fiber.version,
                dir.display(),
                fiber.version
            );
            if let Some(w) = graph.unused_patch_warning() {
                msg.push_str(&format!("\n  cargo: {w}"));
            }
            msg
        } else {
            why
        });
    }
    // Used: now is it what this Spindle would write?
    let (version, line) = match row(&fiber.version) {
        Ok(r) => r,
        Err(f) => return fail(f.message),
    };
    let on_disk = read_files(&dir);
    let source = match on_disk.as_ref().and_then(|(m, _)| source_in(m)) {
        Some(s) => s,
        None => {
            return fail(format!(
                "{} is not a complete drop-in; run `spindle patch`",
                dir.display()
            ));
        }
    };
    let want = DropIn {
        version,
        line,
        source,
        layout: Layout::User,
    }
    .files();
    if on_disk.as_ref().map(|(m, l)| (m.as_str(), l.as_str())) != Some((&want.manifest, &want.lib))
    {
        return fail(format!(
            "{} differs from what this Spindle writes for {version} (edited, or written by \
             another version of spindle patch); run `spindle patch`",
            dir.display()
        ));
    }
    println!(
        "spindle patch --check: ok: wasmtime-internal-fiber {version} builds from {} (the current drop-in)",
        dir.strip_prefix(&ws.root).unwrap_or(&dir).display()
    );
    Ok(EXIT_OK)
}

fn read_files(dir: &Path) -> Option<(String, String)> {
    Some((
        std::fs::read_to_string(dir.join("Cargo.toml")).ok()?,
        std::fs::read_to_string(dir.join("src/lib.rs")).ok()?,
    ))
}

fn drop_in_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    Some(doc.get("package")?.get("version")?.as_str()?.to_string())
}

/// The `spindle-wasmtime-fiber` dependency a generated manifest names.
fn source_in(manifest: &str) -> Option<Source> {
    let doc: toml_edit::DocumentMut = manifest.parse().ok()?;
    let dep = doc.get("dependencies")?.get("spindle-wasmtime-fiber")?;
    if let Some(v) = dep.as_str() {
        return Some(Source::Registry(v.trim_start_matches('=').to_string()));
    }
    Some(Source::Path(dep.get("path")?.as_str()?.to_string()))
}

/// `--remove`.
fn remove(ws: &Workspace) -> Result<u8, Failure> {
    let text = ws.read_manifest()?;
    let edit_err =
        |e: manifest::EditError| Failure::io(format!("cannot edit {}: {e}", ws.manifest.display()));
    let dir = match manifest::entry(&text).map_err(edit_err)? {
        Entry::Absent => {
            return Err(Failure::plugin(format!(
                "nothing to remove: {} has no [patch.crates-io] entry for {CRATE}",
                ws.manifest.display()
            )));
        }
        Entry::Other(e) => {
            return Err(Failure::plugin(format!(
                "the [patch.crates-io] entry for {CRATE} is not spindle patch's ({e}); left as it is"
            )));
        }
        Entry::Path(p) => absolute(&ws.root.join(p)),
    };
    let new_text = manifest::remove_entry(&text)
        .map_err(edit_err)?
        .unwrap_or_default();
    let ours = is_generated(&dir);
    let lock_before = std::fs::read(ws.lock()).ok();
    // The directory aside first, so a failure can put it back.
    let aside = if ours {
        let old = sibling(&dir, "old");
        std::fs::rename(&dir, &old).map_err(|e| {
            Failure::io(format!(
                "cannot remove {}: {e} (nothing was changed)",
                dir.display()
            ))
        })?;
        Some(old)
    } else {
        None
    };
    let restore_dir = |aside: &Option<PathBuf>| {
        if let Some(old) = aside {
            let _ = std::fs::rename(old, &dir);
        }
    };
    if let Err(e) = manifest::write_atomic(&ws.manifest, new_text.as_bytes()) {
        restore_dir(&aside);
        return Err(Failure::io(format!(
            "cannot write {}: {e} (nothing was changed)",
            ws.manifest.display()
        )));
    }
    // Cargo.lock back to the registry's crate.
    if lock_before.is_some()
        && let Err(e) = graph::metadata(&ws.manifest, false)
    {
        let _ = manifest::write_atomic(&ws.manifest, text.as_bytes());
        restore_dir(&aside);
        if let Some(lock) = &lock_before {
            let _ = manifest::write_atomic(&ws.lock(), lock);
        }
        return Err(Failure::plugin(format!(
            "cargo failed after the entry was removed, so it was put back: {e}"
        )));
    }
    if let Some(old) = aside {
        let _ = std::fs::remove_dir_all(old);
        // The default directory's parent, if `spindle patch` left it empty.
        if dir == ws.root.join(DEFAULT_DIR) {
            let _ = std::fs::remove_dir(dir.parent().unwrap());
        }
    }
    println!(
        "spindle patch --remove: the [patch.crates-io] entry for {CRATE} is gone from {}{}",
        ws.manifest.display(),
        if ours {
            format!("; {} deleted", dir.display())
        } else {
            format!(
                "; {} was not written by spindle patch and stays",
                dir.display()
            )
        }
    );
    Ok(EXIT_OK)
}
