//! Every key-value store of the app, by label, each on the backend its
//! runtime config chose: Spin's `spin` type, a SQLite file with a `path`
//! (`sqlite_backend`), a map in memory without one (`memory_backend`).

use super::backend::{KeyValueBackend, Store};
use super::memory_backend::MemoryStore;
use super::sqlite_backend;
use crate::runtime_config::StorageLocation;
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Default)]
pub struct KvStores {
    stores: HashMap<String, Store>,
}

impl KvStores {
    /// Opens every configured store.
    pub fn open(locations: &BTreeMap<String, StorageLocation>) -> Result<Self> {
        let mut files = BTreeMap::new();
        let mut stores = HashMap::new();
        for (label, location) in locations {
            match location {
                StorageLocation::File(path) => {
                    files.insert(label.clone(), path.clone());
                }
                StorageLocation::InMemory => {
                    let backend: Arc<dyn KeyValueBackend> = Arc::new(MemoryStore::default());
                    stores.insert(label.clone(), Store::new(backend));
                }
            }
        }
        stores.extend(
            sqlite_backend::open_stores(&files)?
                .into_iter()
                .map(|(label, backend)| (label, Store::new(backend))),
        );
        Ok(Self { stores })
    }

    /// The store labelled `label`, as the host sees it.
    pub fn get(&self, label: &str) -> Option<&Store> {
        self.stores.get(label)
    }
}

/// The same operations on both backends, which must answer alike.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance_id::new_instance_id;
    use crate::key_value::backend::decode_counter;

    /// `memory` and `memory-2` in memory; `file` and `file-2` in one SQLite file.
    fn stores(dir: &tempfile::TempDir) -> KvStores {
        let file = StorageLocation::File(dir.path().join("kv.db"));
        KvStores::open(&BTreeMap::from([
            ("memory".to_string(), StorageLocation::InMemory),
            ("memory-2".to_string(), StorageLocation::InMemory),
            ("file".to_string(), file.clone()),
            ("file-2".to_string(), file),
        ]))
        .unwrap()
    }

    const KINDS: [(&str, &str); 2] = [("memory", "memory-2"), ("file", "file-2")];

    #[tokio::test(flavor = "multi_thread")]
    async fn labels_are_separate_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let s = stores(&dir);
        for (first, second) in KINDS {
            let (a, b) = (s.get(first).unwrap(), s.get(second).unwrap());
            a.set("k".into(), b"1".to_vec()).await.unwrap();
            a.set("a".into(), b"2".to_vec()).await.unwrap();
            assert_eq!(a.get("k".into()).await.unwrap(), Some(b"1".to_vec()));
            assert_eq!(b.get("k".into()).await.unwrap(), None, "{first}");
            assert!(b.keys().await.unwrap().is_empty(), "{first}");
            assert_eq!(
                a.keys().await.unwrap(),
                ["a", "k"],
                "{first}: keys in order"
            );
            a.delete("k".into()).await.unwrap();
            assert!(!a.exists("k".into()).await.unwrap());
            assert!(a.exists("a".into()).await.unwrap());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn increment_and_cas() {
        let dir = tempfile::tempdir().unwrap();
        let s = stores(&dir);
        for (label, _) in KINDS {
            let a = s.get(label).unwrap();
            assert_eq!(a.increment("n".into(), 5).await.unwrap(), 5);
            assert_eq!(a.increment("n".into(), -2).await.unwrap(), 3);
            assert_eq!(
                a.get("n".into()).await.unwrap(),
                Some(3i64.to_le_bytes().to_vec()),
                "{label}: counters are 8 bytes, little-endian"
            );
            assert!(!a
                .compare_and_swap("c".into(), Some(b"x".to_vec()), b"y".to_vec())
                .await
                .unwrap());
            assert!(a
                .compare_and_swap("c".into(), None, b"y".to_vec())
                .await
                .unwrap());
            assert_eq!(a.get("c".into()).await.unwrap(), Some(b"y".to_vec()));
            a.set("text".into(), b"abc".to_vec()).await.unwrap();
            assert!(a.increment("text".into(), 1).await.is_err(), "{label}");
            a.set("max".into(), i64::MAX.to_le_bytes().to_vec())
                .await
                .unwrap();
            assert!(a.increment("max".into(), 1).await.is_err(), "{label}");
            assert_eq!(
                a.get("max".into()).await.unwrap(),
                Some(i64::MAX.to_le_bytes().to_vec()),
                "{label}: a failed increment changes nothing"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_increments_and_cas_stay_exact() {
        let dir = tempfile::tempdir().unwrap();
        let s = stores(&dir);
        for (label, _) in KINDS {
            let store = s.get(label).unwrap();
            const WRITERS: i64 = 24;
            const ROUNDS: i64 = 40;
            let tasks: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let store = store.for_instance(new_instance_id());
                    tokio::spawn(async move {
                        for _ in 0..ROUNDS {
                            store.increment("n".into(), w + 1).await?;
                            // A compare-and-swap loop, as a guest would write it.
                            loop {
                                let current = store.get("c".into()).await?;
                                let next =
                                    current.as_deref().map_or(0, |b| decode_counter(b).unwrap())
                                        + 1;
                                let swapped = store
                                    .compare_and_swap(
                                        "c".into(),
                                        current,
                                        next.to_le_bytes().to_vec(),
                                    )
                                    .await?;
                                if swapped {
                                    break;
                                }
                            }
                            store.set(format!("k{w}"), b"v".to_vec()).await?;
                        }
                        Ok::<_, String>(())
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            let expected: i64 = (1..=WRITERS).sum::<i64>() * ROUNDS;
            assert_eq!(store.increment("n".into(), 0).await.unwrap(), expected);
            let c = store.get("c".into()).await.unwrap().unwrap();
            assert_eq!(decode_counter(&c), Some(WRITERS * ROUNDS), "{label}");
            assert_eq!(store.keys().await.unwrap().len() as i64, WRITERS + 2);
        }
    }
}
