//! Benchmarks live in `benches/`; this library holds only what several of
//! them share.

/// Median over rounds of (time of `n` runs of `ours`) / (time of `n` runs of
/// `raw`), alternating which goes first. On a shared 2-core machine the load
/// drifts between criterion's back-to-back groups by more than the 5% we
/// want to see; interleaving cancels the drift.
pub fn paired_ratio(rounds: usize, n: usize, mut raw: impl FnMut(), mut ours: impl FnMut()) -> f64 {
    let time = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|r| {
            if r % 2 == 0 {
                let a = time(&mut raw);
                time(&mut ours) / a
            } else {
                let b = time(&mut ours);
                b / time(&mut raw)
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[rounds / 2]
}
