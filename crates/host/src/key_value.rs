//! Key-value stores: `fermyon:spin/key-value@2.0.0` and `wasi:keyvalue/{store,atomics,batch}`
//! (0.2.0-draft2), both over the same SQLite-backed stores.
//!
//! A store labelled L lives in the table `spin_key_value(store, key, value)` of
//! its database file with `store = L`, the layout Spin's own "spin" store uses.
//! Counters written by `increment` are 8-byte little-endian i64 values.

use crate::bindings::{spin_v2::key_value as v2, wasi_keyvalue as wkv};
use crate::runtime_config::StorageLocation;
use crate::sqlite_pool::{
    blocking, GateError, GatePass, Owner, Pool, WriteJob, ANONYMOUS, BUSY_TIMEOUT,
};
use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use wasmtime::component::{HasData, Resource, ResourceTable};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
)";

/// One labelled store, as seen by one owner (an instance, or the host).
#[derive(Clone)]
pub struct KvStore {
    label: Arc<str>,
    pool: Arc<Pool>,
    owner: Owner,
}

/// All stores of the app, by label.
#[derive(Default)]
pub struct KvStores {
    stores: HashMap<String, KvStore>,
}

impl KvStores {
    /// Opens every configured store; stores sharing a file share a pool.
    pub fn open(locations: &BTreeMap<String, StorageLocation>) -> Result<Self> {
        let mut pools: Vec<(StorageLocation, Arc<Pool>)> = Vec::new();
        let mut stores = HashMap::new();
        for (label, location) in locations {
            let existing = pools
                .iter()
                .find(|(l, _)| l == location && *l != StorageLocation::InMemory);
            let pool = match existing {
                Some((_, p)) => p.clone(),
                None => {
                    let p = Pool::open(location)?;
                    p.checkout()?.execute_batch(SCHEMA)?;
                    pools.push((location.clone(), p.clone()));
                    p
                }
            };
            stores.insert(
                label.clone(),
                KvStore {
                    label: label.as_str().into(),
                    pool,
                    owner: ANONYMOUS,
                },
            );
        }
        Ok(Self { stores })
    }

    pub fn get(&self, label: &str) -> Option<&KvStore> {
        self.stores.get(label)
    }
}

/// Store operations, each with its own pooled connection. For a file database,
/// reads run inline and writes too when the file is free; other writes go through
/// the database's batch writer.
impl KvStore {
    /// The same store, acting for `owner` (see [`crate::sqlite_pool::Owner`]).
    pub fn for_owner(&self, owner: Owner) -> Self {
        Self {
            owner,
            ..self.clone()
        }
    }

    /// Waits for this database's write gate, as this store's owner.
    async fn enter_gate(&self) -> Result<GatePass, String> {
        self.pool
            .gate()
            .enter(self.owner)
            .await
            .map_err(|e| e.to_string())
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection, &str) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, String> {
        if !self.pool.is_in_memory() {
            // A read of a WAL database never waits for the writer and takes
            // microseconds: it runs right here, which saves two thread switches.
            let mut conn = self.pool.checkout().map_err(|e| format!("{e:#}"))?;
            return f(&mut conn, &self.label).map_err(|e| e.to_string());
        }
        // A shared-cache in-memory database has table locks, not WAL: a read
        // beside the writer's transaction would fail with SQLITE_LOCKED.
        let pass = self.enter_gate().await?;
        let store = self.clone();
        blocking(move || {
            let mut conn = store.pool.checkout().map_err(|e| format!("{e:#}"))?;
            let result = f(&mut conn, &store.label).map_err(|e| e.to_string());
            drop(conn);
            drop(pass);
            result
        })
        .await
        .map_err(|e| format!("{e:#}"))?
    }

