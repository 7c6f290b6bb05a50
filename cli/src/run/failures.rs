//! What becomes of a runtime error in `spindle run`: its exit code (the
//! plugin's own for `proc_exit`, 3 for an unreadable file, 1 otherwise) and
//! its message, with a hint naming the flag that raises a limit hit.

use spindle_runtime::ErrorKind;

use crate::Failure;

/// A WASI exit code as a process exit code.
pub(super) fn exit_status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or_else(|_| {
        errln!("note: the plugin's exit code {code} is outside 0..=255; exiting with 1");
        1
    })
}

/// Load errors: unreadable file (3), or a plugin that does not load (1).
pub fn load_failure(e: spindle_runtime::Error) -> Failure {
    match e.kind() {
        ErrorKind::Io { .. } => Failure::io(e.report().to_string()),
        ErrorKind::Link(_) => Failure::plugin(format!(
            "{}\n(`spindle host-functions` lists what `spindle run` provides)",
            e.report()
        )),
        _ => Failure::plugin(e.report().to_string()),
    }
}

/// [`call_failure`] for a call whose result spindle prints: a
/// `proc_exit(0)` before the result came is a failure (exit 1), since a
/// caller checking only the exit code would take the missing output for
/// an empty one. A non-zero exit code is still the plugin's.
pub(super) fn result_missing(plugin: &str, what: &str, e: spindle_runtime::Error) -> Failure {
    if let ErrorKind::Exit { code: 0 } = e.kind() {
        return Failure::plugin(format!(
            "`{plugin}`: {what}: {} before returning its result; nothing was printed",
            e.report()
        ));
    }
    call_failure(plugin, what, e)
}

pub(super) fn call_failure(plugin: &str, what: &str, e: spindle_runtime::Error) -> Failure {
    if let ErrorKind::Exit { code } = e.kind() {
        // The plugin chose to end: its code is spindle's, with a note.
        return Failure {
            code: exit_status(*code),
            message: format!("`{plugin}`: {what}: {}", e.report()),
        };
    }
    let hint = match e.kind() {
        ErrorKind::OutOfFuel { .. } => "\nhint: raise --fuel, or look for a loop that does not end",
        ErrorKind::DeadlineExceeded { .. } => {
            "\nhint: raise --timeout, or look for a loop that does not end"
        }
        ErrorKind::MemoryLimit { .. } => "\nhint: raise --max-memory",
        ErrorKind::TableLimit { .. } => "\nhint: raise --max-table",
        ErrorKind::OutputLimit { .. } => "\nhint: raise --max-output",
        ErrorKind::WasiDir { .. } => "\nhint: check the --dir flags",
        _ => "",
    };
    Failure::plugin(format!("`{plugin}`: {what}: {}{hint}", e.report()))
}
