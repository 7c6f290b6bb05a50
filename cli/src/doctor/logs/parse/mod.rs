//! Reading a build log into a [`LinkLog`]: one parser per linker family,
//! each looking only for its own message shapes, all over the same lines.
//!
//! The lines are first made plain: ANSI colours removed, and rustc's
//! `= note: ` framing (the linker's stderr quoted inside rustc's error) and
//! its indentation stripped, so a parser sees the linker's words whether
//! the log is cargo's full output or the linker's alone.

use super::model::LinkLog;

mod gnu;
mod ld64;
mod lld;
mod msvc;
mod zig;

/// Parses a whole log.
pub(in crate::doctor) fn parse(text: &str) -> LinkLog {
    let plain: Vec<String> = text.lines().map(plain_line).collect();
    let lines: Vec<&str> = plain.iter().map(String::as_str).collect();
    let mut log = LinkLog::default();
    ld64::parse(&lines, &mut log);
    lld::parse(&lines, &mut log);
    gnu::parse(&lines, &mut log);
    zig::parse(&lines, &mut log);
    msvc::parse(&lines, &mut log);
    log
}

/// One line without colours, rustc's framing or indentation.
fn plain_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            // A CSI sequence ends at its first byte in @..~.
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    let mut s = out.trim();
    if let Some(rest) = s.strip_prefix("= note:") {
        s = rest.trim_start();
    }
    s.trim_end().to_string()
}

/// `rest` after a `PROGRAM: ` prefix, and the program's file name, when the
/// line starts with a path (no spaces) followed by `: `.
fn after_program(line: &str) -> Option<(&str, &str)> {
    let (program, rest) = line.split_once(": ")?;
    if program.is_empty() || program.contains(' ') {
        return None;
    }
    let name = program.rsplit(['/', '\\']).next().unwrap_or(program);
    Some((name, rest))
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustc_framing_and_colours_are_removed() {
        assert_eq!(
            plain_line("  = note: rust-lld: error: undefined symbol: x"),
            "rust-lld: error: undefined symbol: x"
        );
        assert_eq!(plain_line("\x1b[1m\x1b[31merror\x1b[0m: x"), "error: x");
        assert_eq!(
            after_program("/usr/bin/x86_64-w64-mingw32-ld: cannot find -lz"),
            Some(("x86_64-w64-mingw32-ld", "cannot find -lz"))
        );
        assert_eq!(
            after_program("note: referenced by x"),
            Some(("note", "referenced by x"))
        );
        assert_eq!(between("a 'b' c", "'", "'"), Some("b"));
    }

    #[test]
    fn text_that_is_no_link_log_yields_nothing() {
        let log =
            parse("   Compiling foo v0.1.0\nerror[E0425]: cannot find value `x`\n\u{0}\u{ffff}");
        assert!(log.is_empty(), "{log:?}");
        assert!(log.linkers.is_empty());
    }
}
