//! Object evidence: one file read as an object, an archive of objects or a
//! universal (fat) Mach-O, reduced to the architecture and format of each
//! object and the switch symbols they carry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::read::macho::{FatArch, MachOFatFile32, MachOFatFile64};
use object::{Architecture, BinaryFormat, FileKind, Object, ObjectKind, ReadRef};

use super::source::{READ_BUDGET, Source};
use super::symbols::{Switch, scan_symbols, symbol_budget};

/// One object (a whole file, an archive member or a universal slice).
#[derive(Debug)]
pub(super) struct Obj {
    pub(super) member: Option<String>,
    pub(super) arch: Architecture,
    pub(super) format: BinaryFormat,
}

/// One examined file.
#[derive(Debug)]
pub(super) struct FileReport {
    pub(super) path: PathBuf,
    pub(super) explicit: bool,
    pub(super) kind: &'static str,
    /// Linked image (executable or shared library) rather than objects to link.
    pub(super) is_final: bool,
    pub(super) universal: bool,
    pub(super) objects: Vec<Obj>,
    pub(super) bitcode_members: usize,
    pub(super) switch: Switch,
    /// Why only part of the file was read, if it was.
    pub(super) incomplete: Vec<String>,
}

const BITCODE_MAGIC: &[u8] = b"BC\xC0\xDE";

/// Reads one file. `Ok(None)`: not something doctor understands.
pub(super) fn examine(path: &Path, explicit: bool) -> Result<Option<FileReport>, String> {
    let source = Source::open(path)?;
    let report = read_evidence(path, explicit, &source);
    if source.over_budget() {
        let why = format!(
            "its headers and tables ask for more than {} MiB to be read (a real build output needs far less)",
            READ_BUDGET >> 20
        );
        return match report {
            Ok(Some(mut r)) => {
                r.incomplete.push(format!("only partly examined: {why}"));
                Ok(Some(r))
            }
            _ => Err(format!("{}: not examined: {why}", path.display())),
        };
    }
    report
}

fn read_evidence(
    path: &Path,
    explicit: bool,
    source: &Source,
) -> Result<Option<FileReport>, String> {
    let data = source.whole();
    let mut report = FileReport {
        path: path.to_path_buf(),
        explicit,
        kind: "",
        is_final: false,
        universal: false,
        objects: Vec::new(),
        bitcode_members: 0,
        switch: Switch {
            budget: symbol_budget(source.len()),
            ..Switch::default()
        },
        incomplete: Vec::new(),
    };
    let kind = match FileKind::parse(data) {
        Ok(k) => k,
        Err(_) => return Ok(None),
    };
    match kind {
        FileKind::Archive => {
            let archive = ArchiveFile::parse(data)
                .map_err(|e| format!("{}: malformed archive: {e}", path.display()))?;
            report.kind = if path.extension().is_some_and(|e| e == "rlib") {
                "rlib"
            } else {
                "static library"
            };
            for member in archive.members() {
                let member =
                    member.map_err(|e| format!("{}: malformed archive: {e}", path.display()))?;
                let (offset, size) = member.file_range();
                let Some(bytes) = data.sub(offset, size) else {
                    continue;
                };
                let name = String::from_utf8_lossy(member.name()).into_owned();
                if bytes
                    .read_bytes_at(0, BITCODE_MAGIC.len() as u64)
                    .is_ok_and(|head| head == BITCODE_MAGIC)
                {
                    report.bitcode_members += 1;
                    continue;
                }
                if let Some((arch, format)) = super::wasm_members::wasm_member(bytes) {
                    report.objects.push(Obj {
                        member: Some(name),
                        arch,
                        format,
                    });
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
            let arches: Vec<(u64, u64)> = if kind == FileKind::MachOFat32 {
                let fat = MachOFatFile32::parse(data)
                    .map_err(|e| format!("{}: malformed universal binary: {e}", path.display()))?;
                fat.arches().iter().map(|a| a.file_range()).collect()
            } else {
                let fat = MachOFatFile64::parse(data)
                    .map_err(|e| format!("{}: malformed universal binary: {e}", path.display()))?;
                fat.arches().iter().map(|a| a.file_range()).collect()
            };
            for (offset, size) in distinct_slices(&arches) {
                let bytes = data
                    .sub(offset, size)
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
            let file = object::File::parse(data)
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
    if report.switch.budget_exhausted {
        report.incomplete.push(format!(
            "only partly examined: its objects hold more symbols than a file of {} bytes can \
             (its universal slices overlap); stopped after {} symbols",
            source.len(),
            report.switch.symbols_seen
        ));
    }
    Ok(Some(report))
}

/// The objects of a universal binary, once each: arch entries that start at
/// the same offset name one object (a real file has one entry per object;
/// a crafted one had 40,000 entries for one object, and reading each took
/// time quadratic in the file's size). The widest range at an offset is
/// kept, in the order the entries first name it.
fn distinct_slices(arches: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut widest: HashMap<u64, usize> = HashMap::new();
    let mut slices: Vec<(u64, u64)> = Vec::new();
    for &(offset, size) in arches {
        match widest.get(&offset) {
            Some(&i) => slices[i].1 = slices[i].1.max(size),
            None => {
                widest.insert(offset, slices.len());
                slices.push((offset, size));
            }
        }
    }
    slices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_per_slice_offset() {
        assert_eq!(
            distinct_slices(&[(4096, 10), (4096, 20), (8192, 5), (4096, 15)]),
            vec![(4096, 20), (8192, 5)]
        );
        assert_eq!(distinct_slices(&[]), vec![]);
    }
}
