//! Whether the store is usable, for `/health`: one statement through the database, so
//! that a readiness probe sees an unreachable server, refused credentials or a broken
//! connection.

use crate::error::StoreError;
use crate::store::db::Db;

/// `Ok` when the database answers; else the database's own reason, for the operator.
pub fn check_store(db: &dyn Db) -> Result<(), StoreError> {
    db.execute("SELECT 1", &[]).map(drop)
}
