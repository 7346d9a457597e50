//! Outbound MQTT, as Spin's outbound-mqtt factor serves it:
//! `fermyon:spin/mqtt@2.0.0`. An address is usable only if
//! `allowed_outbound_hosts` allows it, scheme included (`mqtt://host:port`
//! does not allow `mqtts://host:port`). As in Spin, `open` only records the
//! client (rumqttc); each `publish` drives its event loop until the message
//! is handed to the broker (QoS 0), acknowledged (QoS 1) or completed (QoS
//! 2). `mqtt://` and `tcp://` brokers are reached over TCP (default port
//! 1883), `mqtts://` and `ssl://` ones over TLS (8883, `tls`).

mod bindings;
mod connection;
mod tls;

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

/// rumqttc's options for `address`, read as `MqttOptions::parse_url` reads
/// it, and whether the broker wants TLS (`mqtts://`, `ssl://`). A TLS
/// address is read as `mqtt://` with the TLS port as its default, so that
/// rumqttc leaves out the TLS configuration it would build (`tls` makes it);
/// `None`: not an address rumqttc accepts.
fn parse_address(address: &str) -> Option<(MqttOptions, bool)> {
    let mut url = url::Url::parse(address).ok()?;
    let tls = matches!(url.scheme(), "mqtts" | "ssl");
    if tls {
        url.set_port(Some(url.port().unwrap_or(8883))).ok()?;
        url.set_scheme("mqtt").ok()?;
    }
    Some((MqttOptions::try_from(url).ok()?, tls))
}

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
        let Some((mut options, tls)) = parse_address(&address) else {
            return Ok(Err(v2::Error::InvalidAddress));
        };
        if tls {
            options.set_transport(tls::transport().await?);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound_http::allowed_hosts::AllowedHosts;

    fn hooks(allowed: &[&str]) -> OutboundHooks {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        OutboundHooks {
            component_id: "c".into(),
            allowed: Arc::new(AllowedHosts::parse(&allowed).unwrap()),
            chaining: None,
        }
    }

    #[test]
    fn tls_schemes_take_the_tls_port_and_keep_the_url_options() {
        for (address, host, port, tls) in [
            ("mqtt://broker.test?client_id=a", "broker.test", 1883, false),
            (
                "tcp://broker.test:1884?client_id=a",
                "broker.test",
                1884,
                false,
            ),
            ("mqtts://broker.test?client_id=a", "broker.test", 8883, true),
            (
                "ssl://broker.test:8884?client_id=a",
                "broker.test",
                8884,
                true,
            ),
            (
                "MQTTS://127.0.0.1:1883?client_id=a",
                "127.0.0.1",
                1883,
                true,
            ),
        ] {
            let (options, is_tls) = parse_address(address).expect(address);
            assert_eq!(
                options.broker_address(),
                (host.to_string(), port),
                "{address}"
            );
            assert_eq!(is_tls, tls, "{address}");
        }
        let (options, _) =
            parse_address("mqtts://u:p@broker.test?client_id=a&keep_alive_secs=7").unwrap();
        assert_eq!(options.client_id(), "a");
        assert_eq!(options.keep_alive(), Duration::from_secs(7));
        assert_eq!(options.credentials(), Some(("u".into(), "p".into())));
        for address in [
            "mqtts://broker.test",
            "wss://broker.test?client_id=a",
            "redis://broker.test?client_id=a",
            "not a url",
        ] {
            assert!(parse_address(address).is_none(), "{address}");
        }
    }

    #[test]
    fn the_allow_list_matches_tls_schemes_literally_as_spin_does() {
        let address = "mqtts://127.0.0.1:8883?client_id=a";
        assert_eq!(
            hooks(&["mqtt://127.0.0.1:8883"]).allows_url(address, "mqtt"),
            Ok(false)
        );
        assert_eq!(
            hooks(&["mqtts://127.0.0.1:8883"]).allows_url(address, "mqtt"),
            Ok(true)
        );
        assert_eq!(
            hooks(&["*://127.0.0.1:8883"]).allows_url(address, "mqtt"),
            Ok(true)
        );
        assert_eq!(
            hooks(&["mqtts://127.0.0.1:*"]).allows_url(address, "mqtt"),
            Ok(true)
        );
        // `ssl://` is a scheme of its own; no TLS scheme has a default port.
        let ssl = "ssl://127.0.0.1:8883?client_id=a";
        assert_eq!(
            hooks(&["mqtts://127.0.0.1:8883"]).allows_url(ssl, "mqtt"),
            Ok(false)
        );
        assert_eq!(
            hooks(&["ssl://127.0.0.1:8883"]).allows_url(ssl, "mqtt"),
            Ok(true)
        );
        assert!(AllowedHosts::parse(&["mqtts://127.0.0.1".into()]).is_err());
        let no_port = "mqtts://127.0.0.1?client_id=a";
        assert_eq!(
            hooks(&["mqtts://127.0.0.1:8883"]).allows_url(no_port, "mqtt"),
            Ok(false)
        );
    }
}
