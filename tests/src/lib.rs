//! The LTO matrix harness: build the probe binary (`tests/lto-probe`) for a
//! target under an LTO mode and codegen-units setting, read its symbol table
//! with the `object` crate, and run it where this machine can.
//!
//! Everything is parameterised by [`Target`], so adding a target is adding a
//! value, not code: how to link it (cargo's own configuration, see
//! `.cargo/config.toml`), whether it can run here and with which runner.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One of cargo's four distinct LTO behaviours, each a named profile in the
/// workspace `Cargo.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LtoMode {
    /// `lto = "off"`: no LTO at all.
    Off,
    /// `lto = false`: thin-local LTO (cargo's release default).
    ThinLocal,
    /// `lto = "thin"`.
    Thin,
    /// `lto = "fat"`.
    Fat,
}

impl LtoMode {
    /// All four, in the order the report lists them.
    pub const ALL: [LtoMode; 4] = [
        LtoMode::Off,
        LtoMode::ThinLocal,
        LtoMode::Thin,
        LtoMode::Fat,
    ];

    /// The cargo profile that selects this mode.
    pub fn profile(self) -> &'static str {
        match self {
            LtoMode::Off => "lto-off",
            LtoMode::ThinLocal => "lto-thin-local",
            LtoMode::Thin => "lto-thin",
            LtoMode::Fat => "lto-fat",
        }
    }

    /// How the mode is written in `Cargo.toml`.
    pub fn setting(self) -> &'static str {
        match self {
            LtoMode::Off => r#"lto = "off""#,
            LtoMode::ThinLocal => "lto = false",
            LtoMode::Thin => r#"lto = "thin""#,
            LtoMode::Fat => r#"lto = "fat""#,
        }
    }
}

impl fmt::Display for LtoMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.setting())
    }
}

/// Whether and how binaries for a target run on this machine.
#[derive(Clone, Debug)]
pub enum Run {
    /// Directly (the host).
    Native,
    /// Through an emulator command, e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`.
    Runner(Vec<String>),
    /// Not at all; the reason is printed in the report.
    Cannot(&'static str),
}

/// How executables for a target are linked here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linker {
    /// `cargo build`, with whatever linker `.cargo/config.toml` names for the
    /// target (the system `cc` for the host, `aarch64-linux-gnu-gcc`, …).
    Cargo,
    /// `cargo zigbuild` (PyPI `cargo-zigbuild` + `ziglang`): zig's linker and
    /// its bundled libSystem stubs link real Mach-O executables on Linux.
    Zig,
}

/// A target triple the matrix covers.
#[derive(Clone, Debug)]
pub struct Target {
    /// The rustc target triple.
    pub triple: &'static str,
    /// How its binaries run here.
    pub run: Run,
    /// How its binaries are linked here.
    pub linker: Linker,
}

impl Target {
    /// The machine the tests run on.
    pub fn host() -> Target {
        Target {
            triple: host_triple(),
            run: Run::Native,
            linker: Linker::Cargo,
        }
    }

    /// aarch64 Linux: cross-linked with Debian's `gcc-aarch64-linux-gnu` and
    /// run with `qemu-aarch64 -L /usr/aarch64-linux-gnu` (no binfmt_misc here,
    /// so the runner is explicit; both come from `scripts/setup.sh`).
    pub fn aarch64_linux() -> Target {
        Target {
            triple: "aarch64-unknown-linux-gnu",
            run: Run::Runner(
                ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
                    .map(String::from)
                    .to_vec(),
            ),
            linker: Linker::Cargo,
        }
    }

