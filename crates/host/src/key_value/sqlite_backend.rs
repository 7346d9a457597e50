//! The key-value backend of Spin's `spin` store type with a `path`: a SQLite
//! file (a store without a path is a map in memory, `memory_backend`).
//!
//! A store labelled L lives in the table `spin_key_value(store, key, value)` of
//! its database file with `store = L`, the layout Spin's own "spin" store uses;
//! stores configured with the same file share one connection pool.
//!
//! Where the work runs (the executor's thread must never wait on a lock):
//! reads run on the executor thread, since a WAL read never waits for the
//! writer and takes microseconds (two thread switches cost more). Writes take
//! the file's write gate, then run on the executor thread too, each in its own
//! `BEGIN IMMEDIATE ... COMMIT`: under the gate no writer of this process holds
//! the file, so the write cannot wait (iris-api: ~8% less host CPU per request
//! than through a writer thread). If another process holds the write lock, the
//! `BEGIN IMMEDIATE`, tried without waiting, fails and the write goes to the
//! file's batch writer thread, which may wait.

use super::backend::{decode_counter, encode_counter, KeyValueBackend};
use crate::instance_id::InstanceId;
use crate::runtime_config::StorageLocation;
use crate::sqlite_pool::{GateError, GatePass, Pool, WriteJob, BUSY_TIMEOUT};
use anyhow::Result;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
)";

/// One labelled store in a SQLite database.
pub struct SqliteStore {
    label: Arc<str>,
    pool: Arc<Pool>,
}

/// Opens the store of each label in its file; stores sharing a file share a pool.
pub fn open_stores(
    files: &BTreeMap<String, PathBuf>,
) -> Result<Vec<(String, Arc<dyn KeyValueBackend>)>> {
    let mut pools: Vec<(&PathBuf, Arc<Pool>)> = Vec::new();
    let mut stores = Vec::new();
    for (label, path) in files {
        let existing = pools.iter().find(|(p, _)| *p == path);
        let pool = match existing {
            Some((_, p)) => p.clone(),
            None => {
                let p = Pool::open(&StorageLocation::File(path.clone()))?;
                p.checkout()?.execute_batch(SCHEMA)?;
                pools.push((path, p.clone()));
                p
            }
        };
        let store: Arc<dyn KeyValueBackend> = Arc::new(SqliteStore {
            label: label.as_str().into(),
            pool,
        });
        stores.push((label.clone(), store));
    }
    Ok(stores)
}

/// Each operation runs with a pooled connection of its own, where the module
/// comment says.
impl SqliteStore {
    /// Waits for this database's write gate, as `caller`.
    async fn enter_gate(&self, caller: InstanceId) -> Result<GatePass, String> {
        self.pool
            .gate()
            .enter(caller)
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs a read. A read of a WAL database never waits for the writer and
    /// takes microseconds: it runs right here, which saves two thread switches.
    fn run<R>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection, &str) -> rusqlite::Result<R>,
    ) -> Result<R, String> {
        let mut conn = self.pool.checkout().map_err(|e| format!("{e:#}"))?;
        f(&mut conn, &self.label).map_err(|e| e.to_string())
    }

    /// Runs a write: inline when the file is free, else through the database's
    /// batch writer (see `Pool::submit_write`).
    async fn run_write<R: Send + 'static>(
        &self,
        caller: InstanceId,
        f: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, String> {
        if self.pool.gate().is_held_by(caller) {
            return Err(GateError::HeldBySelf.to_string());
        }
        // Under the gate no writer of this process holds the file, so the write
        // can run right here unless another process is writing to it: it then
        // goes to the writer thread, which may wait. Inline, a write costs no
        // thread switch (iris-api: ~8% less host CPU per request).
        let pass = self.enter_gate(caller).await?;
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

#[async_trait]
impl KeyValueBackend for SqliteStore {
    async fn get(&self, _caller: InstanceId, key: String) -> Result<Option<Vec<u8>>, String> {
        self.run(|c, s| read(c, s, &key))
    }

    async fn set(&self, caller: InstanceId, key: String, value: Vec<u8>) -> Result<(), String> {
        self.run_write(caller, move |c, s| write(c, s, &key, &value))
            .await
    }

    async fn delete(&self, caller: InstanceId, key: String) -> Result<(), String> {
        self.run_write(caller, move |c, s| {
            c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute(params![s, key])
                .map(|_| ())
        })
        .await
    }

    async fn exists(&self, _caller: InstanceId, key: String) -> Result<bool, String> {
        self.run(|c, s| {
            c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists(params![s, key])
        })
    }

    async fn keys(&self, _caller: InstanceId) -> Result<Vec<String>, String> {
        self.run(|c, s| {
            c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?
                .query_map(params![s], |row| row.get(0))?
                .collect()
        })
    }

    async fn increment(&self, caller: InstanceId, key: String, delta: i64) -> Result<i64, String> {
        // The writer's transaction makes the read and the write one atomic step.
        self.run_write(caller, move |c, s| {
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
            write(c, s, &key, &encode_counter(next))?;
            Ok(next)
        })
        .await
    }

    async fn compare_and_swap(
        &self,
        caller: InstanceId,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, String> {
        self.run_write(caller, move |c, s| {
            if read(c, s, &key)? != expected {
                return Ok(false);
            }
            write(c, s, &key, &value)?;
            Ok(true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance_id::new_instance_id;
    use crate::key_value::Store;

    /// A file store, and its pool.
    fn file_store_and_pool(dir: &tempfile::TempDir) -> (Store, Arc<Pool>) {
        let pool = Pool::open(&StorageLocation::File(dir.path().join("kv.db"))).unwrap();
        pool.checkout().unwrap().execute_batch(SCHEMA).unwrap();
        let backend = Arc::new(SqliteStore {
            label: "default".into(),
            pool: pool.clone(),
        });
        (Store::new(backend), pool)
    }

    fn file_store(dir: &tempfile::TempDir) -> Store {
        file_store_and_pool(dir).0
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
        let (store, pool) = file_store_and_pool(&dir);
        let owner = new_instance_id();
        let mine = store.for_instance(owner);
        // As if the instance had a SQL transaction open on the same file.
        let pass = pool.gate().enter(owner).await.unwrap();
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
        let kv = Pool::open(&StorageLocation::File(path.clone())).unwrap();
        // Another pool of the same file, reached through another path.
        let other =
            Pool::open(&StorageLocation::File(dir.path().join(".").join("both.db"))).unwrap();
        assert!(Arc::ptr_eq(kv.gate(), other.gate()));
    }
}
