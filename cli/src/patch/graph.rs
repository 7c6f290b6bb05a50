//! What cargo says about a workspace's crate graph: `cargo locate-project`
//! for its root, `cargo metadata` for the resolved packages, and the
//! questions `spindle patch` asks of them (which wasmtime, which fiber
//! crate, from where).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::manifest::CRATE;

/// The cargo to run: the one running us (`CARGO`, set under `cargo run`
/// and in cargo's tests), else `cargo` from `PATH`.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Why cargo could not tell us about the workspace.
#[derive(Debug)]
pub enum CargoError {
    /// cargo could not be started.
    Spawn(std::io::Error),
    /// A manifest cargo cannot parse (or a workspace it cannot load).
    Manifest(String),
    /// `--locked` and the lock file does not match the manifests.
    LockStale(String),
    /// Anything else cargo refused, in its words.
    Failed(String),
}

impl fmt::Display for CargoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CargoError::Spawn(e) => write!(f, "could not run cargo: {e}"),
            CargoError::Manifest(e) => {
                write!(f, "cargo cannot read the workspace's manifests:\n{e}")
            }
            CargoError::LockStale(e) => write!(
                f,
                "Cargo.lock does not match the manifests (cargo would have to update it):\n{e}"
            ),
            CargoError::Failed(e) => write!(f, "cargo failed:\n{e}"),
        }
    }
}

/// cargo's error lines, without its progress chatter.
fn cargo_error_text(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("Updating ")
                || t.starts_with("Downloading ")
                || t.starts_with("Downloaded ")
                || t.starts_with("Locking ")
                || t.starts_with("Adding ")
                || t.starts_with("Blocking "))
        })
        .collect();
    lines.join("\n").trim_end().to_string()
}

fn classify(stderr: &[u8]) -> CargoError {
    let text = cargo_error_text(stderr);
    if text.contains("--locked was passed") || text.contains("needs to be updated but") {
        CargoError::LockStale(text)
    } else if text.contains("failed to parse manifest")
        || text.contains("could not parse input as TOML")
        || text.contains("failed to load manifest")
    {
        CargoError::Manifest(text)
    } else {
        CargoError::Failed(text)
    }
}

