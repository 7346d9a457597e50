//! [`Db`] over a PostgreSQL server through `tokio-postgres`, for native tests (never
//! compiled into the wasm). Values travel as `pg_spin` sends them through Spin: 64-bit
//! integers, doubles, text, bytes and untyped NULLs, with the SQL rewritten by
//! [`placeholders`].

use super::db::{Db, Dialect, Row, SqlValue};
use super::pg_errors;
use super::pg_sql::placeholders;
use crate::error::StoreError;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

pub struct PgNativeDb {
    client: tokio_postgres::Client,
    runtime: tokio::runtime::Runtime,
}

impl PgNativeDb {
    /// Connects to `url`; with `schema`, creates it and works in it only (each test gets
    /// a schema of its own in the one server).
    pub fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let err = |e: tokio_postgres::Error| StoreError(pg_errors::cannot_connect(&e.to_string()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError(e.to_string()))?;
        let (client, connection) = runtime
            .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
            .map_err(err)?;
        runtime.spawn(connection);
        let db = PgNativeDb { client, runtime };
        if let Some(schema) = schema {
            db.execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"), &[])?;
            db.execute(&format!("SET search_path TO {schema}"), &[])?;
        }
        Ok(db)
    }
}

/// An untyped NULL, accepted whatever type PostgreSQL gives the parameter.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// One cell, decoded by its column's type as `pg_spin` decodes Spin's values.
struct Cell(SqlValue);

type DecodeResult = Result<Cell, Box<dyn std::error::Error + Sync + Send>>;

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> DecodeResult {
        let v = match *ty {
            Type::BOOL => SqlValue::Integer(bool::from_sql(ty, raw)? as i64),
            Type::INT2 => SqlValue::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => SqlValue::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => SqlValue::Integer(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => SqlValue::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => SqlValue::Blob(raw.to_vec()),
            Type::NUMERIC => numeric(raw)?,
            _ => SqlValue::Text(String::from_utf8_lossy(raw).into_owned()),
        };
        Ok(Cell(v))
    }
    fn from_sql_null(_: &Type) -> DecodeResult {
        Ok(Cell(SqlValue::Null))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// NUMERIC's binary form (base-10000 digits), as an integer when whole (what SUM over
/// integers answers), else a double.
fn numeric(raw: &[u8]) -> Result<SqlValue, Box<dyn std::error::Error + Sync + Send>> {
    let word = |i: usize| -> Result<i16, String> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "short NUMERIC".to_string())
    };
    let (ndigits, weight, sign, scale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    if sign == 0xC000 {
        return Ok(SqlValue::Real(f64::NAN));
    }
    let mut value = 0f64;
    for i in 0..ndigits.max(0) as usize {
        value += f64::from(word(4 + i)?) * 10000f64.powi(i32::from(weight) - i as i32);
    }
    if sign == 0x4000 {
        value = -value;
    }
    Ok(if scale == 0 && value.abs() < 9.0e15 {
        SqlValue::Integer(value as i64)
    } else {
        SqlValue::Real(value)
    })
}

impl Db for PgNativeDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let values: Vec<Box<dyn ToSql + Sync>> = params
            .iter()
            .map(|v| -> Box<dyn ToSql + Sync> {
                match v {
                    SqlValue::Null => Box::new(Null),
                    SqlValue::Integer(i) => Box::new(*i),
                    SqlValue::Real(f) => Box::new(*f),
                    SqlValue::Text(s) => Box::new(s.clone()),
                    SqlValue::Blob(b) => Box::new(b.clone()),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|b| b.as_ref()).collect();
        let rows = self
            .runtime
            .block_on(self.client.query(&placeholders(sql, params), &refs))
            .map_err(|e| StoreError(pg_error(&e)))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut cells = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                let cell: Cell = row.try_get(i).map_err(|e| StoreError(e.to_string()))?;
                cells.push(cell.0);
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// The server's message with its SQLSTATE (the driver's own text is only "db error"),
/// or a lost connection marked as such (`pg_errors`).
fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => pg_errors::server_error(db.message(), db.code().code()),
        None => pg_errors::client_error(&format!("{e:?}")),
    }
}
