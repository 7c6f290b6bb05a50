//! The module layering drawn in `src/lib.rs` is the one the code has: every
//! `crate::` path in `src/*.rs` (and in `src/<module>/**.rs`, which belong
//! to `<module>`) names a module below its own, directly or through a
//! re-export at the crate root.

use std::collections::HashMap;
use std::path::Path;

/// The table rows of the `# Layers` drawing, topmost first.
fn documented_order(lib: &str) -> Vec<String> {
    let rows: Vec<String> = lib
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("//! | "))
        .filter_map(|row| row.split('|').next())
        .map(|cell| cell.trim().to_string())
        .filter(|m| m != "module")
        .collect();
    assert!(
        rows.len() > 5,
        "no layer table found in src/lib.rs (rows starting `//! | `): {rows:?}"
    );
    rows
}

/// Names re-exported at the crate root, mapped to the module they come from
/// (`pub use hostfn::{Ctx, HostFn}` maps `Ctx` and `HostFn` to `hostfn`).
fn root_reexports(lib: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let code = strip_comments(lib);
    for stmt in code.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        let items = items.trim().trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let exported = item.rsplit(" as ").next().unwrap().trim();
            map.insert(exported.to_string(), module.trim().to_string());
        }
    }
    map
}

/// The source without `//` comments (doc links name items, not imports)
/// and without string literals that could hold `crate::`.
fn strip_comments(src: &str) -> String {
    src.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment of every `crate::` path in `code`, with the
/// segments of a braced group (`crate::{a::X, b}`) each counted.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        // `spindle_crate::` or `my_crate::` are not this crate.
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(j, _)| j)
                .expect("unclosed `crate::{` group");
            let mut level = 0;
            let mut start = 0;
            let inner = &group[..end];
            for (j, c) in inner.char_indices().chain([(inner.len(), ',')]) {
                match c {
                    '{' => level += 1,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        out.push(first_segment(&inner[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(first_segment(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every `.rs` file under `dir` with the top-level module it belongs to:
/// `src/x.rs` and everything under `src/x/` belong to `x`.
fn rust_files(dir: &Path, module: Option<&str>, out: &mut Vec<(String, std::path::PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            rust_files(&path, Some(module.unwrap_or(&stem)), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((module.map_or(stem, str::to_string), path));
        }
    }
}

#[test]
fn modules_import_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = documented_order(&lib);
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let reexports = root_reexports(&lib);
    let mut problems = Vec::new();
    let mut files = Vec::new();
    rust_files(&src, None, &mut files);
    files.sort();
    assert!(files.len() > 5, "found only {files:?} in {}", src.display());
    for (module, file) in &files {
        let module = module.as_str();
        if module == "lib" {
            continue;
        }
        let Some(&own) = rank.get(module) else {
            problems.push(format!(
                "{} (module `{module}`) is not in the layer table of src/lib.rs",
                file.display()
            ));
            continue;
        };
        let code = strip_comments(&std::fs::read_to_string(file).unwrap());
        for segment in crate_paths(&code) {
            let target = match reexports.get(&segment) {
                Some(m) => m.as_str(),
                None => segment.as_str(),
            };
            if target == module {
                continue;
            }
            match rank.get(target) {
                Some(&other) if other > own => {}
                Some(_) => problems.push(format!(
                    "{} uses `crate::{segment}` from `{target}`, which is above it",
                    file.display()
                )),
                // A root item that is not a re-export (a macro, `wasmtime`).
                None => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_sees_grouped_and_reexported_paths() {
    let paths = crate_paths(
        "use crate::error::{Error, ErrorKind};\nuse crate::{Ctx, store::{State, Arming}, limits};\n\
         let x = my_crate::nope; crate::Host::builder()",
    );
    assert_eq!(paths, ["error", "Ctx", "store", "limits", "Host"]);
    let map = root_reexports(
        "pub use hostfn::{Ctx, HostFn as Fn};\npub use plugin::Plugin;\n// pub use x::Y;",
    );
    assert_eq!(map.get("Ctx").map(String::as_str), Some("hostfn"));
    assert_eq!(map.get("Fn").map(String::as_str), Some("hostfn"));
    assert_eq!(map.get("Plugin").map(String::as_str), Some("plugin"));
    assert!(!map.contains_key("Y"));
}
