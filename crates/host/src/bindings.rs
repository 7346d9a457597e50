//! Host bindings for the Spin interfaces, generated from the WIT that `spin-sdk`
//! ships (copied to `wit-deps/` by build.rs, with the world `spinflow:host/host`
//! listing what this host implements; WASI and wasi:http come from wasmtime-wasi(-http)).

wasmtime::component::bindgen!({
    path: "wit-deps/spin-sdk",
    world: "spinflow:host/host",
    imports: { default: async | trappable },
    anyhow: true,
    with: {
        "fermyon:spin/key-value.store": crate::key_value::StoreHandle,
        "fermyon:spin/sqlite.connection": crate::sqlite::ConnectionHandle,
        "spin:sqlite/sqlite.connection": crate::sqlite::ConnectionHandle,
        "wasi:keyvalue/store.bucket": crate::key_value::StoreHandle,
        "wasi:keyvalue/atomics.cas": crate::key_value::CasHandle,
    },
});

pub use fermyon::spin2_0_0 as spin_v2;
pub use spin::sqlite::sqlite as sqlite_v3;
pub use wasi::config::store as wasi_config;
pub use wasi::keyvalue as wasi_keyvalue;