    /// Runs a write: inline for a file store when the file is free, else through the
    /// database's batch writer (see `Pool::submit_write`).
    async fn run_write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, String> {
        if self.pool.gate().is_held_by(self.owner) {
            return Err(GateError::HeldBySelf.to_string());
        }
        if !self.pool.is_in_memory() {
            // Under the gate no writer of this process holds the file, so the write
            // can run right here unless another process is writing to it: it then
            // goes to the writer thread, which may wait. Inline, a write costs no
            // thread switch (iris-api: ~8% less host CPU per request).
            let pass = self.enter_gate().await?;
            let conn = self.pool.checkout().map_err(|e| format!("{e:#}"))?;
            if begin_without_waiting(&conn).map_err(|e| e.to_string())? {
                let outcome =
                    f(&conn, &self.label).and_then(|v| run_cached(&conn, "COMMIT").map(|()| v));
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                let value = outcome.map_err(|e| e.to_string())?;
                let ticket = self.pool.committed();
                // The next writer goes on while this one waits for the sync.
                drop(conn);
                drop(pass);
                self.pool.durable(ticket).await?;
                return Ok(value);
            }
            drop(conn);
            drop(pass);
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job = KvJob {
            label: self.label.clone(),
            work: Some(f),
            result: None,
            sender,
        };
        self.pool
            .submit_write(Box::new(job))
            .map_err(|e| format!("{e:#}"))?;
        receiver
            .await
            .map_err(|_| "the key-value writer stopped".to_string())?
    }

    pub async fn get(&self, key: String) -> Result<Option<Vec<u8>>, String> {
        self.run(move |c, s| read(c, s, &key)).await
    }

    pub async fn set(&self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.run_write(move |c, s| write(c, s, &key, &value)).await
    }

    pub async fn delete(&self, key: String) -> Result<(), String> {
        self.run_write(move |c, s| {
            c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute(params![s, key])
                .map(|_| ())
        })
        .await
    }

    pub async fn exists(&self, key: String) -> Result<bool, String> {
        self.run(move |c, s| {
            c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists(params![s, key])
        })
        .await
    }

    pub async fn keys(&self) -> Result<Vec<String>, String> {
        self.run(|c, s| {
            c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?
                .query_map(params![s], |row| row.get(0))?
                .collect()
        })
        .await
    }

    /// Adds `delta` to the counter at `key` (absent = 0) atomically.
    pub async fn increment(&self, key: String, delta: i64) -> Result<i64, String> {
        // The writer's transaction makes the read and the write one atomic step.
        self.run_write(move |c, s| {
            let current = match read(c, s, &key)? {
                None => 0,
                Some(bytes) => decode_counter(&bytes).ok_or_else(|| {
                    rusqlite::Error::InvalidParameterName(format!(
                        "value at {key:?} is not an 8-byte little-endian counter"
                    ))
                })?,
            };
            let next = current.checked_add(delta).ok_or_else(|| {
                rusqlite::Error::InvalidParameterName(format!("counter at {key:?} would overflow"))
            })?;
            write(c, s, &key, &next.to_le_bytes())?;
            Ok(next)
        })
        .await
    }

    /// Sets `key` to `value` only if it still holds `expected`. Returns whether it did.
    pub async fn compare_and_swap(
        &self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, String> {
        self.run_write(move |c, s| {
            if read(c, s, &key)? != expected {
                return Ok(false);
            }
            write(c, s, &key, &value)?;
            Ok(true)
        })
        .await
    }
}

/// `BEGIN IMMEDIATE` if the write lock is free now; `false` if another process
/// holds it.
fn begin_without_waiting(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let begun = run_cached(conn, "BEGIN IMMEDIATE");
    conn.busy_timeout(BUSY_TIMEOUT)?;
    match begun {
        Ok(()) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Runs a statement without parameters, parsed once per connection: a key-value
/// write begins and commits a transaction each time, and parsing those two
/// statements anew was ~0.8 % of the host's CPU serving iris-api (perf samples).
fn run_cached(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn read(c: &rusqlite::Connection, store: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
        .query_row(params![store, key], |row| row.get(0))
        .optional()
}

fn write(c: &rusqlite::Connection, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![store, key, value])
    .map(|_| ())
}

fn decode_counter(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(bytes.try_into().ok()?))
}

/// One key-value write, queued for the batch writer.
struct KvJob<R, F> {
    label: Arc<str>,
    work: Option<F>,
    result: Option<Result<R, String>>,
    sender: tokio::sync::oneshot::Sender<Result<R, String>>,
}

impl<R, F> WriteJob for KvJob<R, F>
where
    R: Send + 'static,
    F: FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R> + Send + 'static,
{
    fn run(&mut self, conn: &rusqlite::Connection) {
        if let Some(work) = self.work.take() {
            self.result = Some(work(conn, &self.label).map_err(|e| e.to_string()));
        }
    }

    fn complete(self: Box<Self>, batch: Result<(), String>) {
        let result = match (self.result, batch) {
            // A failed write changed nothing: its own error says why.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err("the write did not run".into()),
        };
        let _ = self.sender.send(result);
    }
}

/// The key-value capability of one instance.
#[derive(Clone)]
pub struct KeyValueState {
    pub stores: Arc<KvStores>,
    /// Labels the component declared in `key_value_stores`.
    pub allowed: Arc<HashSet<String>>,
}

/// A guest store (fermyon) or bucket (wasi:keyvalue) resource.
pub struct StoreHandle {
    store: KvStore,
}

/// A wasi:keyvalue compare-and-swap handle: the value seen when it was made.
pub struct CasHandle {
    store: KvStore,
    key: String,
    current: Option<Vec<u8>>,
}

pub struct KeyValueView<'a> {
    pub state: &'a KeyValueState,
    pub table: &'a mut ResourceTable,
    /// The instance, for the write gates.
    pub owner: Owner,
}

pub struct KeyValueCapability;
impl HasData for KeyValueCapability {
    type Data<'a> = KeyValueView<'a>;
}

enum OpenError {
    NoSuchStore,
    AccessDenied,
}

impl KeyValueView<'_> {
    fn open(&mut self, label: &str) -> anyhow::Result<Result<Resource<StoreHandle>, OpenError>> {
        if !self.state.allowed.contains(label) {
            return Ok(Err(OpenError::AccessDenied));
        }
        let Some(store) = self.state.stores.get(label) else {
            return Ok(Err(OpenError::NoSuchStore));
        };
        Ok(Ok(self.table.push(StoreHandle {
            store: store.for_owner(self.owner),
        })?))
    }

    fn store(&self, handle: &Resource<StoreHandle>) -> anyhow::Result<KvStore> {
        Ok(self.table.get(handle)?.store.clone())
    }
}

impl v2::Host for KeyValueView<'_> {}

impl v2::HostStore for KeyValueView<'_> {
    async fn open(
        &mut self,
        label: String,
    ) -> anyhow::Result<Result<Resource<v2::Store>, v2::Error>> {
        Ok(KeyValueView::open(self, &label)?.map_err(|e| match e {
            OpenError::NoSuchStore => v2::Error::NoSuchStore,
            OpenError::AccessDenied => v2::Error::AccessDenied,
        }))
    }

