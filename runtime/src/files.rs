//! Reading plugin files: the one reader, which opens only regular files,
//! never reads past the load limit, and translates WebAssembly text; and the
//! checks every module passes before it is compiled.

use std::path::Path;

use crate::error::{Error, ErrorKind};
use crate::load_limits::{self, LoadLimits};

/// The pre-pass that keeps Cranelift from seeing modules over `limits`.
pub(crate) fn check_load_limits(
    name: &str,
    bytes: &[u8],
    limits: &LoadLimits,
) -> Result<(), Error> {
    load_limits::check(bytes, limits).map_err(|error| {
        ErrorKind::LoadLimit {
            plugin: name.to_string(),
            error,
        }
        .into()
    })
}

/// Rejects what is obviously not a core wasm module with a precise reason
/// before the parser reports a less readable one.
pub(crate) fn check_header(name: &str, bytes: &[u8]) -> Result<(), Error> {
    let fail = |reason: String| {
        Err(ErrorKind::InvalidModule {
            plugin: name.to_string(),
            reason,
        }
        .into())
    };
    let text_like = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'(' || b == b';');
    // Compare only what is there, so a 3-byte `abc` is "wrong magic" and a
    // 3-byte `\0as` is "truncated".
    let head = &bytes[..bytes.len().min(4)];
    if bytes.is_empty() || !b"\0asm".starts_with(head) {
        let shown: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        let mut reason = format!(
            "wrong magic number: expected `00 61 73 6d` (\"\\0asm\"), found `{}`",
            shown.join(" ")
        );
        if text_like {
            reason.push_str("; this looks like WebAssembly text: load it with `load_wat` or give the file a `.wat` extension");
        }
        return fail(reason);
    }
    if bytes.len() < 8 {
        return fail(format!(
            "truncated: {} bytes, shorter than the 8-byte module header",
            bytes.len()
        ));
    }
    if bytes[4..8] != [1, 0, 0, 0] {
        return fail(format!(
            "unsupported binary version {:02x?}: only core modules (version 1) are supported, not components",
            &bytes[4..8]
        ));
    }
    Ok(())
}

/// Reads a plugin file and returns its name (the path, for error reports)
/// and its binary module: WebAssembly text if the file ends in `.wat`,
/// translated, a binary module otherwise. [`Host::load_file`](crate::Host::load_file)
/// reads with it; tools that want the module's bytes too (a name section,
/// a hash) read with it and load with [`Host::load_bytes`](crate::Host::load_bytes).
///
/// The file must be a regular file, checked with `fstat` on the open
/// descriptor (opened without blocking, so a FIFO cannot hang the load and a
/// device such as `/dev/zero` is never read), and no larger than the load
/// limit on module size (four times that for `.wat`, whose text is several
/// times its binary). Nothing past the bound is read, even from a file that
/// grows while it is read.
pub fn read_plugin_file(path: &Path, limits: &LoadLimits) -> Result<(String, Vec<u8>), Error> {
    let name = path.display().to_string();
    let is_wat = path.extension().is_some_and(|e| e == "wat");
    let max = if is_wat {
        limits.module_bytes.saturating_mul(4)
    } else {
        limits.module_bytes
    } as u64;
    let io = |source: std::io::Error| ErrorKind::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |value: u64| ErrorKind::LoadLimit {
        plugin: name.clone(),
        error: load_limits::LoadLimitError {
            limit: load_limits::LoadLimit::ModuleBytes,
            value,
            max,
            func_index: None,
            func_name: None,
        },
    };
    let (file, meta) = open_regular(path, Links::Follow).map_err(|e| match e {
        OpenError::Io(e) => io(e),
        OpenError::NotRegular(what) => io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file; plugins are read from regular files only"),
        )),
    })?;
    let len = meta.len();
    if len > max {
        return Err(too_large(len).into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    std::io::Read::read_to_end(&mut std::io::Read::take(&file, max + 1), &mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64).into());
    }
    if is_wat {
        let text = String::from_utf8(bytes).map_err(|e| ErrorKind::InvalidModule {
            plugin: name.clone(),
            reason: format!("WAT file is not UTF-8: {e}"),
        })?;
        let binary = wat_to_binary(&name, &text)?;
        Ok((name, binary))
    } else {
        Ok((name, bytes))
    }
}

/// Whether [`open_regular`] follows a symbolic link at the path.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Open what the link points to (a plugin file named by the user).
    Follow,
    /// Refuse the link itself (`O_NOFOLLOW`: files spindle owns, such as
    /// the compile cache's entries and key, which someone could replace
    /// with a link).
    Refuse,
}

/// Why [`open_regular`] refused a path.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The open or the `fstat` failed (`ELOOP` for a refused link).
    Io(std::io::Error),
    /// It opened, and it is not a regular file: what it is.
    NotRegular(&'static str),
}

/// Opens `path` for reading if, on the open descriptor, it is a regular
/// file: the one way spindle-runtime opens a file it reads. Without
/// blocking, so a FIFO cannot hang the open, and a device such as
/// `/dev/zero` is never read.
pub(crate) fn open_regular(
    path: &Path,
    links: Links,
) -> Result<(std::fs::File, std::fs::Metadata), OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Without O_NONBLOCK, opening a FIFO waits for a writer.
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if links == Links::Refuse {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    #[cfg(not(unix))]
    let _ = links;
    let file = options.open(path).map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if meta.is_file() {
        Ok((file, meta))
    } else {
        Err(OpenError::NotRegular(kind_of(meta.file_type())))
    }
}

/// What a path that is not a regular file is, for errors.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// WebAssembly text to a binary module; syntax errors name the plugin and
/// point at the line.
pub(crate) fn wat_to_binary(name: &str, text: &str) -> Result<Vec<u8>, Error> {
    wat::parse_str(text).map_err(|mut e| {
        e.set_path(Path::new(name));
        ErrorKind::InvalidModule {
            plugin: name.to_string(),
            reason: format!("WAT syntax error: {e}"),
        }
        .into()
    })
}
