//! The SQL-execution seam ([`Db`]) every store module speaks: values, rows, the
//! convenience queries of [`DbExt`] and [`transaction`]. Its two implementations are
//! `native` (rusqlite, unit tests) and `spin` (Spin SQLite, the component).
//!
//! Rules for SQL in this crate: one statement per `execute` call (Spin prepares a single
//! statement), every value is a bound `?` parameter, and multi-statement writes go through
//! [`transaction`].
//!
//! The same SQL runs on SQLite and PostgreSQL ([`Dialect`]): store modules write the
//! common subset (`INSERT … ON CONFLICT (…) DO UPDATE SET v = excluded.v` / `DO NOTHING`,
//! `RETURNING`, `LIMIT ? OFFSET ?`, `COALESCE`, `CAST(… AS TEXT)`), and ask
//! [`Db::dialect`] for the few spellings that differ (the database clock, case-sensitive
//! `LIKE`). The PostgreSQL backends rewrite each `?` to `$n` cast to the bound value's
//! type (`super::pg_sql`), so parameters are typed as in SQLite whatever their context.

use crate::error::{MlflowError, StoreError};

/// A SQLite value, as both backends know it.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}
impl From<&String> for SqlValue {
    fn from(s: &String) -> Self {
        SqlValue::Text(s.clone())
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Integer(v as i64)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(SqlValue::Null)
    }
}

/// One result row. Accessors are lenient about SQLite's dynamic types.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<SqlValue>);

impl Row {
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i)? {
            SqlValue::Text(s) => Some(s.clone()),
            SqlValue::Integer(v) => Some(v.to_string()),
            SqlValue::Real(v) => Some(v.to_string()),
            SqlValue::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
            SqlValue::Null => None,
        }
    }
    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i)? {
            SqlValue::Integer(v) => Some(*v),
            SqlValue::Real(v) => Some(*v as i64),
            SqlValue::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
    pub fn opt_real(&self, i: usize) -> Option<f64> {
        match self.0.get(i)? {
            SqlValue::Real(v) => Some(*v),
            SqlValue::Integer(v) => Some(*v as f64),
            _ => None,
        }
    }
    pub fn take_blob(&mut self, i: usize) -> Vec<u8> {
        match self
            .0
            .get_mut(i)
            .map(|v| std::mem::replace(v, SqlValue::Null))
        {
            Some(SqlValue::Blob(b)) => b,
            Some(SqlValue::Text(s)) => s.into_bytes(),
            _ => Vec::new(),
        }
    }
}

/// The SQL a [`Db`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Milliseconds since the epoch by the database's clock, as an integer expression.
    pub fn now_ms(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// The statement that opens a write transaction: SQLite takes the write lock up
    /// front (`IMMEDIATE`); PostgreSQL locks rows as they are written.
    fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }
}

/// The SQL-execution seam.
pub trait Db {
    /// Runs one statement with bound parameters and returns its rows (empty for writes).
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError>;

    /// The SQL this database speaks.
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

/// Convenience queries on any [`Db`].
pub trait DbExt: Db {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<(), MlflowError> {
        self.execute(sql, params).map(|_| ()).map_err(Into::into)
    }
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, MlflowError> {
        self.execute(sql, params).map_err(Into::into)
    }
    fn query_one(&self, sql: &str, params: &[SqlValue]) -> Result<Option<Row>, MlflowError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}
impl<T: Db + ?Sized> DbExt for T {}

/// How many times a PostgreSQL transaction runs again after the server aborted it to
/// resolve a conflict with another writer (deadlock, serialization failure), before the
/// conflict is answered as 503 (which the client retries in turn).
const CONFLICT_RETRIES: usize = 3;

/// Runs `f` inside `BEGIN IMMEDIATE … COMMIT` (SQLite) or `BEGIN … COMMIT` (PostgreSQL),
/// rolling back on error, so a multi-statement write is all-or-nothing; on SQLite
/// concurrent writers queue on the write lock up front, on PostgreSQL on the rows they
/// write (see `model_versions::next_number` for the one read-then-write that needs more).
/// On PostgreSQL a transaction aborted by a conflict runs again, up to
/// [`CONFLICT_RETRIES`] times, so `f` must do the same work each time it is called.
pub fn transaction<T>(
    db: &dyn Db,
    mut f: impl FnMut() -> Result<T, MlflowError>,
) -> Result<T, MlflowError> {
    let mut retries = match db.dialect() {
        Dialect::Postgres => CONFLICT_RETRIES,
        // SQLite waits for the lock statement by statement (`spin::SpinDb`).
        Dialect::Sqlite => 0,
    };
    loop {
        match attempt(db, &mut f) {
            Err(e) if retries > 0 && e.is_store_conflict() => {
                retries -= 1;
                pause_before_retry();
            }
            result => return result,
        }
    }
}

/// A random pause of 1 to 16 ms: two writers that deadlocked and retried at once would
/// take their first locks together again and deadlock anew; a random delay lets one of
/// them finish first.
fn pause_before_retry() {
    use std::hash::{BuildHasher, Hasher};
    // RandomState's keys come from the system's randomness and change with every call.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    std::thread::sleep(std::time::Duration::from_micros(1_000 + random % 15_000));
}

/// One run of a transaction: `f` between BEGIN and COMMIT, or ROLLBACK on error.
fn attempt<T>(
    db: &dyn Db,
    f: &mut impl FnMut() -> Result<T, MlflowError>,
) -> Result<T, MlflowError> {
    db.exec(db.dialect().begin(), &[])?;
    match f() {
        Ok(v) => match db.exec("COMMIT", &[]) {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = db.execute("ROLLBACK", &[]);
                Err(e)
            }
        },
        Err(e) => {
            let _ = db.execute("ROLLBACK", &[]);
            Err(e)
        }
    }
}

/// Builds a parameter array: `params![a, b, c]` (pass as `&params![..]`).
#[macro_export]
macro_rules! params {
    ($($v:expr),+ $(,)?) => { [$($crate::store::db::SqlValue::from($v)),+] };
}

#[cfg(test)]
mod tests;
