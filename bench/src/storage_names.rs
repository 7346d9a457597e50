//! The storage workload's names and sizes: its `--workloads` selector, its app, the
//! names of its workloads and systems, and the sizes of its keys and values. The
//! workload (storage.rs) uses setup and the system list, which name its app and its
//! systems, and the report reads its figures by these names without depending on the
//! workload, so the names live here, where no side imports another back.

/// The workload's name in `--workloads`.
pub const SELECTOR: &str = "storage";
/// The app's manifest (relative to the repository), served as it is by both runtimes.
pub const MANIFEST: &str = "bench/apps/roundtrip/spin.toml";
/// The component's crate (its .wasm is `roundtrip.wasm`).
pub const PACKAGE: &str = "roundtrip";
/// Keys (rows) each connection cycles through: every request overwrites a key its
/// connection wrote before, and no two connections share one.
pub const KEYS_PER_CONNECTION: u64 = 16;
/// Bytes of each value written.
pub const VALUE_BYTES: usize = 100;

pub const KV_16: &str = "storage: key-value round trip, 16 connections";
pub const KV_1: &str = "storage: key-value round trip, 1 connection";
pub const SQLITE_16: &str = "storage: SQLite round trip, 16 connections";
pub const SQLITE_1: &str = "storage: SQLite round trip, 1 connection";

pub const SPINFLOW_DISK: &str = "spinflow (storage app)";
pub const SPIN_DISK: &str = "spin (storage app)";
pub const SPINFLOW_MEMORY: &str = "spinflow (storage app, key-value in memory)";
pub const SPIN_MEMORY: &str = "spin (storage app, key-value in memory)";
