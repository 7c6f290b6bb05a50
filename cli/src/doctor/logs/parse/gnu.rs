//! GNU ld (BFD, including mingw's PE/COFF `x86_64-w64-mingw32-ld`) and
//! gold. ld: `PROG: FILE: in function `F':` then ``LOC: undefined reference
//! to `SYM'`` (or both on one line), `PROG: cannot find -lfoo`, `PROG:
//! skipping incompatible F when searching for -lfoo`, `F: Relocations in
//! generic ELF (EM: N)` and `… architecture of input file `F' is
//! incompatible with … output`. gold: `FILE:SRC:function F: error:
//! undefined reference to 'SYM'`.

use super::super::model::LinkLog;
use super::{after_program, between};

/// Whether `program` is BFD ld or gold under one of its names.
fn is_gnu(program: &str) -> Option<&'static str> {
    let p = program.strip_suffix(".exe").unwrap_or(program);
    if p.ends_with("ld.gold") || p == "gold" {
        Some("gold")
    } else if p.contains("mingw32") && (p.ends_with("-ld") || p.ends_with("ld.bfd")) {
        Some("GNU ld (mingw, PE/COFF)")
    } else if p == "ld" || p.ends_with("-ld") || p.ends_with("ld.bfd") {
        Some("GNU ld")
    } else {
        None
    }
}

/// ELF `e_machine` numbers ld quotes in "Relocations in generic ELF".
fn elf_machine(n: &str) -> String {
    match n.trim() {
        "3" => "i386".into(),
        "40" => "arm".into(),
        "62" => "x86_64".into(),
        "183" => "aarch64".into(),
        "243" => "riscv".into(),
        other => format!("ELF machine {other}"),
    }
}

pub(super) fn parse(lines: &[&str], log: &mut LinkLog) {
    let mut in_function: Option<String> = None;
    let mut ld_name: &'static str = "GNU ld";
    for line in lines {
        let (program, rest) = match after_program(line) {
            Some((p, r)) => match is_gnu(p) {
                Some(name) => {
                    ld_name = name;
                    (Some(name), r)
                }
                None => (None, *line),
            },
            None => (None, *line),
        };
        // gold's undefined reference, with its own single quotes.
        if let Some((loc, sym)) = rest.split_once(": error: undefined reference to '") {
            let idx = log.add_undefined(sym.trim_end_matches('\''), None);
            log.add_reference(idx, loc);
            log.add_linker("gold");
            continue;
        }
        if let Some((loc, sym)) = rest
            .split_once(": undefined reference to `")
            .or_else(|| rest.split_once(": undefined reference to '"))
        {
            let idx = log.add_undefined(sym.trim_end_matches(['\'', '`']), None);
            // A `PROG:` line names its own file; a bare one continues the
            // `in function` line before it.
            match (&in_function, program) {
                (Some(f), None) => log.add_reference(idx, &format!("{f} ({loc})")),
                _ => log.add_reference(idx, loc),
            }
            log.add_linker(program.unwrap_or(ld_name));
            continue;
        }
        let Some(name) = program else {
            in_function = None;
            continue;
        };
        let msg = rest.strip_prefix("error: ").unwrap_or(rest);
        if let Some((file, f)) = msg.split_once(": in function `") {
            in_function = Some(format!("{} in {file}", f.trim_end_matches("':")));
        } else if let Some(lib) = msg.strip_prefix("cannot find -l") {
            log.add_missing_library(lib.split(": ").next().unwrap_or(lib));
            log.add_linker(name);
        } else if let Some(rest) = msg.strip_prefix("skipping incompatible ") {
            let file = rest.split(" when searching for ").next().unwrap_or(rest);
            log.add_ignored(file, None, None);
            log.add_linker(name);
        } else if let Some((file, em)) = msg.split_once(": Relocations in generic ELF (EM: ") {
            let found = elf_machine(em.trim_end_matches(')'));
            log.add_ignored(file, Some(&found), None);
            log.add_linker(name);
        } else if let Some((found, rest)) = msg.split_once(" architecture of input file `") {
            let file = rest.split('\'').next().unwrap_or(rest);
            let required = between(rest, "is incompatible with ", " output");
            log.add_ignored(file, Some(found), required);
            log.add_linker(name);
        } else {
            in_function = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_log;

    #[test]
    fn ld_two_line_and_one_line_undefined() {
        let log = parse_log(
            "/usr/bin/ld: main.o: in function `main':\nmain.c:(.text+0xa): undefined reference to `foo'\n\
             /usr/bin/x86_64-w64-mingw32-ld: a.o:a.c:(.text+0x13): undefined reference to `bar'\n",
        );
        assert_eq!(log.undefined[0].raw, "foo");
        assert_eq!(
            log.undefined[0].referenced_by,
            ["main in main.o (main.c:(.text+0xa))"]
        );
        assert_eq!(log.undefined[1].raw, "bar");
        assert_eq!(log.undefined[1].referenced_by, ["a.o:a.c:(.text+0x13)"]);
        assert!(log.linkers.contains("GNU ld (mingw, PE/COFF)"));
    }

    #[test]
    fn gold_and_architecture_shapes() {
        let log = parse_log(
            "/tmp/x.o:main.c:function main: error: undefined reference to 'foo'\n\
             /usr/bin/ld: arm.o: Relocations in generic ELF (EM: 183)\n\
             /usr/bin/ld: i386:x86-64 architecture of input file `x.o' is incompatible with aarch64 output\n\
             /usr/bin/ld.gold: error: cannot find -lssl\n",
        );
        assert_eq!(
            log.undefined[0].referenced_by,
            ["/tmp/x.o:main.c:function main"]
        );
        assert_eq!(log.ignored[0].found.as_deref(), Some("aarch64"));
        assert_eq!(log.ignored[1].file, "x.o");
        assert_eq!(log.ignored[1].required.as_deref(), Some("aarch64"));
        assert_eq!(log.missing_libraries, ["ssl"]);
        assert!(log.linkers.contains("gold"));
    }
}
