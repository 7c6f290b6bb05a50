#![no_main]
//! `spindle patch`'s manifest editing (`spindle_cli::patch::manifest`) on
//! generated workspace manifests: packages, dependencies, profiles, other
//! patches (crates-io and other sources), the crate's own entry in another
//! form, comments everywhere, odd spacing, `\r\n` line ends, and the
//! `[patch.crates-io]` section written in each of TOML's ways (a table, a
//! key of `[patch]`, dotted keys, an inline table, a subtable per crate).
//!
//! What must hold, for the entry `wasmtime-internal-fiber = { path = P }`:
//!
//! * `set_entry` gives a manifest that parses, means the original with
//!   exactly that entry added (or put in place of the crate's old one),
//!   keeps every comment, and every line not about patches byte for byte,
//!   and keeps `\r\n` line ends;
//! * a second `set_entry` changes nothing (`None`), and `entry` reads the
//!   path back;
//! * `remove_entry` on the result means the original without the crate's
//!   entry (and without `[patch.crates-io]`/`[patch]` when nothing else is
//!   in them);
//! * `patch` or `patch.crates-io` that is not a table is refused with
//!   `NotATable`, never overwritten; arbitrary text never panics.

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use spindle_cli::patch::manifest::{CRATE, EditError, Entry, entry, remove_entry, set_entry};

const PATHS: &[&str] = &[
    "../fiber/wasmtime-compat",
    "vendor/wasmtime-internal-fiber-38",
    "C:\\\\spindle\\\\compat",
    "a \"quoted\" dir",
    "é/ü",
    "",
    "../x'y",
    "tab\there",
];

/// Other patch entries, as `name = value` lines.
const OTHERS: &[&str] = &[
    "foo = { path = \"../foo\" }",
    "bar = { git = \"https://github.com/x/bar\", branch = \"main\" }",
    "\"quoted-name\" = { version = \"1.2\" }",
    "baz={path=\"baz\"}",
    "qux   =   { path = 'literal\\path' }",
];

/// The crate's own entry in a form that is not a path patch, or a path.
const OWN: &[&str] = &[
    "{ git = \"https://github.com/bytecodealliance/wasmtime\", tag = \"v38.0.3\" }",
    "{ version = \"38.0.3\" }",
    "{ path = \"old/path\" }",
    "{ path = \"../fiber/wasmtime-compat\" }",
    "{ path = \"x\", package = \"y\" }",
];

#[derive(Debug)]
struct Manifest {
    text: String,
    /// The style: which `NotATable` error it must give, if any.
    refused: Option<&'static str>,
    comments: usize,
}

