//! A generator on a fiber: the fiber walks a tree recursively and hands out
//! one value per resume, keeping its place on its own stack between resumes.
//!
//! Run: `cargo run --release -p spindle-examples --example pingpong`

use spindle_fiber::{Fiber, FiberResult, Suspender};

enum Tree {
    Leaf(u32),
    Node(Box<Tree>, Box<Tree>),
}

fn walk(tree: &Tree, s: &Suspender<(), u32>) {
    match tree {
        Tree::Leaf(v) => s.suspend(*v),
        Tree::Node(l, r) => {
            walk(l, s);
            walk(r, s);
        }
    }
}

fn build(lo: u32, hi: u32) -> Tree {
    if lo == hi {
        Tree::Leaf(lo)
    } else {
        let mid = (lo + hi) / 2;
        Tree::Node(Box::new(build(lo, mid)), Box::new(build(mid + 1, hi)))
    }
}

fn main() -> Result<(), spindle_fiber::Error> {
    println!("spindle-fiber backend: {}", spindle_fiber::backend());
    let tree = build(1, 10);
    let mut leaves = Fiber::new(move |(), s: &Suspender<(), u32>| walk(&tree, s))?;
    let mut seen = Vec::new();
    while let FiberResult::Yield(v) = leaves.resume(()) {
        seen.push(v);
    }
    println!("leaves in order: {seen:?}");
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());

    // Ping-pong: resume with a value, get one back.
    let mut echo = Fiber::new(|first: u64, s: &Suspender<u64, u64>| -> u64 {
        let mut n = first;
        while n != 0 {
            n = s.suspend(n * 2);
        }
        0
    })?;
    let started = std::time::Instant::now();
    let rounds = 1_000_000u64;
    let mut x = 1;
    for i in 1..=rounds {
        x = match echo.resume(i) {
            FiberResult::Yield(y) => y,
            FiberResult::Return(_) => unreachable!(),
        };
    }
    assert_eq!(x, rounds * 2);
    assert_eq!(echo.resume(0), FiberResult::Return(0));
    let per = started.elapsed().as_nanos() as f64 / rounds as f64;
    println!(
        "{rounds} ping-pong round trips, {per:.1} ns each (see BENCHMARKS.md for real measurements)"
    );
    Ok(())
}
