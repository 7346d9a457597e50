//! The sizes of the workloads (beside the storage round trips', in storage_names.rs):
//! the tracking plan's shape (its values follow from `--quick`, see
//! `Options::tracking_plan`) and the name of its log-metric figures, and the fixed
//! sizes of the stalled-clients, largest-requests and web UI workloads. The workloads
//! run with them and the report describes them, so neither imports the other.

use crate::loadgen::LoadOptions;

/// Sizes of the tracking workloads.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub runs: usize,
    pub writers: usize,
    pub batches: usize,
    pub batch_size: usize,
    /// Connections of each log-metric figure (one figure per count).
    pub log_metric_clients: [usize; 2],
    pub log_metric: LoadOptions,
    pub search_queries: usize,
    pub history_points: usize,
    pub history_queries: usize,
}

/// The name of the log-metric figure at `clients` connections.
pub fn log_metric_workload(clients: usize) -> String {
    format!("log-metric, {clients} connections")
}

/// Stalled clients: connections held stalled while the app is measured.
pub const STALLED: usize = 1000;

/// Largest requests: copies of each request in flight at once.
pub const AT_ONCE: usize = 4;
/// Largest requests: points of the long metric history read back without `max_results`.
pub const HISTORY_POINTS: usize = 300_000;
/// Largest requests: size of the artifact uploaded and downloaded through the
/// artifact proxy.
pub const ARTIFACT_MIB: usize = 100;

/// Web UI: runs of the seeded experiment.
pub const UI_RUNS: usize = 1000;
/// Web UI: params and metrics per run.
pub const UI_KEYS: usize = 5;
/// Web UI: cold loads of the runs table, each in a new browser context.
pub const UI_COLD_LOADS: usize = 5;
/// Web UI: replays of the run page's `GetRun` GraphQL request.
pub const UI_GRAPHQL_REQUESTS: usize = 200;
