#![no_main]
//! Fibers against a model.
//!
//! The input is a list of operations on up to four fiber slots: create a
//! fiber (on a fresh, pooled, raw or reused stack, with one of several
//! value-type combinations, running a small program), resume it with a
//! value, drop it, or take its stack back with `into_stack`. A program
//! suspends, returns, panics, and runs nested fibers inside the fiber
//! (keeping one suspended across its own suspend, or dropping it while
//! suspended).
//!
//! The model is plain sequential Rust: each program is flattened into
//! constants and suspension points (a nested fiber's contribution is
//! computed by simulating it, with no fiber), and a state machine says what
//! every resume must give back. The real fibers run the program tree
//! directly. Every step is compared: the yielded, returned or panicked
//! value (typed: strings, byte vectors, 16-byte-aligned and large values
//! must arrive intact), whether the fiber is started/finished, and that the
//! values a fiber owns are dropped exactly when the model says (a dropped
//! suspended fiber is unwound). Any divergence panics.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Debug;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use spindle_fiber::{Fiber, FiberResult, FiberStack, RawStack, Stack, StackPool, Suspender};

const SLOTS: usize = 4;
const MAX_OPS: usize = 48;
const MAX_STEPS: usize = 12;
const MAX_DEPTH: usize = 3;
const MAX_CHILD_INPUTS: usize = 6;
const CHILD_STACK: usize = 256 * 1024;
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

