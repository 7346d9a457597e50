//! `fermyon:spin/sqlite@2.0.0` and `spin:sqlite/sqlite@3.0.0`.
//!
//! Each guest `open` checks out a dedicated pooled connection, so a
//! transaction a guest opens with `BEGIN` spans its following `execute` calls.
//! A plain `BEGIN` is run as `BEGIN IMMEDIATE`: it takes the write lock up
//! front instead of failing with SQLITE_BUSY when a read transaction later
//! tries to upgrade while another writer commits.
//!
//! A write is answered once it is on disk (see `wal_sync`): a statement that
//! ends a write (COMMIT, or a write outside a transaction) waits for a sync of
//! the log after the write gate is free again.
//!
//! Writers queue on their database's write gate (see `sqlite_pool`): a write
//! statement outside a transaction holds it for that statement; a transaction
//! holds it from `BEGIN` (or `SAVEPOINT`) until the connection is back in
//! autocommit mode (COMMIT, ROLLBACK, an error that rolled it back) or goes
//! back to the pool (guest `drop`, or the instance's end, a trap included),
//! after its rollback. Read statements take no gate.

use crate::bindings::{spin_v2::sqlite as v2, sqlite_v3 as v3};
use crate::runtime_config::StorageLocation;
use crate::sqlite_pool::{blocking, GatePass, Owner, Pool, PooledConnection, WriteGate};
use crate::wal_sync::Ticket;
use anyhow::Result;
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use wasmtime::component::{HasData, Resource, ResourceTable};

/// Every database of the app, by label.
#[derive(Default)]
pub struct Databases {
    pools: HashMap<String, Arc<Pool>>,
}

impl Databases {
    pub fn open(locations: &BTreeMap<String, StorageLocation>) -> Result<Self> {
        let pools = locations
            .iter()
            .map(|(label, location)| Ok((label.clone(), Pool::open(location)?)))
            .collect::<Result<_>>()?;
        Ok(Self { pools })
    }

    /// Runs setup statements (`--sqlite`) against a database before serving.
    pub fn execute_batch(&self, label: &str, sql: &str) -> Result<()> {
        let pool = self
            .pools
            .get(label)
            .ok_or_else(|| anyhow::anyhow!("no sqlite database labelled `{label}`"))?;
        pool.checkout()?.execute_batch(sql)?;
        Ok(())
    }
}

/// The SQLite capability of one instance.
#[derive(Clone)]
pub struct SqliteState {
    pub databases: Arc<Databases>,
    /// Labels the component declared in `sqlite_databases`.
    pub allowed: Arc<HashSet<String>>,
}

/// A guest `connection` resource.
pub struct ConnectionHandle {
    session: Arc<Mutex<Session>>,
    gate: Arc<WriteGate>,
    /// Whether `session` holds the gate's pass (known without its lock).
    holds_gate: bool,
}

/// A pooled connection and, while a transaction is open on it, the pass of
/// its database's write gate. Fields drop in order: the connection goes back
/// to the pool (rolled back if need be) before the pass lets the next writer in.
struct Session {
    conn: PooledConnection,
    pass: Option<GatePass>,
}

/// What one trip to the blocking pool did.
enum Step {
    Done {
        result: rusqlite::Result<QueryResult>,
        holds_gate: bool,
        /// The statement ended a write (a commit): wait for its ticket before
        /// answering (see `Pool::durable`).
        committed: Option<Ticket>,
    },
    /// The statement writes and no pass was at hand: nothing was run.
    NeedsGate {
        statement: String,
        params: Vec<Value>,
    },
}

impl Session {
    fn execute(&mut self, statement: String, params: Vec<Value>, pass: Option<GatePass>) -> Step {
        if self.pass.is_none() && pass.is_none() && self.needs_gate(&statement) {
            return Step::NeedsGate { statement, params };
        }
        let wrote = self.pass.is_some() || pass.is_some();
        let result = run_statement(&self.conn, &statement, &params);
        let mut committed = None;
        if self.conn.is_autocommit() {
            // Committed, rolled back, or never in a transaction.
            if wrote && result.is_ok() {
                committed = self.conn.pool().committed();
            }
            self.pass = None;
            drop(pass);
        } else if self.pass.is_none() {
            self.pass = pass;
        }
        Step::Done {
            result,
            holds_gate: self.pass.is_some(),
            committed,
        }
    }

