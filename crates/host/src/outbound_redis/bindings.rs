//! Host bindings of Spin's Redis interfaces, from spin-sdk's WIT files.

crate::spin_wit::spin_bindgen!({
    inline: "
        package spinflow:outbound-redis;
        world outbound-redis {
            import fermyon:spin/redis@2.0.0;
            import fermyon:spin/redis;
        }
    ",
    world: "spinflow:outbound-redis/outbound-redis",
    imports: { default: async | trappable },
    anyhow: true,
    with: {
        "fermyon:spin/redis@2.0.0.connection": super::connection::RedisConnection,
    },
});
