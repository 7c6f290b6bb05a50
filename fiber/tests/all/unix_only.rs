//! Says, in the Windows test run, which suites of this crate do not run
//! there and why, so their absence is visible rather than silent.
#![cfg(not(unix))]

#[test]
fn suites_that_do_not_run_on_this_target() {
    for (suite, why) in [
        (
            "leaking",
            "its children map raw stacks with mmap/mprotect and expect SIGABRT; the abort-or-leak \
             rules themselves live in target-independent code (fiber.rs)",
        ),
        (
            "unwinding",
            "it measures mapped memory from /proc/self/maps; the Windows stack lifecycle is \
             measured in tests/all/windows.rs and tests/all/fiber.rs",
        ),
        (
            "overflow_threads",
            "it tests the unix alternate signal stack; Windows reports overflows through a \
             vectored exception handler (tests/all/windows.rs)",
        ),
        (
            "cet_landing_pads",
            "it reads an ELF with objdump (x86_64 Linux only)",
        ),
    ] {
        println!("NOTE: fiber/tests/all/{suite}.rs does not run on this target: {why}");
    }
}
