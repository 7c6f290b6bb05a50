//! What the rest of a build log says around the linker's words: the target
//! triple, the wasmtime version being built, the rustc version, and
//! whether LTO was asked for. Each is what the log shows, or unknown.

use super::super::target::parse_triple;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Context {
    /// A target triple named in the log (`--target T`, `target/T/…`).
    pub(super) triple: Option<String>,
    /// `Compiling wasmtime v38.0.3`, or a registry path
    /// `wasmtime-internal-fiber-38.0.3`.
    pub(super) wasmtime: Option<String>,
    /// `rustc 1.93.0 (…)` as printed by `rustc -V`/`-vV`.
    pub(super) rustc: Option<String>,
    /// `thin`, `fat`, or `linker-plugin` when the log shows the flag.
    pub(super) lto: Option<String>,
}

/// `1.2.3` (with an optional `-pre` part) at the start of `s`.
fn version_at(s: &str) -> Option<String> {
    let v: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    let v = v.trim_end_matches(['.', '-']);
    let mut parts = v.split('.');
    let numeric = |p: Option<&str>| p.is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()));
    (numeric(parts.next()) && numeric(parts.next())).then(|| v.to_string())
}

pub(super) fn context(text: &str) -> Context {
    let mut c = Context::default();
    for line in text.lines() {
        let line = line.trim();
        if c.wasmtime.is_none() {
            for key in [
                "Compiling wasmtime v",
                "wasmtime-internal-fiber-",
                "wasmtime-fiber-",
                "wasmtime v",
            ] {
                if let Some(at) = line.find(key)
                    && let Some(v) = version_at(&line[at + key.len()..])
                {
                    c.wasmtime = Some(v);
                    break;
                }
            }
        }
        if c.rustc.is_none()
            && let Some(rest) = line.strip_prefix("rustc ")
            && let Some(v) = version_at(rest)
        {
            c.rustc = Some(v);
        }
        for word in
            line.split(|ch: char| ch.is_whitespace() || matches!(ch, '"' | '\'' | '/' | '=' | ','))
        {
            if c.triple.is_none()
                && word.split('-').count() >= 3
                && word.split('-').all(|p| {
                    !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                })
                && (word.contains("-apple-")
                    || word.contains("-linux")
                    || word.contains("-windows")
                    || word.starts_with("wasm"))
                && parse_triple(word).is_some()
            {
                c.triple = Some(word.to_string());
            }
        }
        if c.lto.is_none() {
            if line.contains("linker-plugin-lto") {
                c.lto = Some("linker-plugin".into());
            } else if line.contains("-flto=thin")
                || line.contains("lto=thin")
                || line.contains("-Clto=thin")
            {
                c.lto = Some("thin".into());
            } else if line.contains("-Clto=fat")
                || line.contains("lto=fat")
                || line.contains("-flto=full")
            {
                c.lto = Some("fat".into());
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_triples_and_lto_from_a_cargo_log() {
        let c = context(
            "   Compiling wasmtime v38.0.3\n\
             rustc 1.93.0 (254b59607 2026-01-19)\n\
             error: linking with `cc` failed\n  = note: \"cc\" \"-arch\" \"arm64\" \"/w/target/aarch64-apple-darwin/release/deps/app\" \"-flto=thin\"\n",
        );
        assert_eq!(c.wasmtime.as_deref(), Some("38.0.3"));
        assert_eq!(c.rustc.as_deref(), Some("1.93.0"));
        assert_eq!(c.triple.as_deref(), Some("aarch64-apple-darwin"));
        assert_eq!(c.lto.as_deref(), Some("thin"));
        let c = context("/r/wasmtime-internal-fiber-40.0.0/src/lib.rs\n");
        assert_eq!(c.wasmtime.as_deref(), Some("40.0.0"));
        assert_eq!(context("error: x-y-z\n"), Context::default());
    }
}
