//! A panic handler for `no_std` plugins: a panic traps, and the host reports
//! the trap (`ErrorKind::Trap`) with the plugin's backtrace.

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
