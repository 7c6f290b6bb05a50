//! The one table of wasmtime releases Spindle has a drop-in for: each
//! release line of `wasmtime-internal-fiber`, the patch releases of it whose
//! sources were read, its API epoch and what the original's manifest says.
//!
//! Adding a release is one row here (or a newer `last` in an existing row)
//! plus its proof cell in `tests/tests/patch_cells.rs`; the README's version
//! table and `docs/patch-report.md` list the rows and how each was proven.
//! A version outside the rows is refused, never guessed.

use std::fmt;

/// A release version `major.minor.patch` (pre-releases are not releases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// `X.Y.Z` exactly; anything else (pre-release, build metadata, fewer
    /// parts) is `None`.
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split('.');
        let mut next = || -> Option<u64> {
            let p = parts.next()?;
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return None;
            }
            p.parse().ok()
        };
        let v = Version {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        parts.next().is_none().then_some(v)
    }

    const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What one stretch of releases' public API says. Read from the original's
/// `src/lib.rs` and its platform modules' `pub type Error` (unix.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epoch {
    /// 36-40: `Result` defaults to `std::io::Error`; a stack creator fails
    /// with `anyhow::Error`; `Fiber::new` fails with the bare error and
    /// drops the stack.
    IoAnyhow,
    /// 41-43: as 36-40, but the stack creator's error is
    /// `wasmtime_environ::error::Error` (there still `anyhow`'s, re-exported).
    IoEnviron,
    /// 44-46: every error is `wasmtime_environ::error::Error` (wasmtime's
    /// own error type); `Fiber::new` still drops the stack.
    Environ,
    /// 47 on: as 44-46, and `Fiber::new` hands the stack back with its
    /// error, `(Error, FiberStack)`.
    EnvironStackBack,
}

impl Epoch {
    /// The lines of this epoch, for messages and the README.
    pub fn lines(self) -> &'static str {
        match self {
            Epoch::IoAnyhow => "36-40",
            Epoch::IoEnviron => "41-43",
            Epoch::Environ => "44-46",
            Epoch::EnvironStackBack => "47-51",
        }
    }

    /// The error of `FiberStack`'s constructors (`Result`'s default).
    pub fn error_type(self) -> &'static str {
        match self {
            Epoch::IoAnyhow | Epoch::IoEnviron => "std::io::Error",
            Epoch::Environ | Epoch::EnvironStackBack => "wasmtime_environ::error::Error",
        }
    }

    /// The error of `RuntimeFiberStackCreator::new_stack`.
    pub fn creator_error_type(self) -> &'static str {
        match self {
            Epoch::IoAnyhow => "anyhow::Error",
            _ => "wasmtime_environ::error::Error",
        }
    }

    /// Whether `Fiber::new` hands the stack back with its error.
    pub fn hands_stack_back(self) -> bool {
        self == Epoch::EnvironStackBack
    }

    /// Whether the original depends on `wasmtime-environ` (exactly its own
    /// release), else on `anyhow`.
    pub fn needs_environ(self) -> bool {
        self != Epoch::IoAnyhow
    }

    /// One sentence for the generated crate's docs.
    pub fn describe(self) -> &'static str {
        match self {
            Epoch::IoAnyhow => {
                "`Result` defaults to `std::io::Error`, a stack creator fails with \
                 `anyhow::Error`, and `Fiber::new` fails with the bare error, dropping the stack"
            }
            Epoch::IoEnviron => {
                "`Result` defaults to `std::io::Error`, a stack creator fails with \
                 `wasmtime_environ::error::Error`, and `Fiber::new` fails with the bare error, \
                 dropping the stack"
            }
            Epoch::Environ => {
                "every error is `wasmtime_environ::error::Error`, and `Fiber::new` fails with \
                 the bare error, dropping the stack"
            }
            Epoch::EnvironStackBack => {
                "every error is `wasmtime_environ::error::Error`, and `Fiber::new` fails with \
                 `(Error, FiberStack)`, handing the stack back"
            }
        }
    }
}

/// One release line of `wasmtime-internal-fiber` (= of wasmtime).
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// The oldest and newest release of the line whose sources were read
    /// and found to have this row's API (`src/lib.rs` identical between
    /// them). Newer patch releases are refused until checked.
    pub first: Version,
    pub last: Version,
    pub epoch: Epoch,
    /// The original's `rust-version`, which the drop-in repeats.
    pub rust_version: &'static str,
    /// Whether the original has the `custom` feature (wasmtime's
    /// `custom-fiber`, since 47); every line has `std`.
    pub custom_feature: bool,
    /// The original's `anyhow` requirement (36-40 only).
    pub anyhow: Option<&'static str>,
}

