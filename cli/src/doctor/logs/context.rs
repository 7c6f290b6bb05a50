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
    /// cargo's `patch `wasmtime-internal-fiber vX (path)` was not used in
    /// the crate graph`: the patch's version and where it points.
    pub(super) unused_fiber_patch: Option<(String, String)>,
    /// A `Compiling wasmtime-internal-fiber vX` line: the fiber crate the
    /// build really used (crates.io's when no path follows).
    pub(super) fiber_compiled: Option<String>,
    /// Names of wasmtime's and of Spindle's switch symbols the log shows
    /// (an `nm` listing, a linker's duplicate or undefined symbols).
    pub(super) wasmtime_switch_names: Vec<String>,
    pub(super) spindle_switch_names: Vec<String>,
}

/// How many switch symbol names a log may make doctor keep.
const MAX_NAMES: usize = 16;

/// `patch `wasmtime-internal-fiber v48.0.8 (/p)` was not used in the crate
/// graph` (cargo's warning, either capitalisation): (version, path).
fn unused_fiber_patch(line: &str) -> Option<(String, String)> {
    if !line.contains("was not used in the crate graph") {
        return None;
    }
    let at = line.find("wasmtime-internal-fiber v")?;
    let rest = &line[at + "wasmtime-internal-fiber v".len()..];
    let version = version_at(rest)?;
    let path = rest
        .find('(')
        .and_then(|open| {
            rest[open + 1..]
                .find(')')
                .map(|close| &rest[open + 1..open + 1 + close])
        })
        .unwrap_or("")
        .to_string();
    Some((version, path))
}

/// The symbol-like words of `line` that are switch routines.
fn switch_words(line: &str, c: &mut Context) {
    if !line.contains("wasmtime_fiber_switch") && !line.contains("spindle_fiber_") {
        return;
    }
    for word in
        line.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$' || ch == '.'))
    {
        let name = word
            .strip_prefix('_')
            .filter(|w| w.starts_with("spindle_fiber_"))
            .unwrap_or(word);
        let list = if name.contains("wasmtime_fiber_switch") {
            &mut c.wasmtime_switch_names
        } else if super::super::symbols::spindle_switch_name(name) {
            &mut c.spindle_switch_names
        } else {
            continue;
        };
        if list.len() < MAX_NAMES && !list.iter().any(|n| n == name) {
            list.push(name.to_string());
        }
    }
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
        if c.unused_fiber_patch.is_none() {
            c.unused_fiber_patch = unused_fiber_patch(line);
        }
        if c.fiber_compiled.is_none()
            && let Some(rest) = line.strip_prefix("Compiling wasmtime-internal-fiber v")
        {
            c.fiber_compiled = Some(rest.to_string());
        }
        switch_words(line, &mut c);
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

    #[test]
    fn an_unused_patch_and_the_switches_a_log_names() {
        for line in [
            "warning: patch `wasmtime-internal-fiber v48.0.8 (/w/spindle/wasmtime-internal-fiber)` was not used in the crate graph",
            "warning: Patch `wasmtime-internal-fiber v48.0.8 (/w/spindle/wasmtime-internal-fiber)` was not used in the crate graph.",
        ] {
            let c = context(line);
            assert_eq!(
                c.unused_fiber_patch,
                Some(("48.0.8".into(), "/w/spindle/wasmtime-internal-fiber".into()))
            );
        }
        let c = context("   Compiling wasmtime-internal-fiber v48.0.10\n");
        assert_eq!(c.fiber_compiled.as_deref(), Some("48.0.10"));
        assert_eq!(
            context("warning: patch `foo v1.0.0 (/x)` was not used in the crate graph")
                .unused_fiber_patch,
            None
        );
        let c = context(
            "0000000000012340 t _ZN24wasmtime_internal_fiber11stackswitch6x86_6422wasmtime_fiber_switch_17h0123456789abcdefE\n\
             0000000000012400 T spindle_fiber_0_1_0_resume\n0000000000012500 T _spindle_fiber_0_1_0_suspend\n",
        );
        assert_eq!(c.wasmtime_switch_names.len(), 1);
        assert_eq!(
            c.spindle_switch_names,
            ["spindle_fiber_0_1_0_resume", "spindle_fiber_0_1_0_suspend"]
        );
    }
}
