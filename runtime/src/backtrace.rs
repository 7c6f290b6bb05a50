//! Wasm backtraces: the frames active when an error happened, as errors
//! carry them and [`Error::report`](crate::Error::report) shows them.

use std::fmt;

/// One wasm frame of a [`Backtrace`].
#[derive(Clone, Debug)]
pub struct Frame {
    /// Module name from the name section, if any.
    pub module: Option<String>,
    /// Function index within the module.
    pub func_index: u32,
    /// Function name (demangled) from the name section, if any.
    pub func_name: Option<String>,
    /// Byte offset of the instruction in the module, if known.
    pub module_offset: Option<usize>,
}

/// The wasm frames active when an error happened, innermost first.
#[derive(Clone, Debug, Default)]
pub struct Backtrace {
    pub(crate) frames: Vec<Frame>,
}

impl Backtrace {
    /// Frames, innermost first.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Whether any frame is the named function.
    pub fn contains(&self, func_name: &str) -> bool {
        self.frames
            .iter()
            .any(|f| f.func_name.as_deref() == Some(func_name))
    }

    pub(crate) fn from_wasmtime(bt: &wasmtime::WasmBacktrace) -> Self {
        Backtrace {
            frames: bt
                .frames()
                .iter()
                .map(|f| Frame {
                    module: f.module().name().map(str::to_string),
                    func_index: f.func_index(),
                    func_name: f.func_name().map(str::to_string),
                    module_offset: f.module_offset(),
                })
                .collect(),
        }
    }
}

/// Renders as a newline-prefixed block so it can follow any message, and as
/// nothing when there are no frames.
impl fmt::Display for Backtrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.frames.is_empty() {
            return Ok(());
        }
        f.write_str("\nwasm backtrace:")?;
        let same = |a: &Frame, b: &Frame| {
            a.func_index == b.func_index
                && a.module_offset == b.module_offset
                && a.module == b.module
        };
        let mut i = 0;
        while i < self.frames.len() {
            let fr = &self.frames[i];
            // Deep recursion would otherwise print the same line dozens of times.
            let run = self.frames[i..].iter().take_while(|g| same(fr, g)).count();
            if run > 1 {
                write!(f, "\n  {i:>2}..{:<2} ", i + run - 1)?;
            } else {
                write!(f, "\n  {i:>2}: ")?;
            }
            if let Some(m) = &fr.module {
                write!(f, "{m}!")?;
            }
            match &fr.func_name {
                Some(n) => write!(f, "{n}")?,
                None => write!(f, "<func {}>", fr.func_index)?,
            }
            if let Some(off) = fr.module_offset {
                write!(f, " @ {off:#x}")?;
            }
            if run > 1 {
                write!(f, " (x{run})")?;
            }
            i += run;
        }
        Ok(())
    }
}
