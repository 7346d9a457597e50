//! The resource behind a guest's MQTT `connection`, in its own module so that
//! the bindings (which name it) and the interface code (which uses them) do not
//! import each other.

use rumqttc::{AsyncClient, EventLoop};
use std::sync::Arc;

/// A guest's connection: the client and its event loop, which one publish at
/// a time drives.
pub struct MqttConnection {
    pub(super) client: AsyncClient,
    pub(super) events: Arc<tokio::sync::Mutex<EventLoop>>,
}
