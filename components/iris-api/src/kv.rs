//! The key-value store the component keeps its state in (model cache, model state,
//! metrics counters): Spin's `default` store through `wasi:keyvalue` (store + atomics),
//! behind a small trait so the logic is unit-tested natively with an in-memory map.

/// What the component needs from a key-value store.
pub trait Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String>;
    fn delete(&self, key: &str) -> Result<(), String>;
    /// Atomically adds `delta` to the counter at `key` (created at 0) and returns the
    /// new value. `delta = 0` reads a counter whatever its byte encoding in the host.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String>;
    /// Every key starting with `prefix`.
    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, String>;
}

/// Spin's key-value store through `wasi:keyvalue@0.2.0-draft2`.
pub struct SpinStore(spin_sdk::wit::wasi::keyvalue::store::Bucket);

impl SpinStore {
    pub fn open(label: &str) -> Result<Self, String> {
        spin_sdk::wit::wasi::keyvalue::store::open(label)
            .map(Self)
            .map_err(|e| format!("cannot open key-value store {label:?}: {e:?}"))
    }
}

fn err(e: spin_sdk::wit::wasi::keyvalue::store::Error) -> String {
    format!("key-value store: {e:?}")
}

impl Store for SpinStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(key).map_err(err)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.set(key, value).map_err(err)
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.delete(key).map_err(err)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        spin_sdk::wit::wasi::keyvalue::atomics::increment(&self.0, key, delta).map_err(err)
    }
    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.0.list_keys(cursor.as_deref()).map_err(err)?;
            keys.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
            match page.cursor {
                Some(next) if !next.is_empty() => cursor = Some(next),
                _ => return Ok(keys),
            }
        }
    }
}

/// An in-memory store for unit tests.
#[cfg(test)]
#[derive(Default)]
pub struct MemoryStore(pub std::cell::RefCell<std::collections::BTreeMap<String, Vec<u8>>>);

#[cfg(test)]
impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.borrow().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.borrow_mut().remove(key);
        Ok(())
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        let mut map = self.0.borrow_mut();
        let current = map
            .get(key)
            .map(|b| i64::from_le_bytes(b[..8].try_into().unwrap()))
            .unwrap_or(0);
        map.insert(key.into(), (current + delta).to_le_bytes().to_vec());
        Ok(current + delta)
    }
    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, String> {
        Ok(self
            .0
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}
