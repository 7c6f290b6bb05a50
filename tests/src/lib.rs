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

/// A target triple the matrix covers.
#[derive(Clone, Debug)]
pub struct Target {
    /// The rustc target triple.
    pub triple: &'static str,
    /// How its binaries run here.
    pub run: Run,
}

impl Target {
    /// The machine the tests run on.
    pub fn host() -> Target {
        Target {
            triple: host_triple(),
            run: Run::Native,
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
}

impl Cell {
    /// The cargo target directory for this cell: separate from the outer
    /// `cargo test`'s (so the nested cargo never waits on its lock), and one
    /// per cell, because a codegen-units override changes every artifact.
    pub fn target_dir(&self) -> PathBuf {
        workspace_root()
            .join("target")
            .join("lto-matrix")
            .join(self.target.triple)
            .join(format!("{}-cgu{}", self.lto.profile(), self.codegen_units))
    }

    /// Builds the probe for this cell and returns the executable's path.
    pub fn build(&self, package: &str, bin: &str) -> Result<PathBuf> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target_dir = self.target_dir();
        let profile = self.lto.profile();
        let env_profile = profile.to_uppercase().replace('-', "_");
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root())
            .args([
                "build",
                "--quiet",
                "-p",
                package,
                "--bin",
                bin,
                "--profile",
                profile,
            ])
            .args(["--target", self.target.triple])
            .env("CARGO_TARGET_DIR", &target_dir)
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
    /// Mach-O `N_PEXT`).
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
}

impl Inspection {
    /// `Ok` if every switch symbol is a defined, global text symbol with no
    /// undefined twin; otherwise what is wrong.
    pub fn verdict(&self) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        for s in &self.symbols {
            if s.undefined > 0 {
                problems.push(format!(
                    "`{}` has {} undefined entr(y/ies)",
                    s.name, s.undefined
                ));
            }
            if s.defined == 0 {
                problems.push(format!("`{}` is not defined", s.name));
            } else if !s.defined_in_text {
                problems.push(format!("`{}` is defined but not as a text symbol", s.name));
            } else if s.local_only {
                problems.push(format!("`{}` is defined only as a local symbol", s.name));
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
            let hidden = is_hidden(sym.flags());
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
    })
}

/// Hidden visibility, from the format-specific symbol flags.
fn is_hidden(flags: object::SymbolFlags<object::SectionIndex, object::SymbolIndex>) -> bool {
    match flags {
        object::SymbolFlags::Elf { st_other, .. } => st_other & 0x3 == object::elf::STV_HIDDEN,
        _ => false,
    }
}
