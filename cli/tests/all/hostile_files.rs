//! Files that tried to make `spindle doctor`, `run` and `check` die (issue
//! 19): a FIFO, `/dev/zero`, a 2 GB sparse archive, a universal Mach-O whose
//! 40,000 arch entries share one object, an unreadable subdirectory, and an
//! oversized plugin. Every input is made here, the large ones as sparse
//! files.
//!
//! Children run with a watchdog (see `common`): at 9b1ab03 the FIFO cases
//! blocked forever. Doctor children also run under a 1 GiB address space
//! limit, so reading a 2 GB file whole fails the test instead of costing
//! the machine 2 GB.
#![cfg(unix)]

use std::path::{Path, PathBuf};

use crate::common::{Run, spindle_as};
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli-hostile-files")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn doctor(args: &[&str]) -> Run {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    spindle_as(&all, Some(1 << 30), None)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(path(p)).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn a_fifo_or_a_device_is_reported_not_read_by_doctor_run_and_check() {
    let dir = scratch("fifo");
    let fifo = dir.join("plugin.wasm");
    mkfifo(&fifo);
    let obj = dir.join("libfoo.a");
    mkfifo(&obj);
    for (what, args) in [
        ("doctor FIFO", vec!["doctor", path(&obj)]),
        ("doctor FIFO plugin", vec!["doctor", path(&fifo)]),
        ("doctor /dev/zero", vec!["doctor", "/dev/zero"]),
        ("run FIFO", vec!["run", path(&fifo), "f"]),
        ("check FIFO", vec!["check", path(&fifo)]),
        ("run /dev/zero", vec!["run", "/dev/zero", "f"]),
        ("check /dev/zero", vec!["check", "/dev/zero"]),
    ] {
        // /dev/zero read whole fails at the limit rather than at the OOM
        // killer; `run` and `check` need room for the wasm engine.
        let limit = if args[0] == "doctor" {
            1 << 30
        } else {
            2 << 30
        };
        let r = spindle_as(&args, Some(limit), None);
        assert_eq!(r.code, Some(3), "{what}: {}", r.stderr);
        let kind = if what.contains("FIFO") {
            "is a FIFO (named pipe), not a regular file"
        } else {
            "is a character device, not a regular file"
        };
        assert!(r.stderr.contains(kind), "{what}: {}", r.stderr);
    }
}

/// `!<arch>` with one member header claiming `size` bytes, the data a hole.
fn sparse_archive(p: &Path, member: &str, size: u64) {
    let header = format!(
        "!<arch>\n{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
        member, 0, 0, 0, 644, size
    );
    let f = std::fs::File::create(p).unwrap();
    std::io::Write::write_all(&mut &f, header.as_bytes()).unwrap();
    f.set_len(header.len() as u64 + size).unwrap();
}

