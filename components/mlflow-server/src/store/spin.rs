//! [`Db`] over Spin's SQLite interface (`spin:sqlite/sqlite@3.0.0`), used in the component.

use super::{Db, Row, SqlValue, StoreError};
use spin_sdk::sqlite3::{Connection, Value};

pub struct SpinDb {
    conn: Connection,
}

impl SpinDb {
    /// Opens the `default` database that spin.toml grants to this component.
    pub fn open_default() -> Result<Self, StoreError> {
        Connection::open_default()
            .map(|conn| SpinDb { conn })
            .map_err(|e| StoreError(format!("cannot open the default database: {e:?}")))
    }
}

fn to_spin(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(s) => Value::Text(s.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
    }
}

fn from_spin(v: Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
    }
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let values: Vec<Value> = params.iter().map(to_spin).collect();
        let result = self
            .conn
            .execute(sql, &values)
            .map_err(|e| StoreError(format!("{e:?}")))?;
        Ok(result
            .rows
            .into_iter()
            .map(|r| Row(r.values.into_iter().map(from_spin).collect()))
            .collect())
    }
}