    /// A glibc Linux target of issue 13, cross-linked with Debian's
    /// `gcc-<triple>` and run under qemu-user with the target's glibc as
    /// sysroot: the same linker and runner `.cargo/config.toml` gives cargo
    /// (`cargo build` reads the linker from there; the runner is repeated
    /// here because the harness, not cargo, runs the probe). The exception
    /// is i686, which runs natively on the x86_64 kernel's IA-32
    /// compatibility mode (with Debian's libc6-i386): qemu-i386 7.2 hangs
    /// in glibc's pthread_create here (.cargo/config.toml says more).
    pub fn qemu_linux(triple: &'static str) -> Target {
        let (qemu, sysroot): (&[&str], &str) = match triple {
            "riscv64gc-unknown-linux-gnu" => (&["qemu-riscv64"], "/usr/riscv64-linux-gnu"),
            "armv7-unknown-linux-gnueabihf" | "thumbv7neon-unknown-linux-gnueabihf" => {
                (&["qemu-arm"], "/usr/arm-linux-gnueabihf")
            }
            "i686-unknown-linux-gnu" => {
                return Target {
                    triple,
                    run: Run::Native,
                    linker: Linker::Cargo,
                };
            }
            // 64 KiB pages, as under Debian's ppc64el kernels.
            "powerpc64le-unknown-linux-gnu" => (
                &["qemu-ppc64le", "-p", "65536"],
                "/usr/powerpc64le-linux-gnu",
            ),
            "s390x-unknown-linux-gnu" => (&["qemu-s390x"], "/usr/s390x-linux-gnu"),
            "aarch64-unknown-linux-gnu" => return Target::aarch64_linux(),
            // Linked statically against zig's musl (.cargo/config.toml), so
            // qemu needs no sysroot.
            "loongarch64-unknown-linux-musl" => {
                return Target {
                    triple,
                    run: Run::Runner(vec!["qemu-loongarch64".to_string()]),
                    linker: Linker::Cargo,
                };
            }
            other => panic!("no qemu runner known for {other}"),
        };
        let mut runner: Vec<String> = qemu.iter().map(|s| s.to_string()).collect();
        runner.extend(["-L".to_string(), sysroot.to_string()]);
        Target {
            triple,
            run: Run::Runner(runner),
            linker: Linker::Cargo,
        }
    }

    /// An Apple target, linked with `cargo zigbuild`; macOS executables
    /// cannot run on this Linux machine, so they are inspected only.
    pub fn apple(triple: &'static str) -> Target {
        Target {
            triple,
            run: Run::Cannot("a macOS executable cannot run on Linux; linked and inspected only"),
            linker: Linker::Zig,
        }
    }

    /// x86_64 Windows (MinGW): linked with Debian's mingw-w64
    /// (`.cargo/config.toml`) and run under Wine through
    /// `scripts/wine-run.sh` (prefix under target/, ProcessPrng shim).
    pub fn windows_gnu() -> Target {
        Target {
            triple: "x86_64-pc-windows-gnu",
            run: Run::Runner(vec![
                workspace_root()
                    .join("scripts/wine-run.sh")
                    .to_string_lossy()
                    .into_owned(),
            ]),
            linker: Linker::Cargo,
        }
    }

    /// Whether the target is Apple's (Mach-O: symbols carry a `_` prefix).
    pub fn is_apple(&self) -> bool {
        self.triple.contains("-apple-")
    }

    /// Whether this is the machine's own target.
    pub fn is_host(&self) -> bool {
        self.triple == host_triple()
    }
}

/// The triple rustc builds for by default here.
pub fn host_triple() -> &'static str {
    // Set by this crate's build script from cargo's HOST.
    env!("SPINDLE_TESTS_HOST")
}

/// One cell of the matrix.
#[derive(Clone, Debug)]
pub struct Cell {
    /// What to build for.
    pub target: Target,
    /// The LTO mode.
    pub lto: LtoMode,
    /// `codegen-units`.
    pub codegen_units: u32,
    /// Extra cargo features (`--features`), for the negative controls.
    pub features: Option<&'static str>,
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target {}, {}, codegen-units = {}",
            self.target.triple, self.lto, self.codegen_units
        )
    }
}

/// What happened to one cell.
#[derive(Debug)]
pub struct Outcome {
    /// The built binary.
    pub binary: PathBuf,
    /// What the symbol table says.
    pub inspection: Inspection,
    /// The probe's output line, if it ran.
    pub ran: Option<String>,
    /// Why it did not run, if it did not.
    pub not_run_reason: Option<&'static str>,
    /// Build time.
    pub build_time: Duration,
    /// For `lto = "off"` cells: the `spindle-fiber` rlib's object files, where
    /// binding is still meaningful (global + hidden required).
    pub rlib: Option<Inspection>,
}

