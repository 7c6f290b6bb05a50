//! Opening the files a user hands the CLI other than plugins (which the
//! runtime reads): regular files only, of a bounded size.
//!
//! A FIFO would block `open`/`read` until someone writes (a hang), a device
//! such as `/dev/zero` never ends (memory grows until the OOM killer), and a
//! sparse file can claim gigabytes it does not store. Every input is opened
//! without blocking, checked with `fstat` on the open descriptor (so a path
//! swapped after a check cannot slip through), and read no further than its
//! limit even if it grows while being read.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

/// A host manifest larger than this is refused (a real one is a few KiB).
pub const MAX_MANIFEST_FILE: u64 = 16 << 20;

/// What kind of thing a non-regular path is, for the error.
fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file of at most `max_len`
/// bytes; returns it with its length. `what` names the input in errors
/// ("plugin", "host manifest").
pub fn open_regular(path: &Path, what: &str, max_len: u64) -> Result<(File, u64), String> {
    let shown = path.display();
    // A cheap early answer that opens nothing: opening some devices has
    // effects of its own. The fstat below is the check that counts.
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(format!(
            "cannot read {what} {shown}: it is {}, not a regular file",
            kind_of(meta.file_type())
        ));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Without O_NONBLOCK, opening a FIFO waits for a writer; with it the
        // open returns and the fstat below refuses it. O_NOCTTY: a terminal
        // swapped in never becomes the controlling one.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options
        .open(path)
        .map_err(|e| format!("cannot read {what} {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {what} {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "cannot read {what} {shown}: it is {}, not a regular file",
            kind_of(meta.file_type())
        ));
    }
    let len = meta.len();
    if len > max_len {
        return Err(format!(
            "cannot read {what} {shown}: it is {len} bytes, over the {max_len}-byte limit for a {what}"
        ));
    }
    Ok((file, len))
}

/// The contents of the regular file `path`, of at most `max_len` bytes.
pub fn read_regular(path: &Path, what: &str, max_len: u64) -> Result<Vec<u8>, String> {
    let (file, len) = open_regular(path, what, max_len)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte past the limit tells a file that grew since the fstat.
    file.take(max_len + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if bytes.len() as u64 > max_len {
        return Err(format!(
            "cannot read {what} {}: it grew past the {max_len}-byte limit for a {what} while being read",
            path.display()
        ));
    }
    Ok(bytes)
}
