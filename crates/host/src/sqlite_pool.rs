//! A small pool of rusqlite connections to one database file, shared by the
//! SQLite and key-value capabilities.
//!
//! Every connection runs in WAL mode with a busy timeout, so concurrent guests
//! wait for the write lock instead of seeing "database is locked". A connection
//! handed back with an open transaction (a guest that trapped between BEGIN and
//! COMMIT) is rolled back before reuse.

use crate::runtime_config::StorageLocation;
use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a statement waits for another connection's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per database.
const MAX_IDLE: usize = 32;

pub struct Pool {
    /// What rusqlite opens: a file path, or a shared-cache in-memory URI.
    target: String,
    in_memory: bool,
    idle: Mutex<Vec<Connection>>,
    /// In-memory databases vanish with their last connection: keep one open.
    _keep_alive: Option<Mutex<Connection>>,
}

impl Pool {
    /// Opens (creating if needed) the database and switches it to WAL.
    pub fn open(location: &StorageLocation) -> Result<Arc<Self>> {
        static MEMORY_IDS: AtomicU64 = AtomicU64::new(0);
        let (target, in_memory) = match location {
            StorageLocation::File(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create directory {}", dir.display()))?;
                }
                (path.to_string_lossy().into_owned(), false)
            }
            StorageLocation::InMemory => {
                let id = MEMORY_IDS.fetch_add(1, Ordering::Relaxed);
                (
                    format!(
                        "file:spinflow-mem-{}-{id}?mode=memory&cache=shared",
                        std::process::id()
                    ),
                    true,
                )
            }
        };
        let mut pool = Pool {
            target,
            in_memory,
            idle: Mutex::new(Vec::new()),
            _keep_alive: None,
        };
        let first = pool
            .connect()
            .with_context(|| format!("cannot open SQLite database {}", pool.target))?;
        if !in_memory {
            // WAL is a property of the file: set it once, not per connection.
            first.pragma_update(None, "journal_mode", "WAL")?;
        }
        if in_memory {
            pool._keep_alive = Some(Mutex::new(first));
        } else {
            pool.idle.lock().unwrap().push(first);
        }
        Ok(Arc::new(pool))
    }

    fn connect(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.target, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        if !self.in_memory {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        Ok(conn)
    }

    /// A connection for exclusive use until the returned guard is dropped.
    /// Blocking: call it off the async executor.
    pub fn checkout(self: &Arc<Self>) -> Result<PooledConnection> {
        let idle = self.idle.lock().unwrap().pop();
        let conn = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        Ok(PooledConnection {
            conn: Some(conn),
            pool: self.clone(),
        })
    }
}

pub struct PooledConnection {
    conn: Option<Connection>,
    pool: Arc<Pool>,
}

impl std::ops::Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return; // unusable: let it close
        }
        let mut idle = self.pool.idle.lock().unwrap();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// Runs blocking SQLite work on tokio's blocking pool.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .context("SQLite worker task failed")
}