    /// Whether `statement` opens a transaction or writes. A statement that does
    /// not compile needs no gate: running it reports the error.
    fn needs_gate(&self, statement: &str) -> bool {
        if matches!(
            first_keyword(statement).as_deref(),
            Some("BEGIN" | "SAVEPOINT")
        ) {
            return true;
        }
        self.conn
            .prepare_cached(statement)
            .is_ok_and(|stmt| !stmt.readonly())
    }
}

/// The first keyword of `sql`, upper-cased, after whitespace and comments.
fn first_keyword(sql: &str) -> Option<String> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (!word.is_empty()).then(|| word.to_ascii_uppercase())
}

/// Statements that surely need the gate, so it is taken before the trip to the
/// blocking pool rather than after a first trip finds out.
fn predicts_write(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_deref(),
        Some(
            "BEGIN"
                | "SAVEPOINT"
                | "INSERT"
                | "UPDATE"
                | "DELETE"
                | "REPLACE"
                | "CREATE"
                | "DROP"
                | "ALTER"
        )
    )
}

/// Short statements run on the executor thread inside a transaction that
/// holds the gate: writes by key (no scan expected) and transaction control.
fn runs_inline(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_deref(),
        Some(
            "INSERT"
                | "UPDATE"
                | "DELETE"
                | "REPLACE"
                | "COMMIT"
                | "END"
                | "ROLLBACK"
                | "RELEASE"
                | "SAVEPOINT"
        )
    )
}

pub struct SqliteView<'a> {
    pub state: &'a SqliteState,
    pub table: &'a mut ResourceTable,
    /// The instance, for the write gates.
    pub owner: Owner,
}

pub struct SqliteCapability;
impl HasData for SqliteCapability {
    type Data<'a> = SqliteView<'a>;
}

/// Errors in the v3 shape; v2 has the same variants.
enum DbError {
    NoSuchDatabase,
    AccessDenied,
    InvalidConnection,
    Io(String),
}

impl From<DbError> for v3::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NoSuchDatabase => v3::Error::NoSuchDatabase,
            DbError::AccessDenied => v3::Error::AccessDenied,
            DbError::InvalidConnection => v3::Error::InvalidConnection,
            DbError::Io(m) => v3::Error::Io(m),
        }
    }
}

impl From<DbError> for v2::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NoSuchDatabase => v2::Error::NoSuchDatabase,
            DbError::AccessDenied => v2::Error::AccessDenied,
            DbError::InvalidConnection => v2::Error::InvalidConnection,
            DbError::Io(m) => v2::Error::Io(m),
        }
    }
}

/// A database value, independent of the WIT version.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Null => ValueRef::Null,
        }))
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            ValueRef::Null => Value::Null,
        }
    }
}

pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Runs one statement and collects its rows.
pub fn run_statement(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<QueryResult> {
    let sql = immediate_begin(sql).unwrap_or(sql);
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows_out = Vec::new();
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(Value::from))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows_out.push(values);
    }
    Ok(QueryResult {
        columns,
        rows: rows_out,
    })
}

/// `BEGIN` / `BEGIN DEFERRED [TRANSACTION]` become `BEGIN IMMEDIATE`.
fn immediate_begin(sql: &str) -> Option<&'static str> {
    let words: Vec<String> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(
        words.as_slice(),
        ["BEGIN"]
            | ["BEGIN", "TRANSACTION"]
            | ["BEGIN", "DEFERRED"]
            | ["BEGIN", "DEFERRED", "TRANSACTION"]
    )
    .then_some("BEGIN IMMEDIATE")
}

