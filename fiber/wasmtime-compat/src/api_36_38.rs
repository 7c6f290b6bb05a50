//! What wasmtime-internal-fiber 36.x and 38.x's API says that 48 does not
//! (`api_48.rs` is the other side). Their `Result` defaults to the platform
//! module's error, `std::io::Error` on unix and Windows alike; the stack
//! creator's error is `anyhow::Error`; and `Fiber::new` returns the bare
//! error, dropping the stack (the stack came back with the error only in 47).
//! The two lines have the same public API; 36 only needs an older rustc
//! (1.86 against 38's 1.88).

pub(crate) type Error = std::io::Error;

/// The error `RuntimeFiberStackCreator::new_stack` returns.
pub(crate) type CreatorError = anyhow::Error;

/// What `Fiber::new` returns on failure.
pub(crate) type NewError = Error;

pub(crate) fn error<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    std::io::Error::other(e)
}

#[cfg(windows)]
pub(crate) fn io_error(e: std::io::Error) -> Error {
    e
}

pub(crate) fn new_failed(e: Error, stack: crate::FiberStack) -> NewError {
    // As the original: a stack that could not run a fiber is dropped here.
    // (For a `from_raw_parts` stack that frees nothing; its owner, the
    // pooling allocator, keeps counting it, which is why 47 changed this.)
    drop(stack);
    e
}

/// For the shared tests: the OS error code inside an error, if any.
#[cfg(test)]
pub(crate) fn raw_os_error(e: &Error) -> Option<i32> {
    e.raw_os_error()
}

/// For the shared tests: `Fiber::new`'s error and the stack it hands back.
#[cfg(test)]
pub(crate) fn split_new_error(e: NewError) -> (Error, Option<crate::FiberStack>) {
    (e, None)
}

/// Whether `Fiber::new` hands the stack back with its error.
#[cfg(test)]
pub(crate) const NEW_HANDS_STACK_BACK: bool = false;
