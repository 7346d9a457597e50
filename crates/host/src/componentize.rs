//! Core wasm modules as components, as Spin converts them at load.
//!
//! Spin accepts a component `source` that is a core module (e.g. built for
//! `wasm32-wasip1`, as Spin's conformance tests ship them): a module made with
//! wit-bindgen 0.5 or later carries its component type in a `component-type`
//! custom section, and wit-component turns it into a component with the WASI
//! preview 1 "reactor" adapter (the one published by wasmtime for the wasmtime
//! we run). The engine caches the compiled result under the module's own hash,
//! so a cached module is neither converted nor compiled again.
//!
//! Spin also adapts modules of its first SDKs (wit-bindgen 0.2, with a
//! Spin-specific adapter) and WASI command modules (`_start`); spinflow does
//! not, and says so.

use anyhow::{bail, Context, Result};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wasmparser::{Encoding, Parser, Payload};

/// Whether `bytes` is a component (preamble layer 1) rather than a core module.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[..4] == b"\0asm" && bytes[6..8] == [1, 0]
}

/// Converts a core module made with wit-bindgen into a component.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    let mut has_component_type = false;
    let mut has_start = false;
    for payload in Parser::new(0).parse_all(module) {
        match payload.context("not a valid wasm module")? {
            Payload::Version { encoding, .. } if encoding != Encoding::Module => {
                bail!("not a core wasm module")
            }
            Payload::CustomSection(section) if section.name().starts_with("component-type") => {
                has_component_type = true;
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    has_start |= export.context("not a valid wasm module")?.name == "_start";
                }
            }
            _ => {}
        }
    }
    if !has_component_type {
        let kind = if has_start {
            "a WASI command module (it exports `_start`)"
        } else {
            "a core module without component type information (made by an SDK older than wit-bindgen 0.5)"
        };
        bail!(
            "it is {kind}; spinflow converts only modules built with wit-bindgen 0.5 or later (spin-sdk 2+): rebuild it for `--target wasm32-wasip2`"
        );
    }
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .context("cannot read the module's component type")?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .context("cannot use the WASI preview 1 adapter")?
        .encode()
        .context("cannot convert the module to a component")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preambles() {
        assert!(is_component(b"\0asm\x0d\x00\x01\x00"));
        assert!(!is_component(b"\0asm\x01\x00\x00\x00"));
        assert!(!is_component(b"nope"));
    }

    #[test]
    fn modules_without_component_type_are_refused_with_a_reason() {
        // (module (func (export "_start")))
        let command = b"\0asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06_start\x00\x00\x0a\x04\x01\x02\x00\x0b";
        let err = format!("{:#}", componentize(command).unwrap_err());
        assert!(err.contains("WASI command module"), "{err}");
        let empty = b"\0asm\x01\x00\x00\x00";
        let err = format!("{:#}", componentize(empty).unwrap_err());
        assert!(err.contains("wit-bindgen 0.5"), "{err}");
        assert!(componentize(b"\0asm\x01\x00\x00\x00\xff").is_err());
    }
}
