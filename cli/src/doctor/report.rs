//! Printing a diagnosis: text for people, one JSON document for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::diagnose::Diagnosis;
use super::findings::{LTO_HINT, Severity};
use super::objects::FileReport;
use super::target::{arch_name, format_name};
use crate::Format;
use crate::term::message;

/// One line about a file: its kind, format and architectures.
fn summary_of(r: &FileReport) -> String {
    let mut by_arch: BTreeMap<String, usize> = BTreeMap::new();
    for o in &r.objects {
        *by_arch.entry(arch_name(o.arch)).or_default() += 1;
    }
    let archs: Vec<String> = by_arch
        .iter()
        .map(|(a, n)| {
            if r.objects.len() > 1 && !r.universal {
                format!("{a} ×{n}")
            } else {
                a.clone()
            }
        })
        .collect();
    let fmt = r
        .objects
        .first()
        .map(|o| format_name(o.format))
        .unwrap_or("?");
    let mut s = format!("{} ({fmt}), {}", r.kind, archs.join(", "));
    if r.bitcode_members > 0 {
        let _ = write!(
            s,
            ", {} LLVM bitcode members (not checked)",
            r.bitcode_members
        );
    }
    if r.switch.proc_macro {
        s.push_str(", proc macro (runs in the compiler; not checked)");
    }
    s
}

/// Prints `d` on stdout; returns the number of errors found.
pub(super) fn print(d: &Diagnosis, format: Format, verbose: bool) -> usize {
    let errors = d
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = d
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    match format {
        Format::Json => {
            let files: Vec<Value> = d
                .reports
                .iter()
                .map(|r| {
                    let mut by_arch: BTreeMap<String, usize> = BTreeMap::new();
                    for o in &r.objects {
                        *by_arch.entry(arch_name(o.arch)).or_default() += 1;
                    }
                    json!({
                        "path": crate::show(&r.path),
                        "kind": r.kind,
                        "final": r.is_final,
                        "universal": r.universal,
                        "proc_macro": r.switch.proc_macro,
                        "architectures": by_arch,
                        "objects": r.objects.len(),
                        "bitcode_members": r.bitcode_members,
                        "symbols_seen": r.switch.symbols_seen,
                        "incomplete": r.incomplete,
                        "spindle_switch": {
                            "defined": r.switch.spindle_defined,
                            "undefined": r.switch.spindle_undefined,
                        },
                        "wasmtime_switch": {
                            "defined": r.switch.wasmtime_defined,
                            "undefined": r.switch.wasmtime_undefined,
                        },
                    })
                })
                .collect();
            let findings: Vec<Value> = d
                .findings
                .iter()
                .map(|f| {
                    json!({
                        "severity": f.severity.label(),
                        "path": f.path,
                        "message": f.message,
                        "next": f.next,
                    })
                })
                .collect();
            let doc = json!({
                "target": d.target_lines,
                "files": files,
                "plugins": d.plugins,
                "findings": findings,
                "errors": errors,
                "warnings": warnings,
                "lto_hint": if d.lto_hint { Some(LTO_HINT) } else { None },
            });
            outln!("{doc:#}");
        }
        Format::Text => {
            for l in &d.target_lines {
                outln!("{}", message(l));
            }
            for r in &d.reports {
                if r.explicit || verbose {
                    outln!(
                        "{}",
                        message(&format!("{}: {}", crate::show(&r.path), summary_of(r)))
                    );
                }
            }
            for f in &d.findings {
                if f.quiet && f.severity == Severity::Note && !verbose {
                    continue;
                }
                // Paths, member and symbol names come from the files examined.
                outln!(
                    "{}",
                    message(&format!(
                        "{}: {}: {}",
                        f.severity.label(),
                        f.path,
                        f.message
                    ))
                );
                if !f.next.is_empty() {
                    outln!("  next: {}", message(&f.next));
                }
            }
            if d.lto_hint {
                outln!("\n{LTO_HINT}");
            }
            outln!(
                "\nexamined {} file{} and {} plugin{}: {errors} error{}, {warnings} warning{}",
                d.reports.len(),
                if d.reports.len() == 1 { "" } else { "s" },
                d.plugins.len(),
                if d.plugins.len() == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" },
            );
        }
    }
    errors
}
