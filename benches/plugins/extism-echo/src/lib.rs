//! Echo for Extism: returns its input, so a call measures the exchange
//! (Extism's input/output kernel), not guest work. The spindle side of the
//! comparison is `echo` in runtime/tests/data/upper.wat.

use extism_pdk::{FnResult, plugin_fn};

#[plugin_fn]
pub fn echo(input: Vec<u8>) -> FnResult<Vec<u8>> {
    Ok(input)
}
