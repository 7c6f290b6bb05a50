//! Putting the evidence together: the files to examine, each one's target,
//! and every finding, sorted by severity.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use super::DoctorArgs;
use super::findings::{
    Finding, Severity, arch_findings, cross_reference, lto_next, switch_findings,
};
use super::inputs::{dedupe, is_plugin, walk};
use super::objects::{FileReport, examine};
use super::plugins;
use super::target::{Target, arch_name, infer_target, parse_triple, triple_in_path};
use crate::Failure;

/// Everything `doctor` found, ready to print.
pub(super) struct Diagnosis {
    pub(super) target_lines: Vec<String>,
    pub(super) reports: Vec<FileReport>,
    pub(super) findings: Vec<Finding>,
    pub(super) plugins: Vec<Value>,
    pub(super) lto_hint: bool,
}

pub(super) fn diagnose(args: &DoctorArgs) -> Result<Diagnosis, Failure> {
    let explicit_target = match &args.target {
        Some(t) => {
            let (arch, format) = parse_triple(t).ok_or_else(|| {
                Failure::usage(format!(
                    "unknown target `{t}`; give a triple such as x86_64-apple-darwin, \
                     aarch64-apple-darwin or x86_64-unknown-linux-gnu"
                ))
            })?;
            Some(Target {
                arch,
                format,
                source: format!("--target {t}"),
            })
        }
        None => None,
    };

    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    let mut plugin_paths = Vec::new();
    let mut unreadable = Vec::new();
    for p in &args.paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| Failure::io(format!("cannot read {}: {e}", p.display())))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, 8, &mut found, &mut unreadable).map_err(Failure::io)?;
            files.extend(found.into_iter().map(|f| (f, false)));
        } else if is_plugin(p) {
            plugin_paths.push(p.clone());
        } else {
            files.push((p.clone(), true));
        }
    }
    dedupe(&mut files);

    let mut findings = Vec::new();
    for (path, why) in unreadable {
        findings.push(Finding {
            quiet: false,
            severity: Severity::Warning,
            path: crate::show(&path),
            message: format!("not examined: {why}"),
            next: "give doctor read access to it (or examine its files one by one)".into(),
        });
    }
    let mut reports = Vec::new();
    for (path, explicit) in files {
        match examine(&path, explicit) {
            Ok(Some(r)) => reports.push(r),
            Ok(None) if explicit => findings.push(Finding {
        quiet: false,
                severity: Severity::Error,
                path: crate::show(&path),
                message: "not an object file, archive, executable, shared library or wasm plugin"
                    .into(),
                next: "give doctor build outputs: binaries, .o, .a, .rlib, .wasm/.wat, or a target directory".into(),
            }),
            Ok(None) => {}
            Err(msg) if explicit => return Err(Failure::io(msg)),
            // One file of a walk that cannot be read costs its own findings,
            // not the walk's.
            Err(msg) => findings.push(Finding {
                quiet: false,
                severity: Severity::Warning,
                path: crate::show(&path),
                message: format!("not examined: {msg}"),
                next: String::new(),
            }),
        }
    }

    // The target of each file: --target, the triple in its path, or inferred.
    let untargeted: Vec<&FileReport> = reports
        .iter()
        .filter(|r| triple_in_path(&r.path).is_none())
        .collect();
    let inferred = explicit_target
        .clone()
        .or_else(|| infer_target(&untargeted));
    let mut target_lines = Vec::new();
    if let Some(t) = &inferred
        && (explicit_target.is_some() || !untargeted.is_empty())
    {
        target_lines.push(format!(
            "target architecture: {} (from {})",
            arch_name(t.arch),
            t.source
        ));
    }
    let mut triples: BTreeSet<String> = BTreeSet::new();
    let target_of = |r: &FileReport| -> Option<Target> {
        if explicit_target.is_some() {
            return explicit_target.clone();
        }
        match triple_in_path(&r.path) {
            Some((t, arch, format)) => Some(Target {
                arch,
                format,
                source: format!("the `{t}` directory"),
            }),
            None => inferred.clone(),
        }
    };
    for r in &reports {
        if explicit_target.is_none()
            && let Some((t, _, _)) = triple_in_path(&r.path)
        {
            triples.insert(t);
        }
    }
    for t in triples {
        target_lines.push(format!("target from the path: {t}"));
    }

    for r in &reports {
        if r.switch.proc_macro {
            continue; // runs inside the compiler on the build machine
        }
        if let Some(t) = target_of(r) {
            arch_findings(r, &t, &mut findings);
        }
        switch_findings(r, &mut findings);
    }
    cross_reference(&reports, &mut findings);
    for r in &reports {
        for why in &r.incomplete {
            findings.push(Finding {
                quiet: false,
                severity: Severity::Warning,
                path: crate::show(&r.path),
                message: why.clone(),
                next: "the findings above about it may be incomplete".into(),
            });
        }
    }
    let lto_hint = findings
        .iter()
        .any(|f| f.next == lto_next() || f.message.contains("see the LTO note below"));

    let plugins =
        plugins::examine_plugins(&plugin_paths, args.host_manifest.as_deref(), &mut findings)?;
    findings.sort_by_key(|f| f.severity);
    Ok(Diagnosis {
        target_lines,
        reports,
        findings,
        plugins,
        lto_hint,
    })
}
