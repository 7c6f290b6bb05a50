//! zig's own linker (`zig cc`, `cargo zigbuild`): bare `error: undefined
//! symbol: SYM` followed by `note: referenced by WHO` lines, `error: invalid
//! cpu architecture: A` followed by `note: while parsing FILE`, and
//! `error: unable to find … library 'foo'`.

use super::super::model::LinkLog;

const ZIG: &str = "zig ld";

pub(super) fn parse(lines: &[&str], log: &mut LinkLog) {
    let mut current: Option<usize> = None;
    let mut bad_arch: Option<&str> = None;
    for line in lines {
        if let Some(note) = line.strip_prefix("note: ") {
            if let Some(by) = note.strip_prefix("referenced by ") {
                log.add_reference(current, by);
            } else if let (Some(arch), Some(file)) = (bad_arch, note.strip_prefix("while parsing "))
            {
                let required = log.target_arch.clone();
                log.add_ignored(file, Some(arch), required.as_deref());
                log.add_linker(ZIG);
            }
            continue;
        }
        current = None;
        bad_arch = None;
        let Some(msg) = line.strip_prefix("error: ") else {
            continue;
        };
        if let Some(sym) = msg.strip_prefix("undefined symbol: ") {
            current = log.add_undefined(sym, None);
            log.add_linker(ZIG);
        } else if let Some(arch) = msg.strip_prefix("invalid cpu architecture: ") {
            bad_arch = Some(arch.trim());
        } else if msg.starts_with("unable to find ")
            && let Some(lib) = msg.split('\'').nth(1)
        {
            log.add_missing_library(lib);
            log.add_linker(ZIG);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_log;

    #[test]
    fn zig_shapes() {
        let log = parse_log(
            "error: undefined symbol: _foo\n    note: referenced by /c/main.o:_main\n\
             error: invalid cpu architecture: aarch64\n    note: while parsing /b/libh.a(h.o)\n\
             error: unable to find dynamic system library 'ssl' using strategy 'paths_first'. searched paths: none\n",
        );
        assert_eq!(log.undefined[0].raw, "_foo");
        assert_eq!(log.undefined[0].referenced_by, ["/c/main.o:_main"]);
        assert_eq!(log.ignored[0].file, "/b/libh.a(h.o)");
        assert_eq!(log.ignored[0].found.as_deref(), Some("aarch64"));
        assert_eq!(log.missing_libraries, ["ssl"]);
    }
}