impl Cell {
    /// The cargo target directory for this cell: separate from the outer
    /// `cargo test`'s (so the nested cargo never waits on its lock), and one
    /// per cell, because a codegen-units override changes every artifact.
    pub fn target_dir(&self) -> PathBuf {
        let mut name = format!("{}-cgu{}", self.lto.profile(), self.codegen_units);
        if let Some(features) = self.features {
            name.push('-');
            name.push_str(&features.replace(['/', ','], "_"));
        }
        workspace_root()
            .join("target")
            .join("lto-matrix")
            .join(self.target.triple)
            .join(name)
    }

    /// Builds the probe for this cell and returns the executable's path.
    pub fn build(&self, package: &str, bin: &str) -> Result<PathBuf> {
        self.build_with(&["-p", package], bin, &self.target_dir())
    }

    /// Builds `bin` of a crate that is its own workspace (its own lock file
    /// and `[patch]` section, as an application has), in `target_dir`.
    pub fn build_standalone(
        &self,
        manifest: &Path,
        bin: &str,
        target_dir: &Path,
    ) -> Result<PathBuf> {
        let manifest = manifest.to_str().context("manifest path is not UTF-8")?;
        self.build_with(&["--manifest-path", manifest], bin, target_dir)
    }

    /// Like [`build_standalone`](Cell::build_standalone), with the rustup
    /// toolchain `toolchain` and `extra` cargo arguments (e.g. nightly and
    /// `-Zbuild-std=std,panic_unwind` for a target rustup has no std for).
    pub fn build_standalone_on_toolchain(
        &self,
        toolchain: &str,
        extra: &[&str],
        manifest: &Path,
        bin: &str,
        target_dir: &Path,
    ) -> Result<PathBuf> {
        let manifest = manifest.to_str().context("manifest path is not UTF-8")?;
        let mut which = vec!["--manifest-path", manifest];
        which.extend_from_slice(extra);
        self.build_in(Some(toolchain), &which, bin, target_dir)
    }

    /// Like [`build`](Cell::build), with the rustup toolchain `toolchain`
    /// (e.g. `1.91.1`) instead of the one running the tests, in a target
    /// directory of its own; returns the executable's path.
    pub fn build_on_toolchain(&self, toolchain: &str, package: &str, bin: &str) -> Result<PathBuf> {
        let dir = self
            .target_dir()
            .with_extension(format!("rustc-{toolchain}"));
        self.build_in(Some(toolchain), &["-p", package], bin, &dir)
    }

    fn build_with(&self, which: &[&str], bin: &str, target_dir: &Path) -> Result<PathBuf> {
        self.build_in(None, which, bin, target_dir)
    }

    fn build_in(
        &self,
        toolchain: Option<&str>,
        which: &[&str],
        bin: &str,
        target_dir: &Path,
    ) -> Result<PathBuf> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile = self.lto.profile();
        let env_profile = profile.to_uppercase().replace('-', "_");
        let subcommand = match self.target.linker {
            Linker::Cargo => "build",
            Linker::Zig => "zigbuild",
        };
        let mut cmd = match toolchain {
            // rustup puts that toolchain's cargo and rustc first on PATH and
            // pins nested invocations (cargo-zigbuild's too) to it.
            Some(toolchain) => {
                let mut cmd = Command::new("rustup");
                cmd.args(["run", toolchain, "cargo"])
                    .env_remove("CARGO")
                    .env_remove("RUSTC")
                    .env_remove("RUSTUP_TOOLCHAIN");
                cmd
            }
            None => Command::new(cargo),
        };
        cmd.current_dir(workspace_root())
            .args([subcommand, "--quiet"])
            .args(which)
            .args(["--bin", bin, "--profile", profile])
            .args(["--target", self.target.triple])
            .args(self.features.map(|f| format!("--features={f}")))
            .env("CARGO_TARGET_DIR", target_dir)
            .env(
                format!("CARGO_PROFILE_{env_profile}_CODEGEN_UNITS"),
                self.codegen_units.to_string(),
            )
            // Incremental compilation would hide codegen-units differences.
            .env("CARGO_INCREMENTAL", "0");
        let output = cmd
            .output()
            .with_context(|| format!("running cargo for {self}"))?;
        if !output.status.success() {
            bail!(
                "cargo build failed for {self}:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let exe = if self.target.triple.contains("windows") {
            format!("{bin}.exe")
        } else {
            bin.to_string()
        };
        Ok(target_dir.join(self.target.triple).join(profile).join(exe))
    }

