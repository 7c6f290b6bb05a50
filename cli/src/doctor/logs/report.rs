//! Printing a log diagnosis: text for people, one JSON document for tools.

use serde_json::{Value, json};

use super::LogDiagnosis;
use crate::Format;
use crate::term::message;

/// The linkers Spindle reads, for the "not recognised" line.
const KNOWN: &str =
    "ld64 (old and new), lld (ELF, Mach-O, COFF, wasm), GNU ld, gold, zig's linker, MSVC link.exe";

/// Multi-line advice (a code block) indented under its `next:`.
fn indent(text: &str) -> String {
    text.replace('\n', "\n    ")
}

/// `command`: what ran, its exit status, and whether its output was cut.
pub(super) fn print(d: &LogDiagnosis, format: Format, command: Option<(&[String], u8, bool)>) {
    let errors = d.advice.len();
    match format {
        Format::Json => {
            let undefined: Vec<Value> = d
                .log
                .undefined
                .iter()
                .map(|u| {
                    json!({
                        "symbol": u.name,
                        "raw": u.raw,
                        "referenced_by": u.referenced_by,
                        "file": u.file,
                    })
                })
                .collect();
            let ignored: Vec<Value> = d
                .log
                .ignored
                .iter()
                .map(|i| json!({"file": i.file, "found": i.found, "required": i.required}))
                .collect();
            let diagnoses: Vec<Value> = d
                .advice
                .iter()
                .map(|a| json!({"kind": a.kind, "message": a.message, "next": a.next}))
                .collect();
            let mut doc = json!({
                "log": d.source,
                "recognised": !d.log.is_empty() || !d.advice.is_empty(),
                "linkers": d.log.linkers,
                "target_architecture": d.log.target_arch,
                "context": {
                    "triple": d.context.triple,
                    "wasmtime": d.context.wasmtime,
                    "rustc": d.context.rustc,
                    "lto": d.context.lto,
                },
                "undefined": undefined,
                "undefined_not_kept": d.log.symbols_dropped,
                "ignored": ignored,
                "missing_libraries": d.log.missing_libraries,
                "diagnoses": diagnoses,
                "cross_check": d.cross_check,
                "errors": errors,
            });
            if let Some((cmd, status, truncated)) = command {
                doc["command"] = json!(cmd);
                doc["exit_status"] = json!(status);
                doc["output_truncated"] = json!(truncated);
            }
            outln!("{doc:#}");
        }
        Format::Text => {
            outln!("");
            if let Some((_, status, truncated)) = command {
                outln!(
                    "{}",
                    message(&format!(
                        "spindle doctor: {} failed with exit status {status}",
                        d.source
                    ))
                );
                if truncated {
                    outln!(
                        "  (only its last {} MiB of output were kept)",
                        super::MAX_LOG >> 20
                    );
                }
            }
            if d.log.is_empty() && d.advice.is_empty() {
                outln!(
                    "{}",
                    message(&format!(
                        "not recognised: {} shows no link failure Spindle knows (it reads {KNOWN})",
                        d.source
                    ))
                );
                return;
            }
            let mut head = format!("log: {}", d.source);
            if !d.log.linkers.is_empty() {
                head.push_str("; linker: ");
                head.push_str(&d.log.linkers.iter().cloned().collect::<Vec<_>>().join(", "));
            }
            if let Some(a) = &d.log.target_arch {
                head.push_str(&format!("; linking for {a}"));
            }
            outln!("{}", message(&head));
            for a in &d.advice {
                outln!("{}", message(&format!("error: {}", a.message)));
                for n in &a.next {
                    outln!("  next: {}", message(&indent(n)));
                }
            }
            for c in &d.cross_check {
                outln!("{}", message(&format!("cross-check: {c}")));
            }
            for u in &d.log.undefined {
                let by = if u.referenced_by.is_empty() {
                    String::new()
                } else {
                    format!(", referenced by {}", u.referenced_by.join("; "))
                };
                outln!("{}", message(&format!("  undefined: {}{by}", u.name)));
            }
            if d.log.symbols_dropped > 0 {
                outln!("  ... and {} more undefined symbols", d.log.symbols_dropped);
            }
            outln!(
                "\n{errors} problem{} diagnosed",
                if errors == 1 { "" } else { "s" }
            );
        }
    }
}
