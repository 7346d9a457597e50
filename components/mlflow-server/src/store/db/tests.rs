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
