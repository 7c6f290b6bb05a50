#![no_main]
//! The runtime's WASI preview 1 host against a guest that calls random
//! `wasi_snapshot_preview1` functions with random arguments, under a random
//! grant.
//!
//! The guest is one module compiled once: an interpreter whose `_start`
//! runs the records the target writes into its memory, one WASI call each
//! (35 functions: paths, descriptors, directories, links, times, polls,
//! exit), with the errno stored back beside the record. Path arguments
//! come from a small alphabet (`..`, `/`, `.`, names of the fixture's
//! files, of symlinks pointing out of the grant, of a symlink loop);
//! pointers are mostly sane and sometimes wild. The grant is nothing, a
//! scratch directory read-only, read-write, or read-write with symlinks
//! allowed, seen as `/g`, `.` or `/`; the call has a 200 ms deadline and a
//! fuel budget.
//!
//! What must hold:
//!
//! * the host never panics, and a call ends only as documented: it returns,
//!   exits, traps, runs out of fuel, passes its deadline, or fills its
//!   captured stdout;
//! * the deadline holds even inside WASI waits (a 10 s sleep in
//!   `poll_oneoff` is cut): the call returns within 5 s of wall time;
//! * nothing outside the granted directory changes: a sentinel directory
//!   beside it (what the fixture's symlinks point at) and the parent's
//!   listing are the same, names, contents, modes and mtimes;
//! * a read-only grant, or none, leaves the granted directory exactly as it
//!   was;
//! * no symlink is created: `path_symlink` returns EPERM unless the grant
//!   allows symlinks, and afterwards every symlink in the directory points
//!   where one of the fixture's did.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use spindle_runtime::{ErrorKind, Host, Limits, Output, Plugin, Wasi};

/// Each WASI function the guest can call, with the kinds of its
/// parameters: `f` descriptor, `p` path (pointer then length: two
/// parameters), `b` buffer (pointer then length), `v` iovecs (pointer then
/// count), `o` out pointer, `l` lookup flags, `O` open flags, `R` rights
/// (i64), `g` fd flags, `T` a time or size (i64), `t` time-set flags, `w`
/// whence, `c` clock id, `s` poll subscriptions (in, out, count, nevents),
/// `x` exit code, `a` advice, `z` a raw i32.
const FUNCS: &[(&str, &str)] = &[
    ("path_open", "flpORRgo"),
    ("path_create_directory", "fp"),
    ("path_remove_directory", "fp"),
    ("path_unlink_file", "fp"),
    ("path_rename", "fpfp"),
    ("path_link", "flpfp"),
    ("path_symlink", "pfp"),
    ("path_readlink", "fpbo"),
    ("path_filestat_get", "flpo"),
    ("path_filestat_set_times", "flpTTt"),
    ("fd_write", "fvo"),
    ("fd_read", "fvo"),
    ("fd_pwrite", "fvTo"),
    ("fd_pread", "fvTo"),
    ("fd_seek", "fTwo"),
    ("fd_close", "f"),
    ("fd_readdir", "fbTo"),
    ("fd_filestat_set_size", "fT"),
    ("fd_filestat_set_times", "fTTt"),
    ("fd_allocate", "fTT"),
    ("fd_prestat_get", "fo"),
    ("fd_prestat_dir_name", "fb"),
    ("fd_renumber", "ff"),
    ("fd_sync", "f"),
    ("fd_datasync", "f"),
    ("fd_fdstat_set_flags", "fg"),
    ("fd_fdstat_get", "fo"),
    ("fd_filestat_get", "fo"),
    ("poll_oneoff", "s"),
    ("random_get", "b"),
    ("clock_time_get", "cTo"),
    ("proc_exit", "x"),
    ("fd_advise", "fTTa"),
    ("fd_fdstat_set_rights", "fRR"),
    ("fd_tell", "fo"),
];

