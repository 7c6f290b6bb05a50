//! A WASI command: prints its arguments and one environment variable, reads
//! `/data/input.txt` if that directory was granted, writes
//! `/out/result.txt` if that one was, and exits with the code given as
//! `--exit N` (0 otherwise). Two more flags make it wait, for the limit
//! tests: `--sleep SECS` sleeps first (`std::thread::sleep`, one
//! `poll_oneoff`), `--read PATH` reads a file first (a FIFO blocks).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(secs) = flag("--sleep").and_then(|s| s.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_secs(secs));
        println!("woke after {secs}s");
    }
    if let Some(path) = flag("--read") {
        match std::fs::read(path) {
            Ok(bytes) => println!("read {} bytes", bytes.len()),
            Err(e) => println!("cannot read {path}: {e}"),
        }
    }
    println!("args: {:?}", &args[1..]);
    println!("argv0: {}", args[0]);
    match std::env::var("GREETING") {
        Ok(v) => println!("GREETING={v}"),
        Err(_) => println!("GREETING is not set"),
    }
    match std::fs::read_to_string("/data/input.txt") {
        Ok(text) => println!("input: {}", text.trim_end()),
        Err(e) => println!("no input: {e}"),
    }
    match std::fs::write("/out/result.txt", "written by wasi-cmd\n") {
        Ok(()) => println!("wrote /out/result.txt"),
        Err(e) => println!("cannot write /out/result.txt: {e}"),
    }
    eprintln!("wasi-cmd: done");
    let code = flag("--exit")
        .and_then(|c| c.parse::<u8>().ok())
        .unwrap_or(0);
    ExitCode::from(code)
}