fn space(u: &mut Unstructured<'_>) -> Result<&'static str> {
    u.choose(&["", " ", "  ", "\t"]).copied()
}

impl<'a> Arbitrary<'a> for Manifest {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut comments = 0;
        let mut comment = |u: &mut Unstructured<'a>, out: &mut String| -> Result<()> {
            if u.ratio(1, 3)? {
                out.push_str(&format!(
                    "{}# c{comments} {}",
                    space(u)?,
                    u.choose(&["", "x = 1", "[patch]", "é"])?
                ));
                comments += 1;
            }
            Ok(())
        };
        let mut doc = String::new();
        comment(u, &mut doc)?;
        doc.push('\n');
        let style = u.int_in_range(0..=8u8)?;
        // Other patches and the crate's own old entry, as lines.
        let mut entries: Vec<String> = Vec::new();
        let mut taken = [false; 5];
        for _ in 0..u.int_in_range(0..=3)? {
            let i = u.choose_index(OTHERS.len())?;
            if !taken[i] {
                taken[i] = true;
                entries.push(OTHERS[i].to_string());
            }
        }
        if u.ratio(1, 3)? {
            let at = u.int_in_range(0..=entries.len())?;
            entries.insert(at, format!("{CRATE} = {}", u.choose(OWN)?));
        }
        let mut refused = None;
        // Root dotted keys come before every table header.
        if style == 3 {
            for e in &entries {
                doc.push_str(&format!("patch.crates-io.{e}"));
                comment(u, &mut doc)?;
                doc.push('\n');
            }
        }
        if style == 5 {
            doc.push_str(&format!(
                "patch = {{ crates-io = {{ {} }} }}",
                entries.join(", ")
            ));
            comment(u, &mut doc)?;
            doc.push('\n');
        }
        if style == 7 {
            doc.push_str("patch = 3\n");
            refused = Some("patch");
        }
        let mut sections: Vec<u8> = Vec::new();
        for _ in 0..u.int_in_range(0..=5)? {
            let s = u.int_in_range(0..=4u8)?;
            if !sections.contains(&s) {
                sections.push(s);
            }
        }
        let patch_at = u.int_in_range(0..=sections.len())?;
        sections.insert(patch_at, 100);
        for s in sections {
            let crlf_blank = if u.ratio(1, 4)? { "\n" } else { "" };
            doc.push_str(crlf_blank);
            match s {
                0 => {
                    doc.push_str("[package]");
                    comment(u, &mut doc)?;
                    doc.push_str(&format!(
                        "\nname{}={}\"app\"\nversion = \"0.1.0\"\n",
                        space(u)?,
                        space(u)?
                    ));
                }
                1 => {
                    doc.push_str("[workspace]\nmembers = [\n    \"a\",");
                    comment(u, &mut doc)?;
                    doc.push_str("\n    \"b\",\n]\nresolver = \"2\"\n");
                }
                2 => {
                    doc.push_str("[dependencies]\nwasmtime = { version = \"38.0.3\", default-features = false }");
                    comment(u, &mut doc)?;
                    doc.push_str("\nserde = \"1\"\n");
                }
                3 => {
                    doc.push_str("[profile.release]\nlto = \"thin\"\ncodegen-units = 1\n");
                }
                4 if style == 5 || style == 7 => {}
                4 => {
                    doc.push_str(
                        "[patch.\"https://github.com/x/y\"]\nfoo = { path = \"../foo\" }\n",
                    );
                }
                _ => match style {
                    0 | 3 | 5 | 7 => {}
                    1 => {
                        doc.push_str(&format!("[{}patch.crates-io{}]", space(u)?, space(u)?));
                        comment(u, &mut doc)?;
                        doc.push('\n');
                        for e in &entries {
                            comment(u, &mut doc)?;
                            doc.push_str(&format!("\n{}{e}", space(u)?));
                            comment(u, &mut doc)?;
                            doc.push('\n');
                        }
                    }
                    2 => {
                        doc.push_str(&format!(
                            "[patch]\ncrates-io = {{ {} }}",
                            entries.join(", ")
                        ));
                        comment(u, &mut doc)?;
                        doc.push('\n');
                    }
                    4 => {
                        for e in &entries {
                            let (name, value) = e.split_once('=').expect("name = value");
                            let value = value.trim().trim_start_matches('{').trim_end_matches('}');
                            doc.push_str(&format!("[patch.crates-io.{}]\n", name.trim()));
                            for kv in value.split(", ") {
                                doc.push_str(&format!("{}\n", kv.trim()));
                            }
                        }
                    }
                    6 => {
                        doc.push_str("[patch]\n");
                        comment(u, &mut doc)?;
                        doc.push_str("\n[patch.crates-io]\n");
                        for e in &entries {
                            doc.push_str(&format!("{e}\n"));
                        }
                    }
                    _ => {
                        doc.push_str("[patch]\ncrates-io = \"not a table\"\n");
                        refused = Some("patch.crates-io");
                    }
                },
            }
        }
        comment(u, &mut doc)?;
        if u.ratio(1, 4)? {
            doc = doc.replace('\n', "\r\n");
        }
        Ok(Manifest {
            text: doc,
            refused,
            comments,
        })
    }
}

#[derive(Arbitrary, Debug)]
enum Input {
    Manifest(Manifest, u8),
    Text(String, u8),
}