/// WASI's `errno::perm`.
const EPERM: u32 = 63;
/// Where the target writes the guest's inputs.
const PATHS: u32 = 0x100;
const IOVECS: u32 = 0x1000;
const SUBSCRIPTIONS: u32 = 0x1800;
const EVENTS: u32 = 0x1900;
const PROGRAM: u32 = 0x2000;
const RECORD: u32 = 80;
const MAX_RECORDS: usize = 32;
const BUFFER: u32 = 0x8000;
const DEADLINE: Duration = Duration::from_millis(200);
/// Far above the deadline plus one epoch tick, far below a real hang.
const WALL_BOUND: Duration = Duration::from_secs(5);
const FUEL: u64 = 5_000_000;

/// Parameter count of a kind.
fn arity(kind: char) -> usize {
    match kind {
        'p' | 'b' | 'v' => 2,
        's' => 4,
        _ => 1,
    }
}

fn is_i64(kind: char) -> bool {
    matches!(kind, 'R' | 'T')
}

/// The guest: imports every function of [`FUNCS`]; `_start` runs the
/// records at [`PROGRAM`] (a count, then records of an op and up to nine
/// i64 arguments), storing each call's errno at the record's byte 4.
fn guest_wat() -> String {
    let mut w = String::from("(module\n");
    for (name, kinds) in FUNCS {
        let mut params = String::new();
        for k in kinds.chars() {
            for _ in 0..arity(k) {
                params.push_str(if is_i64(k) { " i64" } else { " i32" });
            }
        }
        let result = if *name == "proc_exit" {
            ""
        } else {
            " (result i32)"
        };
        w += &format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param{params}){result}))\n"
        );
    }
    w += "  (memory (export \"memory\") 2)\n";
    w += "  (func $a32 (param $r i32) (param $k i32) (result i32)\n";
    w += "    (i32.wrap_i64 (i64.load offset=8 (i32.add (local.get $r) (i32.shl (local.get $k) (i32.const 3))))))\n";
    w += "  (func $a64 (param $r i32) (param $k i32) (result i64)\n";
    w += "    (i64.load offset=8 (i32.add (local.get $r) (i32.shl (local.get $k) (i32.const 3)))))\n";
    w += "  (func (export \"_start\") (local $i i32) (local $r i32) (local $op i32)\n";
    w += &format!(
        "    (block $done (loop $next\n      (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const {PROGRAM}))))\n"
    );
    w += &format!(
        "      (local.set $r (i32.add (i32.const {}) (i32.mul (local.get $i) (i32.const {RECORD}))))\n",
        PROGRAM + 16
    );
    w += "      (local.set $op (i32.load (local.get $r)))\n";
    for (op, (name, kinds)) in FUNCS.iter().enumerate() {
        let mut args = String::new();
        let mut slot = 0;
        for k in kinds.chars() {
            for _ in 0..arity(k) {
                let f = if is_i64(k) { "$a64" } else { "$a32" };
                args += &format!(" (call {f} (local.get $r) (i32.const {slot}))");
                slot += 1;
            }
        }
        let call = format!("(call ${name}{args})");
        let body = if *name == "proc_exit" {
            call
        } else {
            format!("(i32.store offset=4 (local.get $r) {call})")
        };
        w += &format!("      (if (i32.eq (local.get $op) (i32.const {op})) (then {body}))\n");
    }
    w +=
        "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n      (br $next)))\n  )\n)\n";
    w
}

struct Fixture {
    /// Kept for as long as the plugin compiled by it is used.
    _host: Host<()>,
    plugin: Plugin<()>,
    base: PathBuf,
    grant: PathBuf,
    sentinel: PathBuf,
    sentinel_snapshot: Snapshot,
    link_targets: Vec<PathBuf>,
}

thread_local! {
    /// One host, one compiled guest and one directory tree for the whole
    /// run (libFuzzer runs inputs on one thread).
    static FIXTURE: &'static Fixture = Box::leak(Box::new(make_fixture()));
}