/// The workspace root manifest for `manifest_path` (or the current
/// directory's package).
pub fn locate_workspace(manifest_path: Option<&Path>) -> Result<PathBuf, CargoError> {
    let mut cmd = cargo();
    cmd.args(["locate-project", "--workspace", "--message-format", "plain"]);
    if let Some(m) = manifest_path {
        cmd.arg("--manifest-path").arg(m);
    }
    let out = cmd.output().map_err(CargoError::Spawn)?;
    if !out.status.success() {
        return Err(classify(&out.stderr));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(PathBuf::from(path))
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub version: String,
    /// `None` for path packages (workspace members, path dependencies and
    /// path patches).
    pub source: Option<String>,
    pub manifest_path: PathBuf,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub rust_version: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NodeDep {
    pkg: String,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    #[serde(default)]
    deps: Vec<NodeDep>,
    #[serde(default)]
    features: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

/// `cargo metadata`'s answer, plus the warnings it printed.
#[derive(Debug, Deserialize)]
pub struct Graph {
    packages: Vec<Package>,
    resolve: Option<Resolve>,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

pub const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// Runs `cargo metadata` on the workspace of `root_manifest`. `locked`:
/// fail rather than update Cargo.lock.
pub fn metadata(root_manifest: &Path, locked: bool) -> Result<Graph, CargoError> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(root_manifest);
    if locked {
        cmd.arg("--locked");
    }
    let out = cmd.output().map_err(CargoError::Spawn)?;
    if !out.status.success() {
        return Err(classify(&out.stderr));
    }
    let mut graph: Graph = serde_json::from_slice(&out.stdout)
        .map_err(|e| CargoError::Failed(format!("unreadable `cargo metadata` output: {e}")))?;
    graph.warnings = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::to_string)
        .collect();
    Ok(graph)
}

/// What is wrong with a graph for `spindle patch`.
#[derive(Debug)]
pub enum GraphError {
    NoWasmtime,
    /// wasmtime is there, its fiber crate is not: async is off.
    AsyncOff(Vec<String>),
    /// More than one wasmtime (or fiber) version, each with who depends on it.
    Several(&'static str, Vec<(String, Vec<String>)>),
    /// The fiber crate comes from somewhere `[patch.crates-io]` cannot reach.
    NotCratesIo {
        version: String,
        source: String,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::NoWasmtime => write!(
                f,
                "no wasmtime in this workspace's crate graph (Cargo.lock), so there is no \
                 wasmtime-internal-fiber to replace"
            ),
            GraphError::AsyncOff(versions) => write!(
                f,
                "wasmtime {} is built without its `async` feature, so it runs no fibers and \
                 there is nothing to replace (wasmtime switches stacks only for async). \
                 Turn it on (`features = [\"async\", ...]` on the wasmtime dependency), build or \
                 `cargo update` once, and run `spindle patch` again",
                versions.join(", ")
            ),
            GraphError::Several(what, list) => {
                write!(
                    f,
                    "{} versions of {what} in one crate graph; one `[patch.crates-io]` entry \
                     replaces only one version, and a drop-in for only some of them would \
                     leave wasmtime's own fiber in the build. Bring them to one version \
                     (`cargo tree -i {what}` shows who pulls each):",
                    list.len()
                )?;
                for (version, users) in list {
                    write!(f, "\n  {what} {version}, used by {}", users.join(", "))?;
                }
                Ok(())
            }
            GraphError::NotCratesIo { version, source } => write!(
                f,
                "wasmtime-internal-fiber {version} comes from {source}, not crates.io; \
                 `[patch.crates-io]` cannot replace it"
            ),
        }
    }
}

impl Graph {
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Package> + 'a {
        self.packages.iter().filter(move |p| p.name == name)
    }

    /// Who depends on the package `id`, as "name version".
    fn dependents(&self, id: &str) -> Vec<String> {
        let Some(resolve) = &self.resolve else {
            return Vec::new();
        };
        let mut users: Vec<String> = resolve
            .nodes
            .iter()
            .filter(|n| n.deps.iter().any(|d| d.pkg == id))
            .filter_map(|n| self.packages.iter().find(|p| p.id == n.id))
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        users.sort();
        users.dedup();
        users
    }

    fn node_features(&self, id: &str) -> Vec<String> {
        self.resolve
            .as_ref()
            .and_then(|r| r.nodes.iter().find(|n| n.id == id))
            .map(|n| n.features.clone())
            .unwrap_or_default()
    }

    /// The one `wasmtime-internal-fiber` of the graph (from crates.io or a
    /// path patch), or why there is not exactly one.
    pub fn the_fiber(&self) -> Result<&Package, GraphError> {
        let wasmtimes: Vec<&Package> = self.named("wasmtime").collect();
        let fibers: Vec<&Package> = self.named(CRATE).collect();
        if wasmtimes.len() > 1 {
            return Err(GraphError::Several(
                "wasmtime",
                wasmtimes
                    .iter()
                    .map(|p| (p.version.clone(), self.dependents(&p.id)))
                    .collect(),
            ));
        }
        if fibers.len() > 1 {
            return Err(GraphError::Several(
                CRATE,
                fibers
                    .iter()
                    .map(|p| (p.version.clone(), self.dependents(&p.id)))
                    .collect(),
            ));
        }
        // Cargo.lock (and metadata's graph) keeps wasmtime's fiber crate even
        // with async off (wasmtime's `std` names it as a weak dependency), so
        // ask wasmtime's resolved features, not whether the crate is there.
        if let Some(w) = wasmtimes.first() {
            let features = self.node_features(&w.id);
            if !features.iter().any(|f| f == "async") {
                return Err(GraphError::AsyncOff(vec![format!(
                    "{} (features: {})",
                    w.version,
                    if features.is_empty() {
                        "none".to_string()
                    } else {
                        features.join(", ")
                    }
                )]));
            }
        }
        match (wasmtimes.first(), fibers.first()) {
            (_, Some(fiber)) => match &fiber.source {
                Some(s) if s != CRATES_IO => Err(GraphError::NotCratesIo {
                    version: fiber.version.clone(),
                    source: s.clone(),
                }),
                _ => Ok(fiber),
            },
            (Some(w), None) => {
                let features = self.node_features(&w.id);
                Err(GraphError::AsyncOff(vec![format!(
                    "{} (features: {})",
                    w.version,
                    if features.is_empty() {
                        "none".to_string()
                    } else {
                        features.join(", ")
                    }
                )]))
            }
            (None, None) => Err(GraphError::NoWasmtime),
        }
    }

    /// The cargo warning that a patch was not used, if cargo printed one.
    pub fn unused_patch_warning(&self) -> Option<&str> {
        self.warnings
            .iter()
            .find(|w| w.contains("was not used in the crate graph"))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, source: Option<&str>) -> Package {
        Package {
            id: format!("{name}@{version}"),
            name: name.into(),
            version: version.into(),
            source: source.map(str::to_string),
            manifest_path: PathBuf::from(format!("/r/{name}-{version}/Cargo.toml")),
            features: BTreeMap::new(),
            rust_version: None,
        }
    }

    fn graph(packages: Vec<Package>, edges: &[(&str, &str)]) -> Graph {
        let nodes = packages
            .iter()
            .map(|p| Node {
                id: p.id.clone(),
                deps: edges
                    .iter()
                    .filter(|(from, _)| *from == p.id)
                    .map(|(_, to)| NodeDep {
                        pkg: to.to_string(),
                    })
                    .collect(),
                features: if p.name == "wasmtime" {
                    vec!["async".into(), "runtime".into(), "std".into()]
                } else {
                    vec![]
                },
            })
            .collect();
        Graph {
            packages,
            resolve: Some(Resolve { nodes }),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn one_wasmtime_one_fiber() {
        let g = graph(
            vec![
                pkg("app", "0.1.0", None),
                pkg("wasmtime", "48.0.8", Some(CRATES_IO)),
                pkg(CRATE, "48.0.8", Some(CRATES_IO)),
            ],
            &[
                ("app@0.1.0", "wasmtime@48.0.8"),
                ("wasmtime@48.0.8", "wasmtime-internal-fiber@48.0.8"),
            ],
        );
        assert_eq!(g.the_fiber().unwrap().version, "48.0.8");
    }

    #[test]
    fn each_bad_graph_has_its_own_message() {
        let none = graph(vec![pkg("app", "0.1.0", None)], &[]);
        assert!(matches!(none.the_fiber(), Err(GraphError::NoWasmtime)));
        // As in a real lock: the fiber crate is there, async is not.
        let mut sync = graph(
            vec![
                pkg("app", "0.1.0", None),
                pkg("wasmtime", "48.0.8", Some(CRATES_IO)),
                pkg(CRATE, "48.0.8", Some(CRATES_IO)),
            ],
            &[
                ("app@0.1.0", "wasmtime@48.0.8"),
                ("wasmtime@48.0.8", "wasmtime-internal-fiber@48.0.8"),
            ],
        );
        let nodes = &mut sync.resolve.as_mut().unwrap().nodes;
        let wasmtime = nodes
            .iter_mut()
            .find(|n| n.id == "wasmtime@48.0.8")
            .unwrap();
        wasmtime.features.retain(|f| f != "async");
        let msg = sync.the_fiber().unwrap_err().to_string();
        assert!(msg.contains("without its `async` feature"), "{msg}");
        assert!(msg.contains("48.0.8 (features: runtime, std)"), "{msg}");
        let two = graph(
            vec![
                pkg("a", "0.1.0", None),
                pkg("b", "0.1.0", None),
                pkg("wasmtime", "48.0.8", Some(CRATES_IO)),
                pkg("wasmtime", "36.0.20", Some(CRATES_IO)),
                pkg(CRATE, "48.0.8", Some(CRATES_IO)),
                pkg(CRATE, "36.0.20", Some(CRATES_IO)),
            ],
            &[
                ("a@0.1.0", "wasmtime@48.0.8"),
                ("b@0.1.0", "wasmtime@36.0.20"),
            ],
        );
        let msg = two.the_fiber().unwrap_err().to_string();
        assert!(
            msg.starts_with("2 versions of wasmtime in one crate graph"),
            "{msg}"
        );
        assert!(msg.contains("wasmtime 48.0.8, used by a 0.1.0"), "{msg}");
        assert!(msg.contains("wasmtime 36.0.20, used by b 0.1.0"), "{msg}");
        let git = graph(
            vec![
                pkg("wasmtime", "48.0.8", Some(CRATES_IO)),
                pkg(CRATE, "48.0.8", Some("git+https://example.invalid/w")),
            ],
            &[],
        );
        assert!(matches!(
            git.the_fiber(),
            Err(GraphError::NotCratesIo { .. })
        ));
    }

    #[test]
    fn cargo_failures_are_told_apart() {
        assert!(matches!(
            classify(b"    Updating crates.io index\nerror: the lock file /x/Cargo.lock needs to be updated but --locked was passed to prevent this\n"),
            CargoError::LockStale(t) if !t.contains("Updating")
        ));
        assert!(matches!(
            classify(b"error: failed to parse manifest at `/x/Cargo.toml`\n\nCaused by:\n  TOML parse error"),
            CargoError::Manifest(_)
        ));
        assert!(matches!(
            classify(b"error: no matching package named `nope` found"),
            CargoError::Failed(_)
        ));
    }
}
