//! One epoch ticker thread serves every host (with a thread per
//! host, `HostBuilder::build` panicked once the process could not start
//! another, at about 950 live hosts under `ulimit -v 3000000`). Alone in its
//! test binary so the thread count it reads is its own.

use spindle_runtime::{ErrorKind, Host, Limits};
use std::time::Duration;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task (Linux)")
        .count()
}

const SPIN: &str = r#"(module (func (export "spin") (loop (br 0))))"#;

fn deadline_fires(host: &Host<()>) {
    let plugin = host.load_wat("spin", SPIN).unwrap();
    let mut inst = plugin
        .instantiate_with((), Limits::new().deadline(Duration::from_millis(20)))
        .unwrap();
    let err = inst.call::<(), ()>("spin", ()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::DeadlineExceeded { .. }),
        "{err}"
    );
}

#[test]
fn thousands_of_live_hosts_share_one_ticker_thread() {
    let first = Host::<()>::builder().build().unwrap();
    let before = threads();
    let hosts: Vec<Host<()>> = (0..3000)
        .map(|i| {
            Host::<()>::builder()
                .epoch_tick(Duration::from_millis(1 + i % 7))
                .build()
                .unwrap_or_else(|e| panic!("host {i}: {e}"))
        })
        .collect();
    assert_eq!(threads(), before, "building hosts started threads");
    // Every host, whatever its tick, still gets its deadlines.
    for h in [&hosts[0], &hosts[1234], &hosts[2999], &first] {
        deadline_fires(h);
    }
    drop(hosts);
    drop(first);
    // With no host left the thread idles; a new host is served by it.
    let later = Host::<()>::builder().build().unwrap();
    assert!(
        threads() <= before,
        "{} threads, {before} before",
        threads()
    );
    deadline_fires(&later);
}
