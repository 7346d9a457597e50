//! The WebAssembly build's shadow stack: 128 KiB instead of the toolchain's 1 MiB.
//!
//! Spin resets a WASIp2 instance's whole linear memory after each request (the first
//! 2 MiB of it, page by page), so every byte of stack costs on every request whether
//! the request used it or not. The deepest requests measured with `bench pages` use
//! 36 KiB (a JSON body nested 127 levels, the most serde_json accepts) and 28 KiB
//! (loading a scikit-learn model from the registry). The stack comes first in linear
//! memory, so running past its end traps instead of overwriting data.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=131072");
    }
}
