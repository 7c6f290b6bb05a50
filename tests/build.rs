//! Records the host triple, so the LTO harness knows which target it can run
//! binaries for directly.
fn main() {
    println!(
        "cargo:rustc-env=SPINDLE_TESTS_HOST={}",
        std::env::var("HOST").expect("cargo sets HOST for build scripts")
    );
    println!("cargo:rerun-if-changed=build.rs");
}
