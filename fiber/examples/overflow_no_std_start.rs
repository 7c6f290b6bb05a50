//! A fiber stack overflow in a program whose std start-up never ran, as in a
//! library loaded by a C host: `#![no_main]`, so Rust's runtime did not
//! install its handler and std-spawned threads get no alternate signal
//! stack. Once `install_overflow_handler` has run, a thread that creates a
//! fiber is given one, so the overflow is still reported as
//! `fiber stack overflow` (and not as a plain SIGSEGV, as at 9b1ab03). Run
//! by the test `overflow_without_std_start_up_is_reported`.
#![no_main]

#[cfg(unix)]
mod unix {
    use spindle_fiber::{Fiber, Suspender};
    use std::hint::black_box;

    #[inline(never)]
    #[allow(unconditional_recursion)]
    fn recurse(n: u64) -> u64 {
        let pad = black_box([n; 64]);
        recurse(n + 1) + pad[3]
    }

    fn has_alternate_stack() -> bool {
        // SAFETY: sigaltstack with a null new stack only reads the current one.
        unsafe {
            let mut st: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(std::ptr::null(), &mut st);
            st.ss_flags & libc::SS_DISABLE == 0
        }
    }

    /// The C entry point (no std start-up before it).
    #[unsafe(no_mangle)]
    extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
        spindle_fiber::install_overflow_handler().expect("install the handler");
        std::thread::spawn(|| {
            println!(
                "std-spawned thread, before its first fiber: alternate stack {}",
                has_alternate_stack()
            );
            let mut f = Fiber::with_stack_size(64 * 1024, |(): (), _: &Suspender<(), ()>| {
                recurse(0);
            })
            .expect("fiber");
            println!(
                "after creating a fiber: alternate stack {}",
                has_alternate_stack()
            );
            f.resume(());
        })
        .join()
        .expect("join");
        0
    }
}

/// Elsewhere there is no alternate signal stack to test; the test that runs
/// this example is unix-only.
#[cfg(not(unix))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    eprintln!("overflow_no_std_start tests unix alternate signal stacks; not on this target");
    2
}
