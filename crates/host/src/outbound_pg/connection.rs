//! The resource behind a guest's `connection` (every interface version).
//!
//! A connection goes back to its pool clean of the session state a guest may
//! have left (cursors, settings, role, listeners, advisory locks, temporary
//! tables, sequences: deadpool's `Clean` statements, which Spin runs when it
//! takes a pooled connection). The cleaning runs when the guest drops the
//! connection (or its instance ends), off the path of the next request that
//! takes it; a connection that cannot be cleaned in time is closed instead.

use deadpool_postgres::{ClientWrapper, Object, RecyclingMethod};
use std::time::Duration;

/// The statements that clean a session.
static CLEAN: RecyclingMethod = RecyclingMethod::Clean;
/// Longest cleaning before the connection is closed instead.
const CLEAN_TIMEOUT: Duration = Duration::from_secs(10);

/// A guest's open connection, taken from its address's pool.
pub struct PgConnection(Option<Object>);

impl PgConnection {
    pub(super) fn new(object: Object) -> Self {
        PgConnection(Some(object))
    }

    /// The driver's client (with its prepared statements).
    pub(super) fn client(&self) -> &ClientWrapper {
        self.0.as_ref().expect("a connection is open until dropped")
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        let Some(object) = self.0.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Nowhere to clean it: closed, never handed out dirty.
            drop(Object::take(object));
            return;
        };
        runtime.spawn(async move {
            let sql = CLEAN.query().unwrap_or_default();
            match tokio::time::timeout(CLEAN_TIMEOUT, object.simple_query(sql)).await {
                Ok(Ok(_)) => drop(object),
                _ => drop(Object::take(object)),
            }
        });
    }
}