fn fixture() -> &'static Fixture {
    FIXTURE.with(|f| *f)
}

fn make_fixture() -> Fixture {
    let host = Host::<()>::builder()
        .wasi(Wasi::new())
        .enable_fuel()
        .build()
        .expect("host");
    let plugin = host
        .load_wat("wasi-guest", &guest_wat())
        .expect("the guest compiles");
    let base = std::env::temp_dir().join(format!("spindle-fuzz-wasi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let grant = base.join("grant");
    let sentinel = base.join("sentinel");
    std::fs::create_dir_all(sentinel.join("sub")).expect("sentinel");
    std::fs::write(sentinel.join("secret"), b"secret").expect("sentinel file");
    std::fs::write(sentinel.join("sub/x"), b"x").expect("sentinel file");
    let link_targets = vec![
        PathBuf::from("../sentinel"),
        sentinel.clone(),
        PathBuf::from("a"),
        PathBuf::from("loop"),
        PathBuf::from("../../sentinel/secret"),
    ];
    let sentinel_snapshot = snapshot(&sentinel);
    Fixture {
        _host: host,
        plugin,
        base,
        grant,
        sentinel,
        sentinel_snapshot,
        link_targets,
    }
}

/// The granted directory as each input starts with it: files, a
/// subdirectory, and symlinks out of it (relative and absolute), into it
/// and onto themselves.
fn reset_grant(f: &Fixture) {
    if f.grant.exists() {
        std::fs::remove_dir_all(&f.grant).expect("emptying the granted directory");
    }
    std::fs::create_dir_all(f.grant.join("d")).expect("granted directory");
    std::fs::write(f.grant.join("a"), b"alpha").expect("fixture file");
    std::fs::write(f.grant.join("d/b"), b"beta").expect("fixture file");
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, f.grant.join(name)).expect("fixture symlink")
    };
    link(&f.link_targets[0], "up");
    link(&f.link_targets[1], "abs");
    link(&f.link_targets[2], "in");
    link(&f.link_targets[3], "loop");
    link(&f.link_targets[4], "d/secret");
}

/// One entry of a directory tree, as far as a plugin could have changed it.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    File {
        bytes: Vec<u8>,
        mode: u32,
        mtime: (i64, i64),
    },
    Dir {
        mode: u32,
        mtime: (i64, i64),
    },
    Link(PathBuf),
    Other(u32),
}

type Snapshot = BTreeMap<PathBuf, Entry>;

/// Every entry under `root` (symlinks not followed), keyed by its path
/// relative to `root` ("" for the root itself).
fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = root.join(&rel);
        let m = std::fs::symlink_metadata(&path).expect("snapshot: metadata");
        let mtime = (m.mtime(), m.mtime_nsec());
        let entry = if m.file_type().is_symlink() {
            Entry::Link(std::fs::read_link(&path).expect("snapshot: readlink"))
        } else if m.is_dir() {
            for e in std::fs::read_dir(&path).expect("snapshot: read_dir") {
                stack.push(rel.join(e.expect("snapshot: entry").file_name()));
            }
            Entry::Dir {
                mode: m.mode(),
                mtime,
            }
        } else if m.is_file() {
            let bytes = if m.len() <= 1 << 20 {
                std::fs::read(&path).expect("snapshot: read")
            } else {
                format!("{} bytes", m.len()).into_bytes()
            };
            Entry::File {
                bytes,
                mode: m.mode(),
                mtime,
            }
        } else {
            Entry::Other(m.mode())
        };
        out.insert(rel, entry);
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Grant {
    None,
    ReadOnly,
    ReadWrite,
    ReadWriteSymlinks,
}

/// Path components the guest's paths are built from.
const COMPONENTS: &[&str] = &[
    "a", "d", "b", "..", ".", "", "up", "abs", "in", "loop", "secret", "sentinel", "new", "x",
    "grant", "g", "\0", "a\0b", "tmp", "/", "é", "d/secret",
];