#[derive(Arbitrary, Debug, Clone)]
enum Step {
    Suspend,
    Return,
    Panic,
    /// Runs a fiber inside this one: resumes it with `inputs` (stopping once
    /// it finishes; its panics are caught), suspending this fiber once
    /// halfway through if `suspend_midway`, and drops it if it is still
    /// unfinished at the end.
    Nested {
        program: Vec<Step>,
        inputs: Vec<u64>,
        suspend_midway: bool,
    },
    /// Recursion `n % 32` frames deep with a buffer in each frame, so the
    /// program really uses its stack.
    Recurse(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum StackKind {
    /// `Fiber::new`-sized fresh `Stack`.
    Fresh,
    /// A fresh `Stack` of 64, 128, 192 or 256 KiB (unoptimized builds have
    /// large frames).
    Sized(u8),
    /// Taken from a `StackPool`.
    Pooled,
    /// Memory the harness owns, as a `RawStack` inside its own `FiberStack`.
    Raw,
    /// A stack an earlier `into_stack` gave back (fresh if none).
    Reused,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Types {
    /// I = Y = R = u64.
    Words,
    /// I = String, Y = u128 (16-byte aligned), R = Vec<u8>.
    Mixed,
    /// I = (), Y = [u64; 8] (larger than a register pair), R = String.
    Big,
    /// I = u8, Y = String, R = ().
    Small,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Create {
        slot: u8,
        stack: StackKind,
        types: Types,
        program: Vec<Step>,
    },
    Resume {
        slot: u8,
        value: u64,
    },
    Drop {
        slot: u8,
    },
    IntoStack {
        slot: u8,
    },
}

// ---------------------------------------------------------------------------
// Values of several types, each to and from a u64 "accumulator".
// ---------------------------------------------------------------------------

trait Value: PartialEq + Debug + 'static {
    fn from_acc(acc: u64) -> Self;
    fn to_acc(&self) -> u64;
}

impl Value for u64 {
    fn from_acc(acc: u64) -> Self {
        acc
    }
    fn to_acc(&self) -> u64 {
        *self
    }
}

impl Value for u8 {
    fn from_acc(acc: u64) -> Self {
        acc as u8
    }
    fn to_acc(&self) -> u64 {
        u64::from(*self)
    }
}

impl Value for () {
    fn from_acc(_: u64) -> Self {}
    fn to_acc(&self) -> u64 {
        0
    }
}

impl Value for u128 {
    fn from_acc(acc: u64) -> Self {
        (u128::from(acc) << 64) | u128::from(!acc)
    }
    fn to_acc(&self) -> u64 {
        (*self >> 64) as u64 ^ (*self as u64)
    }
}

impl Value for String {
    fn from_acc(acc: u64) -> Self {
        format!("{acc:x}")
    }
    fn to_acc(&self) -> u64 {
        u64::from_str_radix(self, 16).expect("a String made by from_acc")
    }
}

impl Value for Vec<u8> {
    fn from_acc(acc: u64) -> Self {
        let mut v = acc.to_le_bytes().to_vec();
        v.resize(8 + (acc % 48) as usize, 0xa5);
        v
    }
    fn to_acc(&self) -> u64 {
        u64::from_le_bytes(self[..8].try_into().unwrap())
    }
}

impl Value for [u64; 8] {
    fn from_acc(acc: u64) -> Self {
        core::array::from_fn(|i| acc.rotate_left(i as u32 * 7))
    }
    fn to_acc(&self) -> u64 {
        self[0]
    }
}

fn mix(acc: u64, x: u64) -> u64 {
    (acc ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(17)
}

/// What a finished or suspended child contributes to its parent.
fn child_code(ev: &Event) -> u64 {
    match *ev {
        Event::Yield(a) => a.wrapping_mul(3),
        Event::Return(a) => a.wrapping_mul(5).wrapping_add(1),
        Event::Panic(a) => a.wrapping_mul(7).wrapping_add(2),
        Event::Finished => unreachable!("children are never resumed once finished"),
    }
}
const DROPPED: u64 = 11;

fn recurse_code(n: u8) -> u64 {
    let n = u64::from(n % 32);
    n * (n + 1) / 2
}

// ---------------------------------------------------------------------------
// The model.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Yield(u64),
    Return(u64),
    Panic(u64),
    /// Resumed after it returned or panicked: `resume` must panic.
    Finished,
}

#[derive(Debug, Clone, Copy)]
enum Instr {
    Mix(u64),
    Suspend,
    Return,
    Panic,
}

fn compile(steps: &[Step], depth: usize, out: &mut Vec<Instr>) {
    for step in steps.iter().take(MAX_STEPS) {
        match step {
            Step::Suspend => out.push(Instr::Suspend),
            Step::Return => {
                out.push(Instr::Return);
                return;
            }
            Step::Panic => {
                out.push(Instr::Panic);
                return;
            }
            Step::Recurse(n) => out.push(Instr::Mix(recurse_code(*n))),
            Step::Nested {
                program,
                inputs,
                suspend_midway,
            } => {
                if depth >= MAX_DEPTH {
                    continue;
                }
                let inputs = &inputs[..inputs.len().min(MAX_CHILD_INPUTS)];
                let mut instrs = Vec::new();
                compile(program, depth + 1, &mut instrs);
                let mut child = ModelFiber::new(instrs);
                let split = inputs.len() / 2;
                let mut feed = |inputs: &[u64], out: &mut Vec<Instr>| {
                    for &v in inputs {
                        if child.finished {
                            break;
                        }
                        out.push(Instr::Mix(child_code(&child.resume(v))));
                    }
                };
                feed(&inputs[..split], out);
                if *suspend_midway {
                    out.push(Instr::Suspend);
                }
                feed(&inputs[split..], out);
                if !child.finished {
                    out.push(Instr::Mix(DROPPED));
                }
            }
        }
    }
}

#[derive(Debug)]
struct ModelFiber {
    instrs: Vec<Instr>,
    pc: usize,
    acc: u64,
    started: bool,
    finished: bool,
}

impl ModelFiber {
    fn new(instrs: Vec<Instr>) -> Self {
        ModelFiber {
            instrs,
            pc: 0,
            acc: 0,
            started: false,
            finished: false,
        }
    }

    fn resume(&mut self, input: u64) -> Event {
        if self.finished {
            return Event::Finished;
        }
        self.acc = if self.started {
            mix(self.acc, input)
        } else {
            mix(SEED, input)
        };
        self.started = true;
        loop {
            let Some(&instr) = self.instrs.get(self.pc) else {
                self.finished = true;
                return Event::Return(self.acc);
            };
            self.pc += 1;
            match instr {
                Instr::Mix(c) => self.acc = mix(self.acc, c),
                Instr::Suspend => return Event::Yield(self.acc),
                Instr::Return => {
                    self.finished = true;
                    return Event::Return(self.acc);
                }
                Instr::Panic => {
                    self.finished = true;
                    return Event::Panic(self.acc);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The real fibers.
// ---------------------------------------------------------------------------

/// The payload of a program's deliberate panics.
#[derive(Debug)]
struct Boom(u64);

thread_local! {
    /// Live `Tracker`s per fiber id.
    static LIVE: RefCell<HashMap<u64, i64>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
    /// Set while a panic is expected that is not a `Boom`.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

fn live(id: u64) -> i64 {
    LIVE.with(|l| l.borrow().get(&id).copied().unwrap_or(0))
}

fn fresh_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Owned by a fiber's function and then its frame: dropped exactly when the
/// fiber returns, panics, or is dropped (unwound) while suspended or fresh.
struct Tracker(u64);

impl Tracker {
    fn new(id: u64) -> Self {
        LIVE.with(|l| *l.borrow_mut().entry(id).or_default() += 1);
        Tracker(id)
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        LIVE.with(|l| *l.borrow_mut().entry(self.0).or_default() -= 1);
    }
}

enum Done {
    Return(u64),
    Panic(u64),
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let buf = std::hint::black_box([n as u8; 256]);
    if n == 0 {
        0
    } else {
        n + recurse(n - 1) + u64::from(buf[255].wrapping_sub(n as u8))
    }
}

fn run_steps(
    steps: &[Step],
    depth: usize,
    acc: &mut u64,
    suspend: &mut dyn FnMut(u64) -> u64,
) -> Done {
    for step in steps.iter().take(MAX_STEPS) {
        match step {
            Step::Suspend => {
                let v = suspend(*acc);
                *acc = mix(*acc, v);
            }
            Step::Return => return Done::Return(*acc),
            Step::Panic => return Done::Panic(*acc),
            Step::Recurse(n) => *acc = mix(*acc, recurse(u64::from(n % 32))),
            Step::Nested {
                program,
                inputs,
                suspend_midway,
            } => {
                if depth >= MAX_DEPTH {
                    continue;
                }
                let inputs = &inputs[..inputs.len().min(MAX_CHILD_INPUTS)];
                let id = fresh_id();
                let f =
                    body::<u64, u64, u64>(Rc::from(program.clone()), Tracker::new(id), depth + 1);
                let stack = Stack::new(CHILD_STACK).expect("child stack");
                let mut child = Fiber::with_stack(stack, f).expect("child fiber");
                let split = inputs.len() / 2;
                let mut feed = |inputs: &[u64], acc: &mut u64| {
                    for &v in inputs {
                        if child.is_finished() {
                            break;
                        }
                        let ev = match panic::catch_unwind(AssertUnwindSafe(|| child.resume(v))) {
                            Ok(FiberResult::Yield(y)) => Event::Yield(y),
                            Ok(FiberResult::Return(r)) => Event::Return(r),
                            Err(p) => match p.downcast::<Boom>() {
                                Ok(b) => Event::Panic(b.0),
                                Err(p) => panic::resume_unwind(p),
                            },
                        };
                        assert!(child.is_started());
                        *acc = mix(*acc, child_code(&ev));
                    }
                };
                feed(&inputs[..split], acc);
                if *suspend_midway {
                    let v = suspend(*acc);
                    *acc = mix(*acc, v);
                }
                feed(&inputs[split..], acc);
                if !child.is_finished() {
                    *acc = mix(*acc, DROPPED);
                    assert_eq!(live(id), 1, "suspended child lost its tracker");
                    drop(child);
                }
                assert_eq!(live(id), 0, "child's tracker not dropped");
            }
        }
    }
    Done::Return(*acc)
}

fn body<I: Value, Y: Value, R: Value>(
    program: Rc<[Step]>,
    tracker: Tracker,
    depth: usize,
) -> impl FnOnce(I, &Suspender<I, Y>) -> R + 'static {
    move |first: I, s: &Suspender<I, Y>| -> R {
        let _tracker = tracker;
        let mut acc = mix(SEED, first.to_acc());
        let mut suspend = |acc: u64| s.suspend(Y::from_acc(acc)).to_acc();
        match run_steps(&program, depth, &mut acc, &mut suspend) {
            Done::Return(a) => R::from_acc(a),
            Done::Panic(a) => panic::panic_any(Boom(a)),
        }
    }
}

// ---------------------------------------------------------------------------
// Stacks.
// ---------------------------------------------------------------------------

const ARENA_SLOTS: usize = 6;
const ARENA_STACK: usize = 256 * 1024;

/// Memory for raw stacks, allocated once for the process and never freed,
/// with a busy flag per slot. A global rather than a thread-local: at exit
/// LeakSanitizer counts what only a thread-local still points to as leaked,
/// and this memory is meant to live as long as the process.
static ARENA: OnceLock<Vec<(usize, AtomicBool)>> = OnceLock::new();

fn arena() -> &'static [(usize, AtomicBool)] {
    ARENA.get_or_init(|| {
        (0..ARENA_SLOTS)
            .map(|_| {
                let mem: &'static mut [u128] =
                    Box::leak(vec![0u128; ARENA_STACK / 16].into_boxed_slice());
                (mem.as_mut_ptr() as usize, AtomicBool::new(false))
            })
            .collect()
    })
}

thread_local! {
    static POOL: RefCell<StackPool> = RefCell::new(StackPool::new(256 * 1024).with_max_idle(4));
    static SPARE: RefCell<Vec<Spare>> = const { RefCell::new(Vec::new()) };
}

/// A raw stack over one arena slot, marking the slot free when dropped.
#[derive(Debug)]
struct Arena {
    raw: RawStack,
    slot: usize,
}

impl Arena {
    fn take() -> Option<Arena> {
        let (slot, (base, _)) = arena().iter().enumerate().find(|(_, (_, busy))| {
            busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })?;
        // SAFETY: the slot is leaked memory, so valid forever, and used by
        // this Arena alone from the compare-exchange that set `busy` until its
        // Drop clears it. The programs' stack use is bounded (MAX_DEPTH
        // nesting runs on child stacks, Recurse is at most 32 small frames),
        // well within 256 KiB even unoptimized.
        let raw = unsafe { RawStack::from_raw_parts_unguarded(*base as *mut u8, ARENA_STACK) };
        Some(Arena { raw, slot })
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        arena()[self.slot].1.store(false, Ordering::Release);
    }
}

// SAFETY: delegates to the RawStack, whose memory stays valid and unused by
// anything else until this value is dropped (see Arena::take).
unsafe impl FiberStack for Arena {
    fn top(&self) -> *mut u8 {
        self.raw.top()
    }
    fn limit(&self) -> *mut u8 {
        self.raw.limit()
    }
    fn guard_range(&self) -> Range<*mut u8> {
        self.raw.guard_range()
    }
}

enum Spare {
    Stack(Stack),
    Arena(Arena),
}

// ---------------------------------------------------------------------------
// Slots: a fiber of any type combination, next to its model.
// ---------------------------------------------------------------------------

trait Slot {
    fn check_resume(&mut self, value: u64, expected: Event);
    fn is_started(&self) -> bool;
    fn is_finished(&self) -> bool;
    fn input_acc(&self, value: u64) -> u64;
    fn into_spare(self: Box<Self>) -> Spare;
}

struct Typed<I: Value, Y: Value, R: Value, S: FiberStack + 'static> {
    fiber: Fiber<'static, I, Y, R, S>,
}

trait IntoSpare {
    fn into_spare(self) -> Spare;
}
impl IntoSpare for Stack {
    fn into_spare(self) -> Spare {
        Spare::Stack(self)
    }
}
impl IntoSpare for Arena {
    fn into_spare(self) -> Spare {
        Spare::Arena(self)
    }
}

impl<I: Value, Y: Value, R: Value, S: FiberStack + IntoSpare + 'static> Slot for Typed<I, Y, R, S> {
    fn check_resume(&mut self, value: u64, expected: Event) {
        let input = I::from_acc(value);
        if expected == Event::Finished {
            QUIET.with(|q| q.set(true));
            let got = panic::catch_unwind(AssertUnwindSafe(|| self.fiber.resume(input)));
            QUIET.with(|q| q.set(false));
            assert!(got.is_err(), "resume after the end did not panic");
            return;
        }
        match panic::catch_unwind(AssertUnwindSafe(|| self.fiber.resume(input))) {
            Ok(FiberResult::Yield(y)) => match expected {
                Event::Yield(a) => assert_eq!(y, Y::from_acc(a), "yielded value"),
                other => panic!("fiber yielded {y:?}, model says {other:?}"),
            },
            Ok(FiberResult::Return(r)) => match expected {
                Event::Return(a) => assert_eq!(r, R::from_acc(a), "returned value"),
                other => panic!("fiber returned {r:?}, model says {other:?}"),
            },
            Err(p) => match (p.downcast::<Boom>(), expected) {
                (Ok(b), Event::Panic(a)) => assert_eq!(b.0, a, "panic payload"),
                (Ok(b), other) => panic!("fiber panicked with {b:?}, model says {other:?}"),
                (Err(p), _) => panic::resume_unwind(p),
            },
        }
    }
    fn is_started(&self) -> bool {
        self.fiber.is_started()
    }
    fn is_finished(&self) -> bool {
        self.fiber.is_finished()
    }
    fn input_acc(&self, value: u64) -> u64 {
        I::from_acc(value).to_acc()
    }
    fn into_spare(self: Box<Self>) -> Spare {
        self.fiber.into_stack().into_spare()
    }
}

fn make_on<I: Value, Y: Value, R: Value, S: FiberStack + IntoSpare + 'static>(
    stack: S,
    program: Rc<[Step]>,
    id: u64,
) -> Box<dyn Slot> {
    let f = body::<I, Y, R>(program, Tracker::new(id), 0);
    Box::new(Typed {
        fiber: Fiber::with_stack(stack, f).expect("fiber on a valid stack"),
    })
}

fn make<S: FiberStack + IntoSpare + 'static>(
    stack: S,
    types: Types,
    program: Rc<[Step]>,
    id: u64,
) -> Box<dyn Slot> {
    match types {
        Types::Words => make_on::<u64, u64, u64, S>(stack, program, id),
        Types::Mixed => make_on::<String, u128, Vec<u8>, S>(stack, program, id),
        Types::Big => make_on::<(), [u64; 8], String, S>(stack, program, id),
        Types::Small => make_on::<u8, String, (), S>(stack, program, id),
    }
}

fn create(kind: StackKind, types: Types, program: Rc<[Step]>, id: u64) -> Box<dyn Slot> {
    let stack = match kind {
        StackKind::Fresh => Spare::Stack(Stack::new(spindle_fiber::DEFAULT_STACK_SIZE).unwrap()),
        StackKind::Sized(n) => {
            Spare::Stack(Stack::new(64 * 1024 * (1 + usize::from(n % 4))).unwrap())
        }
        StackKind::Pooled => Spare::Stack(POOL.with(|p| p.borrow_mut().take()).unwrap()),
        StackKind::Raw => match Arena::take() {
            Some(a) => Spare::Arena(a),
            None => Spare::Stack(Stack::new(256 * 1024).unwrap()),
        },
        StackKind::Reused => SPARE
            .with(|s| s.borrow_mut().pop())
            .unwrap_or_else(|| Spare::Stack(Stack::new(256 * 1024).unwrap())),
    };
    match stack {
        Spare::Stack(s) => make(s, types, program, id),
        Spare::Arena(a) => make(a, types, program, id),
    }
}

struct Live {
    slot: Box<dyn Slot>,
    model: ModelFiber,
    id: u64,
}

impl Live {
    fn check_state(&self) {
        assert_eq!(self.slot.is_started(), self.model.started, "is_started");
        assert_eq!(self.slot.is_finished(), self.model.finished, "is_finished");
        let want = i64::from(!self.model.finished);
        assert_eq!(
            live(self.id),
            want,
            "tracker of a fiber (started {})",
            self.model.started
        );
    }
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libfuzzer-sys's hook aborts on every panic; the programs' own
        // panics (and resume-after-the-end, while QUIET) are expected.
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().is::<Boom>() || QUIET.with(|q| q.get()) {
                return;
            }
            previous(info)
        }));
    });
}

