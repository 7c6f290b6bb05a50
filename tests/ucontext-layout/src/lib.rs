//! Nothing but a test (`tests/layout.rs`) and the build script that reads
//! glibc's `ucontext_t` layout for the target out of an object file compiled
//! by the target's C compiler.