#[test]
fn a_2_gb_sparse_archive_costs_what_its_headers_cost() {
    let dir = scratch("sparse");
    let big = dir.join("libbig.a");
    sparse_archive(&big, "big.o/", 2 << 30);
    let r = doctor(&[path(&big), "--format", "json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["files"][0]["kind"], "static library");
    assert!(
        r.max_rss_kib < 100 << 10,
        "peak RSS {} KiB for a 2 GB sparse archive",
        r.max_rss_kib
    );

    // An archive whose name table claims 2 GB: the read is refused, and said.
    let names = dir.join("libnames.a");
    sparse_archive(&names, "//", 2 << 30);
    let r = doctor(&[path(&names)]);
    assert_eq!(r.code, Some(3), "{}", r.stderr);
    assert!(
        r.stderr.contains("not examined") && r.stderr.contains("more than 256 MiB"),
        "{}",
        r.stderr
    );
    assert!(r.max_rss_kib < 300 << 10, "peak RSS {} KiB", r.max_rss_kib);
    assert_eq!(r.signal, None);
}

/// A relocatable x86_64 ELF object with `nsyms` symbols (one null, then
/// global functions all named `a`): `.strtab`, `.symtab`, `.shstrtab`.
/// The layout of genfat.py in the audit's reproductions. Section offsets are
/// `base` plus their place in this buffer, so the symbol table can be one
/// that another object's headers also point at.
fn elf_parts(nsyms: usize) -> (Vec<u8>, [u64; 3]) {
    let strtab = b"\0a\0";
    let shstr = b"\0.strtab\0.symtab\0.shstrtab\0";
    let mut body = vec![0u8; 64];
    let off_str = body.len() as u64;
    body.extend_from_slice(strtab);
    while !body.len().is_multiple_of(8) {
        body.push(0);
    }
    let off_sym = body.len() as u64;
    body.extend_from_slice(&[0u8; 24]);
    for _ in 1..nsyms {
        body.extend_from_slice(&1u32.to_le_bytes()); // name: "a"
        body.push(0x12); // GLOBAL FUNC
        body.push(0);
        body.extend_from_slice(&1u16.to_le_bytes()); // defined in section 1
        body.extend_from_slice(&[0u8; 16]);
    }
    let off_shs = body.len() as u64;
    body.extend_from_slice(shstr);
    (body, [off_str, off_sym, off_shs])
}

/// ELF header and section headers for sections at `offsets` (relative to
/// the object's start), with the section headers at `shoff`.
fn elf_headers(nsyms: usize, shoff: u64, offsets: [u64; 3]) -> (Vec<u8>, Vec<u8>) {
    let mut hdr = b"\x7fELF\x02\x01\x01\0".to_vec();
    hdr.extend_from_slice(&[0u8; 8]);
    hdr.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    hdr.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    hdr.extend_from_slice(&1u32.to_le_bytes());
    hdr.extend_from_slice(&[0u8; 16]); // entry, phoff
    hdr.extend_from_slice(&shoff.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 0, 0, 64, 4, 3] {
        hdr.extend_from_slice(&v.to_le_bytes());
    }
    let sh =
        |name: u32, ty: u32, off: u64, size: u64, link: u32, info: u32, align: u64, ent: u64| {
            let mut s = Vec::new();
            s.extend_from_slice(&name.to_le_bytes());
            s.extend_from_slice(&ty.to_le_bytes());
            s.extend_from_slice(&[0u8; 16]); // flags, addr
            s.extend_from_slice(&off.to_le_bytes());
            s.extend_from_slice(&size.to_le_bytes());
            s.extend_from_slice(&link.to_le_bytes());
            s.extend_from_slice(&info.to_le_bytes());
            s.extend_from_slice(&align.to_le_bytes());
            s.extend_from_slice(&ent.to_le_bytes());
            s
        };
    let mut shdrs = sh(0, 0, 0, 0, 0, 0, 0, 0);
    shdrs.extend(sh(1, 3, offsets[0], 3, 0, 0, 1, 0));
    shdrs.extend(sh(9, 2, offsets[1], 24 * nsyms as u64, 1, 1, 8, 24));
    shdrs.extend(sh(17, 3, offsets[2], 27, 0, 0, 1, 0));
    (hdr, shdrs)
}

/// One whole ELF object with `nsyms` symbols.
fn elf(nsyms: usize) -> Vec<u8> {
    let (mut body, offsets) = elf_parts(nsyms);
    while !body.len().is_multiple_of(8) {
        body.push(0);
    }
    let shoff = body.len() as u64;
    let (hdr, shdrs) = elf_headers(nsyms, shoff, offsets);
    body[..64].copy_from_slice(&hdr);
    body.extend(shdrs);
    body
}

/// A 32-bit universal Mach-O header with `arches` (offset, size) entries.
fn fat_header(arches: &[(u32, u32)]) -> Vec<u8> {
    let mut out = 0xcafe_babe_u32.to_be_bytes().to_vec();
    out.extend_from_slice(&(arches.len() as u32).to_be_bytes());
    for &(offset, size) in arches {
        for v in [0x0100_0007_u32, 3, offset, size, 12] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out
}

fn symbols_seen(r: &Run) -> (u64, Value) {
    assert!(r.code.is_some(), "{}", r.stderr);
    let doc: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    let file = doc["files"][0].clone();
    (file["symbols_seen"].as_u64().expect("symbols_seen"), doc)
}

#[test]
fn a_universal_binary_whose_entries_share_one_object_reads_it_once() {
    // genfat.py's shape: N arch entries, one object of K symbols. At
    // 9b1ab03 doctor read the object N times (N = K = 40,000: 38 s); the
    // work is counted here, not timed: symbols visited must be K, not N×K.
    let (n, k) = (500, 500);
    let object = elf(k);
    let offset = (8 + 20 * n as u32).next_multiple_of(4096);
    let mut file = fat_header(&vec![(offset, object.len() as u32); n]);
    file.resize(offset as usize, 0);
    file.extend_from_slice(&object);
    let dir = scratch("fat");
    let p = dir.join("shared-slices");
    std::fs::write(&p, &file).unwrap();
    let r = doctor(&[path(&p), "--format", "json"]);
    let (seen, doc) = symbols_seen(&r);
    assert!(
        seen < k as u64,
        "visited {seen} symbols of a {k}-symbol object"
    );
    assert_eq!(doc["files"][0]["objects"], 1, "{doc:#}");
    assert_eq!(doc["files"][0]["incomplete"], serde_json::json!([]));
}

#[test]
fn universal_slices_at_distinct_offsets_over_one_symbol_table_stop_at_the_budget() {
    // The same attack without a shared offset: each entry has its own ELF
    // and section headers (320 bytes), all pointing at one symbol table.
    let (n, k) = (200, 2000);
    let (shared, offsets) = elf_parts(k);
    let header_len = 8 + 20 * n;
    let slice_len = 64 + 256;
    let shared_at = header_len + n * slice_len;
    let mut file = vec![0u8; shared_at];
    let mut arches = Vec::new();
    for i in 0..n {
        let at = header_len + i * slice_len;
        let rel = |o: u64| (shared_at - at) as u64 + o;
        let (hdr, shdrs) = elf_headers(k, 64, [rel(offsets[0]), rel(offsets[1]), rel(offsets[2])]);
        file[at..at + 64].copy_from_slice(&hdr);
        file[at + 64..at + 320].copy_from_slice(&shdrs);
        arches.push((at as u32, (shared_at - at + shared.len()) as u32));
    }
    file[..header_len].copy_from_slice(&fat_header(&arches));
    file.extend_from_slice(&shared);
    let dir = scratch("fat-distinct");
    let p = dir.join("overlapping-slices");
    std::fs::write(&p, &file).unwrap();
    let r = doctor(&[path(&p), "--format", "json"]);
    let (seen, doc) = symbols_seen(&r);
    let len = file.len() as u64;
    assert!(
        seen <= len / 8 + 64,
        "visited {seen} symbols in a {len}-byte file ({n} slices × {k} symbols)"
    );
    let incomplete = doc["files"][0]["incomplete"].to_string();
    assert!(incomplete.contains("only partly examined"), "{doc:#}");
    assert!(
        doc["findings"].to_string().contains("only partly examined"),
        "{doc:#}"
    );
}

#[test]
fn an_unreadable_subdirectory_is_reported_and_the_walk_goes_on() {
    let dir = scratch("walk");
    std::fs::create_dir_all(dir.join("a-locked")).unwrap();
    std::fs::write(dir.join("a-locked/x.o"), elf(3)).unwrap();
    std::fs::create_dir_all(dir.join("b-open")).unwrap();
    std::fs::write(dir.join("b-open/y.o"), elf(3)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("a-locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads any directory: then doctor runs as `nobody` (uid 65534).
    // SAFETY: geteuid has no preconditions.
    let uid = (unsafe { libc::geteuid() } == 0).then_some(65534);
    let r = spindle_as(
        &["doctor", path(&dir), "--format", "json"],
        Some(1 << 30),
        uid,
    );
    std::fs::set_permissions(dir.join("a-locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(r.code == Some(0) || r.code == Some(1), "{}", r.stderr);
    let doc: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{doc:#}");
    assert!(files[0]["path"].as_str().unwrap().ends_with("b-open/y.o"));
    let findings = doc["findings"].to_string();
    assert!(
        findings.contains("a-locked") && findings.contains("not examined: cannot list"),
        "{doc:#}"
    );
}

#[test]
fn an_oversized_plugin_is_refused_before_it_is_read() {
    let dir = scratch("oversized");
    let p = dir.join("huge.wasm");
    let f = std::fs::File::create(&p).unwrap();
    std::io::Write::write_all(&mut &f, b"\0asm\x01\0\0\0").unwrap();
    f.set_len((256 << 20) + 1).unwrap();
    for cmd in ["run", "check"] {
        let mut args = vec![cmd, path(&p)];
        if cmd == "run" {
            args.push("f");
        }
        let r = spindle_as(&args, Some(2 << 30), None);
        // The one size cap is the runtime's load limit on module size.
        assert_eq!(r.code, Some(1), "{cmd}: {}", r.stderr);
        // `run` fails with it; `check` reports it as its verdict.
        let said = format!("{}{}", r.stdout, r.stderr);
        assert!(
            said.contains(
                "module size in bytes 268435457 exceeds the module_bytes load limit of 67108864"
            ),
            "{cmd}: {said}"
        );
        assert!(
            r.max_rss_kib < 200 << 10,
            "{cmd}: peak RSS {} KiB",
            r.max_rss_kib
        );
    }
}
