//! Intel IBT landing pads (issue 18, "worth checking"): both targets of the
//! x86_64 switch's indirect jumps start with `endbr64`. Checked in this very
//! binary's machine code with `objdump`: the first instruction of
//! `trampoline`, and the instruction after every `jmp` to `suspend` (the
//! continuation that `resume` jumps back to).
// Not under Miri, which has no machine code to read (tests/all/miri_only.rs).
#![cfg(all(
    target_arch = "x86_64",
    target_os = "linux",
    not(feature = "fallback"),
    not(miri)
))]

use std::process::Command;

#[test]
fn indirect_jump_targets_start_with_endbr64() {
    let exe = std::env::current_exe().unwrap();
    let out = match Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(&exe)
        .output()
    {
        Ok(out) if out.status.success() => out,
        other => {
            panic!("this test needs objdump (binutils) to read its own machine code: {other:?}")
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let version = spindle_fiber::SYMBOL_VERSION;
    let trampoline = format!("<spindle_fiber_{version}_trampoline>:");
    let at = lines
        .iter()
        .position(|l| l.ends_with(&trampoline))
        .unwrap_or_else(|| panic!("{trampoline} not found in the disassembly"));
    assert!(
        lines[at + 1].contains("endbr64"),
        "trampoline starts with: {}",
        lines[at + 1]
    );

    let suspend = format!("<spindle_fiber_{version}_suspend>");
    let jumps: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("jmp") && lines[i].ends_with(&suspend))
        .collect();
    assert!(
        !jumps.is_empty(),
        "no jmp to {suspend}: the switch was not linked in"
    );
    for i in jumps {
        assert!(
            lines[i + 1].contains("endbr64"),
            "after `{}` comes `{}`, not endbr64",
            lines[i].trim(),
            lines[i + 1].trim()
        );
    }
    // The test must see fibers that suspend: use the switch so it is linked.
    let mut fiber =
        spindle_fiber::Fiber::new(|x: u8, s: &spindle_fiber::Suspender<u8, u8>| s.suspend(x))
            .unwrap();
    assert_eq!(fiber.resume(1), spindle_fiber::FiberResult::Yield(1));
    assert_eq!(fiber.resume(2), spindle_fiber::FiberResult::Return(2));
}
