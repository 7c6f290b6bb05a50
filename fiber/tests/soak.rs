//! Soak: a million fibers made, resumed and dropped, with the process's
//! resident memory and number of mappings read from /proc at the start,
//! after a warm-up and at the end. Ignored by default; `scripts/soak.sh`
//! runs them in release mode and prints the figures (RELIABILITY.md).
//! `SPINDLE_SOAK_SCALE` (a factor, default 1) scales the counts down for CI.

use spindle_fiber::{Fiber, FiberResult, StackPool, Suspender};

/// Resident set and mapping count of this process.
#[derive(Clone, Copy, Debug)]
struct Usage {
    rss_kib: u64,
    maps: usize,
}

#[cfg(target_os = "linux")]
fn usage() -> Usage {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    let maps = std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count();
    Usage { rss_kib, maps }
}

#[cfg(not(target_os = "linux"))]
fn usage() -> Usage {
    panic!(
        "the soak tests read RSS and mappings from /proc and run on Linux only; \
         this target ({}) has no /proc",
        std::env::consts::OS
    )
}

fn scaled(count: u64) -> u64 {
    let scale: f64 = match std::env::var("SPINDLE_SOAK_SCALE") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("SPINDLE_SOAK_SCALE={s:?} is not a number")),
        Err(_) => 1.0,
    };
    ((count as f64 * scale) as u64).max(100)
}

/// Runs `step(i)` `count` times (scaled) with a warm-up of 1 %, prints the
/// figure line and checks that neither RSS nor the mapping count grew after
/// the warm-up by more than the given bounds.
fn soak(
    what: &str,
    count: u64,
    max_rss_growth_kib: u64,
    max_map_growth: usize,
    mut step: impl FnMut(u64),
) {
    let count = scaled(count);
    let warm = (count / 100).max(10);
    let start = usage();
    for i in 0..warm {
        step(i);
    }
    let warmed = usage();
    for i in warm..count {
        step(i);
    }
    let end = usage();
    println!(
        "SOAK {what}: count={count} rss_kib start={} warm={} end={} (growth after warm-up {} KiB) \
         maps start={} warm={} end={}",
        start.rss_kib,
        warmed.rss_kib,
        end.rss_kib,
        end.rss_kib as i64 - warmed.rss_kib as i64,
        start.maps,
        warmed.maps,
        end.maps
    );
    assert!(
        end.rss_kib <= warmed.rss_kib + max_rss_growth_kib,
        "{what}: RSS grew from {} KiB to {} KiB after the warm-up",
        warmed.rss_kib,
        end.rss_kib
    );
    assert!(
        end.maps <= warmed.maps + max_map_growth,
        "{what}: mappings grew from {} to {} after the warm-up",
        warmed.maps,
        end.maps
    );
}

type Ping = Suspender<u64, u64>;

/// Every fiber suspends once; even ones are resumed to the end, odd ones are
/// dropped while suspended (unwound), so both ways of freeing a stack run.
fn one_fiber(fiber: &mut Fiber<'static, u64, u64, u64, impl spindle_fiber::FiberStack>, i: u64) {
    assert_eq!(fiber.resume(i), FiberResult::Yield(i + 1));
    if i % 2 == 0 {
        assert_eq!(fiber.resume(2), FiberResult::Return(i + 3));
    }
}

fn body(first: u64, s: &Ping) -> u64 {
    // Something on the fiber's stack with a destructor, for the unwinding.
    let owned = Box::new([first; 4]);
    let more = s.suspend(first + 1);
    owned[0] + more + 1
}

#[test]
#[ignore = "soak: run with scripts/soak.sh"]
fn soak_fresh_fibers_create_resume_drop() {
    soak(
        "fiber create/resume/drop (fresh mmap'd Stack each)",
        1_000_000,
        4 << 10,
        8,
        |i| {
            let mut fiber = Fiber::new(body).expect("fiber");
            one_fiber(&mut fiber, i);
        },
    );
}

#[test]
#[ignore = "soak: run with scripts/soak.sh"]
fn soak_pooled_fibers_create_resume_into_stack() {
    let mut pool = StackPool::new(64 * 1024).with_max_idle(4);
    soak(
        "fiber create/resume/into_stack (StackPool)",
        1_000_000,
        4 << 10,
        8,
        |i| {
            let stack = pool.take().expect("stack");
            let mut fiber = Fiber::with_stack(stack, body).expect("fiber");
            one_fiber(&mut fiber, i);
            pool.give(fiber.into_stack());
        },
    );
    assert!(pool.len() <= 4);
}
