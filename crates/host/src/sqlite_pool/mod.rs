//! SQLite database files as the key-value and SQLite capabilities use them: a
//! small pool of rusqlite connections per file, and what keeps the file's
//! writers fair and durable.
//!
//! Every connection of a file database runs in WAL mode with
//! `synchronous = NORMAL`; its writes are made durable by the file's syncer
//! (`wal_sync`: group commit) before they are acknowledged. Writers take the
//! file's write gate first (`write_gate`). Readers take no gate: WAL lets them
//! run beside the writer. The busy timeout stays for writers in other
//! processes. Writes that must not wait on the async executor go to the file's
//! batch writer (`batch_writer`). The log is checkpointed by a thread of its own
//! (`wal_checkpointer`), not inside commits. A connection handed back with an
//! open transaction (a guest that trapped between BEGIN and COMMIT) is rolled
//! back before reuse. In-memory databases (shared cache) have none of the WAL
//! machinery.

mod batch_writer;
mod wal_checkpointer;
mod wal_sync;
mod write_gate;

pub use batch_writer::WriteJob;
pub use wal_sync::Ticket;
pub use write_gate::{GateError, GatePass, WriteGate, BUSY_TIMEOUT};

use crate::runtime_config::StorageLocation;
use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wal_checkpointer::Checkpointer;
use wal_sync::WalSyncer;
/// Idle connections kept per database.
const MAX_IDLE: usize = 32;

pub struct Pool {
    /// What rusqlite opens: a file path, or a shared-cache in-memory URI.
    target: String,
    in_memory: bool,
    idle: Mutex<Vec<Connection>>,
    /// In-memory databases vanish with their last connection: keep one open.
    _keep_alive: Option<Mutex<Connection>>,
    /// Shared by every pool of the same file.
    gate: Arc<WriteGate>,
    /// The queue of the batch writer, started by the first [`Pool::submit_write`].
    writer: Mutex<Option<std::sync::mpsc::Sender<Box<dyn WriteJob>>>>,
    /// Checkpoints a file database's WAL (none in memory: no WAL there).
    checkpointer: Option<Checkpointer>,
    /// Makes a file database's commits durable (none in memory).
    syncer: Option<Arc<WalSyncer>>,
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
            gate: Arc::new(WriteGate::new()),
            writer: Mutex::new(None),
            checkpointer: None,
            syncer: None,
        };
        let first = pool
            .connect()
            .with_context(|| format!("cannot open SQLite database {}", pool.target))?;
        if let StorageLocation::File(path) = location {
            // The file exists now: its canonical path names it whatever path reached it.
            pool.gate = WriteGate::for_file(std::fs::canonicalize(path)?);
        }
        if !in_memory {
            // WAL is a property of the file: set it once, not per connection.
            first.pragma_update(None, "journal_mode", "WAL")?;
            let wal = PathBuf::from(format!("{}-wal", pool.target));
            let checkpointer = Checkpointer::start(pool.connect()?, wal, pool.gate.clone())?;
            checkpointer.attach(&first)?;
            pool.checkpointer = Some(checkpointer);
            pool.syncer = Some(WalSyncer::new(&pool.target));
        }
        if in_memory {
            pool._keep_alive = Some(Mutex::new(first));
        } else {
            pool.idle.lock().unwrap().push(first);
        }
        Ok(Arc::new(pool))
    }

    /// Counts a commit that just completed on this database; wait for the ticket
    /// with [`Pool::durable`] before acknowledging the write. `None` in memory.
    pub fn committed(&self) -> Option<Ticket> {
        self.syncer.as_ref().map(|s| s.committed())
    }

    /// The syncer of a file database.
    #[cfg(test)]
    pub fn syncer(&self) -> Option<&Arc<WalSyncer>> {
        self.syncer.as_ref()
    }

    /// Returns once the commit of `ticket` is on disk (see [`WalSyncer`]).
    pub async fn durable(&self, ticket: Option<Ticket>) -> Result<(), String> {
        match (&self.syncer, ticket) {
            (Some(syncer), Some(ticket)) => syncer.durable(ticket).await,
            _ => Ok(()),
        }
    }

    /// The write gate of this pool's database.
    pub fn gate(&self) -> &Arc<WriteGate> {
        &self.gate
    }

    /// Queues `job` for this database's batch writer: one thread with its own
    /// connection that takes every queued job in arrival order, runs them in
    /// one `BEGIN IMMEDIATE` ... `COMMIT` under the write gate, makes the commit
    /// durable, then completes each with the commit's outcome. Writers thus wait neither in SQLite's
    /// busy handler nor for a thread hop per write, and share one commit.
    /// Call it from within a tokio runtime.
    pub fn submit_write(&self, job: Box<dyn WriteJob>) -> Result<()> {
        let mut writer = self.writer.lock().unwrap();
        if writer.is_none() {
            let conn = self.connect()?;
            let (tx, rx) = std::sync::mpsc::channel();
            let gate = self.gate.clone();
            let syncer = self.syncer.clone();
            let runtime = tokio::runtime::Handle::current();
            std::thread::Builder::new()
                .name("spinflow-sqlite-writer".into())
                .spawn(move || batch_writer::run_writer(conn, rx, gate, syncer, runtime))?;
            *writer = Some(tx);
        }
        writer
            .as_ref()
            .expect("started above")
            .send(job)
            .map_err(|_| anyhow::anyhow!("the SQLite writer thread has stopped"))
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
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.attach(&conn)?;
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

impl PooledConnection {
    /// The pool this connection came from.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return; // unusable: let it close
        }
        // A guest may have changed how long the connection waits for a lock
        // (`PRAGMA busy_timeout`): the next user gets the pool's setting back.
        if conn.busy_timeout(BUSY_TIMEOUT).is_err() {
            return;
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
