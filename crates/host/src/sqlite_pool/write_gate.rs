//! The write gate of a database file: one writer of this process at a time,
//! the others queued in arrival order on a tokio semaphore (which is fair),
//! instead of in SQLite's busy handler, whose back-off sleeps grow to tens of
//! milliseconds under contention. Every pool of the same file shares its gate
//! (a key-value store and a SQLite database may be one file). The gate knows
//! which instance holds it, so that an instance whose write would wait for its
//! own transaction fails at once, as SQLite's lock would.

use crate::instance_id::{InstanceId, ANONYMOUS};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a writer waits for its turn, and a statement for another
/// process's write lock (SQLite's busy timeout).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The in-process write gate of one database file: one writer at a time, the
/// others queued in arrival order (tokio's semaphore is fair).
pub struct WriteGate {
    queue: Arc<Semaphore>,
    /// The owner of the current pass, if it is not anonymous.
    holder: Mutex<Option<InstanceId>>,
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
    pub(super) fn for_file(path: PathBuf) -> Arc<Self> {
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
    pub fn is_held_by(&self, owner: InstanceId) -> bool {
        owner != ANONYMOUS && *self.holder.lock().unwrap() == Some(owner)
    }

    /// Whether nobody holds the pass.
    #[cfg(test)]
    pub fn is_free(&self) -> bool {
        self.queue.available_permits() == 1
    }

    /// Waits for this gate's turn. Cancel-safe: dropping the future leaves the queue.
    pub async fn enter(self: &Arc<Self>, owner: InstanceId) -> Result<GatePass, GateError> {
        if let Some(entered) = self.try_enter(owner) {
            return entered;
        }
        match tokio::time::timeout(BUSY_TIMEOUT, self.queue.clone().acquire_owned()).await {
            Ok(p) => Ok(self.pass(owner, p.expect("the gate's semaphore is never closed"))),
            Err(_) => Err(GateError::TimedOut),
        }
    }

    /// Enters without waiting: `None` if another holder is in or writers are
    /// queued (the semaphore is fair, so nobody is passed over).
    pub fn try_enter(self: &Arc<Self>, owner: InstanceId) -> Option<Result<GatePass, GateError>> {
        if self.is_held_by(owner) {
            return Some(Err(GateError::HeldBySelf));
        }
        let permit = self.queue.clone().try_acquire_owned().ok()?;
        Some(Ok(self.pass(owner, permit)))
    }

    fn pass(self: &Arc<Self>, owner: InstanceId, permit: OwnedSemaphorePermit) -> GatePass {
        if owner != ANONYMOUS {
            *self.holder.lock().unwrap() = Some(owner);
        }
        GatePass {
            gate: self.clone(),
            _permit: permit,
        }
    }
}
