//! [`Db`] over Spin's SQLite interface (`spin:sqlite/sqlite@3.0.0`), used in the component.

use super::db::{Db, Row, SqlValue};
use crate::error::StoreError;
use spin_sdk::sqlite3::{Connection, Value};
use std::time::{Duration, Instant};

/// How long a statement keeps trying while another connection holds the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause before a statement's second try, the shortest pause, and how long a wait
/// takes to halve the pause (see [`pause_after`]).
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const SHORTEST_PAUSE: Duration = Duration::from_micros(100);
const HALVING_WAIT: Duration = Duration::from_millis(5);

pub struct SpinDb {
    conn: Connection,
}

impl SpinDb {
    /// Opens the `default` database that spin.toml grants to this component.
    ///
    /// Waiting for the write lock is done here ([`Db::execute`], [`pause_after`])
    /// rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between
    /// tries: with a dozen concurrent writers (each request is a connection of its own
    /// under Spin) the unlucky ones waited hundreds of milliseconds for a lock held about
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

/// The pause before the next try of a statement that has waited `waited` for the write
/// lock: the longer the wait, the shorter the pause (2 ms at first, 1 ms after 5 ms,
/// 0.5 ms after 15 ms, never under 0.1 ms), so the oldest waiters try most often and
/// tend to take the lock next. Pauses that grew with the wait (0.1 ms doubling to 2 ms)
/// let newcomers win again and again over old waiters: at 16 connections one log-metric
/// in a hundred waited over 100 ms. Between half and one and a half times that, at
/// random, so that waiters of the same age spread out.
fn pause_after(waited: Duration) -> Duration {
    let halving = HALVING_WAIT.as_secs_f64();
    let pause = FIRST_PAUSE.mul_f64(halving / (halving + waited.as_secs_f64()));
    let jitter = 0.5 + f64::from(crate::util::ids::random_u32() % 1000) / 1000.0;
    pause.max(SHORTEST_PAUSE).mul_f64(jitter)
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let values: Vec<Value> = params.iter().map(to_spin).collect();
        let started = Instant::now();
        let result = loop {
            match self.conn.execute(sql, &values) {
                Ok(result) => break result,
                Err(e) => {
                    let message = format!("{e:?}");
                    let waited = started.elapsed();
                    if !is_busy(&message) || waited > BUSY_TIMEOUT {
                        return Err(StoreError(message));
                    }
                    std::thread::sleep(pause_after(waited));
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
