//! [`Db`] over Spin's PostgreSQL interface (`spin:postgres/postgres@4.0.0`), used in the
//! component when `database_url` names a PostgreSQL server.

use super::db::{Db, Dialect, Row, SqlValue};
use super::pg_errors;
use super::pg_sql::placeholders;
use crate::error::StoreError;
use spin_sdk::pg4::{Connection, DbValue, ParameterValue, PgError, QueryError};

pub struct SpinPgDb {
    conn: Connection,
}

impl SpinPgDb {
    /// Connects to `url` (`postgres://user:password@host:port/database`), which
    /// `allowed_outbound_hosts` must permit.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Connection::open(url)
            .map(|conn| SpinPgDb { conn })
            .map_err(|e| StoreError(pg_error(e)))
    }
}

fn to_pg(v: &SqlValue) -> ParameterValue {
    match v {
        SqlValue::Null => ParameterValue::DbNull,
        SqlValue::Integer(i) => ParameterValue::Int64(*i),
        SqlValue::Real(f) => ParameterValue::Floating64(*f),
        SqlValue::Text(s) => ParameterValue::Str(s.clone()),
        SqlValue::Blob(b) => ParameterValue::Binary(b.clone()),
    }
}

fn from_pg(v: DbValue) -> SqlValue {
    match v {
        DbValue::DbNull => SqlValue::Null,
        DbValue::Boolean(b) => SqlValue::Integer(b as i64),
        DbValue::Int8(i) => SqlValue::Integer(i.into()),
        DbValue::Int16(i) => SqlValue::Integer(i.into()),
        DbValue::Int32(i) => SqlValue::Integer(i.into()),
        DbValue::Int64(i) => SqlValue::Integer(i),
        DbValue::Floating32(f) => SqlValue::Real(f.into()),
        DbValue::Floating64(f) => SqlValue::Real(f),
        DbValue::Str(s) => SqlValue::Text(s),
        DbValue::Binary(b) => SqlValue::Blob(b),
        // SUM and friends over integers answer NUMERIC.
        DbValue::Decimal(d) => match d.parse::<i64>() {
            Ok(i) => SqlValue::Integer(i),
            Err(_) => d.parse().map(SqlValue::Real).unwrap_or(SqlValue::Text(d)),
        },
        other => SqlValue::Text(format!("{other:?}")),
    }
}

impl Db for SpinPgDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let values: Vec<ParameterValue> = params.iter().map(to_pg).collect();
        let set = self
            .conn
            .query(&placeholders(sql, params), &values)
            .map_err(|e| StoreError(pg_error(e)))?;
        Ok(set
            .rows
            .into_iter()
            .map(|r| Row(r.into_iter().map(from_pg).collect()))
            .collect())
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// The server's message with its SQLSTATE, or what the connection's failure means
/// (`pg_errors`), as `StoreError`'s conversion reads it.
fn pg_error(e: PgError) -> String {
    match e {
        PgError::QueryFailed(QueryError::DbError(db)) => {
            pg_errors::server_error(&db.message, &db.code)
        }
        PgError::QueryFailed(QueryError::Text(text)) => pg_errors::client_error(&text),
        PgError::ConnectionFailed(reason) => pg_errors::cannot_connect(&reason),
        other => format!("{other:?}"),
    }
}
