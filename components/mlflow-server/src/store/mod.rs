//! Storage: a small SQL-execution seam ([`Db`]) with two implementations — Spin SQLite
//! (`spin_sdk::sqlite3`, in the wasm component) and rusqlite (native unit tests) — so the
//! same SQL and logic run in both. Everything above this module speaks only [`Db`].
//!
//! Rules for SQL in this crate: one statement per `execute` call (Spin prepares a single
//! statement), every value is a bound `?` parameter, and multi-statement writes go through
//! [`transaction`].

pub mod migrations;
#[cfg(test)]
pub mod native;
#[cfg(test)]
mod scale_tests;
#[cfg(target_arch = "wasm32")]
pub mod spin;

use crate::error::{ErrorCode, MlflowError};

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

/// A database failure reported by the backend.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl From<StoreError> for MlflowError {
    /// The backend's text (which may quote the statement and its values) goes to stderr
    /// only: answers carry a generic message, so no SQL or stored data leaks to clients.
    fn from(e: StoreError) -> Self {
        eprintln!("mlflow-server: database error: {}", e.0);
        // A busy database is transient: 503 makes the MLflow client retry.
        if e.0.contains("locked") || e.0.contains("busy") {
            MlflowError::new(
                ErrorCode::TemporarilyUnavailable,
                "The database is busy; try again.",
            )
        } else {
            MlflowError::internal("Internal database error; the server log has the details.")
        }
    }
}

/// The SQL-execution seam.
pub trait Db {
    /// Runs one statement with bound parameters and returns its rows (empty for writes).
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError>;
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

/// Runs `f` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on error, so a multi-statement
/// write is all-or-nothing and concurrent writers queue on the write lock up front.
pub fn transaction<T>(
    db: &dyn Db,
    f: impl FnOnce() -> Result<T, MlflowError>,
) -> Result<T, MlflowError> {
    db.exec("BEGIN IMMEDIATE", &[])?;
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
    ($($v:expr),+ $(,)?) => { [$($crate::store::SqlValue::from($v)),+] };
}

#[cfg(test)]
pub mod testing {
    //! An in-memory database with every migration applied, for unit tests.
    use super::native::NativeDb;

    pub fn db() -> NativeDb {
        let db = NativeDb::open_in_memory();
        super::migrations::ensure_schema(&db).expect("migrations apply");
        db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_never_reach_the_client() {
        let db = testing::db();
        let secret = "SELECT r.run_uuid FROM runs r WHERE r.name = 'hidden-value'";
        let e: MlflowError = db
            .execute(&format!("{secret} AND"), &[])
            .unwrap_err()
            .into();
        assert_eq!(e.code, ErrorCode::InternalError);
        assert!(!e.message.contains("SELECT") && !e.message.contains("hidden-value"));
        let busy: MlflowError = StoreError("database is locked".into()).into();
        assert_eq!(busy.code, ErrorCode::TemporarilyUnavailable);
        assert!(!busy.message.contains("locked"));
    }

    #[test]
    fn transaction_rolls_back_on_error() {
        let db = testing::db();
        db.exec("CREATE TABLE t (x INTEGER)", &[]).unwrap();
        let r: Result<(), _> = transaction(&db, || {
            db.exec("INSERT INTO t VALUES (1)", &[])?;
            Err(MlflowError::invalid("boom"))
        });
        assert!(r.is_err());
        let n = db
            .query_one("SELECT COUNT(*) FROM t", &[])
            .unwrap()
            .unwrap();
        assert_eq!(n.int(0), 0);
        transaction(&db, || db.exec("INSERT INTO t VALUES (?)", &params![2i64])).unwrap();
        let n = db.query_one("SELECT SUM(x) FROM t", &[]).unwrap().unwrap();
        assert_eq!(n.int(0), 2);
    }
}
