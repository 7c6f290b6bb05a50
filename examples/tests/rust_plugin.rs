//! The Rust plugin built by build.rs loads, runs, and its misspelled twin is
//! refused with a report naming the typo and the right import.

use spindle_runtime::{BoxError, Ctx, ErrorKind, Host, LinkProblem};

fn host() -> Host<u32> {
    Host::<u32>::builder()
        .func(
            "spindle",
            "log",
            |mut cx: Ctx<'_, u32>, ptr: u32, len: u32| {
                cx.read_str(ptr, len)?;
                Ok::<(), BoxError>(())
            },
        )
        .func("spindle", "visits", |mut cx: Ctx<'_, u32>, by: u32| {
            *cx.state_mut() += by;
            *cx.state()
        })
        .build()
        .unwrap()
}

#[test]
fn rust_plugin_runs() {
    let host = host();
    let plugin = host.load_file(env!("GREETER_WASM")).unwrap();
    // Only the declared import module: nothing leaked into "env".
    let modules: Vec<String> = plugin
        .module()
        .imports()
        .map(|i| i.module().to_string())
        .collect();
    assert!(
        !modules.is_empty() && modules.iter().all(|m| m == "spindle"),
        "{modules:?}"
    );
    let mut inst = plugin.instantiate(0).unwrap();
    let ptr = inst.call::<(), u32>("input_ptr", ()).unwrap();
    inst.write_memory(ptr, b"Ada").unwrap();
    assert_eq!(inst.call::<u32, u32>("greet", 3).unwrap(), 1);
    assert_eq!(inst.call::<u32, u32>("greet", 3).unwrap(), 2);
    assert_eq!(*inst.state(), 2);
    assert_eq!(inst.call::<u32, u64>("fib", 20).unwrap(), 6765);
}

#[test]
fn rust_plugin_takes_and_returns_strings_with_flat_memory() {
    let host = host();
    let plugin = host.load_file(env!("GREETER_WASM")).unwrap();
    let mut inst = plugin.instantiate(0).unwrap();
    assert_eq!(
        inst.call_str("hello", "Ada").unwrap(),
        "Hello, Ada! You are visitor #1."
    );
    let err = inst.call_bytes("hello", &[0xff]).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::GuestError { message, .. } if message == "the name is not UTF-8"),
        "{err:?}"
    );
    // Input freed by `hello`, output by `cabi_post_hello`: memory is flat.
    let name = "x".repeat(10_000);
    inst.call_str("hello", &name).unwrap();
    let pages = inst.memory().len();
    for _ in 0..20_000 {
        inst.call_str("hello", &name).unwrap();
    }
    assert_eq!(inst.memory().len(), pages);
}

#[test]
fn misspelled_import_is_reported_with_suggestion() {
    let host = host();
    let err = host
        .load_file(env!("GREETER_TYPO_WASM"))
        .err()
        .expect("must not load");
    let ErrorKind::Link(link) = err.kind() else {
        panic!("{err:?}")
    };
    match link.problems() {
        [
            LinkProblem::MissingImport {
                module,
                name,
                expected,
                suggestions,
            },
        ] => {
            assert_eq!((module.as_str(), name.as_str()), ("spindle", "lgo"));
            assert_eq!(expected, "(func (param i32 i32))");
            assert_eq!(suggestions[0].1, "log");
        }
        p => panic!("{p:?}"),
    }
    assert!(!link.has_env_hint());
    // The good build still loads on the same host.
    assert!(host.load_file(env!("GREETER_WASM")).is_ok());
}