impl SqliteView<'_> {
    async fn open(
        &mut self,
        database: String,
    ) -> anyhow::Result<Result<Resource<ConnectionHandle>, DbError>> {
        if !self.state.allowed.contains(&database) {
            return Ok(Err(DbError::AccessDenied));
        }
        let Some(pool) = self.state.databases.pools.get(&database).cloned() else {
            return Ok(Err(DbError::NoSuchDatabase));
        };
        let gate = pool.gate().clone();
        let conn = match blocking(move || pool.checkout()).await? {
            Ok(c) => c,
            Err(e) => return Ok(Err(DbError::Io(format!("{e:#}")))),
        };
        let handle = ConnectionHandle {
            session: Arc::new(Mutex::new(Session { conn, pass: None })),
            gate,
            holds_gate: false,
        };
        Ok(Ok(self.table.push(handle)?))
    }

    async fn execute(
        &mut self,
        conn: &Resource<ConnectionHandle>,
        statement: String,
        params: Vec<Value>,
    ) -> anyhow::Result<Result<QueryResult, DbError>> {
        let Ok(handle) = self.table.get(conn) else {
            return Ok(Err(DbError::InvalidConnection));
        };
        let (session, gate) = (handle.session.clone(), handle.gate.clone());
        let mut pass = None;
        if !handle.holds_gate && predicts_write(&statement) {
            match gate.enter(self.owner).await {
                Ok(p) => pass = Some(p),
                Err(e) => return Ok(Err(DbError::Io(e.to_string()))),
            }
        }
        if handle.holds_gate && runs_inline(&statement) {
            // The transaction holds SQLite's write lock already: the statement
            // cannot wait for a lock, and a hop to the blocking pool and back
            // would only lengthen the time everybody else waits for the gate.
            let step = session.lock().unwrap().execute(statement, params, None);
            let Step::Done {
                result,
                holds_gate,
                committed,
            } = step
            else {
                unreachable!("a session holding the gate never asks for it");
            };
            if let Ok(handle) = self.table.get_mut(conn) {
                handle.holds_gate = holds_gate;
            }
            return Ok(durable(&session, result, committed).await);
        }
        let (mut statement, mut params) = (statement, params);
        loop {
            let in_pool = session.clone();
            let step =
                blocking(move || in_pool.lock().unwrap().execute(statement, params, pass)).await?;
            match step {
                Step::Done {
                    result,
                    holds_gate,
                    committed,
                } => {
                    if let Ok(handle) = self.table.get_mut(conn) {
                        handle.holds_gate = holds_gate;
                    }
                    return Ok(durable(&session, result, committed).await);
                }
                Step::NeedsGate {
                    statement: s,
                    params: p,
                } => {
                    match gate.enter(self.owner).await {
                        Ok(p) => pass = Some(p),
                        Err(e) => return Ok(Err(DbError::Io(e.to_string()))),
                    }
                    (statement, params) = (s, p);
                }
            }
        }
    }

    fn with_conn<R>(
        &mut self,
        conn: &Resource<ConnectionHandle>,
        f: impl FnOnce(&rusqlite::Connection) -> R,
    ) -> anyhow::Result<R> {
        let handle = self.table.get(conn)?;
        let guard = handle.session.lock().unwrap();
        Ok(f(&guard.conn))
    }
}

/// The statement's result, once a commit it made is on disk: the write gate
/// is free already, so that later writers commit meanwhile and share the sync.
async fn durable(
    session: &Arc<Mutex<Session>>,
    result: rusqlite::Result<QueryResult>,
    committed: Option<Ticket>,
) -> Result<QueryResult, DbError> {
    let result = result.map_err(|e| DbError::Io(e.to_string()))?;
    if committed.is_some() {
        let pool = session.lock().unwrap().conn.pool().clone();
        pool.durable(committed).await.map_err(DbError::Io)?;
    }
    Ok(result)
}

fn to_v3(v: Value) -> v3::Value {
    match v {
        Value::Integer(i) => v3::Value::Integer(i),
        Value::Real(f) => v3::Value::Real(f),
        Value::Text(s) => v3::Value::Text(s),
        Value::Blob(b) => v3::Value::Blob(b),
        Value::Null => v3::Value::Null,
    }
}

