//! A second language: the C plugin in examples/plugins/c-greeter, which
//! implements the guest contract by hand, built with Debian's clang + lld +
//! wasi-libc and run by the host (`call_str`) and by `spindle run --input`.
//! Without clang the tests fail, naming the packages (scripts/setup.sh
//! installs them): a second language that is never built is not tested.

use spindle_runtime::{ErrorKind, Host};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const PACKAGES: &str = "clang lld wasi-libc libclang-rt-dev-wasm32";

fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/c-greeter/greeter.c")
}

/// Compiles greeter.c once per test binary.
fn plugin() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-greeter");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("greeter.wasm");
        let run = Command::new("clang")
            .args(["--target=wasm32-wasi", "-O2", "-nostartfiles"])
            .args(["-Wl,--no-entry", "-Wl,--strip-debug"])
            .args([
                "-Wl,--export=cabi_realloc",
                "-Wl,--export=greet",
                "-Wl,--export=cabi_post_greet",
            ])
            .arg("-o")
            .arg(&out)
            .arg(source())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run clang ({e}): the C plugin test needs Debian's {PACKAGES} \
                     (`bash scripts/setup.sh`, or apt-get install {PACKAGES})"
                )
            });
        assert!(
            run.status.success(),
            "clang failed to build {} (needs Debian's {PACKAGES}):\n{}",
            source().display(),
            String::from_utf8_lossy(&run.stderr)
        );
        out
    })
}

#[test]
fn the_c_plugin_imports_nothing_and_exports_the_contract() {
    let host = Host::<()>::builder().build().unwrap();
    let plugin = host.load_file(plugin()).unwrap();
    let imports: Vec<String> = plugin
        .module()
        .imports()
        .map(|i| format!("{}.{}", i.module(), i.name()))
        .collect();
    // -nostartfiles and only malloc/string functions: no WASI, no "env".
    assert!(imports.is_empty(), "{imports:?}");
    let exports: Vec<&str> = plugin.module().exports().map(|e| e.name()).collect();
    for want in ["memory", "cabi_realloc", "greet", "cabi_post_greet"] {
        assert!(exports.contains(&want), "no {want} in {exports:?}");
    }
}

#[test]
fn the_host_calls_the_c_plugin_with_flat_memory() {
    let host = Host::<()>::builder().build().unwrap();
    let mut inst = host.load_file(plugin()).unwrap().instantiate(()).unwrap();
    assert_eq!(inst.call_str("greet", "world").unwrap(), "Hello, world!");
    assert_eq!(inst.call_str("greet", "grüße").unwrap(), "Hello, grüße!");
    let err = inst.call_str("greet", "").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestError { message, .. } if message == "greet needs a name"),
        "{err:?}"
    );
    let big = "x".repeat(200_000);
    assert_eq!(inst.call_str("greet", &big).unwrap().len(), 200_000 + 8);
    // malloc and free, in the input, output and post-return: flat memory.
    for i in 0..100 {
        inst.call_str("greet", &format!("guest {i}")).unwrap();
    }
    let before = inst.memory().len();
    for i in 0..10_000 {
        let out = inst.call_str("greet", &format!("guest {i}")).unwrap();
        assert_eq!(out, format!("Hello, guest {i}!"));
    }
    assert_eq!(inst.memory().len(), before, "guest memory grew");
}

#[test]
fn spindle_run_input_calls_the_c_plugin() {
    let run = |input: &str| {
        Command::new(env!("CARGO_BIN_EXE_spindle"))
            .arg("run")
            .args(["--input", input])
            .arg(plugin())
            .arg("greet")
            .stdin(Stdio::null())
            .output()
            .expect("running spindle")
    };
    let o = run("world");
    assert_eq!(
        (o.status.code(), o.stdout.as_slice()),
        (Some(0), &b"Hello, world!"[..]),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The plugin's error reaches the CLI's user as its message.
    let o = run("");
    assert_ne!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("greet needs a name"), "{stderr}");
}