#[derive(Debug)]
struct Program {
    grant: Grant,
    guest_dir: &'static str,
    capture: Option<usize>,
    paths: Vec<Vec<u8>>,
    iovec_lens: [u32; 4],
    subscriptions: Vec<u8>,
    records: Vec<(u32, Vec<u64>)>,
}

fn pick<'a, T>(u: &mut Unstructured<'a>, items: &'a [T]) -> Result<&'a T> {
    u.choose(items)
}

impl<'a> Arbitrary<'a> for Program {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let grant = *pick(
            u,
            &[
                Grant::None,
                Grant::ReadOnly,
                Grant::ReadWrite,
                Grant::ReadWriteSymlinks,
            ],
        )?;
        let guest_dir = *pick(u, &["/g", ".", "/", "/g/"])?;
        let capture = if u.ratio(1, 4)? {
            Some(u.int_in_range(0..=64)?)
        } else {
            None
        };
        let mut paths = Vec::new();
        for _ in 0..u.int_in_range(1..=8)? {
            let mut p = Vec::new();
            if u.ratio(1, 8)? {
                p.push(b'/');
            }
            for i in 0..u.int_in_range(1..=4)? {
                if i > 0 {
                    p.push(b'/');
                }
                p.extend_from_slice(pick(u, COMPONENTS)?.as_bytes());
            }
            if u.ratio(1, 32)? {
                p = vec![b'x'; u.int_in_range(200..=1100)?];
            }
            paths.push(p);
        }
        let spans = spans(&paths);
        let mut iovec_lens = [0u32; 4];
        for l in &mut iovec_lens {
            *l = *pick(u, &[0, 1, 5, 64, 512, 4096])?;
        }
        // One or two subscriptions: a clock (relative or absolute, of a
        // timeout from zero to ten seconds or "never") or an fd readiness.
        let mut subscriptions = Vec::new();
        for i in 0..2u64 {
            let mut s = [0u8; 48];
            s[..8].copy_from_slice(&i.to_le_bytes());
            let tag: u8 = *pick(u, &[0, 0, 1, 2])?;
            s[8] = tag;
            if tag == 0 {
                let id: u32 = *pick(u, &[0, 1, 2, 3, 9])?;
                let timeout: u64 = *pick(u, &[0, 1_000_000, 50_000_000, 10_000_000_000, u64::MAX])?;
                s[16..20].copy_from_slice(&id.to_le_bytes());
                s[24..32].copy_from_slice(&timeout.to_le_bytes());
                s[40..42].copy_from_slice(&u16::from(u.ratio(1, 4)?).to_le_bytes());
            } else {
                let fd: u32 = u.int_in_range(0..=8)?;
                s[16..20].copy_from_slice(&fd.to_le_bytes());
            }
            subscriptions.extend_from_slice(&s);
        }
        let mut records = Vec::new();
        for _ in 0..u.int_in_range(1..=MAX_RECORDS)? {
            let op = u.choose_index(FUNCS.len())?;
            let mut args = Vec::new();
            for k in FUNCS[op].1.chars() {
                arguments(u, k, &spans, &mut args)?;
            }
            records.push((op as u32, args));
        }
        Ok(Program {
            grant,
            guest_dir,
            capture,
            paths,
            iovec_lens,
            subscriptions,
            records,
        })
    }
}

