//! wasm object files inside an archive (a wasm32 target's rlibs and `.a`
//! files), recognised with the `wasmparser` the workspace already builds
//! for wasmtime rather than `object`'s `wasm` feature, which brings a
//! second, older wasmparser of its own.
//!
//! Only the header is read: the evidence doctor wants from a member is its
//! architecture, and a wasm object holds none of the native switch symbols.

use object::{Architecture, BinaryFormat, ReadRef};
use wasmparser::{Encoding, Parser, Payload};

/// `Some` when the member is a wasm core module: its architecture and format.
pub(super) fn wasm_member<'d, R: ReadRef<'d>>(bytes: R) -> Option<(Architecture, BinaryFormat)> {
    let head = bytes.read_bytes_at(0, 8).ok()?;
    match Parser::new(0).parse(head, false) {
        Ok(wasmparser::Chunk::Parsed {
            payload:
                Payload::Version {
                    encoding: Encoding::Module,
                    ..
                },
            ..
        }) => Some((Architecture::Wasm32, BinaryFormat::Wasm)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_header_is_a_wasm_member_anything_else_is_not() {
        let module: &[u8] = b"\0asm\x01\0\0\0";
        assert_eq!(
            wasm_member(module),
            Some((Architecture::Wasm32, BinaryFormat::Wasm))
        );
        let component: &[u8] = b"\0asm\x0d\0\x01\0";
        assert_eq!(wasm_member(component), None);
        let elf: &[u8] = b"\x7fELF\x02\x01\x01\0";
        assert_eq!(wasm_member(elf), None);
        let short: &[u8] = b"\0as";
        assert_eq!(wasm_member(short), None);
    }
}
