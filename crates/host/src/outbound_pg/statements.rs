//! The statements a pooled connection has prepared, kept with it (deadpool's
//! per-connection cache, which outlives each guest's use of the connection and
//! survives the cleaning on hand-back), so that a statement text seen before
//! is bound and executed in one round trip instead of being prepared again.
//!
//! A statement is prepared as the driver prepares an uncached one (parameter
//! types inferred by the server), so a guest cannot tell the difference. The
//! cache is bounded: past [`MAX_STATEMENTS`] it is emptied (the server closes
//! those statements) and refills with what is in use. A cached statement the
//! server no longer knows (the guest ran `DEALLOCATE`/`DISCARD ALL`) or whose
//! result columns changed under it (DDL) is prepared anew and run once more.

use deadpool_postgres::ClientWrapper;
use std::future::Future;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Error, Statement};

/// Most statements one connection keeps prepared.
const MAX_STATEMENTS: usize = 256;

/// Prepares `sql` (or takes it from the cache) and runs `run` with it.
pub async fn run<T, F, Fut>(client: &ClientWrapper, sql: &str, run: F) -> Result<T, Error>
where
    F: Fn(Statement) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let cache = &client.statement_cache;
    if cache.size() >= MAX_STATEMENTS {
        cache.clear();
    }
    let statement = client.prepare_cached(sql).await?;
    match run(statement.clone()).await {
        Err(e) if is_stale(&e) => {
            let _ = cache.remove(sql, &[]);
            let statement = client.prepare_cached(sql).await?;
            run(statement).await
        }
        result => result,
    }
}

/// Whether a failure means the cached statement, not the guest's statement, is wrong.
fn is_stale(error: &Error) -> bool {
    let Some(db) = error.as_db_error() else {
        return false;
    };
    // 26000: the server has no prepared statement of that name any more.
    db.code() == &SqlState::INVALID_SQL_STATEMENT_NAME
        || (db.code() == &SqlState::FEATURE_NOT_SUPPORTED
            && db.message() == "cached plan must not change result type")
}
