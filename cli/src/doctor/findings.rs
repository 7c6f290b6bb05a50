//! Findings drawn from the object evidence: objects for another architecture
//! or format than the target, switch symbols undefined in a linked image, and
//! references no input defines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use object::{Architecture, BinaryFormat};

use super::objects::{FileReport, Obj};
use super::symbols::spindle_switch_name;
use super::target::{Target, arch_name, format_name};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub(super) fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

#[derive(Debug)]
pub(super) struct Finding {
    pub(super) severity: Severity,
    /// A note about a file found in a directory walk: text output shows it
    /// only with --verbose.
    pub(super) quiet: bool,
    pub(super) path: String,
    pub(super) message: String,
    pub(super) next: String,
}

pub(super) const LTO_HINT: &str = "\
A fiber switch routine left undefined in a final binary is the bug this
project exists for: wasmtime 38.0.3's switch (a naked function) vanished under
cross-crate ThinLTO on aarch64-apple-darwin and the link failed or left the
symbol undefined (wasmtime#11957, rust-lang/rust#148307). Check the profile's
LTO mode: rebuild with `lto = \"off\"` or `lto = \"fat\"` (or
`CARGO_PROFILE_RELEASE_LTO=off`) to confirm, then move to a toolchain and
wasmtime without the bug. spindle-fiber's switch is global_asm kept by a
#[used] anchor; if its symbol is undefined, an object from another
spindle-fiber version or build joined the link: `cargo clean` and rebuild.";

pub(super) fn lto_next() -> String {
    "check the profile's LTO mode (see the note below the findings); rebuild with `lto = \"off\"` or `\"fat\"` to confirm".into()
}

pub(super) fn arch_findings(r: &FileReport, t: &Target, findings: &mut Vec<Finding>) {
    let path = crate::show(&r.path);
    let want = arch_name(t.arch);
    if r.universal {
        let slices: Vec<String> = r.objects.iter().map(|o| arch_name(o.arch)).collect();
        if !r.objects.iter().any(|o| o.arch == t.arch) {
            findings.push(Finding {
                quiet: false,
                severity: Severity::Error,
                path,
                message: format!(
                    "universal binary with slices [{}] but none for {want} (target from {})",
                    slices.join(", "),
                    t.source
                ),
                next: format!(
                    "build a {want} slice and add it with `lipo -create`, or link for one of [{}]",
                    slices.join(", ")
                ),
            });
        }
        return;
    }
    let wrong: Vec<&Obj> = r
        .objects
        .iter()
        .filter(|o| o.arch != Architecture::Unknown && o.arch != t.arch)
        .collect();
    if !wrong.is_empty() {
        let mut archs: Vec<String> = wrong.iter().map(|o| arch_name(o.arch)).collect();
        archs.dedup();
        let mut message = if r.objects.len() == 1 {
            format!(
                "{} for {}, but the target is {want} (from {})",
                r.kind,
                archs.join(", "),
                t.source
            )
        } else {
            format!(
                "{}: {} of {} objects are for {}, but the target is {want} (from {})",
                r.kind,
                wrong.len(),
                r.objects.len(),
                archs.join(", "),
                t.source
            )
        };
        let members: Vec<String> = wrong
            .iter()
            .filter_map(|o| {
                o.member
                    .as_ref()
                    .map(|m| format!("{m} ({})", arch_name(o.arch)))
            })
            .collect();
        if !members.is_empty() {
            let shown = members.len().min(5);
            let _ = write!(message, "\n  {}", members[..shown].join("\n  "));
            if members.len() > shown {
                let _ = write!(message, "\n  ... and {} more", members.len() - shown);
            }
        }
        let apple_want = want.replace("aarch64", "arm64");
        let linker = if t.format == Some(BinaryFormat::MachO)
            || wrong[0].format == BinaryFormat::MachO
        {
            format!(
                "the Apple linker ignores it (\"ignoring file ..., building for macOS-{apple_want} but attempting to link with file built for macOS-{}\") and then fails with \"Undefined symbols for architecture {apple_want}\" for everything it defines",
                archs[0].replace("aarch64", "arm64"),
            )
        } else {
            "the linker rejects it (\"incompatible with ...\" / \"file in wrong format\") or skips it and reports its symbols undefined".to_string()
        };
        let _ = write!(message, "\n  linking for {want}, {linker}");
        findings.push(Finding {
        quiet: false,
            severity: Severity::Error,
            path,
            message,
            next: format!(
                "rebuild it for {want} (`cargo build --target <{want} triple>`, or for C code the {want} compiler / `-arch {}`), or build both and merge with `lipo -create` into a universal library",
                want.replace("aarch64", "arm64")
            ),
        });
        return;
    }
    if let Some(format) = t.format
        && let Some(o) = r
            .objects
            .iter()
            .find(|o| o.format != format && o.arch != Architecture::Unknown)
    {
        findings.push(Finding {
            quiet: false,
            severity: Severity::Error,
            path,
            message: format!(
                "{} in {} format, but the target ({}) uses {}",
                r.kind,
                format_name(o.format),
                t.source,
                format_name(format)
            ),
            next: "rebuild it for the target's operating system".into(),
        });
    }
}

pub(super) fn switch_findings(r: &FileReport, findings: &mut Vec<Finding>) {
    if !r.is_final {
        return;
    }
    let path = crate::show(&r.path);
    let s = &r.switch;
    if s.symbols_seen == 0 {
        findings.push(Finding {
            quiet: !r.explicit,
            severity: Severity::Note,
            path,
            message: "no symbol table (stripped): cannot tell which switch symbols it has".into(),
            next: "examine an unstripped build (`strip = false` in the profile)".into(),
        });
        return;
    }
    if !s.spindle_defined.is_empty() && !s.wasmtime_defined.is_empty() {
        findings.push(Finding {
            // A note, not a warning: a program may well link spindle-fiber
            // for its own fibers beside an unpatched wasmtime (`spindle`
            // itself does).
            quiet: !r.explicit,
            severity: Severity::Note,
            path: path.clone(),
            message: format!(
                "this {} has both wasmtime's fiber switch and Spindle's: if it runs wasmtime \
                 async, some wasmtime in it switches stacks with its own fiber (a \
                 [patch.crates-io] drop-in for another release, or two wasmtime versions); \
                 fine if it links spindle-fiber for itself",
                r.kind
            ),
            next: "run `spindle patch --check` in its workspace; `spindle patch` writes the \
                   drop-in for the wasmtime in Cargo.lock"
                .into(),
        });
    }
    let current = spindle_fiber::SYMBOL_VERSION;
    for (who, defined, undefined) in [
        ("spindle-fiber", &s.spindle_defined, &s.spindle_undefined),
        ("wasmtime", &s.wasmtime_defined, &s.wasmtime_undefined),
    ] {
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        if !undefined.is_empty() {
            findings.push(Finding {
                quiet: !r.explicit,
                severity: Severity::Error,
                path: path.clone(),
                message: format!(
                    "{who}'s fiber switch is UNDEFINED in this linked {}: {}",
                    r.kind,
                    list(undefined)
                ),
                next: lto_next(),
            });
        } else if !defined.is_empty() {
            let mut message = format!("{who}'s fiber switch is defined: {}", list(defined));
            if who == "spindle-fiber"
                && !defined.iter().any(|n| n.contains(&format!("_{current}_")))
            {
                let _ = write!(
                    message,
                    " (another spindle-fiber version than this tool's {current})"
                );
            }
            findings.push(Finding {
                quiet: !r.explicit,
                severity: Severity::Note,
                path: path.clone(),
                message,
                next: String::new(),
            });
        } else if r.explicit {
            findings.push(Finding {
                quiet: !r.explicit,
                severity: Severity::Note,
                path: path.clone(),
                message: format!(
                    "{who}'s fiber switch is absent (this {} does not link it)",
                    r.kind
                ),
                next: String::new(),
            });
        }
    }
}

/// References from objects and archives that no input defines.
pub(super) fn cross_reference(reports: &[FileReport], findings: &mut Vec<Finding>) {
    let defined: BTreeSet<&String> = reports
        .iter()
        .flat_map(|r| {
            r.switch
                .spindle_defined
                .iter()
                .chain(&r.switch.wasmtime_defined)
        })
        .collect();
    let mut wanted: BTreeMap<&String, Vec<String>> = BTreeMap::new();
    for r in reports.iter().filter(|r| !r.is_final) {
        for name in r
            .switch
            .spindle_undefined
            .iter()
            .chain(&r.switch.wasmtime_undefined)
        {
            if !defined.contains(name) {
                wanted.entry(name).or_default().push(crate::show(&r.path));
            }
        }
    }
    let current = spindle_fiber::SYMBOL_VERSION;
    for (name, paths) in wanted {
        let mut message =
            format!("references `{name}` (undefined here) and no input given defines it");
        let mut next = "fine if the crate that defines it (spindle-fiber / wasmtime) joins the final link; give doctor the final binary to be sure".to_string();
        if spindle_switch_name(name) && !name.contains(&format!("_{current}_")) {
            let _ = write!(
                message,
                "; it names another spindle-fiber version than {current}"
            );
            next = "build everything against one spindle-fiber version (`cargo update -p spindle-fiber`, then `cargo clean` and rebuild)".into();
        } else {
            message.push_str(
                "
  if the final link reports it undefined, see the LTO note below",
            );
            next.push_str("; if the link fails on it, check the LTO mode (`lto = \"off\"` or `\"fat\"` to confirm)");
        }
        let shown = paths.len().min(3);
        let mut path = paths[..shown].join(", ");
        if paths.len() > shown {
            let _ = write!(path, " and {} more", paths.len() - shown);
        }
        findings.push(Finding {
            quiet: false,
            severity: Severity::Warning,
            path,
            message,
            next,
        });
    }
}