fn from_v3(v: v3::Value) -> Value {
    match v {
        v3::Value::Integer(i) => Value::Integer(i),
        v3::Value::Real(f) => Value::Real(f),
        v3::Value::Text(s) => Value::Text(s),
        v3::Value::Blob(b) => Value::Blob(b),
        v3::Value::Null => Value::Null,
    }
}

fn to_v2(v: Value) -> v2::Value {
    match v {
        Value::Integer(i) => v2::Value::Integer(i),
        Value::Real(f) => v2::Value::Real(f),
        Value::Text(s) => v2::Value::Text(s),
        Value::Blob(b) => v2::Value::Blob(b),
        Value::Null => v2::Value::Null,
    }
}

fn from_v2(v: v2::Value) -> Value {
    match v {
        v2::Value::Integer(i) => Value::Integer(i),
        v2::Value::Real(f) => Value::Real(f),
        v2::Value::Text(s) => Value::Text(s),
        v2::Value::Blob(b) => Value::Blob(b),
        v2::Value::Null => Value::Null,
    }
}

impl v3::Host for SqliteView<'_> {}

impl v3::HostConnection for SqliteView<'_> {
    async fn open(
        &mut self,
        database: String,
    ) -> anyhow::Result<Result<Resource<v3::Connection>, v3::Error>> {
        Ok(SqliteView::open(self, database).await?.map_err(Into::into))
    }

    async fn execute(
        &mut self,
        conn: Resource<v3::Connection>,
        statement: String,
        parameters: Vec<v3::Value>,
    ) -> anyhow::Result<Result<v3::QueryResult, v3::Error>> {
        let params = parameters.into_iter().map(from_v3).collect();
        let result = SqliteView::execute(self, &conn, statement, params).await?;
        Ok(result
            .map(|r| v3::QueryResult {
                columns: r.columns,
                rows: r
                    .rows
                    .into_iter()
                    .map(|values| v3::RowResult {
                        values: values.into_iter().map(to_v3).collect(),
                    })
                    .collect(),
            })
            .map_err(Into::into))
    }

    async fn last_insert_rowid(&mut self, conn: Resource<v3::Connection>) -> anyhow::Result<i64> {
        self.with_conn(&conn, |c| c.last_insert_rowid())
    }

    async fn changes(&mut self, conn: Resource<v3::Connection>) -> anyhow::Result<u64> {
        self.with_conn(&conn, |c| c.changes())
    }

    async fn drop(&mut self, conn: Resource<v3::Connection>) -> anyhow::Result<()> {
        let handle = self.table.delete(conn)?;
        // Returning a connection to the pool may roll back: keep it off the executor.
        blocking(move || drop(handle)).await?;
        Ok(())
    }
}

impl v2::Host for SqliteView<'_> {}

