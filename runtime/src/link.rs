//! Load-time check of a plugin's imports and exports against the host.
//!
//! wasmtime's linker stops at the first unresolved import and does not say
//! what it expected. Plugin authors fix problems faster when they see all of
//! them at once, with signatures and "did you mean" hints, so spindle checks
//! every import and required export before asking wasmtime to link.

use std::collections::BTreeMap;
use std::fmt;

use wasmtime::{ExternType, Module};

use crate::types::{Signature, extern_wat};

/// The import module of WASI preview 1.
pub(crate) const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Every function of `wasi_snapshot_preview1`, as the witx of the snapshot
/// names them; an import of any other name from that module is a typo or a
/// different WASI version, and the import report says which.
pub(crate) const WASI_FUNCTIONS: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

/// One thing wrong between a plugin and the host it is loaded into.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum LinkProblem {
    /// The plugin imports something the host does not define.
    MissingImport {
        /// Import module, e.g. `"env"`.
        module: String,
        /// Import name.
        name: String,
        /// The imported item's type in WAT, e.g. `(func (param i32))`.
        expected: String,
        /// Host functions with similar names (possibly in other modules), nearest first.
        suggestions: Vec<(String, String, Signature)>,
    },
    /// The host defines the import, but with a different type.
    ImportType {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// What the plugin imports, in WAT.
        plugin_wants: String,
        /// What the host provides, in WAT.
        host_has: Signature,
    },
    /// The plugin imports WASI preview 1 functions, and the host does not
    /// provide WASI. One problem lists them all.
    WasiNotEnabled {
        /// The WASI functions imported, in import order.
        names: Vec<String>,
        /// Whether this spindle-runtime was built with its `wasi` feature
        /// (without it, the builder call does not exist).
        feature: bool,
    },
    /// The plugin imports a function from `wasi_snapshot_preview1` that
    /// WASI preview 1 does not have (a typo, or another WASI version).
    UnknownWasiFunction {
        /// The import name.
        name: String,
        /// The imported item's type in WAT.
        expected: String,
        /// WASI preview 1 functions with similar names, nearest first.
        suggestions: Vec<String>,
    },
    /// The host requires an export the plugin does not have.
    MissingExport {
        /// Export name.
        name: String,
        /// The signature the host requires.
        expected: Signature,
        /// Function exports with similar names, nearest first.
        suggestions: Vec<String>,
    },
    /// The plugin has the required export, with a different type.
    ExportType {
        /// Export name.
        name: String,
        /// What the host requires.
        expected: Signature,
        /// What the plugin exports, in WAT.
        found: String,
    },
}

/// All import/export problems of a plugin, found at load time.
#[derive(Clone, Debug)]
pub struct LinkError {
    plugin: String,
    problems: Vec<LinkProblem>,
    env_hint: bool,
}

impl LinkError {
    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Every problem found, in import order, then required-export order.
    pub fn problems(&self) -> &[LinkProblem] {
        &self.problems
    }

    /// Whether the report carries the hint about undeclared `env` imports
    /// from Rust plugins.
    pub fn has_env_hint(&self) -> bool {
        self.env_hint
    }
}

