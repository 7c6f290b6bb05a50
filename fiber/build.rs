//! Derives the version tag that every assembly symbol of this crate carries.
//!
//! Two semver-incompatible copies of `spindle-fiber` may end up in one binary
//! (a dependency pins an older one). Their switch routines have different
//! contracts, so their symbols must never resolve to each other: the crate
//! version is baked into each name, with everything that is not an ASCII
//! letter or digit turned into `_` (so `0.1.0-rc.1` becomes `0_1_0_rc_1`).

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let tag: String = version
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    println!("cargo:rustc-env=SPINDLE_FIBER_SYMBOL_VERSION={tag}");
    println!("cargo:rerun-if-changed=build.rs");
}
