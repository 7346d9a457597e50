//! Host bindings of the variables interfaces, from spin-sdk's WIT files.

crate::spin_wit::spin_bindgen!({
    inline: "
        package spinflow:variables;
        world variables {
            import fermyon:spin/variables@2.0.0;
            import wasi:config/store@0.2.0-draft-2024-09-27;
        }
    ",
    world: "spinflow:variables/variables",
    imports: { default: async | trappable },
    anyhow: true,
});
