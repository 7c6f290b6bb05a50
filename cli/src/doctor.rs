//! `spindle doctor PATH...`: diagnoses from real build outputs, read with the
//! `object` crate: architecture mismatches, fiber switch symbols, plugin
//! imports.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use object::read::archive::ArchiveFile;
use object::read::macho::{FatArch, MachOFatFile32, MachOFatFile64};
use object::{Architecture, BinaryFormat, FileKind, Object, ObjectKind, ObjectSymbol};
use serde_json::{Value, json};

use crate::check::{self, Outcome};
use crate::{EXIT_FAILURE, EXIT_OK, Failure, Format};

/// Diagnose build outputs: architecture mismatches, fiber switch symbols, plugin imports
#[derive(Args)]
#[command(after_help = concat!("PATH can be an executable, a shared library, an object file, a static
library (.a), an rlib, a universal (fat) Mach-O, a cargo target directory
(walked: deps/*.rlib, *.a, executables; build scripts, proc macros and
incremental caches are skipped), or a wasm plugin (.wasm/.wat, checked like
`spindle check`).

What it looks for:
  architecture   objects built for another architecture than the target: the
                 \"Undefined symbols for architecture x86_64\" link error when an
                 arm64-only archive joins an x86_64 link (and the reverse)
  switch symbols whether spindle-fiber's (spindle_fiber_<version>_resume, ...)
                 and wasmtime's (wasmtime_fiber_switch) stack-switch symbols are
                 defined, undefined or absent; undefined in a final binary is
                 the wasmtime 38 + ThinLTO bug (wasmtime#11957)
  plugin imports every missing or mistyped import of a wasm plugin

The target is --target, else the triple in the path (target/<triple>/...),
else the architecture of the executables given, else the majority.

Examples:
  spindle doctor target/aarch64-apple-darwin/release
  spindle doctor libfoo.a --target x86_64-apple-darwin
  spindle doctor target/release/myapp plugin.wasm --format json

", exit_codes!()))]
pub struct DoctorArgs {
    /// Files or directories to examine
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The target the outputs are meant for, e.g. `x86_64-apple-darwin`
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// Host manifest for wasm plugins (default: `spindle run`'s built-in host)
    #[arg(long, value_name = "FILE")]
    host_manifest: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also list every file examined in a directory, not only those with findings
    #[arg(long, short)]
    verbose: bool,
}

/// An architecture and object format parsed from a target triple.
#[derive(Clone, Debug)]
struct Target {
    arch: Architecture,
    format: Option<BinaryFormat>,
    /// Where it came from, for the report.
    source: String,
}

fn parse_triple(triple: &str) -> Option<(Architecture, Option<BinaryFormat>)> {
    let first = triple.split('-').next()?;
    let arch = match first {
        "x86_64" | "amd64" | "x86_64h" => Architecture::X86_64,
        "aarch64" | "arm64" | "arm64e" => Architecture::Aarch64,
        "i386" | "i586" | "i686" => Architecture::I386,
        "riscv64" | "riscv64gc" => Architecture::Riscv64,
        "s390x" => Architecture::S390x,
        "powerpc64" | "powerpc64le" => Architecture::PowerPc64,
        "loongarch64" => Architecture::LoongArch64,
        "wasm32" => Architecture::Wasm32,
        a if a == "arm" || a.starts_with("armv") || a.starts_with("thumbv") => Architecture::Arm,
        _ => return None,
    };
    let format = if triple.contains("-apple-") {
        Some(BinaryFormat::MachO)
    } else if triple.contains("-windows") {
        Some(BinaryFormat::Coff)
    } else if triple.contains("-linux") || triple.contains("bsd") || triple.contains("-none") {
        Some(BinaryFormat::Elf)
    } else {
        None
    };
    Some((arch, format))
}

/// A target triple named by a directory in `path` (`target/<triple>/release`).
fn triple_in_path(path: &Path) -> Option<(String, Architecture, Option<BinaryFormat>)> {
    path.ancestors().find_map(|p| {
        let name = p.file_name()?.to_str()?;
        if name.split('-').count() < 3 {
            return None;
        }
        let (arch, format) = parse_triple(name)?;
        Some((name.to_string(), arch, format))
    })
}

fn arch_name(a: Architecture) -> String {
    match a {
        Architecture::X86_64 => "x86_64".into(),
        Architecture::Aarch64 => "aarch64".into(),
        Architecture::I386 => "i386".into(),
        Architecture::Arm => "arm".into(),
        Architecture::Riscv64 => "riscv64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn format_name(f: BinaryFormat) -> &'static str {
    match f {
        BinaryFormat::Elf => "ELF",
        BinaryFormat::MachO => "Mach-O",
        BinaryFormat::Coff | BinaryFormat::Pe => "COFF/PE",
        BinaryFormat::Wasm => "wasm",
        _ => "other",
    }
}

/// One object (a whole file, an archive member or a universal slice).
#[derive(Debug)]
struct Obj {
    member: Option<String>,
    arch: Architecture,
    format: BinaryFormat,
}

/// What the symbol tables say about the fiber switch routines.
#[derive(Debug, Default)]
struct Switch {
    spindle_defined: BTreeSet<String>,
    spindle_undefined: BTreeSet<String>,
    wasmtime_defined: BTreeSet<String>,
    wasmtime_undefined: BTreeSet<String>,
    symbols_seen: usize,
    proc_macro: bool,
}

/// One examined file.
#[derive(Debug)]
struct FileReport {
    path: PathBuf,
    explicit: bool,
    kind: &'static str,
    /// Linked image (executable or shared library) rather than objects to link.
    is_final: bool,
    universal: bool,
    objects: Vec<Obj>,
    bitcode_members: usize,
    switch: Switch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

#[derive(Debug)]
struct Finding {
    severity: Severity,
    /// A note about a file found in a directory walk: text output shows it
    /// only with --verbose.
    quiet: bool,
    path: String,
    message: String,
    next: String,
}

/// Is `name` (without a Mach-O `_`) one of spindle-fiber's switch routines,
/// of any version? `spindle_fiber_<version>_{resume,suspend,trampoline}`.
fn spindle_switch_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("spindle_fiber_") else {
        return false;
    };
    ["_resume", "_suspend", "_trampoline"].iter().any(|r| {
        rest.strip_suffix(r).is_some_and(|v| {
            !v.is_empty() && v.split('_').all(|p| p.chars().all(|c| c.is_ascii_digit()))
        })
    })
}

/// wasmtime's fiber switch: a plain versioned symbol in old releases
/// (`wasmtime_fiber_switch_22_0_0`), a mangled naked function since
/// (`..wasmtime_fiber_switch_..`, wasmtime 38 and 48).
fn wasmtime_switch_name(name: &str) -> bool {
    name.contains("wasmtime_fiber_switch")
}

fn scan_symbols(file: &object::File<'_>, into: &mut Switch) {
    let macho = file.format() == BinaryFormat::MachO;
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        let Ok(raw) = sym.name() else { continue };
        into.symbols_seen += 1;
        let name = if macho {
            raw.strip_prefix('_').unwrap_or(raw)
        } else {
            raw
        };
        if name.starts_with("__rustc_proc_macro_decls_") && !sym.is_undefined() {
            into.proc_macro = true;
        }
        let set = if spindle_switch_name(name) {
            if sym.is_undefined() {
                &mut into.spindle_undefined
            } else {
                &mut into.spindle_defined
            }
        } else if wasmtime_switch_name(name) {
            if sym.is_undefined() {
                &mut into.wasmtime_undefined
            } else {
                &mut into.wasmtime_defined
            }
        } else {
            continue;
        };
        set.insert(name.to_string());
    }
}

const BITCODE_MAGIC: &[u8] = b"BC\xC0\xDE";

/// Reads one file. `Ok(None)`: not something doctor understands.
fn examine(path: &Path, explicit: bool) -> Result<Option<FileReport>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut report = FileReport {
        path: path.to_path_buf(),
        explicit,
        kind: "",
        is_final: false,
        universal: false,
        objects: Vec::new(),
        bitcode_members: 0,
        switch: Switch::default(),
    };
    let kind = match FileKind::parse(&*data) {
        Ok(k) => k,
        Err(_) => return Ok(None),
    };
    match kind {
        FileKind::Archive => {
            let archive = ArchiveFile::parse(&*data)
                .map_err(|e| format!("{}: malformed archive: {e}", path.display()))?;
            report.kind = if path.extension().is_some_and(|e| e == "rlib") {
                "rlib"
            } else {
                "static library"
            };
            for member in archive.members() {
                let member =
                    member.map_err(|e| format!("{}: malformed archive: {e}", path.display()))?;
                let Ok(bytes) = member.data(&*data) else {
                    continue;
                };
                let name = String::from_utf8_lossy(member.name()).into_owned();
                if bytes.starts_with(BITCODE_MAGIC) {
                    report.bitcode_members += 1;
                    continue;
                }
                // lib.rmeta and other non-object members are skipped.
                if let Ok(file) = object::File::parse(bytes) {
                    scan_symbols(&file, &mut report.switch);
                    report.objects.push(Obj {
                        member: Some(name),
                        arch: file.architecture(),
                        format: file.format(),
                    });
                }
            }
        }
        FileKind::MachOFat32 | FileKind::MachOFat64 => {
            report.kind = "universal binary";
            report.universal = true;
            let slices: Vec<(u64, u64)> = if kind == FileKind::MachOFat32 {
                let fat = MachOFatFile32::parse(&*data)
                    .map_err(|e| format!("{}: malformed universal binary: {e}", path.display()))?;
                fat.arches().iter().map(|a| a.file_range()).collect()
            } else {
                let fat = MachOFatFile64::parse(&*data)
                    .map_err(|e| format!("{}: malformed universal binary: {e}", path.display()))?;
                fat.arches().iter().map(|a| a.file_range()).collect()
            };
            for (offset, size) in slices {
                let bytes = usize::try_from(offset)
                    .ok()
                    .zip(usize::try_from(size).ok())
                    .and_then(|(o, s)| data.get(o..o.checked_add(s)?))
                    .ok_or_else(|| format!("{}: a slice lies outside the file", path.display()))?;
                let file = object::File::parse(bytes)
                    .map_err(|e| format!("{}: unreadable slice: {e}", path.display()))?;
                scan_symbols(&file, &mut report.switch);
                report.is_final |=
                    matches!(file.kind(), ObjectKind::Executable | ObjectKind::Dynamic);
                report.objects.push(Obj {
                    member: None,
                    arch: file.architecture(),
                    format: file.format(),
                });
            }
        }
        FileKind::Elf32
        | FileKind::Elf64
        | FileKind::MachO32
        | FileKind::MachO64
        | FileKind::Coff
        | FileKind::Pe32
        | FileKind::Pe64 => {
            let file = object::File::parse(&*data)
                .map_err(|e| format!("{}: unreadable object: {e}", path.display()))?;
            scan_symbols(&file, &mut report.switch);
            report.kind = match file.kind() {
                ObjectKind::Relocatable => "object file",
                ObjectKind::Executable => "executable",
                // A position-independent executable is an ELF shared object
                // with an interpreter.
                ObjectKind::Dynamic if file.section_by_name(".interp").is_some() => "executable",
                ObjectKind::Dynamic => "shared library",
                _ => "binary",
            };
            report.is_final = matches!(file.kind(), ObjectKind::Executable | ObjectKind::Dynamic);
            report.objects.push(Obj {
                member: None,
                arch: file.architecture(),
                format: file.format(),
            });
        }
        _ => return Ok(None),
    }
    Ok(Some(report))
}

/// Directories of a cargo target dir that hold no outputs of the target:
/// build scripts run on the build machine, caches.
const SKIP_DIRS: &[&str] = &[
    "build",
    "incremental",
    ".fingerprint",
    ".git",
    "doc",
    "criterion",
    "tmp",
    "package",
    "flycheck0",
];

/// Files of a directory that doctor should look at.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if depth > 0 && !SKIP_DIRS.contains(&name.as_str()) && !name.ends_with(".dSYM") {
                walk(&path, depth - 1, out)?;
            }
        } else if ft.is_file() {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let wanted = matches!(
                ext,
                "rlib" | "a" | "o" | "so" | "dylib" | "dll" | "lib" | "exe"
            ) || (ext.is_empty() && looks_binary(&path));
            if wanted {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// An extension-less file that starts like an executable.
fn looks_binary(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && (head == *b"\x7fELF"
            || head == [0xcf, 0xfa, 0xed, 0xfe]
            || head == [0xce, 0xfa, 0xed, 0xfe]
            || head == [0xca, 0xfe, 0xba, 0xbe]
            || head == [0xca, 0xfe, 0xba, 0xbf])
}

fn is_plugin(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm" || e == "wat")
}

/// Majority architecture of `reports`, preferring final images.
fn infer_target(reports: &[&FileReport]) -> Option<Target> {
    let count = |only_final: bool| {
        let mut c: BTreeMap<String, (usize, Architecture, Option<BinaryFormat>)> = BTreeMap::new();
        for r in reports
            .iter()
            .filter(|r| !r.switch.proc_macro && !r.universal)
        {
            if only_final && !r.is_final {
                continue;
            }
            for o in &r.objects {
                if o.arch == Architecture::Unknown {
                    continue;
                }
                let e = c
                    .entry(arch_name(o.arch))
                    .or_insert((0, o.arch, Some(o.format)));
                e.0 += 1;
            }
        }
        c.into_values().max_by_key(|(n, _, _)| *n)
    };
    if let Some((_, arch, format)) = count(true) {
        return Some(Target {
            arch,
            format,
            source: "the executables and shared libraries examined".into(),
        });
    }
    count(false).map(|(n, arch, format)| Target {
        arch,
        format,
        source: format!("the majority ({n}) of the objects"),
    })
}

const LTO_HINT: &str = "\
A fiber switch routine left undefined in a final binary is the bug this
project exists for: wasmtime 38.0.3's switch (a naked function) vanished under
cross-crate ThinLTO on aarch64-apple-darwin and the link failed or left the
symbol undefined (wasmtime#11957, rust-lang/rust#148307). Check the profile's
LTO mode: rebuild with `lto = \"off\"` or `lto = \"fat\"` (or
`CARGO_PROFILE_RELEASE_LTO=off`) to confirm, then move to a toolchain and
wasmtime without the bug. spindle-fiber's switch is global_asm kept by a
#[used] anchor; if its symbol is undefined, an object from another
spindle-fiber version or build joined the link: `cargo clean` and rebuild.";

fn lto_next() -> String {
    "check the profile's LTO mode (see the note below the findings); rebuild with `lto = \"off\"` or `\"fat\"` to confirm".into()
}

/// Everything `doctor` found, ready to print.
struct Diagnosis {
    target_lines: Vec<String>,
    reports: Vec<FileReport>,
    findings: Vec<Finding>,
    plugins: Vec<Value>,
    lto_hint: bool,
}

fn diagnose(args: &DoctorArgs) -> Result<Diagnosis, Failure> {
    let explicit_target = match &args.target {
        Some(t) => {
            let (arch, format) = parse_triple(t).ok_or_else(|| {
                Failure::usage(format!(
                    "unknown target `{t}`; give a triple such as x86_64-apple-darwin, \
                     aarch64-apple-darwin or x86_64-unknown-linux-gnu"
                ))
            })?;
            Some(Target {
                arch,
                format,
                source: format!("--target {t}"),
            })
        }
        None => None,
    };

    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    let mut plugin_paths = Vec::new();
    for p in &args.paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| Failure::io(format!("cannot read {}: {e}", p.display())))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, 8, &mut found).map_err(Failure::io)?;
            files.extend(found.into_iter().map(|f| (f, false)));
        } else if is_plugin(p) {
            plugin_paths.push(p.clone());
        } else {
            files.push((p.clone(), true));
        }
    }
    dedupe(&mut files);

    let mut findings = Vec::new();
    let mut reports = Vec::new();
    for (path, explicit) in files {
        match examine(&path, explicit) {
            Ok(Some(r)) => reports.push(r),
            Ok(None) if explicit => findings.push(Finding {
        quiet: false,
                severity: Severity::Error,
                path: crate::show(&path),
                message: "not an object file, archive, executable, shared library or wasm plugin"
                    .into(),
                next: "give doctor build outputs: binaries, .o, .a, .rlib, .wasm/.wat, or a target directory".into(),
            }),
            Ok(None) => {}
            Err(msg) if explicit => return Err(Failure::io(msg)),
            Err(_) => {}
        }
    }

    // The target of each file: --target, the triple in its path, or inferred.
    let untargeted: Vec<&FileReport> = reports
        .iter()
        .filter(|r| triple_in_path(&r.path).is_none())
        .collect();
    let inferred = explicit_target
        .clone()
        .or_else(|| infer_target(&untargeted));
    let mut target_lines = Vec::new();
    if let Some(t) = &inferred
        && (explicit_target.is_some() || !untargeted.is_empty())
    {
        target_lines.push(format!(
            "target architecture: {} (from {})",
            arch_name(t.arch),
            t.source
        ));
    }
    let mut triples: BTreeSet<String> = BTreeSet::new();
    let target_of = |r: &FileReport| -> Option<Target> {
        if explicit_target.is_some() {
            return explicit_target.clone();
        }
        match triple_in_path(&r.path) {
            Some((t, arch, format)) => Some(Target {
                arch,
                format,
                source: format!("the `{t}` directory"),
            }),
            None => inferred.clone(),
        }
    };
    for r in &reports {
        if explicit_target.is_none()
            && let Some((t, _, _)) = triple_in_path(&r.path)
        {
            triples.insert(t);
        }
    }
    for t in triples {
        target_lines.push(format!("target from the path: {t}"));
    }

    for r in &reports {
        if r.switch.proc_macro {
            continue; // runs inside the compiler on the build machine
        }
        if let Some(t) = target_of(r) {
            arch_findings(r, &t, &mut findings);
        }
        switch_findings(r, &mut findings);
    }
    cross_reference(&reports, &mut findings);
    let lto_hint = findings
        .iter()
        .any(|f| f.next == lto_next() || f.message.contains("see the LTO note below"));

    let mut plugins = Vec::new();
    if !plugin_paths.is_empty() {
        let (spec, host) = check::host_for(args.host_manifest.as_deref())?;
        for p in &plugin_paths {
            let outcome = check::check_plugin(p, &spec)?;
            plugins.push(check::to_json(p, &host, &outcome));
            let (severity, message, next) = match &outcome {
                Outcome::Clean => (
                    Severity::Note,
                    format!("wasm plugin: imports and exports fit the {host} host"),
                    String::new(),
                ),
                Outcome::Problems(report) => (
                    Severity::Error,
                    report.to_string(),
                    "fix the imports listed (details: `spindle check`)".into(),
                ),
                Outcome::Invalid(msg) => (
                    Severity::Error,
                    msg.clone(),
                    "rebuild the plugin as a core wasm module".into(),
                ),
            };
            findings.push(Finding {
                quiet: false,
                severity,
                path: crate::show(p),
                message,
                next,
            });
        }
    }
    findings.sort_by_key(|f| f.severity);
    Ok(Diagnosis {
        target_lines,
        reports,
        findings,
        plugins,
        lto_hint,
    })
}

/// Cargo hard-links each final binary into the profile directory and keeps
/// it in `deps/` too: examine one of them.
fn dedupe(files: &mut Vec<(PathBuf, bool)>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mut seen = BTreeSet::new();
        files.retain(|(p, _)| match std::fs::metadata(p) {
            Ok(m) => seen.insert((m.dev(), m.ino())),
            Err(_) => true,
        });
    }
    #[cfg(not(unix))]
    {
        let mut seen = BTreeSet::new();
        files.retain(|(p, _)| seen.insert(p.clone()));
    }
}

fn arch_findings(r: &FileReport, t: &Target, findings: &mut Vec<Finding>) {
    let path = crate::show(&r.path);
    let want = arch_name(t.arch);
    if r.universal {
        let slices: Vec<String> = r.objects.iter().map(|o| arch_name(o.arch)).collect();
        if !r.objects.iter().any(|o| o.arch == t.arch) {
            findings.push(Finding {
                quiet: false,
                severity: Severity::Error,
                path,
                message: format!(
                    "universal binary with slices [{}] but none for {want} (target from {})",
                    slices.join(", "),
                    t.source
                ),
                next: format!(
                    "build a {want} slice and add it with `lipo -create`, or link for one of [{}]",
                    slices.join(", ")
                ),
            });
        }
        return;
    }
    let wrong: Vec<&Obj> = r
        .objects
        .iter()
        .filter(|o| o.arch != Architecture::Unknown && o.arch != t.arch)
        .collect();
    if !wrong.is_empty() {
        let mut archs: Vec<String> = wrong.iter().map(|o| arch_name(o.arch)).collect();
        archs.dedup();
        let mut message = if r.objects.len() == 1 {
            format!(
                "{} for {}, but the target is {want} (from {})",
                r.kind,
                archs.join(", "),
                t.source
            )
        } else {
            format!(
                "{}: {} of {} objects are for {}, but the target is {want} (from {})",
                r.kind,
                wrong.len(),
                r.objects.len(),
                archs.join(", "),
                t.source
            )
        };
        let members: Vec<String> = wrong
            .iter()
            .filter_map(|o| {
                o.member
                    .as_ref()
                    .map(|m| format!("{m} ({})", arch_name(o.arch)))
            })
            .collect();
        if !members.is_empty() {
            let shown = members.len().min(5);
            let _ = write!(message, "\n  {}", members[..shown].join("\n  "));
            if members.len() > shown {
                let _ = write!(message, "\n  ... and {} more", members.len() - shown);
            }
        }
        let apple_want = want.replace("aarch64", "arm64");
        let linker = if t.format == Some(BinaryFormat::MachO)
            || wrong[0].format == BinaryFormat::MachO
        {
            format!(
                "the Apple linker ignores it (\"ignoring file ..., building for macOS-{apple_want} but attempting to link with file built for macOS-{}\") and then fails with \"Undefined symbols for architecture {apple_want}\" for everything it defines",
                archs[0].replace("aarch64", "arm64"),
            )
        } else {
            "the linker rejects it (\"incompatible with ...\" / \"file in wrong format\") or skips it and reports its symbols undefined".to_string()
        };
        let _ = write!(message, "\n  linking for {want}, {linker}");
        findings.push(Finding {
        quiet: false,
            severity: Severity::Error,
            path,
            message,
            next: format!(
                "rebuild it for {want} (`cargo build --target <{want} triple>`, or for C code the {want} compiler / `-arch {}`), or build both and merge with `lipo -create` into a universal library",
                want.replace("aarch64", "arm64")
            ),
        });
        return;
    }
    if let Some(format) = t.format
        && let Some(o) = r
            .objects
            .iter()
            .find(|o| o.format != format && o.arch != Architecture::Unknown)
    {
        findings.push(Finding {
            quiet: false,
            severity: Severity::Error,
            path,
            message: format!(
                "{} in {} format, but the target ({}) uses {}",
                r.kind,
                format_name(o.format),
                t.source,
                format_name(format)
            ),
            next: "rebuild it for the target's operating system".into(),
        });
    }
}

fn switch_findings(r: &FileReport, findings: &mut Vec<Finding>) {
    if !r.is_final {
        return;
    }
    let path = crate::show(&r.path);
    let s = &r.switch;
    if s.symbols_seen == 0 {
        findings.push(Finding {
            quiet: !r.explicit,
            severity: Severity::Note,
            path,
            message: "no symbol table (stripped): cannot tell which switch symbols it has".into(),
            next: "examine an unstripped build (`strip = false` in the profile)".into(),
        });
        return;
    }
    let current = spindle_fiber::SYMBOL_VERSION;
    for (who, defined, undefined) in [
        ("spindle-fiber", &s.spindle_defined, &s.spindle_undefined),
        ("wasmtime", &s.wasmtime_defined, &s.wasmtime_undefined),
    ] {
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        if !undefined.is_empty() {
            findings.push(Finding {
                quiet: !r.explicit,
                severity: Severity::Error,
                path: path.clone(),
                message: format!(
                    "{who}'s fiber switch is UNDEFINED in this linked {}: {}",
                    r.kind,
                    list(undefined)
                ),
                next: lto_next(),
            });
        } else if !defined.is_empty() {
            let mut message = format!("{who}'s fiber switch is defined: {}", list(defined));
            if who == "spindle-fiber"
                && !defined.iter().any(|n| n.contains(&format!("_{current}_")))
            {
                let _ = write!(
                    message,
                    " (another spindle-fiber version than this tool's {current})"
                );
            }
            findings.push(Finding {
                quiet: !r.explicit,
                severity: Severity::Note,
                path: path.clone(),
                message,
                next: String::new(),
            });
        } else if r.explicit {
            findings.push(Finding {
                quiet: !r.explicit,
                severity: Severity::Note,
                path: path.clone(),
                message: format!(
                    "{who}'s fiber switch is absent (this {} does not link it)",
                    r.kind
                ),
                next: String::new(),
            });
        }
    }
}

/// References from objects and archives that no input defines.
fn cross_reference(reports: &[FileReport], findings: &mut Vec<Finding>) {
    let defined: BTreeSet<&String> = reports
        .iter()
        .flat_map(|r| {
            r.switch
                .spindle_defined
                .iter()
                .chain(&r.switch.wasmtime_defined)
        })
        .collect();
    let mut wanted: BTreeMap<&String, Vec<String>> = BTreeMap::new();
    for r in reports.iter().filter(|r| !r.is_final) {
        for name in r
            .switch
            .spindle_undefined
            .iter()
            .chain(&r.switch.wasmtime_undefined)
        {
            if !defined.contains(name) {
                wanted.entry(name).or_default().push(crate::show(&r.path));
            }
        }
    }
    let current = spindle_fiber::SYMBOL_VERSION;
    for (name, paths) in wanted {
        let mut message =
            format!("references `{name}` (undefined here) and no input given defines it");
        let mut next = "fine if the crate that defines it (spindle-fiber / wasmtime) joins the final link; give doctor the final binary to be sure".to_string();
        if spindle_switch_name(name) && !name.contains(&format!("_{current}_")) {
            let _ = write!(
                message,
                "; it names another spindle-fiber version than {current}"
            );
            next = "build everything against one spindle-fiber version (`cargo update -p spindle-fiber`, then `cargo clean` and rebuild)".into();
        } else {
            message.push_str(
                "
  if the final link reports it undefined, see the LTO note below",
            );
            next.push_str("; if the link fails on it, check the LTO mode (`lto = \"off\"` or `\"fat\"` to confirm)");
        }
        let shown = paths.len().min(3);
        let mut path = paths[..shown].join(", ");
        if paths.len() > shown {
            let _ = write!(path, " and {} more", paths.len() - shown);
        }
        findings.push(Finding {
            quiet: false,
            severity: Severity::Warning,
            path,
            message,
            next,
        });
    }
}

fn summary_of(r: &FileReport) -> String {
    let mut by_arch: BTreeMap<String, usize> = BTreeMap::new();
    for o in &r.objects {
        *by_arch.entry(arch_name(o.arch)).or_default() += 1;
    }
    let archs: Vec<String> = by_arch
        .iter()
        .map(|(a, n)| {
            if r.objects.len() > 1 && !r.universal {
                format!("{a} ×{n}")
            } else {
                a.clone()
            }
        })
        .collect();
    let fmt = r
        .objects
        .first()
        .map(|o| format_name(o.format))
        .unwrap_or("?");
    let mut s = format!("{} ({fmt}), {}", r.kind, archs.join(", "));
    if r.bitcode_members > 0 {
        let _ = write!(
            s,
            ", {} LLVM bitcode members (not checked)",
            r.bitcode_members
        );
    }
    if r.switch.proc_macro {
        s.push_str(", proc macro (runs in the compiler; not checked)");
    }
    s
}

/// `spindle doctor`.
pub fn doctor(args: DoctorArgs) -> Result<u8, Failure> {
    let d = diagnose(&args)?;
    let errors = d
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = d
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    match args.format {
        Format::Json => {
            let files: Vec<Value> = d
                .reports
                .iter()
                .map(|r| {
                    let mut by_arch: BTreeMap<String, usize> = BTreeMap::new();
                    for o in &r.objects {
                        *by_arch.entry(arch_name(o.arch)).or_default() += 1;
                    }
                    json!({
                        "path": crate::show(&r.path),
                        "kind": r.kind,
                        "final": r.is_final,
                        "universal": r.universal,
                        "proc_macro": r.switch.proc_macro,
                        "architectures": by_arch,
                        "objects": r.objects.len(),
                        "bitcode_members": r.bitcode_members,
                        "spindle_switch": {
                            "defined": r.switch.spindle_defined,
                            "undefined": r.switch.spindle_undefined,
                        },
                        "wasmtime_switch": {
                            "defined": r.switch.wasmtime_defined,
                            "undefined": r.switch.wasmtime_undefined,
                        },
                    })
                })
                .collect();
            let findings: Vec<Value> = d
                .findings
                .iter()
                .map(|f| {
                    json!({
                        "severity": f.severity.label(),
                        "path": f.path,
                        "message": f.message,
                        "next": f.next,
                    })
                })
                .collect();
            let doc = json!({
                "target": d.target_lines,
                "files": files,
                "plugins": d.plugins,
                "findings": findings,
                "errors": errors,
                "warnings": warnings,
                "lto_hint": if d.lto_hint { Some(LTO_HINT) } else { None },
            });
            println!("{doc:#}");
        }
        Format::Text => {
            for l in &d.target_lines {
                println!("{l}");
            }
            for r in &d.reports {
                if r.explicit || args.verbose {
                    println!("{}: {}", crate::show(&r.path), summary_of(r));
                }
            }
            for f in &d.findings {
                if f.quiet && f.severity == Severity::Note && !args.verbose {
                    continue;
                }
                println!("{}: {}: {}", f.severity.label(), f.path, f.message);
                if !f.next.is_empty() {
                    println!("  next: {}", f.next);
                }
            }
            if d.lto_hint {
                println!("\n{LTO_HINT}");
            }
            println!(
                "\nexamined {} file{} and {} plugin{}: {errors} error{}, {warnings} warning{}",
                d.reports.len(),
                if d.reports.len() == 1 { "" } else { "s" },
                d.plugins.len(),
                if d.plugins.len() == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" },
            );
        }
    }
    Ok(if errors > 0 { EXIT_FAILURE } else { EXIT_OK })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_names() {
        for s in spindle_fiber::SWITCH_SYMBOLS {
            assert!(spindle_switch_name(s), "{s}");
        }
        assert!(spindle_switch_name("spindle_fiber_0_1_0_resume"));
        assert!(spindle_switch_name("spindle_fiber_1_20_3_trampoline"));
        assert!(!spindle_switch_name("spindle_fiber_resume"));
        assert!(!spindle_switch_name("spindle_fiber_0_1_0_resume_helper"));
        assert!(wasmtime_switch_name(
            "_ZN24wasmtime_internal_fiber11stackswitch7aarch6422wasmtime_fiber_switch_17h0123456789abcdefE"
        ));
    }

    #[test]
    fn triples() {
        assert_eq!(
            parse_triple("x86_64-apple-darwin"),
            Some((Architecture::X86_64, Some(BinaryFormat::MachO)))
        );
        assert_eq!(
            parse_triple("aarch64-unknown-linux-gnu"),
            Some((Architecture::Aarch64, Some(BinaryFormat::Elf)))
        );
        assert_eq!(
            parse_triple("arm64-apple-macosx"),
            Some((Architecture::Aarch64, Some(BinaryFormat::MachO)))
        );
        assert_eq!(parse_triple("sparc-sun-solaris"), None);
        let p = Path::new("/w/target/aarch64-apple-darwin/release/deps/libx.rlib");
        assert_eq!(
            triple_in_path(p).map(|t| t.0),
            Some("aarch64-apple-darwin".to_string())
        );
        assert!(triple_in_path(Path::new("/w/target/release/deps/libx-abc-def.rlib")).is_none());
    }
}