    async fn get(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
    ) -> anyhow::Result<Result<Option<Vec<u8>>, v2::Error>> {
        Ok(self.store(&s)?.get(key).await.map_err(v2::Error::Other))
    }

    async fn set(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
        value: Vec<u8>,
    ) -> anyhow::Result<Result<(), v2::Error>> {
        Ok(self
            .store(&s)?
            .set(key, value)
            .await
            .map_err(v2::Error::Other))
    }

    async fn delete(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
    ) -> anyhow::Result<Result<(), v2::Error>> {
        Ok(self.store(&s)?.delete(key).await.map_err(v2::Error::Other))
    }

    async fn exists(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
    ) -> anyhow::Result<Result<bool, v2::Error>> {
        Ok(self.store(&s)?.exists(key).await.map_err(v2::Error::Other))
    }

    async fn get_keys(
        &mut self,
        s: Resource<v2::Store>,
    ) -> anyhow::Result<Result<Vec<String>, v2::Error>> {
        Ok(self.store(&s)?.keys().await.map_err(v2::Error::Other))
    }

    async fn drop(&mut self, s: Resource<v2::Store>) -> anyhow::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}

impl wkv::store::Host for KeyValueView<'_> {
    async fn open(
        &mut self,
        identifier: String,
    ) -> anyhow::Result<Result<Resource<wkv::store::Bucket>, wkv::store::Error>> {
        Ok(KeyValueView::open(self, &identifier)?.map_err(|e| match e {
            OpenError::NoSuchStore => wkv::store::Error::NoSuchStore,
            OpenError::AccessDenied => wkv::store::Error::AccessDenied,
        }))
    }
}

