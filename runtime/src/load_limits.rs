//! Load-time limits: a cheap pass over the module before Cranelift sees it.
//!
//! Compiling is not bounded by anything the module declares: a 10.9 KB
//! module of nested multi-value blocks and one `br_table` made Cranelift use
//! 4.7 GB, and a module of a million empty functions 5.4 GB (see SECURITY.md
//! for the measurements). Neither time nor memory of a compilation can be
//! capped from inside the process, so the shapes that drive its cost are
//! capped here, each with its own error naming the limit and the function.
//!
//! The pass only decodes; it validates nothing. A module it cannot decode is
//! left to wasmtime, which reports the malformation with its own message.

use std::fmt;

use wasmparser::{BlockType, Operator, Parser, Payload, TypeRef};

use crate::names::function_name;

/// Bounds on what a plugin may contain, checked before compiling. Set with
/// [`HostBuilder::load_limits`](crate::HostBuilder::load_limits); the
/// defaults admit every real plugin in this repository's examples and tests
/// with a wide margin, and reject the shapes that make compilation explode.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadLimits {
    /// Size of the binary module in bytes (default 64 MiB).
    pub module_bytes: usize,
    /// Functions defined by the module, imports not counted (default 50 000).
    pub functions: usize,
    /// Size of one function body in bytes (default 1 MiB).
    pub body_bytes: usize,
    /// Depth of nested `block`/`loop`/`if`/`try` inside one function
    /// (default 2 048).
    pub block_nesting: usize,
    /// Parameters plus results of one block type (default 32).
    pub block_type_arity: usize,
    /// Targets of one `br_table`, default included (default 16 384).
    pub br_table_width: usize,
    /// Locals of one function, parameters not counted (default 10 000).
    pub locals: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            module_bytes: 64 << 20,
            functions: 50_000,
            body_bytes: 1 << 20,
            block_nesting: 2_048,
            block_type_arity: 32,
            br_table_width: 16_384,
            locals: 10_000,
        }
    }
}

impl LoadLimits {
    /// The defaults (see the fields).
    pub fn new() -> Self {
        Self::default()
    }
    /// No bound at all: every limit at its maximum. For trusted input only.
    pub fn unlimited() -> Self {
        LoadLimits {
            module_bytes: usize::MAX,
            functions: usize::MAX,
            body_bytes: usize::MAX,
            block_nesting: usize::MAX,
            block_type_arity: usize::MAX,
            br_table_width: usize::MAX,
            locals: usize::MAX,
        }
    }
    /// Sets [`LoadLimits::module_bytes`].
    pub fn module_bytes(mut self, n: usize) -> Self {
        self.module_bytes = n;
        self
    }
    /// Sets [`LoadLimits::functions`].
    pub fn functions(mut self, n: usize) -> Self {
        self.functions = n;
        self
    }
    /// Sets [`LoadLimits::body_bytes`].
    pub fn body_bytes(mut self, n: usize) -> Self {
        self.body_bytes = n;
        self
    }
    /// Sets [`LoadLimits::block_nesting`].
    pub fn block_nesting(mut self, n: usize) -> Self {
        self.block_nesting = n;
        self
    }
    /// Sets [`LoadLimits::block_type_arity`].
    pub fn block_type_arity(mut self, n: usize) -> Self {
        self.block_type_arity = n;
        self
    }
    /// Sets [`LoadLimits::br_table_width`].
    pub fn br_table_width(mut self, n: usize) -> Self {
        self.br_table_width = n;
        self
    }
    /// Sets [`LoadLimits::locals`].
    pub fn locals(mut self, n: usize) -> Self {
        self.locals = n;
        self
    }
}

/// Which [`LoadLimits`] bound a module exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadLimit {
    /// [`LoadLimits::module_bytes`].
    ModuleBytes,
    /// [`LoadLimits::functions`].
    Functions,
    /// [`LoadLimits::body_bytes`].
    BodyBytes,
    /// [`LoadLimits::block_nesting`].
    BlockNesting,
    /// [`LoadLimits::block_type_arity`].
    BlockTypeArity,
    /// [`LoadLimits::br_table_width`].
    BrTableWidth,
    /// [`LoadLimits::locals`].
    Locals,
}

impl LoadLimit {
    /// The name of the limit as in [`LoadLimits`].
    pub fn name(self) -> &'static str {
        match self {
            LoadLimit::ModuleBytes => "module_bytes",
            LoadLimit::Functions => "functions",
            LoadLimit::BodyBytes => "body_bytes",
            LoadLimit::BlockNesting => "block_nesting",
            LoadLimit::BlockTypeArity => "block_type_arity",
            LoadLimit::BrTableWidth => "br_table_width",
            LoadLimit::Locals => "locals",
        }
    }

    fn what(self) -> &'static str {
        match self {
            LoadLimit::ModuleBytes => "module size in bytes",
            LoadLimit::Functions => "defined functions",
            LoadLimit::BodyBytes => "function body size in bytes",
            LoadLimit::BlockNesting => "block nesting depth",
            LoadLimit::BlockTypeArity => "block type parameters + results",
            LoadLimit::BrTableWidth => "br_table targets",
            LoadLimit::Locals => "locals in one function",
        }
    }
}

