//! A plugin that asks its host for input several times. Each question
//! suspends the plugin call; a plain loop in `main` answers and resumes it.
//! No async executor anywhere.
//!
//! Run: `cargo run --release -p spindle-examples --example resumable`

use spindle_runtime::{BoxError, Call, Ctx, Error, Host, Step};

/// The plugin: asks how many numbers there are, asks for each, and returns
/// their average. It imports one host function, `app.ask(prompt) -> i64`.
const AVERAGE: &str = r#"
(module $average
  (import "app" "ask" (func $ask (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "How many numbers?")
  (data (i32.const 32) "Next number?")
  (func (export "average") (result i64) (local $n i64) (local $i i64) (local $sum i64)
    (local.set $n (call $ask (i32.const 0) (i32.const 17)))
    (block $done
      (loop $next
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $sum (i64.add (local.get $sum) (call $ask (i32.const 32) (i32.const 12))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (if (result i64) (i64.eqz (local.get $n))
      (then (i64.const 0))
      (else (i64.div_s (local.get $sum) (local.get $n)))))
)"#;

/// A call of `average`: yields prompts, is resumed with numbers.
type Average<'i> = Call<'i, i64, String, i64>;

fn main() -> Result<(), Error> {
    let host = Host::<Vec<i64>>::builder()
        // `cx.suspend(prompt).await` hands the prompt to `main` and waits
        // there, with the plugin's stack intact, until `main` resumes.
        .func_async(
            "app",
            "ask",
            |mut cx: Ctx<'_, Vec<i64>>, (ptr, len): (u32, u32)| {
                Box::new(async move {
                    let prompt = cx.read_str(ptr, len)?.to_string();
                    let answer: i64 = cx.suspend::<String, i64>(prompt).await?;
                    cx.state_mut().push(answer); // the instance remembers its inputs
                    Ok::<i64, BoxError>(answer)
                })
            },
        )
        .build()?;
    let plugin = host.load_wat("average.wat", AVERAGE)?;

    // One call, driven by a plain loop. The answers are scripted so the
    // example runs unattended; a terminal program would read stdin here.
    let mut inst = plugin.instantiate(Vec::new())?;
    let mut answers = [3, 10, 20, 36].into_iter();
    let mut call: Average<'_> = inst.start("average", ())?;
    let mut step = call.run()?;
    let average = loop {
        match step {
            Step::Suspended(prompt) => {
                let answer = answers.next().expect("the plugin asks four times");
                println!("plugin asks {prompt:?}  -> {answer}");
                step = call.resume(answer)?;
            }
            Step::Returned(average) => break average,
        }
    };
    drop(call);
    println!(
        "average = {average}, inputs kept by the instance: {:?}",
        inst.state()
    );

    // Several calls suspended at once (one per instance), resumed in any order.
    let mut a = plugin.instantiate(Vec::new())?;
    let mut b = plugin.instantiate(Vec::new())?;
    let mut call_a: Average<'_> = a.start("average", ())?;
    let mut call_b: Average<'_> = b.start("average", ())?;
    call_a.run()?;
    call_b.run()?;
    call_b.resume(1)?; // b: one number
    call_a.resume(2)?; // a: two numbers
    call_a.resume(5)?;
    let Step::Returned(avg_b) = call_b.resume(100)? else {
        unreachable!("b asked for one number")
    };
    let Step::Returned(avg_a) = call_a.resume(7)? else {
        unreachable!("a asked for two numbers")
    };
    println!("interleaved: a = {avg_a}, b = {avg_b}");

    drop((call_a, call_b));

    // A call nobody wants to finish is simply dropped: the plugin's frames
    // are unwound and the instance can be called again.
    let mut abandoned: Average<'_> = a.start("average", ())?;
    abandoned.run()?; // suspended in "How many numbers?"
    drop(abandoned);
    let mut last: Average<'_> = a.start("average", ())?;
    last.run()?;
    let done = last.resume(0)?;
    println!("after a dropped call, the same instance answers: {done:?}");
    Ok(())
}
