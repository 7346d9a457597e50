//! [`Db`] over Spin's SQLite interface (`spin:sqlite/sqlite@3.0.0`), used in the component.

use super::db::{Db, Row, SqlValue};
use crate::error::StoreError;
use spin_sdk::sqlite3::{Connection, Value};
use std::time::{Duration, Instant};

/// How long a statement keeps trying while another connection holds the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The first and the longest pause between two tries.
const FIRST_PAUSE: Duration = Duration::from_micros(100);
const LONGEST_PAUSE: Duration = Duration::from_millis(2);

pub struct SpinDb {
    conn: Connection,
}

impl SpinDb {
    /// Opens the `default` database that spin.toml grants to this component.
    ///
    /// Waiting for the write lock is done here ([`Db::execute`]) rather than in
    /// SQLite's busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries: with
    /// a dozen concurrent writers (each request is a connection of its own under
    /// Spin) the unlucky ones waited hundreds of milliseconds for a lock held about
    /// one millisecond at a time.
    pub fn open_default() -> Result<Self, StoreError> {
        let db = Connection::open_default()
            .map(|conn| SpinDb { conn })
            .map_err(|e| StoreError(format!("cannot open the default database: {e:?}")))?;
        db.conn
            .execute("PRAGMA busy_timeout = 0", &[])
            .map_err(|e| StoreError(format!("{e:?}")))?;
        Ok(db)
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

/// SQLite's "database is locked" (SQLITE_BUSY): the statement did nothing and may
/// be tried again.
fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let values: Vec<Value> = params.iter().map(to_spin).collect();
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        let result = loop {
            match self.conn.execute(sql, &values) {
                Ok(result) => break result,
                Err(e) => {
                    let message = format!("{e:?}");
                    if !is_busy(&message) || started.elapsed() > BUSY_TIMEOUT {
                        return Err(StoreError(message));
                    }
                    // Up to twice the pause, at random, so that waiters spread out.
                    let jitter = u64::from(crate::util::ids::random_u32()) % 1000;
                    std::thread::sleep(pause + pause.mul_f64(jitter as f64 / 1000.0));
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
            }
        };
        Ok(result
            .rows
            .into_iter()
            .map(|r| Row(r.values.into_iter().map(from_spin).collect()))
            .collect())
    }
}
