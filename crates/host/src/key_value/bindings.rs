//! Host bindings of the key-value interfaces, from spin-sdk's WIT files.

crate::spin_wit::spin_bindgen!({
    inline: "
        package spinflow:key-value;
        world key-value {
            import fermyon:spin/key-value@2.0.0;
            import wasi:keyvalue/store@0.2.0-draft2;
            import wasi:keyvalue/atomics@0.2.0-draft2;
            import wasi:keyvalue/batch@0.2.0-draft2;
        }
    ",
    world: "spinflow:key-value/key-value",
    imports: { default: async | trappable },
    anyhow: true,
    with: {
        "fermyon:spin/key-value.store": crate::key_value::view::StoreHandle,
        "wasi:keyvalue/store.bucket": crate::key_value::view::StoreHandle,
        "wasi:keyvalue/atomics.cas": crate::key_value::view::CasHandle,
    },
});
