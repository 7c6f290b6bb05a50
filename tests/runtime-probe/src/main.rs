//! A small application embedding spindle-runtime: a plugin asks its host for
//! numbers through a host function that suspends the call, and `main`
//! answers from a plain loop. Several calls are suspended at once and resumed
//! out of order, one is dropped while suspended, and a trap after a resume is
//! reported as an error. Every answer is checked; the probe prints one line
//! for the LTO harness, or exits non-zero.
//!
//! Built with wasmtime's fibers replaced by Spindle's (`[patch.crates-io]`
//! in this crate's manifest), so the async stack switches it makes are
//! Spindle's `spindle_fiber_<version>_*` routines.

use spindle_runtime::{BoxError, Call, Ctx, ErrorKind, Host, Step};

const PLUGIN: &str = r#"
(module
  (import "app" "next" (func $next (param i64) (result i64)))
  ;; Sums `count` numbers obtained from the host, passing the running sum.
  (func (export "sum") (param $count i64) (result i64) (local $i i64) (local $sum i64)
    (block $done
      (loop $more
        (br_if $done (i64.ge_s (local.get $i) (local.get $count)))
        (local.set $sum (i64.add (local.get $sum) (call $next (local.get $sum))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $more)))
    (local.get $sum))
  ;; Asks once, then traps.
  (func (export "ask_then_trap") (result i64)
    (drop (call $next (i64.const 0)))
    unreachable)
)"#;

type Sum<'i> = Call<'i, i64, i64, i64>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = Host::<u32>::builder()
        .func_async("app", "next", |mut cx: Ctx<'_, u32>, (sum,): (i64,)| {
            Box::new(async move {
                *cx.state_mut() += 1;
                let answer: i64 = cx.suspend::<i64, i64>(sum).await?;
                Ok::<i64, BoxError>(answer)
            })
        })
        .build()?;
    let plugin = host.load_wat("probe.wat", PLUGIN)?;

    // Three calls suspended at once, resumed round-robin in reverse order.
    const COUNT: i64 = 200;
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(plugin.instantiate(0)?);
    }
    let mut calls: Vec<Sum<'_>> = Vec::new();
    for instance in instances.iter_mut() {
        calls.push(instance.start("sum", (COUNT,))?);
    }
    let mut steps: Vec<Step<i64, i64>> = Vec::new();
    for call in calls.iter_mut() {
        steps.push(call.run()?);
    }
    let mut results = [None; 3];
    while results.iter().any(Option::is_none) {
        for k in (0..3).rev() {
            if let Step::Suspended(sum) = steps[k] {
                // Call k is fed k+1, then k+2, ... : each answer depends on the
                // running sum the plugin handed over.
                let answer = (k as i64 + 1) + sum % 7;
                steps[k] = calls[k].resume(answer)?;
            }
            if let Step::Returned(total) = steps[k] {
                results[k] = Some(total);
            }
        }
    }
    drop(calls);
    for (k, total) in results.iter().enumerate() {
        let mut expected = 0i64;
        for _ in 0..COUNT {
            expected += (k as i64 + 1) + expected % 7;
        }
        if *total != Some(expected) {
            return Err(format!("call {k}: got {total:?}, expected {expected}").into());
        }
        if *instances[k].state() != COUNT as u32 {
            return Err(format!("call {k}: host ran {} times", instances[k].state()).into());
        }
    }

    // Dropped while suspended: cancelled, and the instance is usable again.
    let mut instance = plugin.instantiate(0)?;
    let mut call: Sum<'_> = instance.start("sum", (5i64,))?;
    if !matches!(call.run()?, Step::Suspended(0)) {
        return Err("the dropped call did not suspend".into());
    }
    drop(call);
    let mut again: Sum<'_> = instance.start("sum", (1i64,))?;
    again.run()?;
    if !matches!(again.resume(41)?, Step::Returned(41)) {
        return Err("the instance did not run again after a dropped call".into());
    }
    drop(again);

    // A trap after a resume is an ordinary error.
    let mut trapping: Call<'_, i64, i64, i64> = instance.start("ask_then_trap", ())?;
    trapping.run()?;
    match trapping.resume(1) {
        Err(e) if matches!(e.kind(), ErrorKind::Trap { .. }) => {}
        other => return Err(format!("expected a trap, got {other:?}").into()),
    }

    println!(
        "spindle-runtime-probe ok: 3 interleaved resumable calls x {COUNT} suspensions, a \
         dropped call, a trap after resume"
    );
    Ok(())
}