impl wkv::store::HostBucket for KeyValueView<'_> {
    async fn get(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<Option<Vec<u8>>, wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .get(key)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn set(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .set(key, value)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn delete(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .delete(key)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn exists(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<bool, wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .exists(key)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn list_keys(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        _cursor: Option<String>,
    ) -> anyhow::Result<Result<wkv::store::KeyResponse, wkv::store::Error>> {
        // Every key in one page: the cursor is always `none`.
        Ok(self
            .store(&b)?
            .keys()
            .await
            .map(|keys| wkv::store::KeyResponse { keys, cursor: None })
            .map_err(wkv::store::Error::Other))
    }

    async fn drop(&mut self, b: Resource<wkv::store::Bucket>) -> anyhow::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl wkv::atomics::Host for KeyValueView<'_> {
    async fn increment(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
        delta: i64,
    ) -> anyhow::Result<Result<i64, wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .increment(key, delta)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn swap(
        &mut self,
        cas: Resource<wkv::atomics::Cas>,
        value: Vec<u8>,
    ) -> anyhow::Result<Result<(), wkv::atomics::CasError>> {
        let handle = self.table.get(&cas)?;
        let (store, key, expected) = (
            handle.store.clone(),
            handle.key.clone(),
            handle.current.clone(),
        );
        match store.compare_and_swap(key, expected, value).await {
            Ok(true) => {
                self.table.delete(cas)?;
                Ok(Ok(()))
            }
            // The guest gets its CAS handle back to retry with.
            Ok(false) => Ok(Err(wkv::atomics::CasError::CasFailed(cas))),
            Err(e) => {
                self.table.delete(cas)?;
                Ok(Err(wkv::atomics::CasError::StoreError(
                    wkv::store::Error::Other(e),
                )))
            }
        }
    }
}

impl wkv::atomics::HostCas for KeyValueView<'_> {
    async fn new(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<Resource<wkv::atomics::Cas>, wkv::store::Error>> {
        let store = self.store(&b)?;
        let current = match store.get(key.clone()).await {
            Ok(v) => v,
            Err(e) => return Ok(Err(wkv::store::Error::Other(e))),
        };
        Ok(Ok(self.table.push(CasHandle {
            store,
            key,
            current,
        })?))
    }

    async fn current(
        &mut self,
        cas: Resource<wkv::atomics::Cas>,
    ) -> anyhow::Result<Result<Option<Vec<u8>>, wkv::store::Error>> {
        Ok(Ok(self.table.get(&cas)?.current.clone()))
    }

    async fn drop(&mut self, cas: Resource<wkv::atomics::Cas>) -> anyhow::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl wkv::batch::Host for KeyValueView<'_> {
    async fn get_many(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        keys: Vec<String>,
    ) -> anyhow::Result<Result<Vec<(String, Option<Vec<u8>>)>, wkv::store::Error>> {
        let store = self.store(&b)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match store.get(key.clone()).await {
                Ok(v) => out.push((key, v)),
                Err(e) => return Ok(Err(wkv::store::Error::Other(e))),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        let store = self.store(&b)?;
        for (key, value) in key_values {
            if let Err(e) = store.set(key, value).await {
                return Ok(Err(wkv::store::Error::Other(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        keys: Vec<String>,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        let store = self.store(&b)?;
        for key in keys {
            if let Err(e) = store.delete(key).await {
                return Ok(Err(wkv::store::Error::Other(e)));
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stores() -> KvStores {
        KvStores::open(&BTreeMap::from([
            ("default".to_string(), StorageLocation::InMemory),
            ("other".to_string(), StorageLocation::InMemory),
        ]))
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn labels_are_separate_namespaces() {
        let s = stores();
        let (a, b) = (s.get("default").unwrap(), s.get("other").unwrap());
        a.set("k".into(), b"1".to_vec()).await.unwrap();
        assert_eq!(a.get("k".into()).await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(b.get("k".into()).await.unwrap(), None);
        assert_eq!(a.keys().await.unwrap(), vec!["k".to_string()]);
        a.delete("k".into()).await.unwrap();
        assert!(!a.exists("k".into()).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn increment_and_cas() {
        let s = stores();
        let a = s.get("default").unwrap();
        assert_eq!(a.increment("n".into(), 5).await.unwrap(), 5);
        assert_eq!(a.increment("n".into(), -2).await.unwrap(), 3);
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
        assert!(a.increment("text".into(), 1).await.is_err());
    }

    fn file_store(dir: &tempfile::TempDir) -> KvStore {
        let stores = KvStores::open(&BTreeMap::from([(
            "default".to_string(),
            StorageLocation::File(dir.path().join("kv.db")),
        )]))
        .unwrap();
        stores.get("default").unwrap().clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_increments_and_cas_stay_exact() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir);
        const WRITERS: i64 = 24;
        const ROUNDS: i64 = 40;
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = store.for_owner(crate::sqlite_pool::new_owner());
                tokio::spawn(async move {
                    for _ in 0..ROUNDS {
                        store.increment("n".into(), w + 1).await?;
                        // A compare-and-swap loop, as a guest would write it.
                        loop {
                            let current = store.get("c".into()).await?;
                            let next =
                                current.as_deref().map_or(0, |b| decode_counter(b).unwrap()) + 1;
                            let swapped = store
                                .compare_and_swap("c".into(), current, next.to_le_bytes().to_vec())
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
        assert_eq!(decode_counter(&c), Some(WRITERS * ROUNDS));
        assert_eq!(store.keys().await.unwrap().len() as i64, WRITERS + 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_does_not_undo_its_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir);
        store.set("text".into(), b"abc".to_vec()).await.unwrap();
        let ops: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    if i % 5 == 0 {
                        store.increment("text".into(), 1).await.err().map(|_| ())
                    } else {
                        store.increment("n".into(), 1).await.ok().map(|_| ())
                    }
                })
            })
            .collect();
        for op in ops {
            assert!(
                op.await.unwrap().is_some(),
                "an increment had the wrong outcome"
            );
        }
        assert_eq!(store.increment("n".into(), 0).await.unwrap(), 40);
        assert_eq!(
            store.get("text".into()).await.unwrap(),
            Some(b"abc".to_vec())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_fails_fast_while_its_instance_holds_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir);
        let owner = crate::sqlite_pool::new_owner();
        let mine = store.for_owner(owner);
        // As if the instance had a SQL transaction open on the same file.
        let pass = store.pool.gate().enter(owner).await.unwrap();
        let err = mine.set("k".into(), b"v".to_vec()).await.unwrap_err();
        assert!(err.contains("locked"), "{err}");
        assert_eq!(
            mine.get("k".into()).await.unwrap(),
            None,
            "reads still work"
        );
        drop(pass);
        mine.set("k".into(), b"v".to_vec()).await.unwrap();
        assert_eq!(mine.increment("n".into(), 2).await.unwrap(), 2);
    }

    /// Writes run inline only when the file is free: a write lock held by another
    /// process sends them to the writer thread, so the executor never waits on it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_write_waits_off_the_executor_while_another_process_holds_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir);
        store.set("k".into(), b"1".to_vec()).await.unwrap();
        // Another process: a connection outside the pool and its gate.
        let other = rusqlite::Connection::open(dir.path().join("kv.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let write = tokio::spawn({
            let store = store.clone();
            async move { store.increment("n".into(), 1).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            !write.is_finished(),
            "the write cannot finish before the lock is free"
        );
        // The only executor thread is free: a read answers meanwhile.
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), store.get("k".into()));
        assert_eq!(read.await.unwrap().unwrap(), Some(b"1".to_vec()));
        other.execute_batch("COMMIT").unwrap();
        assert_eq!(write.await.unwrap().unwrap(), 1);
        assert_eq!(store.increment("n".into(), 1).await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kv_store_and_a_database_in_one_file_share_a_gate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("both.db");
        let kv = KvStores::open(&BTreeMap::from([(
            "default".to_string(),
            StorageLocation::File(path.clone()),
        )]))
        .unwrap();
        // Another pool of the same file, reached through another path.
        let other =
            Pool::open(&StorageLocation::File(dir.path().join(".").join("both.db"))).unwrap();
        assert!(Arc::ptr_eq(
            kv.get("default").unwrap().pool.gate(),
            other.gate()
        ));
    }
}