fuzz_target!(|ops: Vec<Op>| {
    install_hook();
    let mut slots: [Option<Live>; SLOTS] = Default::default();
    for op in ops.into_iter().take(MAX_OPS) {
        match op {
            Op::Create {
                slot,
                stack,
                types,
                program,
            } => {
                let i = usize::from(slot) % SLOTS;
                if let Some(old) = slots[i].take() {
                    let id = old.id;
                    drop(old);
                    assert_eq!(live(id), 0, "dropped fiber's tracker");
                }
                let mut instrs = Vec::new();
                compile(&program, 0, &mut instrs);
                let id = fresh_id();
                let fiber = Live {
                    slot: create(stack, types, Rc::from(program), id),
                    model: ModelFiber::new(instrs),
                    id,
                };
                fiber.check_state();
                slots[i] = Some(fiber);
            }
            Op::Resume { slot, value } => {
                if let Some(f) = &mut slots[usize::from(slot) % SLOTS] {
                    let expected = f.model.resume(f.slot.input_acc(value));
                    f.slot.check_resume(value, expected);
                    f.check_state();
                }
            }
            Op::Drop { slot } => {
                if let Some(f) = slots[usize::from(slot) % SLOTS].take() {
                    let id = f.id;
                    drop(f);
                    assert_eq!(live(id), 0, "dropped fiber's tracker");
                }
            }
            Op::IntoStack { slot } => {
                if let Some(f) = slots[usize::from(slot) % SLOTS].take() {
                    let spare = f.slot.into_spare();
                    assert_eq!(live(f.id), 0, "into_stack left the fiber's tracker alive");
                    // Kept for a `Reused` create; the oldest spare `Stack`
                    // goes back to the pool once there are more than four.
                    SPARE.with(|s| {
                        let mut s = s.borrow_mut();
                        s.push(spare);
                        if s.len() > 4 {
                            match s.remove(0) {
                                Spare::Stack(st) => POOL.with(|p| p.borrow_mut().give(st)),
                                Spare::Arena(a) => drop(a),
                            }
                        }
                    });
                }
            }
        }
    }
    drop(slots);
    LIVE.with(|l| {
        let mut l = l.borrow_mut();
        assert!(
            l.values().all(|&n| n == 0),
            "trackers alive after every fiber is gone: {l:?}"
        );
        l.clear();
    });
    SPARE.with(|s| s.borrow_mut().clear());
});
