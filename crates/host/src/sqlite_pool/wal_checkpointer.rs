//! WAL checkpoints on a thread of their own.
//!
//! By default SQLite copies the write-ahead log back into the database file
//! inside whichever commit takes the log past 1,000 pages, with an fsync of the
//! log and one of the database. Key-value commits run on the async executor
//! (see `key_value::sqlite_backend`), so under load that stalled one of its worker
//! threads for ~4 ms every ~90 ms, and every request queued behind it. Our
//! connections turn automatic checkpoints off; their commits only mark the log
//! dirty, and this thread checkpoints shortly after, off the executor.
//!
//! A checkpoint must also finish: SQLite starts the log over only once all of
//! it is copied, and writers appending during a checkpoint would let the log
//! grow without end. So the copy runs under the file's write gate, where no
//! writer of this process commits; the slow part, flushing the log to disk, is
//! done just before, outside the gate, so writers wait for the copy only.

use super::write_gate::WriteGate;
use crate::instance_id::ANONYMOUS;
use anyhow::Result;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long after a commit the log is checkpointed: commits arriving meanwhile
/// share the checkpoint, as they shared one every 1,000 pages before.
const GATHER: Duration = Duration::from_millis(100);

/// Checkpoints one database file; stops when dropped.
pub struct Checkpointer {
    shared: Arc<Shared>,
}

struct Shared {
    dirty: AtomicBool,
    /// Set when the owner is dropped: the thread checkpoints once more and ends.
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Checkpointer {
    /// Starts the checkpoint thread with `conn`, its own connection to the
    /// file, whose log is `wal` and whose writers take `gate`.
    pub fn start(conn: Connection, wal: PathBuf, gate: Arc<WriteGate>) -> Result<Self> {
        let shared = Arc::new(Shared {
            dirty: AtomicBool::new(false),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        // The gate is a tokio semaphore, with a timeout: waited on here.
        let gate_waiter = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let file = Database {
            conn,
            wal,
            gate,
            gate_waiter,
        };
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("spinflow-sqlite-checkpoint".into())
            .spawn(move || run(file, &thread_shared))?;
        Ok(Self { shared })
    }

    /// Sets `conn` up to leave checkpoints to this thread: no automatic
    /// checkpoint in its commits, and a commit hook that wakes the thread.
    pub fn attach(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let shared = self.shared.clone();
        conn.commit_hook(Some(move || {
            shared.committed();
            false // let the commit go on
        }));
        Ok(())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self.shared.stopped.lock().unwrap() = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn committed(&self) {
        if !self.dirty.swap(true, Ordering::AcqRel) {
            // Taken so the notification cannot slip between the thread's check
            // and its wait.
            let _stopped = self.stopped.lock().unwrap();
            self.wake.notify_one();
        }
    }
}

/// What the thread checkpoints.
struct Database {
    conn: Connection,
    wal: PathBuf,
    gate: Arc<WriteGate>,
    gate_waiter: tokio::runtime::Runtime,
}

impl Database {
    fn checkpoint(&self) -> Result<()> {
        // Most of the log is flushed here, so SQLite's own flush below is short.
        match std::fs::File::open(&self.wal) {
            Ok(log) => log.sync_data()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let _pass = self
            .gate_waiter
            .block_on(self.gate.enter(ANONYMOUS))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // PASSIVE copies what it can without waiting for readers; pages a reader
        // still needs are copied by the next checkpoint.
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

fn run(file: Database, shared: &Shared) {
    loop {
        let stopped = {
            let mut stopped = shared.stopped.lock().unwrap();
            while !*stopped && !shared.dirty.load(Ordering::Acquire) {
                stopped = shared.wake.wait(stopped).unwrap();
            }
            *stopped
        };
        if !stopped {
            std::thread::sleep(GATHER);
        }
        shared.dirty.store(false, Ordering::Release);
        if let Err(e) = file.checkpoint() {
            eprintln!("spinflow: SQLite checkpoint failed: {e:#}");
        }
        if stopped {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Instant;

    /// Opened as the pool opens connections to a file.
    fn open(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// A database in `dir` with its checkpointer, and a connection attached to it.
    fn database(dir: &Path) -> (PathBuf, Arc<WriteGate>, Checkpointer, Connection) {
        let path = dir.join("db.sqlite");
        let gate = Arc::new(WriteGate::new());
        let wal = dir.join("db.sqlite-wal");
        let checkpointer = Checkpointer::start(open(&path), wal, gate.clone()).unwrap();
        let conn = open(&path);
        checkpointer.attach(&conn).unwrap();
        conn.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        (path, gate, checkpointer, conn)
    }

    #[test]
    fn commits_leave_the_log_to_the_thread_which_copies_it_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _gate, _checkpointer, conn) = database(dir.path());
        let autocheckpoint: i64 = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 0, "commits must not checkpoint inline");

        // ~2 MiB in 500 commits, none of which checkpoints.
        for _ in 0..500 {
            conn.execute("INSERT INTO t VALUES (zeroblob(4096))", [])
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while file_len(&path) < 2 << 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            file_len(&path) >= 2 << 20,
            "the database file has {} bytes: no checkpoint copied the log",
            file_len(&path)
        );
    }

    #[test]
    fn the_log_starts_over_under_continuous_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (_path, gate, _checkpointer, conn) = database(dir.path());
        let wal = dir.path().join("db.sqlite-wal");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        // Writers commit back to back, each under the gate as the host's do, for
        // several checkpoint periods.
        let first_sequence = log_sequence(&wal);
        let start = Instant::now();
        while start.elapsed() < GATHER * 5 && log_sequence(&wal) == first_sequence {
            let _pass = runtime.block_on(gate.enter(ANONYMOUS)).unwrap();
            conn.execute("INSERT INTO t VALUES (zeroblob(100))", [])
                .unwrap();
        }
        assert_ne!(
            log_sequence(&wal),
            first_sequence,
            "the log was never started over: it grows without end"
        );
    }

    /// The checkpoint sequence number in the log's header, which SQLite bumps
    /// each time it starts the log over.
    fn log_sequence(wal: &Path) -> [u8; 4] {
        use std::io::Read;
        let mut header = [0; 16];
        match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
            Ok(()) => header[12..16].try_into().unwrap(),
            Err(_) => [0; 4],
        }
    }

    #[test]
    fn dropping_the_checkpointer_stops_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let (_path, _gate, checkpointer, conn) = database(dir.path());
        let shared = Arc::downgrade(&checkpointer.shared);
        // The connection's commit hook holds the shared state too; then only the
        // thread does.
        drop(conn);
        drop(checkpointer);
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.strong_count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(shared.strong_count(), 0, "the thread still runs");
    }
}
