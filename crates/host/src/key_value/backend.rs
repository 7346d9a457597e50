//! What a key-value backend provides: the operations of one labelled store,
//! whichever interface version the guest calls them through.

use crate::instance_id::{InstanceId, ANONYMOUS};
use async_trait::async_trait;
use std::sync::Arc;

/// The storage of one labelled store. Errors are messages for the guest.
///
/// Each backend decides where its work runs, and says so where it is
/// implemented: a call may run on the async executor's thread only if it can
/// neither wait for I/O that may stall nor for a lock that is held across such
/// waits; anything else goes to a thread of its own or tokio's blocking pool.
#[async_trait]
pub trait KeyValueBackend: Send + Sync {
    async fn get(&self, caller: InstanceId, key: String) -> Result<Option<Vec<u8>>, String>;
    async fn set(&self, caller: InstanceId, key: String, value: Vec<u8>) -> Result<(), String>;
    async fn delete(&self, caller: InstanceId, key: String) -> Result<(), String>;
    async fn exists(&self, caller: InstanceId, key: String) -> Result<bool, String>;
    /// Every key of the store, in order.
    async fn keys(&self, caller: InstanceId) -> Result<Vec<String>, String>;
    /// Adds `delta` to the counter at `key` (absent = 0) in one atomic step;
    /// counters are stored with [`encode_counter`].
    async fn increment(&self, caller: InstanceId, key: String, delta: i64) -> Result<i64, String>;
    /// Sets `key` to `value` only if it still holds `expected`. Returns whether it did.
    async fn compare_and_swap(
        &self,
        caller: InstanceId,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, String>;
}

/// A counter as `increment` stores it: 8 bytes, little-endian (as Spin does).
pub fn encode_counter(n: i64) -> [u8; 8] {
    n.to_le_bytes()
}

/// The counter stored in `bytes`, if they are one.
pub fn decode_counter(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(bytes.try_into().ok()?))
}

/// One store, as one instance (or the host) sees it.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn KeyValueBackend>,
    caller: InstanceId,
}

impl Store {
    /// The store as the host sees it.
    pub fn new(backend: Arc<dyn KeyValueBackend>) -> Self {
        Self {
            backend,
            caller: ANONYMOUS,
        }
    }

    /// The same store, acting for `caller`.
    pub fn for_instance(&self, caller: InstanceId) -> Self {
        Self {
            backend: self.backend.clone(),
            caller,
        }
    }

    pub async fn get(&self, key: String) -> Result<Option<Vec<u8>>, String> {
        self.backend.get(self.caller, key).await
    }

    pub async fn set(&self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.backend.set(self.caller, key, value).await
    }

    pub async fn delete(&self, key: String) -> Result<(), String> {
        self.backend.delete(self.caller, key).await
    }

    pub async fn exists(&self, key: String) -> Result<bool, String> {
        self.backend.exists(self.caller, key).await
    }

    pub async fn keys(&self) -> Result<Vec<String>, String> {
        self.backend.keys(self.caller).await
    }

    pub async fn increment(&self, key: String, delta: i64) -> Result<i64, String> {
        self.backend.increment(self.caller, key, delta).await
    }

    pub async fn compare_and_swap(
        &self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, String> {
        self.backend
            .compare_and_swap(self.caller, key, expected, value)
            .await
    }
}
