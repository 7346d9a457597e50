//! Outbound MQTT, as Spin's outbound-mqtt factor serves it:
//! `fermyon:spin/mqtt@2.0.0`. An address is usable only if
//! `allowed_outbound_hosts` allows it (`mqtt://host:port`). As in Spin,
//! `open` only records the client (rumqttc); each `publish` drives its event
//! loop until the message is handed to the broker (QoS 0), acknowledged
//! (QoS 1) or completed (QoS 2).

mod bindings;
mod connection;

use crate::outbound_http::OutboundHooks;
use anyhow::Result;
use bindings::fermyon::spin2_0_0::mqtt as v2;
pub use connection::MqttConnection;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Outgoing, QoS};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

/// Messages the client queues before a publish waits (Spin's capacity).
const CHANNEL_CAPACITY: usize = 1000;

/// What the MQTT interface sees of an instance.
pub struct MqttView<'a> {
    pub outbound: &'a OutboundHooks,
    pub table: &'a mut ResourceTable,
}

pub struct MqttCapability;
impl HasData for MqttCapability {
    type Data<'a> = MqttView<'a>;
}

/// Adds `fermyon:spin/mqtt@2.0.0`; `view` gives an instance's parts.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> MqttView<'_>,
) -> Result<()> {
    v2::add_to_linker::<_, MqttCapability>(linker, view)?;
    Ok(())
}

type Outcome<T> = anyhow::Result<Result<T, v2::Error>>;

impl v2::Host for MqttView<'_> {}

impl v2::HostConnection for MqttView<'_> {
    async fn open(
        &mut self,
        address: String,
        username: String,
        password: String,
        keep_alive_interval_in_secs: u64,
    ) -> Outcome<Resource<MqttConnection>> {
        match self.outbound.allows_url(&address, "mqtt") {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Err(v2::Error::ConnectionFailed(format!(
                    "address {address} is not permitted"
                ))))
            }
            Err(e) => return Ok(Err(v2::Error::Other(e))),
        }
        // rumqttc wants `?client_id=...` in the URL, as under Spin.
        let Ok(mut options) = MqttOptions::parse_url(&address) else {
            return Ok(Err(v2::Error::InvalidAddress));
        };
        options.set_credentials(username, password);
        // Whole seconds, which rumqttc accepts (0 turns keep-alive off).
        options.set_keep_alive(Duration::from_secs(keep_alive_interval_in_secs));
        let (client, events) = AsyncClient::new(options, CHANNEL_CAPACITY);
        Ok(Ok(self.table.push(MqttConnection {
            client,
            events: Arc::new(tokio::sync::Mutex::new(events)),
        })?))
    }

    async fn publish(
        &mut self,
        c: Resource<MqttConnection>,
        topic: String,
        payload: Vec<u8>,
        qos: v2::Qos,
    ) -> Outcome<()> {
        let connection = self.table.get(&c)?;
        let (client, events) = (connection.client.clone(), connection.events.clone());
        let qos = match qos {
            v2::Qos::AtMostOnce => QoS::AtMostOnce,
            v2::Qos::AtLeastOnce => QoS::AtLeastOnce,
            v2::Qos::ExactlyOnce => QoS::ExactlyOnce,
        };
        if let Err(e) = client.publish(topic, qos, false, payload).await {
            return Ok(Err(v2::Error::Other(e.to_string())));
        }
        let mut events = events.lock().await;
        loop {
            let event = match events.poll().await {
                Ok(event) => event,
                Err(e) => return Ok(Err(v2::Error::ConnectionFailed(e.to_string()))),
            };
            match (qos, event) {
                (QoS::AtMostOnce, Event::Outgoing(Outgoing::Publish(_)))
                | (QoS::AtLeastOnce, Event::Incoming(Incoming::PubAck(_)))
                | (QoS::ExactlyOnce, Event::Incoming(Incoming::PubComp(_))) => return Ok(Ok(())),
                _ => {}
            }
        }
    }

    async fn drop(&mut self, c: Resource<MqttConnection>) -> anyhow::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
