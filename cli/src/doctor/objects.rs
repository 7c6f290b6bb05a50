//! Object evidence: one file read as an object, an archive of objects or a
//! universal (fat) Mach-O, reduced to the architecture and format of each
//! object and the switch symbols they carry.

use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::read::macho::{FatArch, MachOFatFile32, MachOFatFile64};
use object::{Architecture, BinaryFormat, FileKind, Object, ObjectKind};

use super::symbols::{Switch, scan_symbols};

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
}

const BITCODE_MAGIC: &[u8] = b"BC\xC0\xDE";

/// Reads one file. `Ok(None)`: not something doctor understands.
pub(super) fn examine(path: &Path, explicit: bool) -> Result<Option<FileReport>, String> {
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