const fn line(
    major: u64,
    last_patch: u64,
    epoch: Epoch,
    rust_version: &'static str,
    anyhow: Option<&'static str>,
) -> Line {
    Line {
        first: Version::new(major, 0, 0),
        last: Version::new(major, 0, last_patch),
        epoch,
        rust_version,
        custom_feature: major >= 47,
        anyhow,
    }
}

use Epoch::*;

/// Every release line with a drop-in, oldest first. Read from the registry's
/// crates (each line's first and last release; `src/lib.rs` the same within
/// a line) and its index (rust-version, features, dependencies).
pub const LINES: &[Line] = &[
    line(36, 23, IoAnyhow, "1.86.0", Some("1.0.93")),
    line(37, 3, IoAnyhow, "1.87.0", Some("1.0.93")),
    line(38, 4, IoAnyhow, "1.88.0", Some("1.0.93")),
    line(39, 2, IoAnyhow, "1.89.0", Some("1.0.100")),
    line(40, 4, IoAnyhow, "1.89.0", Some("1.0.100")),
    line(41, 4, IoEnviron, "1.90.0", None),
    line(42, 2, IoEnviron, "1.91.0", None),
    line(43, 2, IoEnviron, "1.91.0", None),
    line(44, 3, Environ, "1.92.0", None),
    line(45, 3, Environ, "1.93.0", None),
    line(46, 3, Environ, "1.94.0", None),
    line(47, 4, EnvironStackBack, "1.94.0", None),
    line(48, 11, EnvironStackBack, "1.95.0", None),
    line(49, 5, EnvironStackBack, "1.96.0", None),
    line(50, 3, EnvironStackBack, "1.97.0", None),
    line(51, 0, EnvironStackBack, "1.97.0", None),
];

/// The releases a proof cell of `tests/tests/patch_cells.rs` builds, runs
/// and inspects (`cargo patch-full`; 46.0.3 in CI). A line without one
/// has its drop-in from its API as read from the source, and `spindle
/// patch` says so.
pub const PROOF_CELLS: &[&str] = &[
    "36.0.20", "38.0.4", "43.0.2", "46.0.3", "47.0.4", "48.0.8", "48.0.10", "49.0.5", "50.0.2",
];

/// The releases of `line` a proof cell covers.
pub fn proven_in(line: &Line) -> Vec<&'static str> {
    PROOF_CELLS
        .iter()
        .copied()
        .filter(|v| Version::parse(v).is_some_and(|v| line.first <= v && v <= line.last))
        .collect()
}

/// Why a version has no drop-in.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// Not `X.Y.Z` (a pre-release, say).
    NotARelease(String),
    /// Older than the oldest line.
    TooOld(Version),
    /// Newer than the newest release checked, in its line or past all lines.
    NotYetChecked {
        version: Version,
        newest_checked: Version,
    },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (oldest, newest) = supported_range();
        match self {
            Unsupported::NotARelease(v) => write!(
                f,
                "wasmtime-internal-fiber {v} is not a release (X.Y.Z) Spindle has a drop-in for; \
                 supported: {oldest} to {newest}"
            ),
            Unsupported::TooOld(v) => write!(
                f,
                "wasmtime-internal-fiber {v} is older than the oldest release Spindle has a drop-in \
                 for ({oldest}); supported: {oldest} to {newest}"
            ),
            Unsupported::NotYetChecked {
                version,
                newest_checked,
            } => write!(
                f,
                "wasmtime-internal-fiber {version} is newer than the newest release checked \
                 ({newest_checked}), so its API is not known to match a drop-in; supported: \
                 {oldest} to {newest}. A new release is added with one row in Spindle's table \
                 (cli/src/patch/releases.rs) plus its proof cell (tests/tests/patch_cells.rs), \
                 after reading its source"
            ),
        }
    }
}

/// The oldest and newest release with a drop-in.
pub fn supported_range() -> (Version, Version) {
    (LINES[0].first, LINES[LINES.len() - 1].last)
}