const ENV_HINT: &str = "\
hint: the plugin imports from \"env\" something this host does not define. A Rust plugin gets
      such imports from an `extern \"C\"` block with no import module: Rust up to 1.95 links it
      with `--allow-undefined` and turns every such function into an \"env\" import, and Rust 1.96
      and later stop passing that flag, so the build fails with `undefined symbol`. Declare host
      functions with `#[link(wasm_import_module = \"<module>\")]` on the extern block, naming a
      module the host registers.";

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "plugin `{}` does not fit this host ({n} problem{}):",
            self.plugin,
            if n == 1 { "" } else { "s" }
        )?;
        for (i, p) in self.problems.iter().enumerate() {
            write!(f, "\n  {}. ", i + 1)?;
            match p {
                LinkProblem::MissingImport {
                    module,
                    name,
                    expected,
                    suggestions,
                } => {
                    write!(f, "missing import: (import {module:?} {name:?} {expected})")?;
                    for (m, n, sig) in suggestions {
                        write!(f, "\n     did you mean (import {m:?} {n:?} {sig})?")?;
                    }
                }
                LinkProblem::ImportType {
                    module,
                    name,
                    plugin_wants,
                    host_has,
                } => write!(
                    f,
                    "import {module:?} {name:?} has the wrong type\n     \
                     plugin imports: {plugin_wants}\n     host provides:  {host_has}"
                )?,
                LinkProblem::WasiNotEnabled { names, feature } => {
                    write!(
                        f,
                        "the plugin imports WASI preview 1 ({:?}: {}), which this host does not \
                         provide\n     enable WASI: build the host with \
                         `Host::builder().wasi(spindle_runtime::Wasi::new())`",
                        WASI_MODULE,
                        names.join(", ")
                    )?;
                    if !*feature {
                        write!(
                            f,
                            "\n     (this spindle-runtime was built without its `wasi` cargo \
                             feature: `spindle-runtime = {{ features = [\"wasi\"] }}`)"
                        )?;
                    }
                }
                LinkProblem::UnknownWasiFunction {
                    name,
                    expected,
                    suggestions,
                } => {
                    write!(
                        f,
                        "unknown WASI function: (import {:?} {name:?} {expected}) is not a \
                         function of WASI preview 1",
                        WASI_MODULE
                    )?;
                    for s in suggestions {
                        write!(f, "\n     did you mean {s:?}?")?;
                    }
                }
                LinkProblem::MissingExport {
                    name,
                    expected,
                    suggestions,
                } => {
                    write!(f, "missing export: (export {name:?} {expected})")?;
                    for s in suggestions {
                        write!(f, "\n     did you mean {s:?}?")?;
                    }
                }
                LinkProblem::ExportType {
                    name,
                    expected,
                    found,
                } => write!(
                    f,
                    "export {name:?} has the wrong type\n     \
                     host requires:  {expected}\n     plugin exports: {found}"
                )?,
            }
        }
        if self.env_hint {
            write!(f, "\n{ENV_HINT}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LinkError {}

/// Host functions by `(module, name)`.
pub(crate) type HostFuncs = BTreeMap<(String, String), Signature>;

pub(crate) fn check(
    plugin: &str,
    module: &Module,
    host: &HostFuncs,
    wasi: bool,
    required_exports: &[(String, Signature)],
) -> Result<(), LinkError> {
    let mut problems = Vec::new();
    let mut env_hint = false;
    let mut wasi_missing = Vec::new();

    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        let ty = import.ty();
        let key = (m.to_string(), n.to_string());
        if m == WASI_MODULE && !host.contains_key(&key) {
            if !WASI_FUNCTIONS.contains(&n) {
                problems.push(LinkProblem::UnknownWasiFunction {
                    name: n.into(),
                    expected: extern_wat(&ty),
                    suggestions: nearest(n, WASI_FUNCTIONS.iter().map(|s| s.to_string())),
                });
            } else if !wasi {
                wasi_missing.push(n.to_string());
            }
            // A known WASI function on a WASI host: wasmtime-wasi defines it,
            // and the linker checks its type.
            continue;
        }
        match (host.get(&key), &ty) {
            (Some(have), ExternType::Func(want)) => {
                let want_sig = Signature::from_func_type(want);
                if !have.fits(&want_sig) {
                    problems.push(LinkProblem::ImportType {
                        module: m.into(),
                        name: n.into(),
                        plugin_wants: want_sig.to_string(),
                        host_has: have.clone(),
                    });
                }
            }
            (Some(have), other) => problems.push(LinkProblem::ImportType {
                module: m.into(),
                name: n.into(),
                plugin_wants: extern_wat(other),
                host_has: have.clone(),
            }),
            (None, _) => {
                if m == "env" {
                    env_hint = true;
                }
                problems.push(LinkProblem::MissingImport {
                    module: m.into(),
                    name: n.into(),
                    expected: extern_wat(&ty),
                    suggestions: suggest_imports(m, n, host),
                });
            }
        }
    }

    if !wasi_missing.is_empty() {
        problems.insert(
            0,
            LinkProblem::WasiNotEnabled {
                names: wasi_missing,
                feature: cfg!(feature = "wasi"),
            },
        );
    }

    for (name, expected) in required_exports {
        match module.get_export(name) {
            Some(ExternType::Func(ft)) => {
                let found = Signature::from_func_type(&ft);
                // As wasmtime matches it: the export may be a subtype of
                // what is required (`FuncType::matches`), not only equal.
                if !found.fits(expected) {
                    problems.push(LinkProblem::ExportType {
                        name: name.clone(),
                        expected: expected.clone(),
                        found: found.to_string(),
                    });
                }
            }
            Some(other) => problems.push(LinkProblem::ExportType {
                name: name.clone(),
                expected: expected.clone(),
                found: extern_wat(&other),
            }),
            None => problems.push(LinkProblem::MissingExport {
                name: name.clone(),
                expected: expected.clone(),
                suggestions: nearest(
                    name,
                    module.exports().filter_map(|e| match e.ty() {
                        ExternType::Func(_) => Some(e.name().to_string()),
                        _ => None,
                    }),
                ),
            }),
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(LinkError {
            plugin: plugin.to_string(),
            problems,
            env_hint,
        })
    }
}

/// Up to three host functions that the plugin probably meant: same name in
/// another module, or a name within a small edit distance in any module.
fn suggest_imports(module: &str, name: &str, host: &HostFuncs) -> Vec<(String, String, Signature)> {
    let budget = close_enough(name);
    let mut scored: Vec<(usize, &(String, String), &Signature)> = host
        .iter()
        .filter_map(|(key @ (hm, hn), sig)| {
            let d = edit_distance(name, hn);
            (d <= budget).then(|| (d * 2 + usize::from(hm != module), key, sig))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, (m, n), sig)| (m.clone(), n.clone(), sig.clone()))
        .collect()
}

/// Names from `candidates` within a small edit distance of `name`, nearest first.
pub(crate) fn nearest(name: &str, candidates: impl Iterator<Item = String>) -> Vec<String> {
    let budget = close_enough(name);
    let mut scored: Vec<(usize, String)> = candidates
        .map(|c| (edit_distance(name, &c), c))
        .filter(|(d, _)| *d <= budget)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// How many edits still count as a typo: one per three characters, at least two.
fn close_enough(name: &str) -> usize {
    (name.chars().count() / 3).max(2)
}

/// Levenshtein distance over chars, counting an adjacent swap as one edit
/// (the commonest typo: `lgo` for `log`).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("log", "log"), 0);
        assert_eq!(edit_distance("lgo", "log"), 1);
        assert_eq!(edit_distance("lg", "log"), 1);
        assert_eq!(edit_distance("print", "log"), 5);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