/// A module over one of its [`LoadLimits`]: which, by how much, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadLimitError {
    /// The limit.
    pub limit: LoadLimit,
    /// What the module has (for a counted limit: the first value over it).
    pub value: u64,
    /// The configured bound.
    pub max: u64,
    /// Index (in the function index space, imports first) of the offending
    /// function, for per-function limits.
    pub func_index: Option<u32>,
    /// Its name from the name section, if the module has one.
    pub func_name: Option<String>,
}

impl fmt::Display for LoadLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} exceeds the {} load limit of {}",
            self.limit.what(),
            self.value,
            self.limit.name(),
            self.max
        )?;
        if let Some(i) = self.func_index {
            write!(f, " in function {i}")?;
            if let Some(n) = &self.func_name {
                write!(f, " ({n:?})")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for LoadLimitError {}

/// Checks `bytes` against `limits`. Decoding problems are not reported here
/// (wasmtime reports them better); only limit violations are.
pub(crate) fn check(bytes: &[u8], limits: &LoadLimits) -> Result<(), LoadLimitError> {
    let over = |limit, value: usize, max: usize, func: Option<u32>| LoadLimitError {
        limit,
        value: value as u64,
        max: max as u64,
        func_index: func,
        func_name: None,
    };
    if bytes.len() > limits.module_bytes {
        return Err(over(
            LoadLimit::ModuleBytes,
            bytes.len(),
            limits.module_bytes,
            None,
        ));
    }
    match first_violation(bytes, limits, &over) {
        Ok(None) | Err(_) => Ok(()),
        Ok(Some(mut e)) => {
            // Read only when a limit was exceeded, so a well-formed module
            // pays nothing for it.
            if let Some(i) = e.func_index {
                e.func_name = function_name(bytes, i);
            }
            Err(e)
        }
    }
}

type Over<'a> = dyn Fn(LoadLimit, usize, usize, Option<u32>) -> LoadLimitError + 'a;

fn first_violation(
    bytes: &[u8],
    limits: &LoadLimits,
    over: &Over<'_>,
) -> wasmparser::Result<Option<LoadLimitError>> {
    // (params + results) of every type; non-function types count 0.
    let mut arity: Vec<usize> = Vec::new();
    let mut imported_funcs: u32 = 0;
    let mut body_index: u32 = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::TypeSection(types) => {
                for group in types {
                    for sub in group?.into_types() {
                        arity.push(match sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(ft) => {
                                ft.params().len() + ft.results().len()
                            }
                            _ => 0,
                        });
                    }
                }
            }
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    if matches!(import?.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        imported_funcs += 1;
                    }
                }
            }
            Payload::FunctionSection(funcs) => {
                let n = funcs.count() as usize;
                if n > limits.functions {
                    return Ok(Some(over(LoadLimit::Functions, n, limits.functions, None)));
                }
            }
            Payload::CodeSectionStart { count, .. } if count as usize > limits.functions => {
                return Ok(Some(over(
                    LoadLimit::Functions,
                    count as usize,
                    limits.functions,
                    None,
                )));
            }
            Payload::CodeSectionEntry(body) => {
                let index = imported_funcs + body_index;
                body_index += 1;
                let found = check_body(&body, index, &arity, limits, over)?;
                if found.is_some() {
                    return Ok(found);
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

fn check_body(
    body: &wasmparser::FunctionBody<'_>,
    index: u32,
    arity: &[usize],
    limits: &LoadLimits,
    over: &Over<'_>,
) -> wasmparser::Result<Option<LoadLimitError>> {
    let at = Some(index);
    let size = body.range().len();
    if size > limits.body_bytes {
        return Ok(Some(over(
            LoadLimit::BodyBytes,
            size,
            limits.body_bytes,
            at,
        )));
    }
    let mut locals: u64 = 0;
    for group in body.get_locals_reader()? {
        locals += u64::from(group?.0);
        if locals > limits.locals as u64 {
            return Ok(Some(over(
                LoadLimit::Locals,
                usize::try_from(locals).unwrap_or(usize::MAX),
                limits.locals,
                at,
            )));
        }
    }
    let block_arity = |ty: BlockType| match ty {
        BlockType::Empty => 0,
        BlockType::Type(_) => 1,
        BlockType::FuncType(t) => arity.get(t as usize).copied().unwrap_or(0),
    };
    let mut depth: usize = 0;
    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        let blockty = match ops.read()? {
            Operator::Block { blockty }
            | Operator::Loop { blockty }
            | Operator::If { blockty }
            | Operator::Try { blockty } => Some(blockty),
            Operator::TryTable { try_table } => Some(try_table.ty),
            Operator::End | Operator::Delegate { .. } => {
                depth = depth.saturating_sub(1);
                None
            }
            Operator::BrTable { targets } => {
                let width = targets.len() as usize + 1;
                if width > limits.br_table_width {
                    return Ok(Some(over(
                        LoadLimit::BrTableWidth,
                        width,
                        limits.br_table_width,
                        at,
                    )));
                }
                None
            }
            _ => None,
        };
        if let Some(ty) = blockty {
            depth += 1;
            if depth > limits.block_nesting {
                return Ok(Some(over(
                    LoadLimit::BlockNesting,
                    depth,
                    limits.block_nesting,
                    at,
                )));
            }
            let n = block_arity(ty);
            if n > limits.block_type_arity {
                return Ok(Some(over(
                    LoadLimit::BlockTypeArity,
                    n,
                    limits.block_type_arity,
                    at,
                )));
            }
        }
    }
    Ok(None)
}
