//! TLS for `mqtts://` and `ssl://` brokers: rumqttc's rustls, with the roots
//! rumqttc's default configuration (Spin's) trusts: the system's trust store,
//! honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`. The broker's certificate and
//! name (the URL's host) are always verified.
//!
//! Unlike rumqttc's default, which reads the store again at every `open` (on
//! the executor thread) and panics on a certificate it cannot parse, the
//! store is read once per process, on tokio's blocking threads, and
//! unparsable certificates are left out as OpenSSL leaves them out.

use rumqttc::tokio_rustls::rustls::{ClientConfig, RootCertStore};
use rumqttc::{TlsConfiguration, Transport};
use std::sync::{Arc, OnceLock};

/// The TLS transport of a broker connection.
pub(super) async fn transport() -> anyhow::Result<Transport> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let config = match CONFIG.get() {
        Some(config) => config.clone(),
        None => {
            let config = tokio::task::spawn_blocking(client_config).await?;
            CONFIG.get_or_init(|| config).clone()
        }
    };
    Ok(Transport::Tls(TlsConfiguration::Rustls(config)))
}

fn client_config() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
