//! `cfg(asan)` under `-Zsanitizer=address`, as the original crate's build
//! script sets it (from CARGO_CFG_SANITIZE, which cargo fills in on every
//! toolchain, so no nightly feature gate is needed to see it).
//!
//! The switch itself needs nothing from this crate: spindle-fiber announces
//! every switch to ASan on its own. The cfg is for this crate's tests, whose
//! stack-address probes must look through ASan's fake stack.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(asan)");
    let sanitizers = std::env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if sanitizers.split(',').any(|s| s == "address") {
        println!("cargo:rustc-cfg=asan");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
