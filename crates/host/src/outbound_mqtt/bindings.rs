//! Host bindings of Spin's MQTT interface, from spin-sdk's WIT files.

crate::spin_wit::spin_bindgen!({
    inline: "
        package spinflow:outbound-mqtt;
        world outbound-mqtt {
            import fermyon:spin/mqtt@2.0.0;
        }
    ",
    world: "spinflow:outbound-mqtt/outbound-mqtt",
    imports: { default: async | trappable },
    anyhow: true,
    with: {
        "fermyon:spin/mqtt@2.0.0.connection": super::connection::MqttConnection,
    },
});
