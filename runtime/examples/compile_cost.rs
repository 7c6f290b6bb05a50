//! Measures what compiling one module costs Cranelift, with spindle's load
//! limits off, so hostile shapes can be measured (SECURITY.md, "Compilation").
//!
//! `cargo run --release -p spindle-runtime --example compile_cost -- FILE`
//! prints the wall time of `Module::from_binary`; run it under
//! `/usr/bin/time -v` for the peak RSS.

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: compile_cost FILE.wasm");
        std::process::exit(2);
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let limits = spindle_runtime::LoadLimits::default();
    let verdict = match spindle_runtime::Host::<()>::builder()
        .load_limits(limits)
        .build()
        .expect("host")
        .load_bytes(&path, &bytes)
    {
        Ok(_) => "passes the default load limits".to_string(),
        Err(e) => format!("refused with the default load limits: {e}"),
    };
    println!("{path}: {} bytes; {verdict}", bytes.len());
    let engine = spindle_runtime::wasmtime::Engine::default();
    let start = Instant::now();
    let compiled = spindle_runtime::wasmtime::Module::from_binary(&engine, &bytes);
    println!(
        "compiled without limits: {} in {:.2?}",
        if compiled.is_ok() { "ok" } else { "error" },
        start.elapsed()
    );
}
