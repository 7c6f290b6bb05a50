//! Apple's ld64 and its successor (Xcode 15's "ld-prime"): `Undefined
//! symbols for architecture X:` followed by `"SYM", referenced from:` and
//! indented `WHO in FILE` lines; ignored files as
//! `ld: warning: ignoring file 'F': found architecture 'A', required
//! architecture 'B'` (the new linker) or `…ignoring file F, building for
//! macOS-B but attempting to link with file built for macOS-A` (the old
//! one); missing libraries as `ld: library not found for -lfoo` (old) or
//! `ld: library 'foo' not found` (new).

use super::super::model::LinkLog;
use super::between;

const OLD: &str = "ld64";
const NEW: &str = "ld64 (Apple's new linker)";

pub(super) fn parse(lines: &[&str], log: &mut LinkLog) {
    let mut in_undefined = false;
    let mut current: Option<usize> = None;
    for line in lines {
        if let Some(rest) = line.strip_prefix("Undefined symbols for architecture ") {
            let arch = rest.trim_end_matches(':').trim();
            log.target_arch.get_or_insert_with(|| arch.to_string());
            in_undefined = true;
            current = None;
            continue;
        }
        if in_undefined {
            if let Some(sym) = line
                .strip_prefix('"')
                .and_then(|l| l.split_once("\", referenced from:"))
                .map(|(s, _)| s)
            {
                current = log.add_undefined(sym, None);
                continue;
            }
            if current.is_some() && line.contains(" in ") && !line.starts_with("ld:") {
                log.add_reference(current, line);
                continue;
            }
            // `NOTE: found '_x' in y.o, declaration possibly missing
            // 'extern "C"'` and similar hints belong to the block too.
            if line.starts_with("NOTE:") || line.starts_with("note:") {
                continue;
            }
            in_undefined = false;
            current = None;
        }
        let Some(msg) = line.strip_prefix("ld: ") else {
            continue;
        };
        if let Some(arch) = msg.strip_prefix("symbol(s) not found for architecture ") {
            log.target_arch
                .get_or_insert_with(|| arch.trim().to_string());
            log.add_linker(OLD);
        } else if let Some(w) = msg.strip_prefix("warning: ignoring file ") {
            if let Some((file, rest)) = w.split_once("': found architecture '") {
                let found = rest.split('\'').next();
                let required = between(rest, "required architecture '", "'");
                log.add_ignored(file.trim_start_matches('\''), found, required);
                log.add_linker(NEW);
            } else if let Some((file, rest)) = w.split_once(", building for ") {
                let required = rest.split(" but ").next().map(platform_arch);
                let found = rest
                    .split("attempting to link with file built for ")
                    .nth(1)
                    .map(platform_arch);
                log.add_ignored(file, found, required);
                log.add_linker(OLD);
            } else if let Some((file, rest)) = w.split_once(", file was built for ") {
                // Older still: `file was built for archive which is not the
                // architecture being linked (x86_64): F`.
                let required = between(rest, "being linked (", ")");
                log.add_ignored(file, None, required);
                log.add_linker(OLD);
            }
        } else if let Some(lib) = msg.strip_prefix("library not found for -l") {
            log.add_missing_library(lib);
            log.add_linker(OLD);
        } else if let Some(lib) = msg
            .strip_prefix("library '")
            .and_then(|l| l.strip_suffix("' not found"))
        {
            log.add_missing_library(lib);
            log.add_linker(NEW);
        }
    }
    // `symbol(s) not found` is printed by both; the new one's own shapes
    // say which it was.
    if log.linkers.contains(NEW) {
        log.linkers.remove(OLD);
    }
}

/// `macOS-arm64` → `arm64` (also `iOS-simulator-x86_64`).
fn platform_arch(s: &str) -> &str {
    let s = s.trim();
    s.rsplit('-').next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_log;

    #[test]
    fn new_linker_shape() {
        let log = parse_log(
            "ld: warning: ignoring file '/b/libfoo.a[2](foo.o)': found architecture 'arm64', required architecture 'x86_64'\n\
             Undefined symbols for architecture x86_64:\n  \"_foo_init\", referenced from:\n      _main in main.o\n\
             ld: symbol(s) not found for architecture x86_64\n",
        );
        assert_eq!(log.target_arch.as_deref(), Some("x86_64"));
        assert_eq!(log.ignored[0].file, "/b/libfoo.a[2](foo.o)");
        assert_eq!(log.ignored[0].found.as_deref(), Some("arm64"));
        assert_eq!(log.ignored[0].required.as_deref(), Some("x86_64"));
        assert_eq!(log.undefined[0].raw, "_foo_init");
        assert_eq!(log.undefined[0].referenced_by, ["_main in main.o"]);
        assert!(
            log.linkers.contains("ld64 (Apple's new linker)"),
            "{:?}",
            log.linkers
        );
    }

    #[test]
    fn old_linker_shape() {
        let log = parse_log(
            "ld: warning: ignoring file /b/libfoo.a, building for macOS-x86_64 but attempting to link with file built for macOS-arm64\n\
             ld: library not found for -lssl\n",
        );
        assert_eq!(log.ignored[0].file, "/b/libfoo.a");
        assert_eq!(log.ignored[0].found.as_deref(), Some("arm64"));
        assert_eq!(log.ignored[0].required.as_deref(), Some("x86_64"));
        assert_eq!(log.missing_libraries, ["ssl"]);
        assert_eq!(log.linkers.iter().collect::<Vec<_>>(), ["ld64"]);
    }
}
