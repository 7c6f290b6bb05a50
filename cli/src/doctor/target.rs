//! Which architecture and object format the outputs are meant for: from
//! `--target`, a `target/<triple>/` directory in the path, or the files'
//! own majority.

use std::collections::BTreeMap;
use std::path::Path;

use object::{Architecture, BinaryFormat};

use super::objects::FileReport;

/// An architecture and object format parsed from a target triple.
#[derive(Clone, Debug)]
pub(super) struct Target {
    pub(super) arch: Architecture,
    pub(super) format: Option<BinaryFormat>,
    /// Where it came from, for the report.
    pub(super) source: String,
}

pub(super) fn parse_triple(triple: &str) -> Option<(Architecture, Option<BinaryFormat>)> {
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
pub(super) fn triple_in_path(path: &Path) -> Option<(String, Architecture, Option<BinaryFormat>)> {
    path.ancestors().find_map(|p| {
        let name = p.file_name()?.to_str()?;
        if name.split('-').count() < 3 {
            return None;
        }
        let (arch, format) = parse_triple(name)?;
        Some((name.to_string(), arch, format))
    })
}

pub(super) fn arch_name(a: Architecture) -> String {
    match a {
        Architecture::X86_64 => "x86_64".into(),
        Architecture::Aarch64 => "aarch64".into(),
        Architecture::I386 => "i386".into(),
        Architecture::Arm => "arm".into(),
        Architecture::Riscv64 => "riscv64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

pub(super) fn format_name(f: BinaryFormat) -> &'static str {
    match f {
        BinaryFormat::Elf => "ELF",
        BinaryFormat::MachO => "Mach-O",
        BinaryFormat::Coff | BinaryFormat::Pe => "COFF/PE",
        BinaryFormat::Wasm => "wasm",
        _ => "other",
    }
}

/// Majority architecture of `reports`, preferring final images.
pub(super) fn infer_target(reports: &[&FileReport]) -> Option<Target> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
