//! Says, in the Miri run (`cargo +nightly miri test -p spindle-fiber`),
//! which suites of this crate do not run under Miri and why, so their
//! absence is visible rather than silent. Single tests that cannot run
//! there are `#[ignore]`d with their reason where they are.
#![cfg(miri)]

#[test]
fn suites_that_do_not_run_under_miri() {
    for (suite, why) in [
        (
            "audit_abi",
            "it checks callee-saved registers across the real switch with an assembly helper; \
             Miri runs no assembly",
        ),
        (
            "cet_landing_pads",
            "it reads this binary's machine code with objdump; Miri has none",
        ),
        (
            "sanitizer",
            "it checks the AddressSanitizer annotations; Miri cannot run with ASan",
        ),
        (
            "overflow_threads",
            "it overflows fiber stacks into guard pages in child processes; Miri has neither \
             signals nor child processes",
        ),
    ] {
        println!("NOTE: fiber/tests/all/{suite}.rs does not run under Miri: {why}");
    }
}