    /// Runs the built probe (directly or through the target's runner).
    pub fn run(&self, binary: &Path) -> Result<Option<String>> {
        let mut cmd = match &self.target.run {
            Run::Native => Command::new(binary),
            Run::Runner(runner) => {
                let mut cmd = Command::new(&runner[0]);
                cmd.args(&runner[1..]).arg(binary);
                cmd
            }
            Run::Cannot(_) => return Ok(None),
        };
        let output = cmd
            .output()
            .with_context(|| format!("running the probe for {self}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() {
            bail!(
                "the probe failed for {self} ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(Some(stdout))
    }

    /// Build, inspect, run.
    pub fn check(&self, package: &str, bin: &str, symbols: &[String]) -> Result<Outcome> {
        let start = Instant::now();
        let binary = self.build(package, bin)?;
        let build_time = start.elapsed();
        let inspection = inspect_file(&binary, symbols, self.target.is_apple())
            .with_context(|| format!("inspecting {}", binary.display()))?;
        if let Err(problem) = inspection.verdict() {
            bail!("{self}: {problem}\n{inspection}");
        }
        let rlib = if self.lto == LtoMode::Off {
            let deps = binary.parent().unwrap().join("deps");
            let rlib = find_rlib(&deps, "spindle_fiber")?;
            let inspection = inspect_archive(&rlib, symbols, self.target.is_apple())
                .with_context(|| format!("inspecting {}", rlib.display()))?;
            if let Err(problem) = inspection.verdict() {
                bail!("{self}: in {}: {problem}\n{inspection}", rlib.display());
            }
            Some(inspection)
        } else {
            None
        };
        let ran = self.run(&binary)?;
        let not_run_reason = match self.target.run {
            Run::Cannot(reason) => Some(reason),
            _ => None,
        };
        Ok(Outcome {
            binary,
            inspection,
            ran,
            not_run_reason,
            build_time,
            rlib,
        })
    }
}

/// The versioned names of the switch routines of the `spindle-fiber` in this
/// workspace, as written in the source (no Mach-O `_`).
pub fn switch_symbols(version_tag: &str) -> Vec<String> {
    ["resume", "suspend", "trampoline"]
        .iter()
        .map(|routine| format!("spindle_fiber_{version_tag}_{routine}"))
        .collect()
}

/// What the symbol table of one image says about one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolReport {
    /// The name looked for (with the platform prefix).
    pub name: String,
    /// Defined in a text section, as a function or text symbol.
    pub defined_in_text: bool,
    /// How many defined entries there are at all.
    pub defined: usize,
    /// How many undefined entries of the same name exist (must be 0).
    pub undefined: usize,
    /// Defined only with local binding and without hidden visibility: the
    /// symbol was never `.globl` (what a local label or rustc's naked-function
    /// bug leaves behind), so it cannot satisfy a reference from another
    /// object. (A hidden global is legitimately made local by the final
    /// link; its ELF visibility still says hidden, and that is accepted.)
    pub local_only: bool,
    /// Whether the definition carries hidden visibility (ELF `STV_HIDDEN`,
    /// Mach-O `N_PEXT`; COFF/PE, which have no visibility: not exported).
    pub hidden: bool,
}

/// What one image's symbol tables say about the switch.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Object format (ELF, Mach-O, …).
    pub format: String,
    /// The architecture the image is for.
    pub architecture: String,
    /// One report per expected symbol.
    pub symbols: Vec<SymbolReport>,
    /// Whether the `#[used]` anchor static (`KEEP_SWITCH_SYMBOLS`) is present.
    pub anchor_present: bool,
    /// A relocatable object (an rlib/staticlib member) rather than a linked
    /// image. Only there is binding meaningful: the final link turns hidden
    /// globals into locals (GNU ld for aarch64 even drops the `STV_HIDDEN`
    /// mark while doing so), so a linked image is only required to define
    /// the symbol in text with no undefined twin.
    pub relocatable: bool,
}

impl Inspection {
    /// `Ok` if every switch symbol is a defined, global text symbol with no
    /// undefined twin; otherwise what is wrong.
    pub fn verdict(&self) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        for s in &self.symbols {
            // In a relocatable object, references from other code units are
            // legitimately undefined; only a linked image must have none.
            if s.undefined > 0 && !self.relocatable {
                problems.push(format!(
                    "`{}` has {} undefined entr(y/ies)",
                    s.name, s.undefined
                ));
            }
            if s.defined == 0 {
                problems.push(format!("`{}` is not defined", s.name));
            } else if !s.defined_in_text {
                problems.push(format!("`{}` is defined but not as a text symbol", s.name));
            } else if self.relocatable && s.local_only {
                problems.push(format!(
                    "`{}` is defined only as a local symbol (never .globl): \
                     other objects cannot link against it",
                    s.name
                ));
            } else if self.relocatable && !s.hidden {
                problems.push(format!("`{}` is global but not hidden", s.name));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} image for {}", self.format, self.architecture)?;
        for s in &self.symbols {
            writeln!(
                f,
                "  {:<40} defined={} text={} hidden={} local-only={} undefined={}",
                s.name, s.defined, s.defined_in_text, s.hidden, s.local_only, s.undefined
            )?;
        }
        write!(f, "  #[used] anchor present: {}", self.anchor_present)
    }
}

/// Reads `path` (an executable, shared library or object file) and reports on
/// `symbols` (names as in the source; `_` is prepended for Mach-O).
pub fn inspect_file(path: &Path, symbols: &[String], apple: bool) -> Result<Inspection> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    inspect_bytes(&data, symbols, apple)
}

