//! The WASI test plugins of `runtime/tests/plugins/wasi-plugin`, compiled
//! to wasm32-wasip1 once per process, for the runtime's and the CLI's tests
//! and the `instantiate` bench. The nested cargo gets its own target
//! directory: sharing the outer one would wait on the lock the outer build
//! holds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::nested_cargo;

/// The built plugins.
#[derive(Debug)]
pub struct WasiPlugins {
    /// The reactor: `_initialize`, `hello`, `greet`, `flood`, `exit_with`,
    /// ..., and `ask_and_print`, which imports `app.ask`.
    pub reactor: PathBuf,
    /// The reactor without `ask_and_print`: it imports WASI only.
    pub plain: PathBuf,
    /// The same library without `_initialize` (wasm-ld's command exports).
    pub wrapped: PathBuf,
    /// The command `wasi-cmd`.
    pub command: PathBuf,
}

fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime/tests/plugins/wasi-plugin")
        .canonicalize()
        .expect("runtime/tests/plugins/wasi-plugin exists")
}

/// Builds the plugins (once per process) under `target_tmpdir` (the
/// caller's `CARGO_TARGET_TMPDIR`, which only integration tests and benches
/// are given) and returns their paths. Fails the test, loudly, if the
/// wasm32-wasip1 target is missing.
pub fn plugins(target_tmpdir: &Path) -> &'static WasiPlugins {
    static BUILT: OnceLock<(PathBuf, WasiPlugins)> = OnceLock::new();
    let (built_in, plugins) = BUILT.get_or_init(|| {
        let target = target_tmpdir.join("wasi-plugin");
        build(&target.join("reactor"), Some("asker"));
        build(&target.join("plain"), None);
        build(&target.join("wrapped"), Some("wrapped"));
        let out = |dir: &str, file: &str| target.join(dir).join("wasm32-wasip1/release").join(file);
        let plugins = WasiPlugins {
            reactor: out("reactor", "wasi_plugin.wasm"),
            plain: out("plain", "wasi_plugin.wasm"),
            wrapped: out("wrapped", "wasi_plugin.wasm"),
            command: out("plain", "wasi-cmd.wasm"),
        };
        (target_tmpdir.to_path_buf(), plugins)
    });
    assert_eq!(
        built_in, target_tmpdir,
        "the WASI plugins were built under another directory in this process"
    );
    plugins
}

fn build(target_dir: &Path, feature: Option<&str>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugin_dir())
        .args(["build", "--release", "--locked", "--offline", "--quiet"])
        .args(["--target", "wasm32-wasip1"])
        .arg("--target-dir")
        .arg(target_dir);
    if let Some(f) = feature {
        cmd.args(["--features", f]);
    }
    nested_cargo::scrub_outer_build(&mut cmd);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the WASI test plugin: {e}"));
    assert!(
        status.success(),
        "building the WASI test plugin in {} failed (see the output above).\n\
         If the error says the wasm32-wasip1 target is missing, run:\n    \
         rustup target add wasm32-wasip1   (or bash scripts/setup.sh)",
        plugin_dir().display()
    );
}
