//! A small pool of rusqlite connections to one database file, shared by the
//! SQLite and key-value capabilities.
//!
//! Every connection runs in WAL mode, with `synchronous = NORMAL`: a file
//! database's writes are made durable by its [`WalSyncer`] (group commit) before
//! they are acknowledged. Writers of one database file take its
//! [`WriteGate`] first, a FIFO queue in this process, so they wait their turn on
//! a tokio semaphore instead of in SQLite's busy handler (whose back-off sleeps
//! grow to tens of milliseconds under contention). Readers take no gate: WAL
//! lets them run beside the writer. The busy timeout stays for writers in
//! other processes. A connection handed back with an open transaction (a guest
//! that trapped between BEGIN and COMMIT) is rolled back before reuse. The WAL
//! of a file is checkpointed by a thread of its own ([`Checkpointer`]), not
//! inside commits.

use crate::runtime_config::StorageLocation;
use crate::wal_checkpointer::Checkpointer;
use crate::wal_sync::{Ticket, WalSyncer};
use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// Shared by every pool of the same file.
    gate: Arc<WriteGate>,
    /// The queue of the batch writer, started by the first [`Pool::submit_write`].
    writer: Mutex<Option<std::sync::mpsc::Sender<Box<dyn WriteJob>>>>,
    /// Checkpoints a file database's WAL (none in memory: no WAL there).
    checkpointer: Option<Checkpointer>,
    /// Makes a file database's commits durable (none in memory).
    syncer: Option<Arc<WalSyncer>>,
}

/// A short write (one statement, or a read then one statement) run by the
/// batch writer inside the batch's transaction. A failing statement changes
/// nothing, so the other jobs of the batch go on.
pub trait WriteJob: Send {
    fn run(&mut self, conn: &Connection);
    /// Called once the batch is over: `Ok` if it was committed, else why not
    /// (possibly without `run` having been called).
    fn complete(self: Box<Self>, batch: Result<(), String>);
}

/// Jobs committed together at most.
const MAX_BATCH: usize = 256;

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

    pub fn is_in_memory(&self) -> bool {
        self.in_memory
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
                .spawn(move || run_writer(conn, rx, gate, syncer, runtime))?;
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

/// The batch writer's loop; it ends when its pool is dropped.
fn run_writer(
    conn: Connection,
    jobs: std::sync::mpsc::Receiver<Box<dyn WriteJob>>,
    gate: Arc<WriteGate>,
    syncer: Option<Arc<WalSyncer>>,
    runtime: tokio::runtime::Handle,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let pass = runtime.block_on(gate.enter(ANONYMOUS));
        let mut outcome = match &pass {
            Ok(_) => conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if outcome.is_ok() {
            for job in batch.iter_mut() {
                job.run(&conn);
                if conn.is_autocommit() {
                    // An error (disk full, I/O) rolled the whole transaction back.
                    outcome = Err("rolled back by an error of the same write batch".into());
                    break;
                }
            }
            if outcome.is_ok() {
                outcome = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
            }
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        drop(pass);
        if let (Ok(()), Some(syncer)) = (&outcome, &syncer) {
            outcome = runtime.block_on(syncer.durable(syncer.committed()));
        }
        for job in batch {
            job.complete(outcome.clone());
        }
    }
}

/// Identifies one instance (one request) to the write gates, so that it is
/// never queued behind a gate it holds itself. [`ANONYMOUS`] is an owner that
/// never holds a gate across calls (host code, tests).
pub type Owner = u64;
pub const ANONYMOUS: Owner = 0;

/// A fresh owner id for a new instance.
pub fn new_owner() -> Owner {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The in-process write gate of one database file: one writer at a time, the
/// others queued in arrival order (tokio's semaphore is fair).
pub struct WriteGate {
    queue: Arc<Semaphore>,
    /// The owner of the current pass, if it is not anonymous.
    holder: Mutex<Option<Owner>>,
}

/// Why a gate was not entered.
#[derive(Debug, PartialEq, Eq)]
pub enum GateError {
    /// The same instance holds it (an open transaction on another connection):
    /// waiting would never end, so the write fails as SQLite's lock would.
    HeldBySelf,
    /// Waited as long as the busy timeout (e.g. two instances each holding a
    /// transaction the other waits for, across two databases or through a chained request).
    TimedOut,
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateError::HeldBySelf => f.write_str(
                "database is locked: this instance has a write transaction open on another connection to the same database",
            ),
            GateError::TimedOut => write!(
                f,
                "database is locked: no turn to write within {}s",
                BUSY_TIMEOUT.as_secs()
            ),
        }
    }
}

/// The right to write, until dropped.
pub struct GatePass {
    gate: Arc<WriteGate>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for GatePass {
    fn drop(&mut self) {
        // Cleared before the permit (a later field) goes to the next in line.
        *self.gate.holder.lock().unwrap() = None;
    }
}

impl WriteGate {
    pub(crate) fn new() -> Self {
        Self {
            queue: Arc::new(Semaphore::new(1)),
            holder: Mutex::new(None),
        }
    }

    /// The gate of a file, shared by every pool that opens it in this process
    /// (a key-value store and a SQLite database may be the same file).
    fn for_file(path: PathBuf) -> Arc<Self> {
        static GATES: Mutex<Option<HashMap<PathBuf, Weak<WriteGate>>>> = Mutex::new(None);
        let mut gates = GATES.lock().unwrap();
        let gates = gates.get_or_insert_with(HashMap::new);
        gates.retain(|_, g| g.strong_count() > 0);
        if let Some(gate) = gates.get(&path).and_then(Weak::upgrade) {
            return gate;
        }
        let gate = Arc::new(Self::new());
        gates.insert(path, Arc::downgrade(&gate));
        gate
    }

    /// Whether `owner` (not anonymous) holds the pass now.
    pub fn is_held_by(&self, owner: Owner) -> bool {
        owner != ANONYMOUS && *self.holder.lock().unwrap() == Some(owner)
    }

    /// Whether nobody holds the pass.
    #[cfg(test)]
    pub fn is_free(&self) -> bool {
        self.queue.available_permits() == 1
    }

    /// Waits for this gate's turn. Cancel-safe: dropping the future leaves the queue.
    pub async fn enter(self: &Arc<Self>, owner: Owner) -> Result<GatePass, GateError> {
        if self.is_held_by(owner) {
            return Err(GateError::HeldBySelf);
        }
        let permit = match self.queue.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                match tokio::time::timeout(BUSY_TIMEOUT, self.queue.clone().acquire_owned()).await {
                    Ok(p) => p.expect("the gate's semaphore is never closed"),
                    Err(_) => return Err(GateError::TimedOut),
                }
            }
        };
        if owner != ANONYMOUS {
            *self.holder.lock().unwrap() = Some(owner);
        }
        Ok(GatePass {
            gate: self.clone(),
            _permit: permit,
        })
    }
}

/// Runs blocking SQLite work on tokio's blocking pool.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .context("SQLite worker task failed")
}
