//! The kit's plugin (plugins/pdk-greeter, written with `#[export]` and
//! `#[import(module = "app")]`) built from outside the workspace on stable
//! and on nightly, for wasm32-unknown-unknown and wasm32-wasip1, and as
//! `no_std`; its imports come from "app" only (and WASI's for std on
//! wasip1), and its exports work through spindle-runtime with flat memory.

mod common;

use common::{Toolchain, build_plugin, scratch};
use spindle_runtime::{BoxError, Ctx, ErrorKind, Host, HostBuilder, Wasi};
use std::path::PathBuf;
use std::sync::OnceLock;

struct Built {
    /// (label, path) of every module that needs nothing but "app".
    modules: Vec<(&'static str, PathBuf)>,
    /// The std build for wasm32-wasip1, which also imports WASI.
    wasip1_std: PathBuf,
}

/// All builds once per test binary: two cargo runs on stable (both targets
/// in one, sharing the proc-macro build; then `no_std`) and one on nightly.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let stable_dir = scratch("pdk-greeter-stable");
        let both = build_plugin(
            Toolchain::Current,
            &["wasm32-unknown-unknown", "wasm32-wasip1"],
            None,
            &stable_dir,
        );
        let nostd = build_plugin(
            Toolchain::Current,
            &["wasm32-unknown-unknown", "wasm32-wasip1"],
            Some("no-std"),
            &scratch("pdk-greeter-stable-nostd"),
        );
        let nightly = build_plugin(
            Toolchain::Nightly,
            &["wasm32-unknown-unknown"],
            None,
            &scratch("pdk-greeter-nightly"),
        );
        Built {
            modules: vec![
                ("stable wasm32-unknown-unknown", both[0].clone()),
                ("stable wasm32-unknown-unknown no_std", nostd[0].clone()),
                ("stable wasm32-wasip1 no_std", nostd[1].clone()),
                ("nightly wasm32-unknown-unknown", nightly[0].clone()),
            ],
            wasip1_std: both[1].clone(),
        }
    })
}

fn host() -> Host<u32> {
    app(Host::<u32>::builder()).build().unwrap()
}

/// The plugin's "app" imports, on any builder.
fn app(builder: HostBuilder<u32>) -> HostBuilder<u32> {
    builder
        .func("app", "visits", |mut cx: Ctx<'_, u32>, delta: u32| {
            *cx.state_mut() += delta;
            *cx.state()
        })
        .func_str("app", "shout", |_cx: &mut Ctx<'_, u32>, s: &str| {
            Ok::<String, BoxError>(s.to_uppercase())
        })
}

#[test]
fn imports_come_from_app_only_never_env() {
    let engine = wasmtime::Engine::default();
    let b = built();
    let wasip1 = ("stable wasm32-wasip1", b.wasip1_std.clone());
    for (label, path) in b.modules.iter().chain([&wasip1]) {
        let module = wasmtime::Module::from_file(&engine, path).unwrap();
        let mut imports: Vec<(String, String)> = module
            .imports()
            .map(|i| (i.module().to_string(), i.name().to_string()))
            .collect();
        imports.sort();
        // std on wasip1 brings its own WASI imports (environment, fd_write,
        // proc_exit); everything else is the plugin's, from "app".
        imports.retain(|(m, _)| *path != b.wasip1_std || m != "wasi_snapshot_preview1");
        assert_eq!(
            imports,
            [
                ("app".into(), "shout".into()),
                ("app".into(), "visits".into())
            ],
            "{label}: {}",
            path.display()
        );
        let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
        for want in [
            "memory",
            "cabi_realloc",
            "greet",
            "cabi_post_greet",
            "loud_greet",
            "cabi_post_loud_greet",
            "reverse",
            "parse_age",
            "touch",
        ] {
            assert!(
                exports.contains(&want),
                "{label}: no export {want} in {exports:?}"
            );
        }
    }
}

