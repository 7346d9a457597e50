//! Host bindings of the SQLite interfaces, from spin-sdk's WIT files.

crate::spin_wit::spin_bindgen!({
    inline: "
        package spinflow:sqlite;
        world sqlite {
            import fermyon:spin/sqlite@2.0.0;
            import spin:sqlite/sqlite@3.0.0;
        }
    ",
    world: "spinflow:sqlite/sqlite",
    imports: { default: async | trappable },
    anyhow: true,
    with: {
        "fermyon:spin/sqlite.connection": crate::sqlite::view::ConnectionHandle,
        "spin:sqlite/sqlite.connection": crate::sqlite::view::ConnectionHandle,
    },
});
