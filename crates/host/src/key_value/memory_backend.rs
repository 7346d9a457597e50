//! The key-value backend of a `spin` store configured without a path: a map
//! in this process.
//!
//! Spin keeps such a store in an in-memory SQLite database; its data ends with
//! the process either way, and a sorted map under a mutex answers every
//! operation the same (keys listed in order, increments and compare-and-swap
//! as single atomic steps) without SQL, a connection pool or a hand-off to
//! another thread. The lock is held for a few map operations and never across
//! I/O or an `.await`, so every call runs on the executor's thread.

use super::backend::{decode_counter, encode_counter, KeyValueBackend};
use crate::instance_id::InstanceId;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One labelled store, in memory.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// No operation can leave the map half-changed, so a panic elsewhere while
    /// the lock was held does not make the data unusable.
    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl KeyValueBackend for MemoryStore {
    async fn get(&self, _caller: InstanceId, key: String) -> Result<Option<Vec<u8>>, String> {
        Ok(self.entries().get(&key).cloned())
    }

    async fn set(&self, _caller: InstanceId, key: String, value: Vec<u8>) -> Result<(), String> {
        self.entries().insert(key, value);
        Ok(())
    }

    async fn delete(&self, _caller: InstanceId, key: String) -> Result<(), String> {
        self.entries().remove(&key);
        Ok(())
    }

    async fn exists(&self, _caller: InstanceId, key: String) -> Result<bool, String> {
        Ok(self.entries().contains_key(&key))
    }

    async fn keys(&self, _caller: InstanceId) -> Result<Vec<String>, String> {
        Ok(self.entries().keys().cloned().collect())
    }

    async fn increment(&self, _caller: InstanceId, key: String, delta: i64) -> Result<i64, String> {
        let mut entries = self.entries();
        let Some(bytes) = entries.get_mut(&key) else {
            entries.insert(key, encode_counter(delta).to_vec());
            return Ok(delta);
        };
        let current = decode_counter(bytes)
            .ok_or_else(|| format!("value at {key:?} is not an 8-byte little-endian counter"))?;
        let next = current
            .checked_add(delta)
            .ok_or_else(|| format!("counter at {key:?} would overflow"))?;
        // Same length as before: rewritten in place, nothing allocated.
        bytes.copy_from_slice(&encode_counter(next));
        Ok(next)
    }

    async fn compare_and_swap(
        &self,
        _caller: InstanceId,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, String> {
        let mut entries = self.entries();
        if entries.get(&key) != expected.as_ref() {
            return Ok(false);
        }
        entries.insert(key, value);
        Ok(true)
    }
}
