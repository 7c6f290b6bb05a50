//! Loads a plugin written in Rust (`examples/plugins/greeter`, compiled to
//! wasm32-unknown-unknown by this crate's build script), then the same plugin
//! built with a misspelled host import, to show the load-time report.
//!
//! Run: `cargo run --release -p spindle-examples --example rust_plugin`

use std::time::Duration;

use spindle_runtime::{BoxError, Ctx, Error, ErrorKind, Host, Limits};

#[derive(Default)]
struct Guests {
    visits: u32,
    lines: Vec<String>,
}

fn main() -> Result<(), Error> {
    let host = Host::<Guests>::builder()
        .func(
            "spindle",
            "log",
            |mut cx: Ctx<'_, Guests>, ptr: u32, len: u32| {
                let line = cx.read_str(ptr, len)?.to_string();
                println!("  [greeter] {line}");
                cx.state_mut().lines.push(line);
                Ok::<(), BoxError>(())
            },
        )
        .func("spindle", "visits", |mut cx: Ctx<'_, Guests>, by: u32| {
            cx.state_mut().visits += by;
            cx.state().visits
        })
        // Plugins without a matching `greet` are refused at load time.
        .require_export::<u32, u32>("greet")
        .limits(
            Limits::new()
                .deadline(Duration::from_millis(250))
                .max_memory_bytes(32 << 20),
        )
        .build()?;

    let plugin = host.load_file(env!("GREETER_WASM"))?;
    let mut inst = plugin.instantiate(Guests::default())?;
    for name in ["Ada", "Grace", "Barbara"] {
        let ptr = inst.call::<(), u32>("input_ptr", ())?;
        inst.write_memory(ptr, name.as_bytes()).expect("name fits");
        inst.call::<u32, u32>("greet", name.len() as u32)?;
    }
    // The same through the guest contract (docs/guest-contract.md): the
    // plugin's `cabi_realloc` takes the name, `hello` returns the greeting.
    println!("{}", inst.call_str("hello", "Margaret")?);
    println!("fib(25) = {}", inst.call::<u32, u64>("fib", 25)?);
    match inst.call::<(), ()>("spin", ()).map_err(Error::into_kind) {
        Err(e @ ErrorKind::DeadlineExceeded { .. }) => println!("spin() was stopped: {e}"),
        other => panic!("expected a deadline error, got {other:?}"),
    }

    println!("\nNow the same plugin with a misspelled import (`lgo`):\n");
    match host
        .load_file(env!("GREETER_TYPO_WASM"))
        .map_err(Error::into_kind)
    {
        Err(ErrorKind::Link(report)) => println!("{report}"),
        Err(e) => panic!("expected a link report, got {e:?}"),
        Ok(_) => panic!("a plugin importing `lgo` must not load"),
    }
    Ok(())
}
