//! Overflow reports on threads that Rust's std start-up did not prepare
//! (issue 18, item 6): a raw pthread, and every thread of a `#![no_main]`
//! program. Both die with `fiber stack overflow`, not a plain SIGSEGV.
// Not under Miri: no signals, no child processes (tests/all/miri_only.rs).
#![cfg(all(unix, not(miri)))]

use crate::common::*;

use std::os::unix::process::ExitStatusExt;

use spindle_fiber::{Fiber, Suspender};

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 64]);
    recurse(n + 1) + pad[3]
}

fn assert_reported(out: &std::process::Output) -> String {
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{:?}:\n{text}",
        out.status
    );
    assert!(text.contains("fiber stack overflow"), "{text}");
    text
}

/// The handler is installed on the main thread only; a thread made with
/// `pthread_create` (no std start-up, no alternate stack) runs a fiber that
/// overflows.
#[test]
fn overflow_on_a_raw_pthread_is_reported() {
    let out = no_sanitizer_altstack(&mut child_command(child!("child_overflow_on_raw_pthread")))
        .output()
        .unwrap();
    let text = assert_reported(&out);
    assert!(
        text.contains("alternate stack with a guard page: true"),
        "{text}"
    );
}

/// Whether this thread has an alternate signal stack with an inaccessible
/// page right below it (read from /proc/self/maps).
fn alternate_stack_has_guard() -> bool {
    // SAFETY: sigaltstack with a null new stack only reads the current one.
    let st = unsafe {
        let mut st: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut st);
        st
    };
    if st.ss_flags & libc::SS_DISABLE != 0 {
        return false;
    }
    let below = st.ss_sp as usize - 1;
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|line| {
            let mut fields = line.split_whitespace();
            let (lo, hi) = fields.next().unwrap().split_once('-').unwrap();
            let (lo, hi) = (
                usize::from_str_radix(lo, 16).unwrap(),
                usize::from_str_radix(hi, 16).unwrap(),
            );
            (lo..hi).contains(&below) && fields.next().unwrap().starts_with("---")
        })
}

#[test]
#[ignore = "run as a child process by overflow_on_a_raw_pthread_is_reported"]
fn child_overflow_on_raw_pthread() {
    if !in_child(child!("child_overflow_on_raw_pthread")) {
        return;
    }
    extern "C" fn thread_main(_: *mut libc::c_void) -> *mut libc::c_void {
        let mut f = Fiber::with_stack_size(64 * 1024, |(): (), _: &Suspender<(), ()>| {
            recurse(0);
        })
        .unwrap();
        println!(
            "alternate stack with a guard page: {}",
            alternate_stack_has_guard()
        );
        f.resume(());
        std::ptr::null_mut()
    }
    spindle_fiber::install_overflow_handler().unwrap();
    // SAFETY: plain pthread calls with a valid attribute object and entry.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstacksize(&mut attr, 1 << 20);
        let mut t: libc::pthread_t = std::mem::zeroed();
        assert_eq!(
            libc::pthread_create(&mut t, &attr, thread_main, std::ptr::null_mut()),
            0
        );
        libc::pthread_join(t, std::ptr::null_mut());
    }
    unreachable!("the fiber overflowed");
}

/// `audit_overflow_nomain`: the example `overflow_no_std_start`, which
/// `cargo test` builds into the `examples/` directory of the profile this
/// test binary belongs to: `<profile>/deps/<test>` has it two levels up,
/// cargo's newer layout (`<profile>/build/<package>/<hash>/out/<test>`)
/// five. The nearest `examples/` above the test binary is the one.
#[test]
fn overflow_without_std_start_up_is_reported() {
    let exe = std::env::current_exe().unwrap();
    let name = format!(
        "examples/overflow_no_std_start{}",
        std::env::consts::EXE_SUFFIX
    );
    let example = exe
        .ancestors()
        .skip(1)
        .map(|dir| dir.join(&name))
        .find(|candidate| candidate.exists())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found in any directory above {}: build it with `cargo build -p \
                 spindle-fiber --example overflow_no_std_start` (cargo test builds examples \
                 unless told otherwise)",
                exe.display()
            )
        });
    let out = no_sanitizer_altstack(&mut command(&example))
        .output()
        .unwrap();
    let text = assert_reported(&out);
    assert!(
        text.contains("after creating a fiber: alternate stack true"),
        "{text}"
    );
}
