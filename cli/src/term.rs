//! Writing to the terminal: stdout and stderr writes that cannot panic, and
//! escaping of text a plugin (or a file) chose.
//!
//! `println!`/`eprintln!` panic when their stream is closed or a pipe's
//! reader went away (exit 101). Here a failed stderr write is dropped (it is
//! the diagnostics channel: there is nowhere left to report to), and a
//! failed stdout write ends the process with [`crate::EXIT_IO`] after one
//! best-effort line on stderr, since the output a caller asked for is lost.

use std::fmt;
use std::io::{self, IsTerminal, Write};

/// `println!` that cannot panic: see the module comment.
macro_rules! outln {
    ($($t:tt)*) => { $crate::term::stdout_line(format_args!($($t)*)) };
}

/// `eprintln!` that cannot panic.
macro_rules! errln {
    ($($t:tt)*) => { $crate::term::stderr_line(format_args!($($t)*)) };
}

/// One line on stdout; on failure, exits with [`crate::EXIT_IO`].
pub fn stdout_line(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        drop(out);
        // A reader that stopped reading (`spindle doctor | head`) is not
        // worth a message; anything else is.
        if e.kind() != io::ErrorKind::BrokenPipe {
            stderr_line(format_args!("error: cannot write to stdout: {e}"));
        }
        std::process::exit(i32::from(crate::EXIT_IO));
    }
}

/// One line on stderr; a failed write is dropped.
pub fn stderr_line(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// Characters that must not reach a terminal raw from text someone else
/// chose: C0 and C1 controls and DEL (escape sequences, `\r` rewriting a
/// line, `\x08` erasing), and the bidirectional overrides and isolates that
/// reorder what is shown (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            use fmt::Write as _;
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => out.extend(c.escape_unicode()),
    }
}

/// `text` on one line with every control character escaped (`\x1b`, `\r`,
/// `\n`, `\u{9b}`, ...): for names and log text a plugin chose.
pub fn untrusted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes `bytes` a plugin chose for a terminal, as it goes: every control
/// character escaped but `\n` (and `\t` when `keep_tabs`), invalid UTF-8
/// as U+FFFD. Streams in pieces of at most [`ESCAPE_CHUNK`] bytes, so the
/// memory used does not grow with the output (escaping can make text five
/// times longer). Returns the last character written, if any.
pub fn write_escaped(
    out: &mut impl Write,
    bytes: &[u8],
    keep_tabs: bool,
) -> io::Result<Option<char>> {
    let mut buf = String::with_capacity(ESCAPE_CHUNK + 16);
    let mut last = None;
    let mut put = |buf: &mut String, c: char| -> io::Result<()> {
        if c == '\n' || (keep_tabs && c == '\t') || !needs_escape(c) {
            buf.push(c);
        } else {
            push_escaped(buf, c);
        }
        if buf.len() >= ESCAPE_CHUNK {
            out.write_all(buf.as_bytes())?;
            buf.clear();
        }
        Ok(())
    };
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            put(&mut buf, c)?;
            last = Some(c);
        }
        if !chunk.invalid().is_empty() {
            put(&mut buf, char::REPLACEMENT_CHARACTER)?;
            last = Some(char::REPLACEMENT_CHARACTER);
        }
    }
    out.write_all(buf.as_bytes())?;
    Ok(last)
}

/// The most escaped text [`write_escaped`] holds before writing it.
pub const ESCAPE_CHUNK: usize = 16 << 10;

/// Where `spindle run` sends a WASI plugin's stdout or stderr: the bytes as
/// they are into a pipe or file; on a terminal, with every control
/// character but `\n` and `\t` escaped, as for the plugin's log lines. A
/// failed write (a closed pipe) is dropped: the plugin goes on, as it would
/// writing to a closed descriptor, and a closed stdout fails the CLI's own
/// result line after.
pub fn passthrough(stderr: bool) -> impl Fn(&[u8]) + Send + Sync + 'static {
    let terminal = if stderr {
        io::stderr().is_terminal()
    } else {
        io::stdout().is_terminal()
    };
    move |bytes: &[u8]| {
        let _ = match (stderr, terminal) {
            (true, true) => write_escaped(&mut io::stderr().lock(), bytes, true).map(drop),
            (true, false) => io::stderr().lock().write_all(bytes),
            (false, true) => {
                let mut out = io::stdout().lock();
                write_escaped(&mut out, bytes, true).and_then(|_| out.flush())
            }
            (false, false) => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
        };
    }
}

/// A multi-line message that may embed text a plugin chose (the runtime's
/// trap and link reports name its functions and imports): every control
/// character but `\n` escaped, and every line after the first that starts
/// at column 0 indented by two spaces, so no embedded name can forge a
/// line of its own that looks like the CLI's (`error: ...`, `ok: ...`).
pub fn message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if line.starts_with(|c: char| !c.is_whitespace()) {
                out.push_str("  ");
            }
        }
        for c in line.chars() {
            if needs_escape(c) {
                push_escaped(&mut out, c);
            } else {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_keeps_to_one_inert_line() {
        assert_eq!(
            untrusted("\x1b]0;owned\x07\x1b[2K\rerror: x\n"),
            "\\x1b]0;owned\\x07\\x1b[2K\\rerror: x\\n"
        );
        assert_eq!(
            untrusted("a\u{9b}b\u{202e}c\x7f"),
            "a\\u{9b}b\\u{202e}c\\x7f"
        );
        assert_eq!(untrusted("plain text, ünïcode"), "plain text, ünïcode");
    }

    #[test]
    fn escaping_streams_in_bounded_pieces() {
        struct Writes(Vec<usize>, Vec<u8>);
        impl Write for Writes {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.push(b.len());
                self.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Writes(Vec::new(), Vec::new());
        let last = write_escaped(&mut w, b"a\tb\n\x1b[2K\xffz", false).unwrap();
        assert_eq!(String::from_utf8(w.1).unwrap(), "a\\tb\n\\x1b[2K\u{fffd}z");
        assert_eq!(last, Some('z'));
        let mut w = Writes(Vec::new(), Vec::new());
        write_escaped(&mut w, b"x\ty", true).unwrap();
        assert_eq!(w.1, b"x\ty");
        // 1 MiB of NUL escapes to 4 MiB, written in pieces of about
        // ESCAPE_CHUNK: nothing the size of the whole is ever held.
        let mut w = Writes(Vec::new(), Vec::new());
        write_escaped(&mut w, &vec![0u8; 1 << 20], false).unwrap();
        assert_eq!(w.1.len(), 4 << 20);
        assert!(
            w.0.iter().all(|&n| n < ESCAPE_CHUNK + 16),
            "{:?}",
            w.0.iter().max()
        );
    }

    #[test]
    fn messages_keep_their_lines_but_not_forged_ones() {
        assert_eq!(message("a\n  b\nc"), "a\n  b\n  c");
        assert_eq!(message("x\r\x1b[2Kerror: y"), "x\\r\\x1b[2Kerror: y");
        assert_eq!(message("trap\nerror: fake"), "trap\n  error: fake");
    }
}
