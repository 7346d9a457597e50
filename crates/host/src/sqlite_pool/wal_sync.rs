//! Durable commits with one sync for many: group commit for a WAL database file.
//!
//! Connections run with `synchronous = NORMAL`: a commit appends its frames to the
//! write-ahead log without syncing it. Before a write is acknowledged, its writer
//! waits here until the log has been synced (`fdatasync`) after its commit: then
//! the commit survives a power cut, as with `synchronous = FULL`, but writers that
//! commit while a sync is under way share the next one instead of each holding the
//! write lock through a sync of its own. SQLite syncs the log itself before a
//! checkpoint copies frames into the database, so a synced frame is never lost to
//! a checkpoint either.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Proof of a commit, to wait on with [`WalSyncer::durable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

pub struct WalSyncer {
    wal: PathBuf,
    state: Mutex<State>,
    synced: Notify,
}

#[derive(Default)]
struct State {
    /// Commits counted so far.
    committed: u64,
    /// Every commit up to this count is on disk.
    synced: u64,
    /// A sync is under way (its caller will publish what it covered).
    syncing: bool,
    /// The log, opened at the first sync (it does not exist before the first write).
    file: Option<Arc<File>>,
}

impl WalSyncer {
    /// The syncer of the database file `db` (its log is `<db>-wal`).
    pub fn new(db: &str) -> Arc<Self> {
        Arc::new(Self {
            wal: PathBuf::from(format!("{db}-wal")),
            state: Mutex::new(State::default()),
            synced: Notify::new(),
        })
    }

    /// (commits counted, commits known on disk).
    #[cfg(test)]
    pub fn counts(&self) -> (u64, u64) {
        let state = self.state.lock().unwrap();
        (state.committed, state.synced)
    }

    /// Counts a commit that has just completed (SQLite returned from it).
    pub fn committed(&self) -> Ticket {
        let mut state = self.state.lock().unwrap();
        state.committed += 1;
        Ticket(state.committed)
    }

    /// Returns once the commit of `ticket` is on disk: a sync that started after it
    /// has finished. At most one sync runs at a time; whoever finds none running
    /// starts one covering every commit counted so far.
    pub async fn durable(&self, ticket: Ticket) -> Result<(), String> {
        loop {
            // Registered before the state is read, so a publish in between wakes it.
            let notified = self.synced.notified();
            let (target, file) = {
                let mut state = self.state.lock().unwrap();
                if state.synced >= ticket.0 {
                    return Ok(());
                }
                if state.syncing {
                    (None, None)
                } else {
                    state.syncing = true;
                    (Some(state.committed), state.file.clone())
                }
            };
            let Some(target) = target else {
                notified.await;
                continue;
            };
            let wal = self.wal.clone();
            let outcome = tokio::task::spawn_blocking(move || sync(&wal, file))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            let mut state = self.state.lock().unwrap();
            state.syncing = false;
            match &outcome {
                Ok(file) => {
                    state.synced = state.synced.max(target);
                    state.file = Some(file.clone());
                }
                Err(_) => state.file = None,
            }
            drop(state);
            self.synced.notify_waiters();
            outcome?;
        }
    }
}

/// Syncs the log's data; the first time, the directory too, so that the log file's
/// entry is on disk.
fn sync(wal: &std::path::Path, file: Option<Arc<File>>) -> Result<Arc<File>, String> {
    let file = match file {
        Some(file) => file,
        None => {
            let file = File::open(wal).map_err(|e| format!("{}: {e}", wal.display()))?;
            if let Some(dir) = wal.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            Arc::new(file)
        }
    };
    file.sync_data()
        .map_err(|e| format!("{}: {e}", wal.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_commit_is_durable_after_a_sync_that_began_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("d.db");
        std::fs::write(dir.path().join("d.db-wal"), b"frames").unwrap();
        let syncer = WalSyncer::new(db.to_str().unwrap());
        runtime().block_on(async {
            let first = syncer.committed();
            syncer.durable(first).await.unwrap();
            assert_eq!(syncer.state.lock().unwrap().synced, 1);
            // Many writers at once: every one returns, and they share syncs.
            let tickets: Vec<Ticket> = (0..50).map(|_| syncer.committed()).collect();
            let waits = tickets.into_iter().map(|t| {
                let s = syncer.clone();
                tokio::spawn(async move { s.durable(t).await })
            });
            for w in waits.collect::<Vec<_>>() {
                w.await.unwrap().unwrap();
            }
            assert_eq!(syncer.state.lock().unwrap().synced, 51);
        });
    }

    #[test]
    fn a_log_that_cannot_be_synced_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = WalSyncer::new(dir.path().join("missing.db").to_str().unwrap());
        let ticket = syncer.committed();
        let err = runtime().block_on(syncer.durable(ticket)).unwrap_err();
        assert!(err.contains("missing.db-wal"), "{err}");
    }
}
