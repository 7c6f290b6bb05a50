//! MSVC's `link.exe` (and `lld-link` when it imitates it):
//! `FILE : error LNK2019: unresolved external symbol SYM referenced in
//! function F`, `FILE : error LNK2001: unresolved external symbol SYM`,
//! `LINK : fatal error LNK1181: cannot open input file 'foo.lib'`, and the
//! machine-type conflicts LNK1112 (`module machine type 'A' conflicts with
//! target machine type 'B'`) and LNK4272 (`library machine type …`).

use super::super::model::LinkLog;
use super::between;

const LINK: &str = "MSVC link.exe";

pub(super) fn parse(lines: &[&str], log: &mut LinkLog) {
    for line in lines {
        let Some((file, rest)) = line.split_once(" : ") else {
            continue;
        };
        let Some(code_at) = rest.find("LNK") else {
            continue;
        };
        let after = &rest[code_at..];
        let Some((code, msg)) = after.split_once(": ") else {
            continue;
        };
        let file = file.trim();
        match code {
            "LNK2019" | "LNK2001" => {
                let Some(body) = msg.strip_prefix("unresolved external symbol ") else {
                    continue;
                };
                let (sym, by) = match body.split_once(" referenced in function ") {
                    Some((s, f)) => (s, format!("{f} in {file}")),
                    None => (body, file.to_string()),
                };
                // `"void __cdecl foo(void)" (?foo@@YAXXZ)`: the decorated
                // name is the symbol.
                let sym = between(sym, "(", ")")
                    .filter(|_| sym.starts_with('"'))
                    .unwrap_or(sym);
                let idx = log.add_undefined(sym, None);
                log.add_reference(idx, &by);
                log.add_linker(LINK);
            }
            "LNK1181" | "LNK1104" => {
                if let Some(lib) = between(msg, "'", "'") {
                    log.add_missing_library(lib);
                    log.add_linker(LINK);
                }
            }
            "LNK1112" | "LNK4272" => {
                let found = between(msg, "machine type '", "'");
                let required = between(msg, "target machine type '", "'");
                log.add_ignored(file, found, required);
                log.add_linker(LINK);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_log;

    #[test]
    fn link_exe_shapes() {
        let log = parse_log(
            "main.obj : error LNK2019: unresolved external symbol foo_init referenced in function main\n\
             lib.rlib(x.o) : error LNK2001: unresolved external symbol __imp_bar\n\
             LINK : fatal error LNK1181: cannot open input file 'ssl.lib'\n\
             foo.lib(foo.obj) : fatal error LNK1112: module machine type 'ARM64' conflicts with target machine type 'x64'\n\
             main.exe : fatal error LNK1120: 2 unresolved externals\n",
        );
        assert_eq!(log.undefined[0].raw, "foo_init");
        assert_eq!(log.undefined[0].referenced_by, ["main in main.obj"]);
        assert_eq!(log.undefined[1].raw, "__imp_bar");
        assert_eq!(log.missing_libraries, ["ssl.lib"]);
        assert_eq!(log.ignored[0].file, "foo.lib(foo.obj)");
        assert_eq!(log.ignored[0].found.as_deref(), Some("ARM64"));
        assert_eq!(log.ignored[0].required.as_deref(), Some("x64"));
    }
}
