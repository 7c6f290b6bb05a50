//! LLVM's lld in its four flavours, as `ld.lld`, `ld64.lld`, `lld-link`,
//! `wasm-ld` or rustc's `rust-lld`: `PROG: error: [FILE: ]undefined symbol:
//! SYM` followed by `>>> referenced by …` lines (a second `>>>` line
//! continues the first); architecture refusals (`F has architecture A which
//! is incompatible with target architecture B` for Mach-O, `F is
//! incompatible with elf_x86_64` for ELF, `F: machine type A conflicts with
//! B` for COFF); missing libraries (`unable to find library -lfoo`,
//! `library not found for -lfoo`, `could not open 'foo.lib'`).

use super::super::model::LinkLog;
use super::after_program;

/// Whether `program` is one of lld's names.
fn is_lld(program: &str) -> bool {
    let p = program.strip_suffix(".exe").unwrap_or(program);
    p.ends_with("lld") || p.ends_with("lld-link") || p.ends_with("wasm-ld")
}

/// The flavour: from the program's name, else `from_log` (rustc runs every
/// flavour as `rust-lld -flavor …`).
fn flavour(program: &str, from_log: &'static str) -> &'static str {
    let p = program.strip_suffix(".exe").unwrap_or(program);
    if p.ends_with("wasm-ld") {
        return "wasm";
    }
    if p.ends_with("ld64.lld") {
        return "Mach-O";
    }
    if p.ends_with("lld-link") {
        return "COFF";
    }
    if p.ends_with("ld.lld") {
        return "ELF";
    }
    from_log
}

/// The flavour the rest of the log points to; read once per log, not once
/// per line.
fn flavour_of_log(lines: &[&str]) -> &'static str {
    let any = |needle: &str| lines.iter().any(|l| l.contains(needle));
    if any("\"-flavor\" \"wasm\"") || any("-flavor wasm") || any("wasm32-") || any("wasm64-") {
        "wasm"
    } else if any("\"-flavor\" \"darwin\"")
        || any("-flavor darwin")
        || any(":(symbol ")
        || any("which is incompatible with target architecture")
    {
        "Mach-O"
    } else if any("\"-flavor\" \"link\"")
        || any("-flavor link")
        || any(".obj:(")
        || any(": machine type ")
    {
        "COFF"
    } else {
        "ELF"
    }
}

pub(super) fn parse(lines: &[&str], log: &mut LinkLog) {
    let mut current: Option<usize> = None;
    let mut pending: Option<String> = None;
    let mut from_log: Option<&'static str> = None;
    for line in lines {
        if let Some(more) = line.strip_prefix(">>>") {
            let more = more.trim();
            if let Some(by) = more.strip_prefix("referenced by ") {
                if let Some(p) = pending.take() {
                    log.add_reference(current, &p);
                }
                pending = Some(by.to_string());
            } else if more.starts_with("referenced ") && more.ends_with(" more times") {
                // `>>> referenced 3 more times`: nothing to name.
            } else if let Some(p) = pending.as_mut() {
                p.push(' ');
                p.push_str(more);
            }
            continue;
        }
        if let Some(p) = pending.take() {
            log.add_reference(current, &p);
        }
        let Some((program, rest)) = after_program(line) else {
            current = None;
            continue;
        };
        if !is_lld(program) {
            current = None;
            continue;
        }
        let (is_error, msg) = if let Some(m) = rest.strip_prefix("error: ") {
            (true, m)
        } else if let Some(m) = rest.strip_prefix("warning: ") {
            (false, m)
        } else {
            continue;
        };
        let from_log = *from_log.get_or_insert_with(|| flavour_of_log(lines));
        let name = format!("lld ({})", flavour(program, from_log));
        current = None;
        if let Some((file, sym)) = msg.rsplit_once("undefined symbol: ") {
            let file = file.trim().trim_end_matches(':');
            current = log.add_undefined(sym, (!file.is_empty()).then_some(file));
            log.add_linker(&name);
        } else if let Some((file, rest)) = msg.split_once(" has architecture ") {
            let (found, required) =
                match rest.split_once(" which is incompatible with target architecture ") {
                    Some((f, r)) => (Some(f), Some(r)),
                    None => (None, None),
                };
            log.add_ignored(file, found, required);
            log.add_linker(&name);
        } else if let Some((file, rest)) = msg.split_once(": machine type ") {
            let (found, required) = match rest.split_once(" conflicts with ") {
                Some((f, r)) => (Some(f), Some(r)),
                None => (None, None),
            };
            log.add_ignored(file, found, required);
            log.add_linker(&name);
        } else if let Some((file, required)) = msg.split_once(" is incompatible with ") {
            if is_error || !required.contains('/') {
                log.add_ignored(file, None, Some(required));
                log.add_linker(&name);
            }
        } else if let Some(lib) = msg
            .strip_prefix("unable to find library -l")
            .or_else(|| msg.strip_prefix("library not found for -l"))
        {
            log.add_missing_library(lib);
            log.add_linker(&name);
        } else if let Some(lib) = msg
            .strip_prefix("could not open '")
            .and_then(|m| m.split_once('\''))
            .map(|(l, _)| l)
        {
            log.add_missing_library(lib);
            log.add_linker(&name);
        }
    }
    if let Some(p) = pending.take() {
        log.add_reference(current, &p);
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_log;

    #[test]
    fn elf_undefined_with_two_line_reference() {
        let log = parse_log(
            "ld.lld: error: undefined symbol: foo\n>>> referenced by main.c\n>>>               main.o:(main)\n>>> referenced 2 more times\n",
        );
        assert_eq!(log.undefined[0].raw, "foo");
        assert_eq!(log.undefined[0].referenced_by, ["main.c main.o:(main)"]);
        assert!(log.linkers.contains("lld (ELF)"));
    }

    #[test]
    fn wasm_undefined_names_its_file() {
        let log = parse_log(
            "  = note: rust-lld: error: p.p.1234-cgu.0.rcgu.o: undefined symbol: host_log\n",
        );
        assert_eq!(log.undefined[0].raw, "host_log");
        assert_eq!(
            log.undefined[0].file.as_deref(),
            Some("p.p.1234-cgu.0.rcgu.o")
        );
        // Nothing else in this line tells the flavour; ELF is the default.
        assert!(log.linkers.contains("lld (ELF)"), "{:?}", log.linkers);
        let log = parse_log("wasm-ld: error: a.o: undefined symbol: host_log\n");
        assert!(log.linkers.contains("lld (wasm)"));
    }

    #[test]
    fn architecture_refusals_in_three_formats() {
        let log = parse_log(
            "ld64.lld: warning: libfoo.a has architecture arm64 which is incompatible with target architecture x86_64\n\
             ld.lld: error: arm.o is incompatible with elf_x86_64\n\
             lld-link: error: foo.lib(foo.obj): machine type arm64 conflicts with x64\n\
             lld-link: error: could not open 'ssl.lib': no such file or directory\n\
             ld.lld: error: unable to find library -lz\n",
        );
        let got: Vec<_> = log
            .ignored
            .iter()
            .map(|i| (i.file.as_str(), i.found.as_deref(), i.required.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("libfoo.a", Some("arm64"), Some("x86_64")),
                ("arm.o", None, Some("elf_x86_64")),
                ("foo.lib(foo.obj)", Some("arm64"), Some("x64")),
            ]
        );
        assert_eq!(log.missing_libraries, ["ssl.lib", "z"]);
    }
}
