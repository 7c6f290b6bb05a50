//! A plugin host loading several WAT plugins from `examples/plugins/wat`,
//! calling them, and surviving one that misbehaves.
//!
//! Run: `cargo run --release -p spindle-examples --example plugin_host`

use std::path::Path;
use std::time::Duration;

use spindle_runtime::{BoxError, Ctx, Error, ErrorKind, Host, Limits};

/// Per-instance state the host functions work on.
#[derive(Default)]
struct App {
    log: Vec<String>,
    visits: u32,
}

fn main() -> Result<(), Error> {
    let host = Host::<App>::builder()
        .func(
            "spindle",
            "log",
            |mut cx: Ctx<'_, App>, ptr: u32, len: u32| {
                let line = cx.read_str(ptr, len)?.to_string();
                println!("    [plugin says] {line}");
                cx.state_mut().log.push(line);
                Ok::<(), BoxError>(())
            },
        )
        .func("spindle", "visits", |mut cx: Ctx<'_, App>, by: u32| {
            cx.state_mut().visits += by;
            cx.state().visits
        })
        .limits(
            Limits::new()
                .deadline(Duration::from_millis(200))
                .max_memory_bytes(16 << 20),
        )
        .build()?;

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/wat");

    println!("calculator.wat");
    let calc = host.load_file(dir.join("calculator.wat"))?;
    let mut inst = calc.instantiate(App::default())?;
    println!(
        "  add(2, 3)       = {}",
        inst.call::<(i32, i32), i32>("add", (2, 3))?
    );
    println!(
        "  gcd(1071, 462)  = {}",
        inst.call::<(i64, i64), i64>("gcd", (1071, 462))?
    );

    println!("shouter.wat");
    let shouter = host.load_file(dir.join("shouter.wat"))?;
    let mut inst = shouter.instantiate(App::default())?;
    let ptr = inst.call::<(), u32>("input_ptr", ())?;
    let text = b"plugins are fun";
    inst.write_memory(ptr, text).expect("input fits");
    inst.call::<u32, ()>("shout", text.len() as u32)?;
    println!("  host state now holds {:?}", inst.state().log);

    println!("counter.wat (two instances, separate state)");
    let counter = host.load_file(dir.join("counter.wat"))?;
    let mut a = counter.instantiate(App::default())?;
    let mut b = counter.instantiate(App::default())?;
    let mut tick = a.func::<(), i32>("tick")?;
    for _ in 0..3 {
        tick.call(())?;
    }
    println!("  a ticked 3 times: visits = {}", a.state().visits);
    println!(
        "  b.tick_by(10)    = {}",
        b.call::<i32, i32>("tick_by", 10)?
    );

    println!("runaway.wat");
    let runaway = host.load_file(dir.join("runaway.wat"))?;
    let mut inst = runaway.instantiate(App::default())?;
    match inst.call::<(), ()>("forever", ()).map_err(Error::into_kind) {
        Err(e @ ErrorKind::DeadlineExceeded { .. }) => println!("  forever():\n{}", indent(&e)),
        other => panic!("expected a deadline error, got {other:?}"),
    }
    match inst.call::<i32, i32>("deeper", 0).map_err(Error::into_kind) {
        Err(e @ ErrorKind::StackOverflow { .. }) => println!("  deeper(0):\n{}", indent(&e)),
        other => panic!("expected a stack overflow, got {other:?}"),
    }

    // The host is unaffected: the calculator still answers.
    let mut inst = calc.instantiate(App::default())?;
    println!(
        "after the runaway: add(40, 2) = {}",
        inst.call::<(i32, i32), i32>("add", (40, 2))?
    );
    Ok(())
}

fn indent(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect()
}
