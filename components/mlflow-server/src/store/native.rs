//! [`Db`] over rusqlite, for native unit tests (never compiled into the wasm).

use super::db::{Db, Row, SqlValue};
use crate::error::StoreError;
use rusqlite::types::{Value, ValueRef};

pub struct NativeDb {
    conn: rusqlite::Connection,
}

impl NativeDb {
    pub fn open_in_memory() -> Self {
        NativeDb {
            conn: rusqlite::Connection::open_in_memory().expect("in-memory sqlite"),
        }
    }

    pub fn open(path: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(path).expect("open sqlite file");
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .expect("busy timeout");
        NativeDb { conn }
    }
}

fn to_rusqlite(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(s) => Value::Text(s.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
    }
}

fn from_rusqlite(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

impl Db for NativeDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let err = |e: rusqlite::Error| StoreError(e.to_string());
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let width = stmt.column_count();
        let values: Vec<Value> = params.iter().map(to_rusqlite).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values.iter()))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(from_rusqlite(row.get_ref(i).map_err(err)?));
            }
            out.push(Row(cells));
        }
        Ok(out)
    }
}
