//! `spindle-outside-host PLUGIN.wasm...`: for each plugin built with the
//! kit (examples/plugins/pdk-greeter), 20,000 `call_str("greet")` and
//! 20,000 `call_bytes("reverse")` with guest memory measured after a
//! warm-up and at the end. Prints one line per plugin; exits 1 on any
//! failure or growth.

use spindle_runtime::{BoxError, Ctx, Host, Instance};
use std::process::ExitCode;

const CALLS: u32 = 20_000;
const WARM_UP: u32 = 200;

fn main() -> ExitCode {
    let plugins: Vec<String> = std::env::args().skip(1).collect();
    if plugins.is_empty() {
        eprintln!("usage: spindle-outside-host PLUGIN.wasm...");
        return ExitCode::from(2);
    }
    let host = Host::<u32>::builder()
        .func("app", "visits", |mut cx: Ctx<'_, u32>, delta: u32| {
            *cx.state_mut() += delta;
            *cx.state()
        })
        .func_str("app", "shout", |_cx: &mut Ctx<'_, u32>, s: &str| {
            Ok::<String, BoxError>(s.to_uppercase())
        })
        .build()
        .expect("building the host");
    let mut ok = true;
    for path in &plugins {
        match run(&host, path) {
            Ok(line) => println!("outside-host ok: {path}: {line}"),
            Err(e) => {
                println!("outside-host FAILED: {path}: {e}");
                ok = false;
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn round(inst: &mut Instance<u32>, i: u32, payload: &[u8]) -> Result<(), String> {
    let name = format!("guest {i}");
    let out = inst.call_str("greet", &name).map_err(|e| e.to_string())?;
    let want = format!("Hello, {name}! You are visitor #{}.", inst.state());
    if out != want {
        return Err(format!("greet said {out:?}, expected {want:?}"));
    }
    let back = inst.call_bytes("reverse", payload).map_err(|e| e.to_string())?;
    if !back.iter().eq(payload.iter().rev()) {
        return Err("reverse returned the wrong bytes".into());
    }
    Ok(())
}

fn run(host: &Host<u32>, path: &str) -> Result<String, String> {
    let plugin = host.load_file(path).map_err(|e| e.to_string())?;
    let mut inst = plugin.instantiate(0).map_err(|e| e.to_string())?;
    let payload: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    for i in 0..WARM_UP {
        round(&mut inst, i, &payload)?;
    }
    let before = inst.memory().len();
    for i in 0..CALLS {
        round(&mut inst, i, &payload)?;
    }
    let after = inst.memory().len();
    if after != before {
        return Err(format!(
            "guest memory grew from {before} to {after} bytes over {CALLS} calls of each export"
        ));
    }
    Ok(format!(
        "{CALLS} greet + {CALLS} reverse calls, guest memory {before} bytes before and after"
    ))
}
