//! `spindle doctor --log FILE` and `spindle doctor -- CMD ARGS…`: diagnosis
//! from the linker's own words.
//!
//! One idea per file: `model` (what a log says), `parse` (one parser per
//! linker family), `context` (versions and targets the rest of the log
//! names), `classify` (which known failure it is), `advice` (what to do),
//! `crosscheck` (the log against build outputs given too), `command`
//! (running the build), `report` (printing).

use std::io::Read;
use std::path::Path;

use super::DoctorArgs;
use crate::{EXIT_FAILURE, EXIT_OK, Failure};

mod advice;
mod classify;
mod command;
mod context;
mod crosscheck;
mod model;
mod parse;
mod report;

/// A log larger than this is refused (cargo's output of a large workspace
/// is a few MiB); `doctor -- CMD` keeps the last this many bytes.
pub(super) const MAX_LOG: u64 = 64 << 20;

/// Everything said about one log, ready to print.
struct LogDiagnosis {
    source: String,
    log: model::LinkLog,
    context: context::Context,
    advice: Vec<advice::Advice>,
    cross_check: Vec<String>,
}

fn diagnose(source: String, text: &str, args: &DoctorArgs) -> Result<LogDiagnosis, Failure> {
    let log = parse::parse(text);
    let mut context = context::context(text);
    // --target says what the log may not (zig's and GNU ld's messages
    // name no target).
    if let Some(t) = &args.target {
        context.triple = Some(t.clone());
    }
    let causes = classify::classify(&log, &context);
    let advice = advice::advise(&causes, &log, &context);
    let cross_check = crosscheck::cross_check(&log, &args.paths)?;
    Ok(LogDiagnosis {
        source,
        log,
        context,
        advice,
        cross_check,
    })
}

/// What `doctor --log` concludes from `text`, without printing: each
/// cause's stable kind (`switch-lost-under-lto`, ...) and message.
pub(super) fn causes(text: &str, args: &DoctorArgs) -> Result<Vec<(String, String)>, Failure> {
    let d = diagnose(String::new(), text, args)?;
    Ok(d.advice
        .into_iter()
        .map(|a| (a.kind.to_string(), a.message))
        .collect())
}

/// What the parsers read in `text`, for [`super::read_log_quietly`].
pub(super) fn contents(text: &str) -> super::LogContents {
    let log = parse::parse(text);
    super::LogContents {
        undefined: log.undefined.iter().map(|u| u.raw.clone()).collect(),
        most_references: log
            .undefined
            .iter()
            .map(|u| u.referenced_by.len())
            .max()
            .unwrap_or(0),
        missing_libraries: log.missing_libraries.clone(),
        ignored: log.ignored.iter().map(|i| i.file.clone()).collect(),
        linkers: log.linkers.iter().cloned().collect(),
    }
}

/// `spindle doctor --log FILE`: exit 1 when a link failure was found, 0
/// when the log holds none Spindle recognises.
pub(super) fn from_log(path: &Path, args: &DoctorArgs) -> Result<u8, Failure> {
    let (bytes, source) = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(MAX_LOG + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::io(format!("cannot read the build log from stdin: {e}")))?;
        if bytes.len() as u64 > MAX_LOG {
            return Err(Failure::io(format!(
                "cannot read the build log from stdin: it is over the {MAX_LOG}-byte limit for a build log"
            )));
        }
        (bytes, "stdin".to_string())
    } else {
        let bytes = crate::files::read_regular(path, "build log", MAX_LOG).map_err(Failure::io)?;
        (bytes, crate::show(path))
    };
    let text = String::from_utf8_lossy(&bytes);
    let d = diagnose(source, &text, args)?;
    report::print(&d, args.format, None);
    Ok(if d.log.is_empty() && d.advice.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}

/// `spindle doctor -- CMD ARGS…`: runs it, and when it fails, diagnoses
/// what it printed. Exits with the command's own status either way.
pub(super) fn run_command(cmd: &[std::ffi::OsString], args: &DoctorArgs) -> Result<u8, Failure> {
    let run = command::run(cmd, MAX_LOG as usize)?;
    if run.status == 0 {
        return Ok(0);
    }
    let shown: Vec<String> = cmd
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let text = String::from_utf8_lossy(&run.output);
    let d = diagnose(format!("`{}`", shown.join(" ")), &text, args)?;
    report::print(&d, args.format, Some((&shown, run.status, run.truncated)));
    Ok(run.status)
}