/// The line of `version`, if it has a drop-in.
pub fn find(version: &str) -> Result<(Version, &'static Line), Unsupported> {
    let v = Version::parse(version).ok_or_else(|| Unsupported::NotARelease(version.to_string()))?;
    if v < LINES[0].first {
        return Err(Unsupported::TooOld(v));
    }
    match LINES.iter().find(|l| l.first <= v && v <= l.last) {
        Some(line) => Ok((v, line)),
        None => {
            // Past its line's last checked release, or in no line at all
            // (newer than every line).
            let newest_checked = LINES
                .iter()
                .rev()
                .find(|l| l.first.major == v.major)
                .map_or(supported_range().1, |l| l.last);
            Err(Unsupported::NotYetChecked {
                version: v,
                newest_checked,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(Version::parse("48.0.8"), Some(Version::new(48, 0, 8)));
        for bad in [
            "48.0",
            "48.0.8.1",
            "49.0.0-rc.1",
            "48.0.8+x",
            "",
            "a.b.c",
            "048.0.1",
            "48..1",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert!(Version::new(48, 0, 10) > Version::new(48, 0, 9));
    }

    #[test]
    fn lines_are_ordered_contiguous_and_consistent() {
        for pair in LINES.windows(2) {
            assert_eq!(
                pair[1].first.major,
                pair[0].first.major + 1,
                "one row per line"
            );
            assert!(pair[0].last < pair[1].first);
        }
        for l in LINES {
            assert_eq!(l.first.major, l.last.major);
            assert!(l.first <= l.last);
            assert_eq!(l.anyhow.is_some(), l.epoch == IoAnyhow, "{l:?}");
            assert!(l.rust_version.starts_with("1."));
        }
    }

    #[test]
    fn epochs_match_what_the_sources_say() {
        let epoch = |v: &str| find(v).unwrap().1.epoch;
        assert_eq!(epoch("36.0.20"), IoAnyhow);
        assert_eq!(epoch("38.0.3"), IoAnyhow);
        assert_eq!(epoch("40.0.4"), IoAnyhow);
        assert_eq!(epoch("41.0.0"), IoEnviron);
        assert_eq!(epoch("43.0.2"), IoEnviron);
        assert_eq!(epoch("44.0.0"), Environ);
        assert_eq!(epoch("46.0.3"), Environ);
        assert_eq!(epoch("47.0.0"), EnvironStackBack);
        assert_eq!(epoch("48.0.8"), EnvironStackBack);
        assert_eq!(epoch("51.0.0"), EnvironStackBack);
        assert!(!find("46.0.3").unwrap().1.custom_feature);
        assert!(find("47.0.0").unwrap().1.custom_feature);
        assert_eq!(find("49.0.5").unwrap().1.rust_version, "1.96.0");
        assert_eq!(find("50.0.1").unwrap().1.rust_version, "1.97.0");
    }

    /// Every release listed as proven has its cell in the harness, and
    /// every cell is listed.
    #[test]
    fn proof_cells_match_the_harness() {
        let harness = include_str!("../../../tests/tests/patch_cells.rs");
        let mut in_harness: Vec<String> = harness
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let rest = l
                    .strip_prefix("full_cell!(patch_cell_")
                    .or_else(|| l.strip_prefix("fn patch_cell_"))?;
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '_')
                    .collect();
                Some(name.trim_end_matches('_').replace('_', "."))
            })
            .collect();
        in_harness.sort();
        let mut listed: Vec<String> = PROOF_CELLS.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(in_harness, listed);
        for v in PROOF_CELLS {
            assert!(find(v).is_ok(), "{v}");
        }
        assert_eq!(proven_in(find("48.0.1").unwrap().1), ["48.0.8", "48.0.10"]);
        assert!(proven_in(find("37.0.0").unwrap().1).is_empty());
    }

    #[test]
    fn outside_the_table_is_refused_with_the_range() {
        assert_eq!(
            find("35.0.0").unwrap_err(),
            Unsupported::TooOld(Version::new(35, 0, 0))
        );
        let newer = find("52.0.0").unwrap_err();
        assert_eq!(
            newer,
            Unsupported::NotYetChecked {
                version: Version::new(52, 0, 0),
                newest_checked: Version::new(51, 0, 0)
            }
        );
        let msg = newer.to_string();
        assert!(msg.contains("supported: 36.0.0 to 51.0.0"), "{msg}");
        assert!(msg.contains("cli/src/patch/releases.rs"), "{msg}");
        // A patch release past its line's newest checked one.
        assert_eq!(
            find("48.0.12").unwrap_err(),
            Unsupported::NotYetChecked {
                version: Version::new(48, 0, 12),
                newest_checked: Version::new(48, 0, 11)
            }
        );
        // 36.0.21 and 36.0.22 are not on the registry, but inside the
        // checked range of identical sources.
        assert!(find("36.0.21").is_ok());
        assert!(matches!(
            find("49.0.0-rc.1"),
            Err(Unsupported::NotARelease(_))
        ));
        assert!(find("48.1.0").is_err());
    }
}
