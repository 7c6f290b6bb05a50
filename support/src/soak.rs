//! The soak harness: a step repeated many times in one process, with the
//! process's resident memory and number of mappings read from /proc at the
//! start, after a warm-up and at the end. Growth after the warm-up is a
//! leak, which a short test cannot see.
//!
//! `SPINDLE_SOAK_SCALE` (a factor, default 1) scales the counts down for CI;
//! `scripts/soak.sh` runs the full counts and prints the figures
//! (RELIABILITY.md).

/// Resident set and mapping count of this process.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub rss_kib: u64,
    pub maps: usize,
}

/// This process's [`Usage`] now.
#[cfg(target_os = "linux")]
pub fn usage() -> Usage {
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

/// Fails: there is no /proc to read.
#[cfg(not(target_os = "linux"))]
pub fn usage() -> Usage {
    panic!(
        "the soak tests read RSS and mappings from /proc and run on Linux only; \
         this target ({}) has no /proc",
        std::env::consts::OS
    )
}

/// `count` scaled by `SPINDLE_SOAK_SCALE`, and at least `min_count`.
pub fn scaled(count: u64, min_count: u64) -> u64 {
    let scale: f64 = match std::env::var("SPINDLE_SOAK_SCALE") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("SPINDLE_SOAK_SCALE={s:?} is not a number")),
        Err(_) => 1.0,
    };
    ((count as f64 * scale) as u64).max(min_count)
}

/// One soak: what it repeats, how often, and how much the process may grow
/// after the warm-up.
#[derive(Clone, Copy, Debug)]
pub struct Soak<'a> {
    /// Named in the figure line and in failures.
    pub what: &'a str,
    /// Repetitions at `SPINDLE_SOAK_SCALE=1`.
    pub count: u64,
    /// Repetitions however small the scale: enough for the warm-up and a
    /// run after it that means something for this step.
    pub min_count: u64,
    pub max_rss_growth_kib: u64,
    pub max_map_growth: usize,
}

impl Soak<'_> {
    /// Runs `step(i)` for `i` in `0..count` (scaled), the first 1 % (at
    /// least 10) as the warm-up; prints the figure line (`SOAK what: ...`)
    /// and checks that neither RSS nor the mapping count grew after the
    /// warm-up by more than the bounds.
    pub fn run(&self, mut step: impl FnMut(u64)) {
        let what = self.what;
        let count = scaled(self.count, self.min_count);
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
            end.rss_kib <= warmed.rss_kib + self.max_rss_growth_kib,
            "{what}: RSS grew from {} KiB to {} KiB after the warm-up",
            warmed.rss_kib,
            end.rss_kib
        );
        assert!(
            end.maps <= warmed.maps + self.max_map_growth,
            "{what}: mappings grew from {} to {} after the warm-up",
            warmed.maps,
            end.maps
        );
    }
}
