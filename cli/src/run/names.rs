//! Parameter names from a module's `name` section, so that an argument
//! error can say `$count` and not only its position.

/// Names of the parameters of export `export`, from the module's name
/// section (`$a` in WAT, argument names in Rust debug builds), by position.
/// Best effort: a module without names gives none. Entries past `params`
/// (locals, or a crafted index such as 0xFFFFFFFF) are ignored.
pub(super) fn param_names(binary: &[u8], export: &str, params: usize) -> Vec<Option<String>> {
    let mut func = None;
    let mut names = vec![None; params];
    for payload in wasmparser::Parser::new(0).parse_all(binary) {
        match payload {
            Ok(wasmparser::Payload::ExportSection(reader)) => {
                func = reader.into_iter().flatten().find_map(|e| {
                    (e.name == export && e.kind == wasmparser::ExternalKind::Func)
                        .then_some(e.index)
                });
            }
            Ok(wasmparser::Payload::CustomSection(c)) => {
                let (Some(func), wasmparser::KnownCustom::Name(reader)) = (func, c.as_known())
                else {
                    continue;
                };
                for name in reader.into_iter().flatten() {
                    let wasmparser::Name::Local(map) = name else {
                        continue;
                    };
                    for f in map.into_iter().flatten() {
                        if f.index != func {
                            continue;
                        }
                        for n in f.names.into_iter().flatten() {
                            if let Some(slot) = names.get_mut(n.index as usize) {
                                *slot = Some(n.name.to_string());
                            }
                        }
                    }
                }
            }
            Err(_) => break,
            _ => {}
        }
    }
    names
}
