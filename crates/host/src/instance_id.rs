//! Which instance makes a host call. Storage backends use it to tell an
//! instance's own hold on a database from another's: an instance must never
//! wait for a lock that it holds itself (see `sqlite_pool::write_gate`).

use std::sync::atomic::{AtomicU64, Ordering};

/// One instance (one request of a WASIp2 component, one reused instance of a
/// WASIp3 one).
pub type InstanceId = u64;

/// Host code and tests: an id that never holds a lock across calls.
pub const ANONYMOUS: InstanceId = 0;

/// A fresh id for a new instance.
pub fn new_instance_id() -> InstanceId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