/// Arguments of one kind: mostly meaningful, sometimes arbitrary.
fn arguments(
    u: &mut Unstructured<'_>,
    kind: char,
    spans: &[(u32, u32)],
    out: &mut Vec<u64>,
) -> Result<()> {
    if u.ratio(1, 32)? {
        for _ in 0..arity(kind) {
            out.push(if is_i64(kind) {
                u.arbitrary()?
            } else {
                u64::from(u.arbitrary::<u32>()?)
            });
        }
        return Ok(());
    }
    match kind {
        'f' => out.push(u.int_in_range(0..=7)?),
        'p' => {
            let (ptr, len) = *u.choose(spans)?;
            out.push(u64::from(ptr));
            out.push(u64::from(len));
        }
        'b' => {
            out.push(u64::from(BUFFER));
            out.push(*pick(u, &[0, 1, 8, 24, 256, 4096])?);
        }
        'v' => {
            out.push(u64::from(IOVECS));
            out.push(u.int_in_range(0..=4)?);
        }
        'o' => out.push(u64::from(u.int_in_range(0..=31u32)? * 8)),
        'l' => out.push(u.int_in_range(0..=1)?),
        'O' => out.push(u.int_in_range(0..=15)?),
        'R' => out.push(*pick(
            u,
            &[u64::MAX, 0, 0x1fff_ffff, 2, 64, 1 << 6 | 1 << 1],
        )?),
        'g' => out.push(u.int_in_range(0..=31)?),
        'T' => out.push(*pick(
            u,
            &[
                0,
                1,
                5,
                4096,
                1 << 31,
                i64::MAX as u64,
                u64::MAX,
                1_700_000_000_000_000_000,
            ],
        )?),
        't' => out.push(u.int_in_range(0..=15)?),
        'w' => out.push(u.int_in_range(0..=3)?),
        'c' => out.push(u.int_in_range(0..=4)?),
        's' => {
            out.push(u64::from(SUBSCRIPTIONS));
            out.push(u64::from(EVENTS));
            out.push(u.int_in_range(0..=2)?);
            out.push(u64::from(EVENTS + 0x100));
        }
        'x' => out.push(u64::from(u.arbitrary::<u32>()?)),
        'a' => out.push(u.int_in_range(0..=6)?),
        _ => out.push(u64::from(u.arbitrary::<u32>()?)),
    }
    Ok(())
}

/// Where each path lies in the guest's memory: one after another from
/// [`PATHS`], cut where the iovecs begin.
fn spans(paths: &[Vec<u8>]) -> Vec<(u32, u32)> {
    let mut at = PATHS;
    let mut out = Vec::new();
    for p in paths {
        let len = (p.len() as u32).min(IOVECS - at);
        out.push((at, len));
        at += len;
    }
    out
}

