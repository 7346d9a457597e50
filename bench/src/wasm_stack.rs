//! Where a component's shadow stack ends: LLVM places the stack first in linear memory
//! and its top is the initial value of global 0 (`__stack_pointer`, a mutable i32) of
//! the core module that defines the memory.

use anyhow::{bail, Context, Result};
use wasmparser::{Operator, Parser, Payload, ValType};

/// The stack's top (its size in bytes, for a stack-first module) in the component or
/// core module `wasm`.
pub fn stack_top(wasm: &[u8]) -> Result<u64> {
    // Per core module (in order): whether it defines a memory, and its first global's
    // initial value when that is a mutable i32 constant.
    let mut modules: Vec<(bool, Option<u64>)> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("not a WebAssembly component or module")? {
            Payload::Version {
                encoding: wasmparser::Encoding::Module,
                ..
            } => {
                modules.push((false, None));
            }
            Payload::MemorySection(memories) => {
                if let Some(module) = modules.last_mut() {
                    module.0 |= memories.count() > 0;
                }
            }
            Payload::GlobalSection(globals) => {
                let first = globals.into_iter().next().transpose()?;
                if let (Some(global), Some(module)) = (first, modules.last_mut()) {
                    let i32_mut = global.ty.mutable && global.ty.content_type == ValType::I32;
                    if let (true, Ok(Operator::I32Const { value })) =
                        (i32_mut, global.init_expr.get_operators_reader().read())
                    {
                        module.1 = Some(value as u32 as u64);
                    }
                }
            }
            _ => {}
        }
    }
    match modules.iter().find(|(memory, _)| *memory) {
        Some((_, Some(top))) => Ok(*top),
        Some((_, None)) => bail!("the module with the memory has no stack pointer global"),
        None => bail!("no core module defines a memory"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one memory and `global 0 (mut i32) (i32.const 65536)`.
    const MODULE: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
        0x05, 0x03, 0x01, 0x00, 0x02, // memory section: one memory, min 2 pages
        0x06, 0x08, 0x01, 0x7f, 0x01, 0x41, 0x80, 0x80, 0x04, 0x0b, // global section
    ];

    #[test]
    fn the_stack_top_is_the_stack_pointer_initial_value() {
        assert_eq!(stack_top(MODULE).unwrap(), 65536);
    }

    #[test]
    fn a_module_without_memory_has_no_stack() {
        let without_memory: Vec<u8> = MODULE[..8].iter().chain(&MODULE[13..]).copied().collect();
        assert!(stack_top(&without_memory).is_err());
    }
}