/// [`inspect_file`] on bytes already in memory.
pub fn inspect_bytes(data: &[u8], symbols: &[String], apple: bool) -> Result<Inspection> {
    let file = object::File::parse(data).context("parsing the image with the object crate")?;
    let prefix = if apple || file.format() == object::BinaryFormat::MachO {
        "_"
    } else {
        ""
    };
    let all: Vec<object::Symbol<'_, '_>> = file.symbols().chain(file.dynamic_symbols()).collect();
    let macho_private_extern = macho_private_extern_names(&file);
    let coff_exported = coff_exported_names(&file);
    let mut reports = Vec::new();
    for name in symbols {
        let full = format!("{prefix}{name}");
        let mut report = SymbolReport {
            name: full.clone(),
            defined_in_text: false,
            defined: 0,
            undefined: 0,
            local_only: true,
            hidden: false,
        };
        for sym in all.iter().filter(|s| s.name() == Ok(full.as_str())) {
            if sym.is_undefined() {
                report.undefined += 1;
                continue;
            }
            report.defined += 1;
            let hidden = is_hidden(sym.flags())
                || macho_private_extern.iter().any(|n| n == &full)
                || coff_exported.as_ref().is_some_and(|e| !e.contains(&full));
            report.hidden |= hidden;
            if sym.is_global() || hidden {
                report.local_only = false;
            }
            let in_text = match sym.section_index() {
                Some(index) => file
                    .section_by_index(index)
                    .map(|section| section.kind() == SectionKind::Text)
                    .unwrap_or(false),
                None => false,
            };
            if in_text && matches!(sym.kind(), SymbolKind::Text | SymbolKind::Unknown) {
                report.defined_in_text = true;
            }
        }
        if report.defined == 0 {
            report.local_only = false;
        }
        reports.push(report);
    }
    let anchor_present = all.iter().any(|s| {
        !s.is_undefined()
            && s.name()
                .map(|n| n.contains("KEEP_SWITCH_SYMBOLS"))
                .unwrap_or(false)
    });
    Ok(Inspection {
        format: format!("{:?}", file.format()),
        architecture: format!("{:?}", file.architecture()),
        symbols: reports,
        anchor_present,
        relocatable: file.kind() == object::ObjectKind::Relocatable,
    })
}

