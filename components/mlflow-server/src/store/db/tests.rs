//! Tests of the SQL seam: errors stay on the server, transactions roll back.

use super::*;
use crate::error::ErrorCode;
use crate::store::testing;

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

/// Two transactions that lock two rows in opposite orders deadlock on PostgreSQL, which
/// aborts one of them (SQLSTATE 40P01); `transaction` runs that one again, so both
/// writes land and neither caller sees an error. Runs in the PostgreSQL re-run.
#[test]
fn a_transaction_aborted_by_a_deadlock_runs_again_on_postgres() {
    let Some(url) = testing::postgres_url() else {
        return; // SQLite serializes writers on its lock: no deadlock to resolve
    };
    let dbs = testing::postgres_connections(&url, 2);
    dbs[0]
        .exec("CREATE TABLE t (id BIGINT PRIMARY KEY, x BIGINT)", &[])
        .unwrap();
    dbs[0]
        .exec("INSERT INTO t VALUES (1, 0), (2, 0)", &[])
        .unwrap();
    let barrier = std::sync::Barrier::new(2);
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for (db, (first, second)) in dbs.iter().zip([(1i64, 2i64), (2, 1)]) {
            let (barrier, attempts) = (&barrier, &attempts);
            s.spawn(move || {
                let mut met = false;
                transaction(db, || {
                    attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    db.exec("UPDATE t SET x = x + 1 WHERE id = ?", &params![first])?;
                    // Both hold their first row before either asks for its second.
                    if !met {
                        met = true;
                        barrier.wait();
                    }
                    db.exec("UPDATE t SET x = x + 1 WHERE id = ?", &params![second])
                })
                .unwrap();
            });
        }
    });
    let rows = dbs[0].query("SELECT x FROM t ORDER BY id", &[]).unwrap();
    assert_eq!(rows.iter().map(|r| r.int(0)).collect::<Vec<_>>(), [2, 2]);
    // The deadlock happened and was resolved by retries: at least one transaction ran
    // again (a retry can meet the other writer again under load, so maybe more than once).
    let attempts = attempts.into_inner();
    assert!(
        (3..=2 * (1 + CONFLICT_RETRIES)).contains(&attempts),
        "{attempts} attempts"
    );
}