/// The std wasip1 build imports WASI (std's environment, `fd_write`,
/// `proc_exit`): a host without WASI refuses it for those imports alone,
/// and a host with WASI (nothing granted) runs it, its `println!` captured.
#[test]
fn the_std_wasip1_build_needs_wasi_and_runs_with_it() {
    let Err(err) = host().load_file(&built().wasip1_std) else {
        panic!("a host without WASI loaded a plugin that imports it");
    };
    let text = err.report().to_string();
    assert!(text.contains("wasi_snapshot_preview1"), "{text}");
    assert!(!text.contains("\"app\""), "{text}");

    let host = app(Host::<u32>::builder().wasi(Wasi::new()))
        .build()
        .unwrap();
    let mut inst = host
        .load_file(&built().wasip1_std)
        .unwrap()
        .instantiate(0)
        .unwrap();
    assert_eq!(
        inst.call_str("greet", "wasi").unwrap(),
        "Hello, wasi! You are visitor #1."
    );
    assert_eq!(inst.call_str("loud_greet", "ada").unwrap(), "HEY ADA!");
    inst.call_str("log", "from the plugin").unwrap();
    inst.call_str("log", "twice").unwrap();
    assert_eq!(inst.take_stdout(), b"from the plugin\ntwice\n");
    assert_eq!(inst.stdout(), b"");
}

#[test]
fn every_export_shape_works_through_the_runtime() {
    let host = host();
    for (label, path) in &built().modules {
        let plugin = host.load_file(path).unwrap();
        let mut inst = plugin.instantiate(0).unwrap();
        let s = |inst: &mut spindle_runtime::Instance<u32>, f: &str, x: &str| {
            inst.call_str(f, x)
                .unwrap_or_else(|e| panic!("{label}: {f}({x:?}): {e}"))
        };
        assert_eq!(
            s(&mut inst, "greet", "world"),
            "Hello, world! You are visitor #1."
        );
        assert_eq!(s(&mut inst, "greet", ""), "Hello, ! You are visitor #2.");
        assert_eq!(s(&mut inst, "first_word", "spindle plugin kit"), "spindle");
        assert_eq!(s(&mut inst, "loud_greet", "ada"), "HEY ADA!");
        // An empty answer from a bytes host function (a zero-sized block).
        assert_eq!(s(&mut inst, "loud_greet", ""), "HEY !");
        assert_eq!(s(&mut inst, "parse_age", " 42 "), "42 years");
        assert_eq!(s(&mut inst, "touch", "ignored"), "");
        let all: Vec<u8> = (0..=255u8).collect();
        let rev: Vec<u8> = all.iter().rev().copied().collect();
        assert_eq!(inst.call_bytes("reverse", &all).unwrap(), rev, "{label}");
        assert_eq!(inst.call_bytes("reverse", b"").unwrap(), b"", "{label}");
        assert_eq!(
            inst.call_bytes("rot13", b"Hello\xff").unwrap(),
            b"Uryyb\xff",
            "{label}"
        );
        // An input bigger than the first pages: the allocator grows memory.
        let big = vec![7u8; 300_000];
        assert_eq!(inst.call_bytes("reverse", &big).unwrap(), big, "{label}");

        // A Result's error, and a non-UTF-8 input to a `String`/`&str`
        // export, are the contract's error: GuestError with the message.
        let err = inst.call_str("parse_age", "old").unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::GuestError { function, message }
                if function == "parse_age" && message == "invalid digit found in string"),
            "{label}: {err:?}"
        );
        for f in ["greet", "first_word"] {
            let err = inst.call_bytes(f, &[b'a', 0xff]).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::GuestError { message, .. }
                    if message.starts_with("the input is not UTF-8")),
                "{label}: {f}: {err:?}"
            );
        }
        // The instance goes on after errors; the counter saw every visit.
        assert_eq!(
            s(&mut inst, "greet", "again"),
            "Hello, again! You are visitor #3."
        );
        assert_eq!(*inst.state(), 3);
    }
}

/// The CI cell of the done-means test (tests/pdk_outside.rs runs the same
/// from a host crate outside the workspace): 20,000 string and 20,000
/// bytes calls, and guest memory does not grow after warm-up.
#[test]
fn twenty_thousand_calls_keep_guest_memory_flat() {
    let host = host();
    for (label, path) in &built().modules {
        let mut inst = host.load_file(path).unwrap().instantiate(0).unwrap();
        let payload: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();
        let round = |inst: &mut spindle_runtime::Instance<u32>, i: u32| {
            let name = format!("guest {i}");
            let out = inst.call_str("greet", &name).unwrap();
            assert!(out.starts_with("Hello, guest "), "{label}: {out}");
            let back = inst.call_bytes("reverse", &payload).unwrap();
            assert_eq!(back.len(), payload.len());
        };
        for i in 0..200 {
            round(&mut inst, i);
        }
        let before = inst.memory().len();
        for i in 0..20_000 {
            round(&mut inst, i);
        }
        let after = inst.memory().len();
        assert_eq!(
            before, after,
            "{label}: guest memory grew over 20,000 calls"
        );
        println!("{label}: memory {before} bytes before and after 20,000 rounds");
    }
}
