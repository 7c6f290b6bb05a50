//! Deliberately wrong use of spindle-fiber: see Cargo.toml.

unsafe extern "C" {
    // The name carries spindle-fiber's version (checked by the test).
    #[link_name = "spindle_fiber_0_1_0_resume"]
    fn switch_declared_by_hand(msg: *mut u8, sp: *mut u8, link: *mut u8) -> [usize; 2];
}

fn main() {
    if std::env::args().count() > 100 {
        // SAFETY: never reached; only the reference to the symbol matters.
        let r = unsafe { switch_declared_by_hand(std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut()) };
        println!("{r:?}");
    }
}
