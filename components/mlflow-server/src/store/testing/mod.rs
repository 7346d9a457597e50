//! Databases for unit tests: [`db`] gives a fresh one with every migration applied —
//! in-memory SQLite, or, when the tests run again on PostgreSQL (the
//! `every_test_passes_on_postgres` test below re-runs this test binary with
//! [`POSTGRES_URL_ENV`] set), a schema of its own on that server.

#[cfg(test)]
mod concurrency;

use super::db::{Db, Dialect, Row, SqlValue};
use super::migrations::ensure_schema;
use super::native::NativeDb;
use super::pg_native::PgNativeDb;
use crate::error::StoreError;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Set (to a `postgres://` URL) when the tests run on PostgreSQL.
pub const POSTGRES_URL_ENV: &str = "MLFLOW_SERVER_TEST_POSTGRES_URL";

/// A test database of either kind.
pub enum TestDb {
    Sqlite(NativeDb),
    Postgres(PgNativeDb),
}

impl Db for TestDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        match self {
            TestDb::Sqlite(db) => db.execute(sql, params),
            TestDb::Postgres(db) => db.execute(sql, params),
        }
    }
    fn dialect(&self) -> Dialect {
        match self {
            TestDb::Sqlite(db) => db.dialect(),
            TestDb::Postgres(db) => db.dialect(),
        }
    }
}

/// The URL of the PostgreSQL server the tests run on, if they do.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())
}

/// `n` connections to one new, empty schema of the test server (each test gets one).
pub fn postgres_connections(url: &str, n: usize) -> Vec<PgNativeDb> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let schema = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    (0..n)
        .map(|_| {
            PgNativeDb::connect(url, Some(&schema)).unwrap_or_else(|e| {
                panic!("cannot connect to the test PostgreSQL at {url}: {}", e.0)
            })
        })
        .collect()
}

/// A fresh database with every migration applied.
pub fn db() -> TestDb {
    let db = match postgres_url() {
        Some(url) => TestDb::Postgres(postgres_connections(&url, 1).remove(0)),
        None => TestDb::Sqlite(NativeDb::open_in_memory()),
    };
    ensure_schema(&db).expect("migrations apply");
    db
}

/// Runs every test of this binary again on a PostgreSQL server of its own, which this
/// test starts and stops; fails with the reason when PostgreSQL cannot be started.
#[test]
fn every_test_passes_on_postgres() {
    if postgres_url().is_some() {
        return; // this is the re-run itself
    }
    let server = test_postgres::start(false);
    let mut rerun = std::process::Command::new(std::env::current_exe().unwrap());
    rerun.env(POSTGRES_URL_ENV, server.url());
    // Property tests make a database per case (a schema and its migrations: ~50 ms on
    // PostgreSQL); the SQL they reach is the same in every case, so fewer cases do,
    // unless asked for more.
    if std::env::var_os("PROPTEST_CASES").is_none() {
        rerun.env("PROPTEST_CASES", "16");
    }
    let out = rerun
        .args([
            "--skip",
            "every_test_passes_on_postgres",
            "--test-threads",
            "2",
        ])
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .filter(|l| l.starts_with("test result:"))
        .collect::<Vec<_>>()
        .join("\n");
    println!("on PostgreSQL: {summary}");
    assert!(
        out.status.success(),
        "tests failed on PostgreSQL:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
