//! The log against build outputs given beside it: what the files the
//! linker ignored really hold, from the same object evidence `spindle
//! doctor PATH` reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::super::inputs::walk;
use super::super::objects::examine;
use super::super::target::{arch_name, format_name};
use super::advice::container;
use super::model::LinkLog;
use crate::Failure;

/// The file name of a logged path (`/b/libfoo.a[2](foo.o)` → `libfoo.a`).
fn logged_name(file: &str) -> &str {
    let c = container(file);
    c.rsplit(['/', '\\']).next().unwrap_or(c)
}

/// One line per (ignored file, given file) pair that names the same file,
/// and one per ignored file no given path matched.
pub(super) fn cross_check(log: &LinkLog, paths: &[PathBuf]) -> Result<Vec<String>, Failure> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| Failure::io(format!("cannot read {}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, 8, &mut files, &mut unreadable).map_err(Failure::io)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut lines = Vec::new();
    for ig in &log.ignored {
        let name = logged_name(&ig.file);
        let matching: Vec<&Path> = files
            .iter()
            .map(PathBuf::as_path)
            .filter(|f| f.file_name().and_then(|n| n.to_str()) == Some(name))
            .collect();
        if matching.is_empty() {
            lines.push(format!(
                "{}: ignored by the linker, but no path given matches {name}",
                ig.file
            ));
        }
        for f in matching {
            lines.push(match examine(f, true) {
                Ok(Some(r)) => {
                    let mut by_arch: BTreeMap<String, usize> = BTreeMap::new();
                    for o in &r.objects {
                        *by_arch.entry(arch_name(o.arch)).or_default() += 1;
                    }
                    let archs: Vec<String> =
                        by_arch.iter().map(|(a, n)| format!("{a} ×{n}")).collect();
                    let fmt = r
                        .objects
                        .first()
                        .map(|o| format_name(o.format))
                        .unwrap_or("?");
                    let wanted = ig.required.as_deref().map(normal_arch);
                    let agrees = match wanted {
                        Some(w) if by_arch.keys().any(|a| normal_arch(a) == w) => format!(
                            "; it does hold {}: the log may be older than this file",
                            ig.required.as_deref().unwrap_or_default()
                        ),
                        Some(_) => format!(
                            "; none for {}: confirms the mismatch",
                            ig.required.as_deref().unwrap_or_default()
                        ),
                        None => String::new(),
                    };
                    format!(
                        "{}: {} ({fmt}) with objects for {}{agrees}",
                        crate::show(f),
                        r.kind,
                        if archs.is_empty() {
                            "no architecture".to_string()
                        } else {
                            archs.join(", ")
                        },
                    )
                }
                Ok(None) => format!("{}: not an object file or archive", crate::show(f)),
                Err(e) => format!("{}: not examined: {e}", crate::show(f)),
            });
        }
    }
    for (p, why) in unreadable {
        lines.push(format!("{}: not examined: {why}", crate::show(&p)));
    }
    Ok(lines)
}

/// One spelling per architecture, to compare the linker's word with
/// doctor's (`arm64` = `aarch64`, `x64` = `elf_x86_64` = `x86_64`).
fn normal_arch(a: &str) -> String {
    let a = a.trim().to_ascii_lowercase();
    let a = a.strip_prefix("elf_").unwrap_or(&a).to_string();
    match a.as_str() {
        "arm64" | "arm64e" | "aarch64" => "aarch64".into(),
        "x64" | "x86_64" | "x86-64" | "amd64" | "i386:x86-64" => "x86_64".into(),
        _ => a,
    }
}
