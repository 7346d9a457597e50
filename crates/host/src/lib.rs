//! The Spin-compatible wasmtime host.
