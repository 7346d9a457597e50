//! Host bindings of Spin's PostgreSQL interfaces, from spin-sdk's WIT files.

crate::spin_wit::spin_bindgen!({
    inline: "
        package spinflow:outbound-pg;
        world outbound-pg {
            import spin:postgres/postgres@4.0.0;
            import spin:postgres/postgres@3.0.0;
            import fermyon:spin/postgres@2.0.0;
            import fermyon:spin/postgres;
        }
    ",
    world: "spinflow:outbound-pg/outbound-pg",
    imports: { default: async | trappable },
    anyhow: true,
    with: {
        "spin:postgres/postgres@4.0.0.connection": super::connection::PgConnection,
        "spin:postgres/postgres@3.0.0.connection": super::connection::PgConnection,
        "fermyon:spin/postgres@2.0.0.connection": super::connection::PgConnection,
    },
});