/// The guest's memory before the run: paths, iovecs, subscriptions and
/// the records.
fn layout(p: &Program) -> Vec<(u32, Vec<u8>)> {
    let mut writes = Vec::new();
    for (path, (at, len)) in p.paths.iter().zip(spans(&p.paths)) {
        writes.push((at, path[..len as usize].to_vec()));
    }
    let mut iovecs = Vec::new();
    let mut buf = BUFFER;
    for l in p.iovec_lens {
        iovecs.extend_from_slice(&buf.to_le_bytes());
        iovecs.extend_from_slice(&l.to_le_bytes());
        buf += l;
    }
    writes.push((IOVECS, iovecs));
    writes.push((SUBSCRIPTIONS, p.subscriptions.clone()));
    let mut program = Vec::new();
    program.extend_from_slice(&(p.records.len() as u32).to_le_bytes());
    program.resize(16, 0);
    for (op, args) in &p.records {
        let mut rec = [0u8; RECORD as usize];
        rec[..4].copy_from_slice(&op.to_le_bytes());
        // Not a WASI errno: the call was not reached.
        rec[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        for (k, a) in args.iter().enumerate().take(9) {
            rec[8 + 8 * k..16 + 8 * k].copy_from_slice(&a.to_le_bytes());
        }
        program.extend_from_slice(&rec);
    }
    writes.push((PROGRAM, program));
    writes
}

fuzz_target!(|p: Program| {
    let f = fixture();
    reset_grant(f);
    let grant_before = snapshot(&f.grant);
    let base_names = || -> Vec<_> {
        let mut v: Vec<_> = std::fs::read_dir(&f.base)
            .expect("base")
            .map(|e| e.expect("base entry").file_name())
            .collect();
        v.sort();
        v
    };
    let names_before = base_names();

    let mut wasi = Wasi::new()
        .stdout(match p.capture {
            Some(n) => Output::capture(n),
            None => Output::Discard,
        })
        .stderr(Output::Discard);
    wasi = match p.grant {
        Grant::None => wasi,
        Grant::ReadOnly => wasi.dir_ro(&f.grant, p.guest_dir),
        Grant::ReadWrite => wasi.dir_rw(&f.grant, p.guest_dir),
        Grant::ReadWriteSymlinks => wasi.dir_rw(&f.grant, p.guest_dir).allow_symlinks(),
    };
    let limits = Limits::new().deadline(DEADLINE).fuel(FUEL);
    let mut instance = f
        .plugin
        .instantiate_with_wasi((), limits, &wasi)
        .unwrap_or_else(|e| panic!("instantiating: {e}"));
    for (at, bytes) in layout(&p) {
        instance.write_memory(at, &bytes).expect("the layout fits");
    }
    let started = Instant::now();
    let result = instance.run_command();
    let took = started.elapsed();

    assert!(
        took < WALL_BOUND,
        "the call took {took:?} with a {DEADLINE:?} deadline"
    );
    if let Err(e) = &result {
        match e.kind() {
            ErrorKind::Trap { .. }
            | ErrorKind::OutOfFuel { .. }
            | ErrorKind::DeadlineExceeded { .. } => {}
            // wasmtime-wasi traps on an argument it cannot decode (a clock
            // id or enum value out of range, a pointer out of bounds or
            // misaligned): the runtime's own kind for it.
            ErrorKind::WasiArgument { .. } => {}
            // A length past wasmtime-wasi's own bound (`random_get` of
            // 2 GB), refused before anything is allocated: wasmtime-wasi
            // says so only in words, so the runtime keeps its catch-all.
            ErrorKind::Wasmtime(_) if format!("{e:?}").contains("exceeds limit") => {}
            ErrorKind::WasiOutputLimit { .. } if p.capture.is_some() => {}
            other => panic!("the call ended with an undocumented error: {e} ({other:?})"),
        }
    }

    // Errnos of the calls that ran: path_symlink refuses unless allowed.
    let memory = instance.memory();
    for (i, (op, _)) in p.records.iter().enumerate() {
        let at = (PROGRAM + 16 + i as u32 * RECORD) as usize + 4;
        let errno = u32::from_le_bytes(memory[at..at + 4].try_into().expect("4 bytes"));
        if FUNCS[*op as usize].0 == "path_symlink"
            && errno != u32::MAX
            && !matches!(p.grant, Grant::ReadWriteSymlinks)
        {
            assert_eq!(
                errno, EPERM,
                "path_symlink under {:?} gave errno {errno}",
                p.grant
            );
        }
    }
    drop(instance);

    assert_eq!(
        names_before,
        base_names(),
        "something appeared beside the grant"
    );
    assert!(
        snapshot(&f.sentinel) == f.sentinel_snapshot,
        "the directory beside the grant changed under {:?}: {:#?}",
        p.grant,
        snapshot(&f.sentinel)
    );
    let grant_after = snapshot(&f.grant);
    if matches!(p.grant, Grant::None | Grant::ReadOnly) {
        assert!(
            grant_after == grant_before,
            "the granted directory changed under {:?}: before {grant_before:#?}, after {grant_after:#?}",
            p.grant
        );
    }
    for (path, e) in &grant_after {
        if matches!(p.grant, Grant::ReadWriteSymlinks) {
            break;
        }
        if let Entry::Link(target) = e {
            assert!(
                f.link_targets.contains(target),
                "a new symlink {path:?} -> {target:?} under {:?}",
                p.grant
            );
        }
    }
});
