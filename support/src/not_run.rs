//! How a test that cannot run here says so: loudly everywhere, and as a
//! failure where everything it needs was meant to be installed.

/// Reports a test that cannot run here for a missing tool, target or
/// privilege. With `SPINDLE_REQUIRE_ALL` set (`scripts/test.sh` sets it on
/// CI, where setup installed everything) it fails the test instead, so
/// nothing passes on CI by not running.
pub fn not_run(why: &str) {
    if std::env::var_os("SPINDLE_REQUIRE_ALL").is_some() {
        panic!("cannot run: {why} (SPINDLE_REQUIRE_ALL is set)");
    }
    eprintln!("NOT RUN: {why}");
}
