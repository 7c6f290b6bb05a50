//! spindle-fiber's `ucontext_t` (its own declaration where the `libc` crate
//! has none, libc's elsewhere) has the size, alignment and `uc_link` /
//! `uc_stack` offsets of the target's glibc headers, as read by the build
//! script from an object file the target's C compiler produced.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn ucontext_t_matches_the_targets_glibc_headers() {
    let glibc: Vec<usize> = env!("GLIBC_UCONTEXT_LAYOUT")
        .split(',')
        .map(|n| n.parse().expect("the build script writes numbers"))
        .collect();
    let (size, align, link, stack) = spindle_fiber::UCONTEXT_LAYOUT;
    let ours = vec![size, align, link, stack];
    println!(
        "{}: ucontext_t (size, align, offset of uc_link, offset of uc_stack): \
         glibc headers via {} = {glibc:?}, spindle-fiber = {ours:?}",
        std::env::consts::ARCH,
        env!("GLIBC_UCONTEXT_CC"),
    );
    assert_eq!(
        ours, glibc,
        "spindle-fiber's ucontext_t layout differs from glibc's for this target"
    );
}
