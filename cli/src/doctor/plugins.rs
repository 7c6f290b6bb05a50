//! Wasm evidence: a plugin given to doctor is checked like `spindle check`
//! against the built-in host or a host manifest.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::findings::{Finding, Severity};
use crate::Failure;
use crate::check::{self, Outcome};

/// Checks each plugin, adds one finding per plugin and returns their JSON
/// reports (the `plugins` array of `--format json`).
pub(super) fn examine_plugins(
    paths: &[PathBuf],
    host_manifest: Option<&Path>,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Value>, Failure> {
    let mut plugins = Vec::new();
    if !paths.is_empty() {
        let (spec, host) = check::host_for(host_manifest)?;
        for p in paths {
            let outcome = check::check_plugin(p, &spec)?;
            plugins.push(check::to_json(p, &host, &outcome));
            let (severity, message, next) = match &outcome {
                Outcome::Clean => (
                    Severity::Note,
                    format!("wasm plugin: imports and exports fit the {host} host"),
                    String::new(),
                ),
                Outcome::Problems(report) => (
                    Severity::Error,
                    report.to_string(),
                    "fix the imports listed (details: `spindle check`)".into(),
                ),
                Outcome::Invalid(msg) => (
                    Severity::Error,
                    msg.clone(),
                    "rebuild the plugin as a core wasm module".into(),
                ),
            };
            findings.push(Finding {
                quiet: false,
                severity,
                path: crate::show(p),
                message,
                next,
            });
        }
    }
    Ok(plugins)
}
