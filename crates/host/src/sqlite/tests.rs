//! The SQLite capability with its local backend, as instances use it: the
//! write gate, durable commits and transactions that span calls.

use super::backend::{Database, Value};
use super::databases::Databases;
use super::local_backend::LocalDatabase;
use super::view::{ConnectionHandle, DbError, SqliteState, SqliteView};
use crate::instance_id::{new_instance_id, InstanceId};
use crate::runtime_config::StorageLocation;
use crate::sqlite_pool::Pool;
use std::collections::HashSet;
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTable};

/// A file database `default` and one instance's view of it.
struct Instance {
    state: SqliteState,
    table: ResourceTable,
    owner: InstanceId,
}

impl Instance {
    fn new(databases: &Arc<Databases>) -> Self {
        Self {
            state: SqliteState {
                databases: databases.clone(),
                allowed: Arc::new(HashSet::from(["default".to_string()])),
            },
            table: ResourceTable::new(),
            owner: new_instance_id(),
        }
    }

    fn view(&mut self) -> SqliteView<'_> {
        SqliteView {
            state: &self.state,
            table: &mut self.table,
            instance: self.owner,
        }
    }

    async fn open(&mut self) -> Resource<ConnectionHandle> {
        match self.view().open("default".into()).await.unwrap() {
            Ok(c) => c,
            Err(_) => panic!("open failed"),
        }
    }

    async fn run(
        &mut self,
        conn: &Resource<ConnectionHandle>,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Vec<Value>>, String> {
        match self.view().execute(conn, sql.into(), params).await {
            Ok(r) => Ok(r.rows),
            Err(DbError::Io(m)) => Err(m),
            Err(_) => Err("other error".into()),
        }
    }
}

/// The databases of an app with one file database `default`, and its pool.
fn file_databases_and_pool(dir: &tempfile::TempDir) -> (Arc<Databases>, Arc<Pool>) {
    let pool = Pool::open(&StorageLocation::File(dir.path().join("db.sqlite"))).unwrap();
    let database: Arc<dyn Database> = Arc::new(LocalDatabase::new(pool.clone()));
    let databases = Databases::from_databases([("default".to_string(), database)]);
    databases
        .execute_batch(
            "default",
            "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
             INSERT INTO counter VALUES (1, 0);",
        )
        .unwrap();
    (Arc::new(databases), pool)
}

fn file_databases(dir: &tempfile::TempDir) -> Arc<Databases> {
    file_databases_and_pool(dir).0
}

