//! What wasmtime-internal-fiber 48.0.8's API says that 36 and 38 do not
//! (`api_36_38.rs` is the other side): every error is wasmtime's own
//! `wasmtime_environ::error::Error`, and `Fiber::new` hands the stack back
//! with its error (since 47), so that wasmtime can return a pooled stack to
//! its pool.

pub(crate) use wasmtime_environ::error::Error;

/// The error `RuntimeFiberStackCreator::new_stack` returns.
pub(crate) type CreatorError = Error;

/// What `Fiber::new` returns on failure: the stack comes back.
pub(crate) type NewError = (Error, crate::FiberStack);

pub(crate) fn error<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::new(e)
}

#[cfg(windows)]
pub(crate) fn io_error(e: std::io::Error) -> Error {
    Error::new(e)
}

pub(crate) fn new_failed(e: Error, stack: crate::FiberStack) -> NewError {
    (e, stack)
}

/// For the shared tests: the OS error code inside an error, if any.
#[cfg(test)]
pub(crate) fn raw_os_error(e: &Error) -> Option<i32> {
    e.downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::raw_os_error)
}

/// For the shared tests: `Fiber::new`'s error and the stack it hands back.
#[cfg(test)]
pub(crate) fn split_new_error(e: NewError) -> (Error, Option<crate::FiberStack>) {
    (e.0, Some(e.1))
}

/// Whether `Fiber::new` hands the stack back with its error.
#[cfg(test)]
pub(crate) const NEW_HANDS_STACK_BACK: bool = true;