/// Hidden visibility, from the format-specific symbol flags.
fn is_hidden(flags: object::SymbolFlags<object::SectionIndex, object::SymbolIndex>) -> bool {
    match flags {
        object::SymbolFlags::Elf { st_other, .. } => st_other & 0x3 == object::elf::STV_HIDDEN,
        _ => false,
    }
}

/// COFF and PE have no visibility: a symbol leaves its image only if it is
/// exported. For a PE image that is its export table; for a COFF object, an
/// `-export:` (or `/EXPORT:`) in its `.drectve` section, which is what
/// `dllexport` compiles to. `None` for other formats. A COFF symbol absent
/// from this list counts as hidden.
fn coff_exported_names(file: &object::File<'_>) -> Option<Vec<String>> {
    match file.format() {
        object::BinaryFormat::Pe => Some(
            file.exports()
                .ok()?
                .iter()
                .map(|e| String::from_utf8_lossy(e.name()).into_owned())
                .collect(),
        ),
        object::BinaryFormat::Coff => {
            let mut names = Vec::new();
            for section in file.sections().filter(|s| s.name() == Ok(".drectve")) {
                let text = String::from_utf8_lossy(section.data().unwrap_or(&[])).into_owned();
                for word in text.split_whitespace() {
                    let lower = word.to_ascii_lowercase();
                    if let Some(rest) = ["-export:", "/export:"]
                        .iter()
                        .find_map(|p| lower.starts_with(p).then(|| &word[p.len()..]))
                    {
                        let name = rest.trim_matches('"').split(',').next().unwrap_or("");
                        names.push(name.to_string());
                    }
                }
            }
            Some(names)
        }
        _ => None,
    }
}

/// Mach-O symbols with `N_PEXT` (declared `.private_extern`; the final link
/// turns them into non-external symbols that keep this bit). The `object`
/// crate's generic flags do not carry `n_type`, so read the nlist entries.
fn macho_private_extern_names(file: &object::File<'_>) -> Vec<String> {
    use object::read::macho::Nlist;
    let object::File::MachO64(macho) = file else {
        return Vec::new();
    };
    let endian = macho.endian();
    let table = macho.macho_symbol_table();
    table
        .iter()
        .filter(|nlist| nlist.n_type() & object::macho::N_STAB == 0)
        .filter(|nlist| nlist.n_type() & object::macho::N_PEXT != 0)
        .filter_map(|nlist| nlist.name(endian, table.strings()).ok())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect()
}

/// Inspects the object files inside an archive (an rlib or staticlib built
/// without LTO, whose members are machine code): the switch symbols must be
/// defined, in text, as global hidden symbols, in some member, and the
/// members are merged into one report. Members that are not object files
/// (`lib.rmeta`, LLVM bitcode) are skipped; if no member defines a symbol the
/// report says so.
pub fn inspect_archive(path: &Path, symbols: &[String], apple: bool) -> Result<Inspection> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let archive =
        object::read::archive::ArchiveFile::parse(&*data).context("parsing the archive")?;
    let mut merged: Option<Inspection> = None;
    for member in archive.members() {
        let member = member?;
        let bytes = member.data(&*data)?;
        if object::File::parse(bytes).is_err() {
            continue;
        }
        let one = inspect_bytes(bytes, symbols, apple)?;
        merged = Some(match merged {
            None => one,
            Some(mut acc) => {
                for (a, b) in acc.symbols.iter_mut().zip(one.symbols) {
                    if b.defined > 0 {
                        a.defined += b.defined;
                        a.defined_in_text |= b.defined_in_text;
                        a.hidden |= b.hidden;
                        a.local_only = if a.defined == b.defined {
                            b.local_only
                        } else {
                            a.local_only && b.local_only
                        };
                    }
                    a.undefined += b.undefined;
                }
                acc.anchor_present |= one.anchor_present;
                acc
            }
        });
    }
    merged.context("the archive has no object-file members")
}