async fn count(instance: &mut Instance) -> i64 {
    let c = instance.open().await;
    match instance
        .run(&c, "SELECT n FROM counter WHERE id = 1", vec![])
        .await
        .unwrap()[0][0]
    {
        Value::Integer(n) => n,
        ref other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_holds_the_gate_from_begin_to_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (databases, pool) = file_databases_and_pool(&dir);
    let gate = pool.gate().clone();
    let mut a = Instance::new(&databases);
    let c = a.open().await;
    a.run(&c, "SELECT n FROM counter", vec![]).await.unwrap();
    assert!(!gate.is_held_by(a.owner), "a read took the gate");
    a.run(&c, "BEGIN", vec![]).await.unwrap();
    assert!(gate.is_held_by(a.owner));
    a.run(&c, "UPDATE counter SET n = n + 1", vec![])
        .await
        .unwrap();
    assert!(gate.is_held_by(a.owner));
    a.run(&c, "COMMIT", vec![]).await.unwrap();
    assert!(!gate.is_held_by(a.owner));
    // A write outside a transaction holds it for the statement only.
    a.run(&c, "UPDATE counter SET n = n + 1", vec![])
        .await
        .unwrap();
    assert!(!gate.is_held_by(a.owner));
    // A write the keywords do not reveal is found by SQLite's own verdict.
    a.run(
        &c,
        "WITH d(v) AS (SELECT 1) UPDATE counter SET n = n + (SELECT v FROM d)",
        vec![],
    )
    .await
    .unwrap();
    assert!(!gate.is_held_by(a.owner));
    assert!(gate.is_free(), "the gate was left held");
    assert_eq!(count(&mut a).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_is_synced_and_reads_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let (databases, pool) = file_databases_and_pool(&dir);
    let syncer = pool.syncer().unwrap().clone();
    let before = syncer.counts();
    let mut a = Instance::new(&databases);
    let c = a.open().await;
    a.run(&c, "SELECT n FROM counter", vec![]).await.unwrap();
    assert_eq!(syncer.counts(), before, "a read was counted as a commit");
    a.run(&c, "BEGIN", vec![]).await.unwrap();
    a.run(&c, "UPDATE counter SET n = n + 1", vec![])
        .await
        .unwrap();
    assert_eq!(syncer.counts(), before, "counted before the commit");
    a.run(&c, "COMMIT", vec![]).await.unwrap();
    a.run(&c, "UPDATE counter SET n = n + 1", vec![])
        .await
        .unwrap();
    // Two commits, and each was on disk before its statement returned.
    let (committed, synced) = syncer.counts();
    assert_eq!(committed, before.0 + 2);
    assert_eq!(synced, committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_ends_mid_transaction_releases_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let (databases, pool) = file_databases_and_pool(&dir);
    let gate = pool.gate().clone();
    let mut a = Instance::new(&databases);
    let c = a.open().await;
    a.run(&c, "BEGIN", vec![]).await.unwrap();
    a.run(&c, "UPDATE counter SET n = 41", vec![])
        .await
        .unwrap();
    assert!(!gate.is_free());
    // A trap drops the store, and with it the resource table.
    drop(a);
    assert!(gate.is_free(), "the gate is still held");
    let mut b = Instance::new(&databases);
    assert_eq!(
        count(&mut b).await,
        0,
        "the open transaction was not rolled back"
    );
    let c = b.open().await;
    b.run(&c, "UPDATE counter SET n = 1", vec![]).await.unwrap();
    assert_eq!(count(&mut b).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_transaction_releases_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let (databases, pool) = file_databases_and_pool(&dir);
    let gate = pool.gate().clone();
    let mut a = Instance::new(&databases);
    let c = a.open().await;
    a.run(&c, "BEGIN", vec![]).await.unwrap();
    a.run(&c, "UPDATE counter SET n = 41", vec![])
        .await
        .unwrap();
    a.view().close(c).await.unwrap();
    assert!(gate.is_free(), "the gate is still held");
    assert_eq!(count(&mut a).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_never_waits_for_its_own_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let databases = file_databases(&dir);
    let mut a = Instance::new(&databases);
    let (c1, c2) = (a.open().await, a.open().await);
    a.run(&c1, "BEGIN", vec![]).await.unwrap();
    // The second connection can read (WAL), but its write could never go
    // through before the first commits: it fails instead of hanging.
    a.run(&c2, "SELECT n FROM counter", vec![]).await.unwrap();
    let err = a
        .run(&c2, "UPDATE counter SET n = 5", vec![])
        .await
        .unwrap_err();
    assert!(err.contains("locked"), "{err}");
    let err = a.run(&c2, "BEGIN", vec![]).await.unwrap_err();
    assert!(err.contains("locked"), "{err}");
    a.run(&c1, "UPDATE counter SET n = 7", vec![])
        .await
        .unwrap();
    a.run(&c1, "COMMIT", vec![]).await.unwrap();
    a.run(&c2, "UPDATE counter SET n = n + 1", vec![])
        .await
        .unwrap();
    assert_eq!(count(&mut a).await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_read_modify_write_transactions_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let (databases, pool) = file_databases_and_pool(&dir);
    const INSTANCES: i64 = 16;
    const ROUNDS: i64 = 20;
    let tasks: Vec<_> = (0..INSTANCES)
        .map(|_| {
            let databases = databases.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    // A fresh instance per round, as per request.
                    let mut i = Instance::new(&databases);
                    let c = i.open().await;
                    i.run(&c, "BEGIN", vec![]).await?;
                    let rows = i
                        .run(&c, "SELECT n FROM counter WHERE id = 1", vec![])
                        .await?;
                    let Value::Integer(n) = rows[0][0] else {
                        return Err("not an integer".to_string());
                    };
                    i.run(
                        &c,
                        "UPDATE counter SET n = ? WHERE id = 1",
                        vec![Value::Integer(n + 1)],
                    )
                    .await?;
                    let after = i
                        .run(&c, "SELECT n FROM counter WHERE id = 1", vec![])
                        .await?;
                    if after[0][0] != Value::Integer(n + 1) {
                        return Err(format!("saw {:?} inside the transaction", after[0][0]));
                    }
                    i.run(&c, "COMMIT", vec![]).await?;
                }
                Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut i = Instance::new(&databases);
    assert_eq!(count(&mut i).await, INSTANCES * ROUNDS);
    assert!(pool.gate().is_free());
}
