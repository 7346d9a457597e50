//! The batch writer of a database file: one thread with its own connection
//! that takes every queued write job in arrival order, runs them in one
//! `BEGIN IMMEDIATE` ... `COMMIT` under the write gate, makes the commit
//! durable, then completes each job with the commit's outcome. Writers that
//! must not wait on the executor (for a write lock held by another process)
//! wait here, and share one commit.

use super::wal_sync::WalSyncer;
use super::write_gate::WriteGate;
use crate::instance_id::ANONYMOUS;
use rusqlite::Connection;
use std::sync::Arc;

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

/// The batch writer's loop; it ends when its pool is dropped.
pub(super) fn run_writer(
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