/// The `lib<name>-<hash>.rlib` cargo left in `deps_dir`.
pub fn find_rlib(deps_dir: &Path, crate_name: &str) -> Result<PathBuf> {
    let prefix = format!("lib{crate_name}-");
    std::fs::read_dir(deps_dir)
        .with_context(|| format!("listing {}", deps_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| {
            p.extension().is_some_and(|e| e == "rlib")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
        })
        .with_context(|| format!("no {prefix}*.rlib in {}", deps_dir.display()))
}

/// The `lib<name>-<hash>.rlib` of a build whose executables are in
/// `profile_dir` (`<target-dir>/<triple>/<profile>`): in its `deps/` where
/// cargo puts rlibs (stable), else anywhere under its `build/` (newer
/// nightly cargo's build-dir layout puts each unit's output in
/// `build/<package>/<hash>/out/`), the most recently written one there.
pub fn find_profile_rlib(profile_dir: &Path, crate_name: &str) -> Result<PathBuf> {
    let deps = profile_dir.join("deps");
    if deps.is_dir() {
        return find_rlib(&deps, crate_name);
    }
    let prefix = format!("lib{crate_name}-");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let mut dirs = vec![profile_dir.join("build")];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() {
                dirs.push(path);
            } else if name.starts_with(&prefix) && name.ends_with(".rlib") {
                found.push((entry.metadata()?.modified()?, path));
            }
        }
    }
    found
        .into_iter()
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path)
        .with_context(|| {
            format!(
                "no {prefix}*.rlib in {} (neither deps/ nor build/)",
                profile_dir.display()
            )
        })
}

/// Names of the defined and undefined symbols of the image at `path` that
/// contain `needle` (for example wasmtime's own `wasmtime_fiber_switch`,
/// whose Rust-mangled name carries a hash).
pub fn symbols_containing(path: &Path, needle: &str) -> Result<Vec<String>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file = object::File::parse(&*data).context("parsing the image with the object crate")?;
    let mut names: Vec<String> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter_map(|s| s.name().ok().map(str::to_string))
        .filter(|n| n.contains(needle))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// loongarch64 Linux, which rustup has no rust-std for here: its binaries
/// are built by nightly cargo with std compiled from rust-src
/// ([`LOONGARCH64_BUILD_STD`]), linked statically against musl by zig
/// (`scripts/zig-cc-loongarch64.sh`, named in `.cargo/config.toml`) and run
/// under `qemu-loongarch64` ([`Target::qemu_linux`]).
pub const LOONGARCH64_TRIPLE: &str = "loongarch64-unknown-linux-musl";

/// The rustup toolchain loongarch64 builds use (for `-Zbuild-std`).
pub const LOONGARCH64_TOOLCHAIN: &str = "nightly";

/// The cargo argument that builds std for loongarch64 from rust-src.
pub const LOONGARCH64_BUILD_STD: &str = "-Zbuild-std=std,panic_unwind";

/// What a loongarch64 build needs here, each checked by running it: the
/// nightly toolchain with rust-src (for `-Zbuild-std`), zig from PyPI's
/// `ziglang` (the linker script calls `python3 -m ziglang`) and
/// qemu-loongarch64. Returns every missing piece, by name, so a harness
/// can fail naming them rather than skip.
pub fn loongarch64_missing() -> Vec<String> {
    let mut missing = Vec::new();
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let sysroot = Command::new("rustup")
        .args(["run", LOONGARCH64_TOOLCHAIN, "rustc", "--print", "sysroot"])
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match sysroot {
        None => missing.push(format!(
            "the {LOONGARCH64_TOOLCHAIN} toolchain (`rustup toolchain install {LOONGARCH64_TOOLCHAIN}`)"
        )),
        Some(sysroot) => {
            if !sysroot.join("lib/rustlib/src/rust/library/std").is_dir() {
                missing.push(format!(
                    "rust-src for {LOONGARCH64_TOOLCHAIN} \
                     (`rustup component add rust-src --toolchain {LOONGARCH64_TOOLCHAIN}`)"
                ));
            }
        }
    }
    if !works("python3", &["-m", "ziglang", "version"]) {
        missing.push("zig (`pip install ziglang`, run as `python3 -m ziglang`)".into());
    }
    if !works("qemu-loongarch64", &["--version"]) {
        missing.push("qemu-loongarch64 (Debian's qemu-user)".into());
    }
    missing
}
