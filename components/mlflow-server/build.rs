//! The WebAssembly build's shadow stack: 128 KiB instead of the toolchain's 1 MiB.
//!
//! Spin resets a WASIp2 instance's linear memory after each request (the first 2 MiB
//! of it, page by page), so every stack page costs on every request whether the
//! request used it or not: with 1 MiB the stack was 256 of the 336 pages rewritten
//! after each request. The deepest requests measured with `bench pages` use 28 KiB (a
//! JSON body nested 127 levels, the most serde_json accepts, as a log-batch body or
//! as GraphQL variables); a GraphQL query nested 2,000 levels is refused by the
//! parser within 8 KiB. The stack comes first in linear memory, so running past its
//! end traps instead of overwriting data.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=131072");
    }
}
