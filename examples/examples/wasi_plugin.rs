//! A WASI plugin's string function, called from a ten-line host: the kit's
//! plugin (`examples/plugins/pdk-greeter`) built with std for
//! wasm32-wasip1 by this crate's build script, so it imports WASI. The
//! host grants WASI with nothing in it (no files, no environment, argv is
//! the plugin's name) and reads what the plugin printed from its captured
//! stdout.
//!
//! Run: `cargo run --release -p spindle-examples --example wasi_plugin`

use spindle_runtime::{BoxError, Ctx, Error, Host, Wasi};

fn main() -> Result<(), Error> {
    let host = Host::<u32>::builder()
        .wasi(Wasi::new())
        .func("app", "visits", |mut cx: Ctx<'_, u32>, by: u32| {
            *cx.state_mut() += by;
            *cx.state()
        })
        .func_str("app", "shout", |_: &mut Ctx<'_, u32>, s: &str| {
            Ok::<_, BoxError>(s.to_uppercase())
        })
        .build()?;
    let mut plugin = host
        .load_file(env!("PDK_GREETER_WASI_WASM"))?
        .instantiate(0)?;
    println!("{}", plugin.call_str("greet", "world")?);
    plugin.call_str("log", "a line from inside the plugin")?;
    print!(
        "plugin stdout: {}",
        String::from_utf8_lossy(&plugin.take_stdout())
    );
    Ok(())
}
