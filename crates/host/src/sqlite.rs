//! `fermyon:spin/sqlite@2.0.0` and `spin:sqlite/sqlite@3.0.0`.
//!
//! Each guest `open` checks out a dedicated pooled connection, so a
//! transaction a guest opens with `BEGIN` spans its following `execute` calls.
//! A plain `BEGIN` is run as `BEGIN IMMEDIATE`: it takes the write lock up
//! front (waiting under the busy timeout) instead of failing with SQLITE_BUSY
//! when a read transaction later tries to upgrade while another writer commits.

use crate::bindings::{spin_v2::sqlite as v2, sqlite_v3 as v3};
use crate::runtime_config::StorageLocation;
use crate::sqlite_pool::{blocking, Pool, PooledConnection};
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
    conn: Arc<Mutex<PooledConnection>>,
}

pub struct SqliteView<'a> {
    pub state: &'a SqliteState,
    pub table: &'a mut ResourceTable,
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
        let conn = match blocking(move || pool.checkout()).await? {
            Ok(c) => c,
            Err(e) => return Ok(Err(DbError::Io(format!("{e:#}")))),
        };
        let handle = ConnectionHandle {
            conn: Arc::new(Mutex::new(conn)),
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
        let conn = handle.conn.clone();
        let result = blocking(move || {
            let guard = conn.lock().unwrap();
            run_statement(&guard, &statement, &params)
        })
        .await?;
        Ok(result.map_err(|e| DbError::Io(e.to_string())))
    }

    fn with_conn<R>(
        &mut self,
        conn: &Resource<ConnectionHandle>,
        f: impl FnOnce(&rusqlite::Connection) -> R,
    ) -> anyhow::Result<R> {
        let handle = self.table.get(conn)?;
        let guard = handle.conn.lock().unwrap();
        Ok(f(&guard))
    }
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