impl v2::HostConnection for SqliteView<'_> {
    async fn open(
        &mut self,
        database: String,
    ) -> anyhow::Result<Result<Resource<v2::Connection>, v2::Error>> {
        Ok(SqliteView::open(self, database).await?.map_err(Into::into))
    }

    async fn execute(
        &mut self,
        conn: Resource<v2::Connection>,
        statement: String,
        parameters: Vec<v2::Value>,
    ) -> anyhow::Result<Result<v2::QueryResult, v2::Error>> {
        let params = parameters.into_iter().map(from_v2).collect();
        let result = SqliteView::execute(self, &conn, statement, params).await?;
        Ok(result
            .map(|r| v2::QueryResult {
                columns: r.columns,
                rows: r
                    .rows
                    .into_iter()
                    .map(|values| v2::RowResult {
                        values: values.into_iter().map(to_v2).collect(),
                    })
                    .collect(),
            })
            .map_err(Into::into))
    }

    async fn drop(&mut self, conn: Resource<v2::Connection>) -> anyhow::Result<()> {
        let handle = self.table.delete(conn)?;
        blocking(move || drop(handle)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file database `default` and one instance's view of it.
    struct Instance {
        state: SqliteState,
        table: ResourceTable,
        owner: Owner,
    }

    impl Instance {
        fn new(databases: &Arc<Databases>) -> Self {
            Self {
                state: SqliteState {
                    databases: databases.clone(),
                    allowed: Arc::new(HashSet::from(["default".to_string()])),
                },
                table: ResourceTable::new(),
                owner: crate::sqlite_pool::new_owner(),
            }
        }

        fn view(&mut self) -> SqliteView<'_> {
            SqliteView {
                state: &self.state,
                table: &mut self.table,
                owner: self.owner,
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
            match self.view().execute(conn, sql.into(), params).await.unwrap() {
                Ok(r) => Ok(r.rows),
                Err(DbError::Io(m)) => Err(m),
                Err(_) => Err("other error".into()),
            }
        }
    }

    fn file_databases(dir: &tempfile::TempDir) -> Arc<Databases> {
        let databases = Databases::open(&BTreeMap::from([(
            "default".to_string(),
            StorageLocation::File(dir.path().join("db.sqlite")),
        )]))
        .unwrap();
        databases
            .execute_batch(
                "default",
                "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 INSERT INTO counter VALUES (1, 0);",
            )
            .unwrap();
        Arc::new(databases)
    }

    fn gate(databases: &Databases) -> Arc<WriteGate> {
        databases.pools["default"].gate().clone()
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

    #[test]
    fn first_keywords_skip_comments() {
        assert_eq!(
            first_keyword("  -- note\n /* x */ begin;").as_deref(),
            Some("BEGIN")
        );
        assert_eq!(
            first_keyword("insert into t values (1)").as_deref(),
            Some("INSERT")
        );
        assert_eq!(first_keyword("/* only a comment"), None);
        assert!(predicts_write("SAVEPOINT a"));
        assert!(!predicts_write("SELECT * FROM t"));
        assert!(!predicts_write(
            "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_holds_the_gate_from_begin_to_commit() {
        let dir = tempfile::tempdir().unwrap();
        let databases = file_databases(&dir);
        let gate = gate(&databases);
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
        let databases = file_databases(&dir);
        let syncer = databases.pools["default"].syncer().unwrap().clone();
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
        let databases = file_databases(&dir);
        let gate = gate(&databases);
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
        let databases = file_databases(&dir);
        let gate = gate(&databases);
        let mut a = Instance::new(&databases);
        let c = a.open().await;
        a.run(&c, "BEGIN", vec![]).await.unwrap();
        a.run(&c, "UPDATE counter SET n = 41", vec![])
            .await
            .unwrap();
        v3::HostConnection::drop(&mut a.view(), c).await.unwrap();
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
        let databases = file_databases(&dir);
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
        assert!(gate(&databases).is_free());
    }

    #[test]
    fn plain_begin_becomes_immediate() {
        assert_eq!(immediate_begin("begin"), Some("BEGIN IMMEDIATE"));
        assert_eq!(
            immediate_begin(" BEGIN TRANSACTION; "),
            Some("BEGIN IMMEDIATE")
        );
        assert_eq!(immediate_begin("BEGIN EXCLUSIVE"), None);
        assert_eq!(immediate_begin("SELECT 1"), None);
    }

    #[test]
    fn statements_round_trip_values() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        run_statement(
            &conn,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)",
            &[],
        )
        .unwrap();
        let row = vec![
            Value::Integer(-3),
            Value::Real(1.5),
            Value::Text("é".into()),
            Value::Blob(vec![0, 1]),
            Value::Null,
        ];
        run_statement(&conn, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", &row).unwrap();
        let result = run_statement(&conn, "SELECT * FROM t", &[]).unwrap();
        assert_eq!(result.columns, vec!["i", "r", "s", "b", "n"]);
        assert_eq!(result.rows, vec![row]);
        assert!(run_statement(&conn, "SELEC nonsense", &[]).is_err());
    }
}
