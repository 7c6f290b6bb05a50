//! Dropping a suspended fiber when the crate is built with `-C panic=abort`,
//! where its frames cannot be unwound. Run by the test
//! `drop_under_panic_abort` (fiber/tests/all/leaking.rs), which builds it so:
//!
//! ```sh
//! RUSTFLAGS="-C panic=abort" cargo run -p spindle-fiber --example panic_abort_drop -- owned|raw
//! ```
//!
//! * `owned`: a `'static` fiber on a `Stack` is leaked, and a thread that
//!   borrows its frames keeps reading intact data: prints `frames intact`.
//! * `raw`: a fiber on a `RawStack` may not be leaked (its owner frees the
//!   memory once the fiber is dropped), so the drop aborts the process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[cfg(unix)]
use spindle_fiber::RawStack;
use spindle_fiber::{Fiber, FiberStack, Stack, Suspender};

const PATTERN: u64 = 0x1111_1111_1111_1111;
static STARTED: AtomicBool = AtomicBool::new(false);

/// An immutable array on the fiber's stack, read by a scoped thread that
/// exits with status 3 if it ever changes; the fiber suspends in the scope.
fn borrowed_by_a_scoped_thread(s: &Suspender<(), ()>) {
    let local = [PATTERN; 64];
    let local = &local;
    std::thread::scope(|sc| {
        sc.spawn(move || {
            STARTED.store(true, Ordering::SeqCst);
            loop {
                if let Some(w) = local.iter().find(|&&w| w != PATTERN) {
                    println!("scoped thread: immutable borrowed local changed to {w:#x}");
                    std::process::exit(3);
                }
                std::thread::yield_now();
            }
        });
        while !STARTED.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        s.suspend(());
    });
}

fn drop_suspended<S: FiberStack + 'static>(stack: S) {
    let mut fiber = Fiber::with_stack(stack, |(), s: &Suspender<(), ()>| {
        borrowed_by_a_scoped_thread(s)
    })
    .expect("fiber");
    fiber.resume(());
    drop(fiber);
    println!("dropped the suspended fiber");
}

fn scribble_then_exit() -> ! {
    for _ in 0..8 {
        let mut f = Fiber::with_stack_size(64 * 1024, |(), _: &Suspender<(), ()>| {
            std::hint::black_box([0x2222_2222_2222_2222u64; 1024]);
        })
        .expect("fiber");
        f.resume(());
    }
    std::thread::sleep(Duration::from_millis(300));
    println!("frames intact");
    std::process::exit(0);
}

fn main() {
    if cfg!(panic = "unwind") {
        println!(
            "built with panic=unwind: nothing to show (build with RUSTFLAGS=\"-C panic=abort\")"
        );
        std::process::exit(2);
    }
    println!("built with panic=abort");
    match std::env::args().nth(1).as_deref() {
        Some("owned") => {
            drop_suspended(Stack::new(64 * 1024).expect("stack"));
            scribble_then_exit();
        }
        #[cfg(unix)]
        Some("raw") => {
            let (page, len) = (4096, 64 * 1024);
            // SAFETY: a fresh anonymous mapping whose first page is made
            // inaccessible.
            let base = unsafe {
                let base = libc::mmap(
                    std::ptr::null_mut(),
                    page + len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(base, libc::MAP_FAILED);
                assert_eq!(libc::mprotect(base, page, libc::PROT_NONE), 0);
                base
            };
            // SAFETY: [guard | stack] as described; unmapped below only once
            // the fiber (and the RawStack with it) was dropped.
            drop_suspended(unsafe { RawStack::from_raw_parts(base.cast(), page, len) });
            // SAFETY: the RawStack is gone, so by its contract the memory is
            // ours again.
            unsafe { libc::munmap(base, page + len) };
            scribble_then_exit();
        }
        _ => {
            eprintln!("usage: panic_abort_drop owned|raw");
            std::process::exit(2);
        }
    }
}