/// `doc` with the crate's entry set to `path` (`Some`) or removed, and
/// `[patch.crates-io]`/`[patch]` dropped when that leaves them empty.
fn model(doc: &toml::Table, path: Option<&str>) -> toml::Table {
    let mut doc = doc.clone();
    match path {
        Some(p) => {
            let patch = doc
                .entry("patch")
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .expect("patch is a table");
            let crates_io = patch
                .entry("crates-io")
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .expect("patch.crates-io is a table");
            let mut e = toml::Table::new();
            e.insert("path".into(), toml::Value::String(p.into()));
            crates_io.insert(CRATE.into(), toml::Value::Table(e));
        }
        None => {
            let Some(patch) = doc.get_mut("patch").and_then(|p| p.as_table_mut()) else {
                return doc;
            };
            let Some(crates_io) = patch.get_mut("crates-io").and_then(|c| c.as_table_mut()) else {
                return doc;
            };
            if crates_io.remove(CRATE).is_none() {
                return doc;
            }
            if crates_io.is_empty() {
                patch.remove("crates-io");
            }
            if patch.is_empty() {
                doc.remove("patch");
            }
        }
    }
    doc
}

fn parse(text: &str) -> toml::Table {
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"))
}

fuzz_target!(|input: Input| {
    let (m, path) = match input {
        Input::Text(text, p) => {
            // Arbitrary text: only that nothing panics, and that what is
            // written is TOML.
            let path = PATHS[usize::from(p) % PATHS.len()];
            let _ = entry(&text);
            if let Ok(Some(out)) = set_entry(&text, path) {
                let _ = parse(&out);
            }
            if let Ok(Some(out)) = remove_entry(&text) {
                let _ = parse(&out);
            }
            return;
        }
        Input::Manifest(m, p) => (m, PATHS[usize::from(p) % PATHS.len()]),
    };
    let text = &m.text;
    // The generator writes TOML; a combination it gets wrong is skipped.
    let Ok(original) = text.parse::<toml::Table>() else {
        return;
    };
    if let Some(key) = m.refused {
        assert_eq!(
            set_entry(text, path),
            Err(EditError::NotATable(key)),
            "{text}"
        );
        return;
    }
    let out = match set_entry(text, path).unwrap_or_else(|e| panic!("{e}\n{text}")) {
        Some(out) => out,
        None => {
            assert_eq!(
                entry(text),
                Ok(Entry::Path(path.into())),
                "unchanged:\n{text}"
            );
            text.clone()
        }
    };
    assert_eq!(
        parse(&out),
        model(&original, Some(path)),
        "set {path:?}:\n{text}\n---\n{out}"
    );
    assert_eq!(entry(&out), Ok(Entry::Path(path.into())));
    assert_eq!(
        set_entry(&out, path),
        Ok(None),
        "a second run changed:\n{out}"
    );
    for c in 0..m.comments {
        let marker = format!("# c{c} ");
        assert!(
            out.contains(&marker),
            "comment {marker:?} lost:\n{text}\n---\n{out}"
        );
    }
    for line in text.split('\n') {
        let about_patches = ["patch", "crates-io", CRATE]
            .iter()
            .any(|w| line.contains(w))
            || OTHERS
                .iter()
                .any(|o| line.contains(o.split('=').next().expect("name").trim()))
            // A key of the crate's old entry written as a subtable, which
            // the new entry replaces.
            || (!line.trim().is_empty() && OWN.iter().any(|o| o.contains(line.trim())));
        if !about_patches {
            assert!(
                out.split('\n').any(|l| l == line),
                "line {line:?} not kept:\n{text}\n---\n{out}"
            );
        }
    }
    if text.contains("\r\n") {
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "a bare \\n in a \\r\\n manifest:\n{out:?}"
        );
    }
    let removed = remove_entry(&out)
        .unwrap_or_else(|e| panic!("{e}\n{out}"))
        .expect("the entry is there to remove");
    // The original's meaning without the crate's entry, and without
    // `[patch.crates-io]` and `[patch]` when nothing else is in them.
    let want = model(&model(&original, Some(path)), None);
    assert_eq!(parse(&removed), want, "remove:\n{out}\n---\n{removed}");
});
