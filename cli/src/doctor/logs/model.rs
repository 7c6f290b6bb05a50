//! What a link log says, whichever linker wrote it: the undefined symbols
//! and who references them, the files the linker ignored, the libraries it
//! could not find, and the architecture it was linking for.

use std::collections::{BTreeSet, HashMap};

/// Bounds on what one log can make doctor keep: a log is untrusted input,
/// and a million-line one must not cost a million entries.
pub(super) const MAX_SYMBOLS: usize = 2_000;
pub(super) const MAX_REFERENCES: usize = 16;
pub(super) const MAX_FILES: usize = 1_000;

/// One undefined symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Undefined {
    /// As the linker printed it (Mach-O's extra leading `_` included).
    pub(super) raw: String,
    /// Demangled when it is a Rust symbol, else the C name.
    pub(super) name: String,
    /// What references it (object file, function), as the linker said.
    pub(super) referenced_by: Vec<String>,
    /// The file the linker was reading when it found it (wasm-ld and
    /// lld name it on the same line).
    pub(super) file: Option<String>,
}

/// A file the linker skipped or refused because of its architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Ignored {
    pub(super) file: String,
    /// The architecture the file was built for, in the linker's words.
    pub(super) found: Option<String>,
    /// The architecture being linked, in the linker's words.
    pub(super) required: Option<String>,
}

/// Everything the parsers found in one log.
#[derive(Clone, Debug, Default)]
pub(super) struct LinkLog {
    /// Which linkers spoke ("ld64 (Apple's new linker)", "lld (wasm)", ...).
    pub(super) linkers: BTreeSet<String>,
    pub(super) undefined: Vec<Undefined>,
    pub(super) ignored: Vec<Ignored>,
    /// Native libraries not found: `foo` for `-lfoo`, `foo.lib` for link.exe.
    pub(super) missing_libraries: Vec<String>,
    /// The architecture being linked ("x86_64", "arm64", "elf_x86_64", "x64").
    pub(super) target_arch: Option<String>,
    /// Symbols past [`MAX_SYMBOLS`] that were counted but not kept.
    pub(super) symbols_dropped: usize,
    /// `raw` → index in `undefined`: a log of a million lines costs a
    /// lookup a line, not a scan of every symbol kept.
    by_raw: HashMap<String, usize>,
    /// Files and libraries already recorded, for the same reason.
    seen: BTreeSet<String>,
}

impl LinkLog {
    pub(super) fn add_linker(&mut self, name: &str) {
        if !self.linkers.contains(name) {
            self.linkers.insert(name.to_string());
        }
    }

    /// Adds an undefined symbol (once per name) and returns its index.
    pub(super) fn add_undefined(&mut self, raw: &str, file: Option<&str>) -> Option<usize> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        if let Some(&i) = self.by_raw.get(raw) {
            return Some(i);
        }
        if self.undefined.len() >= MAX_SYMBOLS {
            self.symbols_dropped += 1;
            return None;
        }
        self.undefined.push(Undefined {
            raw: raw.to_string(),
            name: demangle(raw),
            referenced_by: Vec::new(),
            file: file.map(str::to_string),
        });
        self.by_raw
            .insert(raw.to_string(), self.undefined.len() - 1);
        Some(self.undefined.len() - 1)
    }

    pub(super) fn add_reference(&mut self, symbol: Option<usize>, by: &str) {
        let by = by.trim();
        if let Some(u) = symbol.and_then(|i| self.undefined.get_mut(i))
            && !by.is_empty()
            && u.referenced_by.len() < MAX_REFERENCES
            && !u.referenced_by.iter().any(|r| r == by)
        {
            u.referenced_by.push(demangle_words(by));
        }
    }

    pub(super) fn add_ignored(&mut self, file: &str, found: Option<&str>, required: Option<&str>) {
        let file = file.trim().trim_matches(|c| c == '\'' || c == '"');
        if self.ignored.len() >= MAX_FILES || !self.seen.insert(format!("file:{file}")) {
            return;
        }
        self.ignored.push(Ignored {
            file: file.to_string(),
            found: found.map(|s| s.trim().to_string()),
            required: required.map(|s| s.trim().to_string()),
        });
        if self.target_arch.is_none()
            && let Some(r) = required
        {
            self.target_arch = Some(r.trim().to_string());
        }
    }

    pub(super) fn add_missing_library(&mut self, name: &str) {
        let name = name
            .trim()
            .trim_matches(|c| c == '\'' || c == '"' || c == '`');
        if !name.is_empty()
            && self.missing_libraries.len() < MAX_FILES
            && self.seen.insert(format!("lib:{name}"))
        {
            self.missing_libraries.push(name.to_string());
        }
    }

    /// Whether any linker error at all was recognised.
    pub(super) fn is_empty(&self) -> bool {
        self.undefined.is_empty() && self.ignored.is_empty() && self.missing_libraries.is_empty()
    }
}

/// A symbol as a person reads it: Rust symbols (legacy `_ZN…E` and v0
/// `_R…`, with Mach-O's and COFF import's prefixes) demangled without their
/// hash; anything else unchanged except Mach-O's leading `_` on C names is
/// kept, since that is the name `nm` shows.
pub(super) fn demangle(raw: &str) -> String {
    let (prefix, body) = match raw.strip_prefix("__imp_") {
        Some(rest) => ("__imp_", rest),
        None => ("", raw),
    };
    for candidate in [body, body.strip_prefix('_').unwrap_or(body)] {
        if let Ok(d) = rustc_demangle::try_demangle(candidate) {
            return format!("{prefix}{d:#}");
        }
    }
    raw.to_string()
}

/// Demangles every whitespace-, colon- or paren-separated word that is a
/// Rust symbol (references read `_ZN…E in foo.o` or `foo.o:(_ZN…E)`).
pub(super) fn demangle_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            out.push_str(&demangle(word));
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '(' | ')' | ':' | '\'' | '"' | '`' | ',') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_symbols_demangle_in_every_prefix() {
        let legacy = "_ZN4core9panicking5panic17h0123456789abcdefE";
        assert_eq!(demangle(legacy), "core::panicking::panic");
        assert_eq!(demangle(&format!("_{legacy}")), "core::panicking::panic");
        assert_eq!(
            demangle(&format!("__imp_{legacy}")),
            "__imp_core::panicking::panic"
        );
        assert_eq!(demangle("_host_log"), "_host_log");
        assert_eq!(demangle("host_log"), "host_log");
        assert_eq!(
            demangle_words(&format!("{legacy} in main.o")),
            "core::panicking::panic in main.o"
        );
    }

    #[test]
    fn a_log_keeps_a_bounded_number_of_symbols() {
        let mut log = LinkLog::default();
        for i in 0..MAX_SYMBOLS + 5 {
            log.add_undefined(&format!("sym{i}"), None);
        }
        assert_eq!(log.undefined.len(), MAX_SYMBOLS);
        assert_eq!(log.symbols_dropped, 5);
        let first = log.add_undefined("sym0", None);
        for i in 0..MAX_REFERENCES + 3 {
            log.add_reference(first, &format!("ref{i}"));
        }
        assert_eq!(log.undefined[0].referenced_by.len(), MAX_REFERENCES);
    }
}
