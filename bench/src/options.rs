//! What `bench all` was asked to do: the options of the command line, the workloads they
//! select and the loads they imply. The harness runs the workloads and each workload
//! reads these options, so they live here rather than in the harness: no workload
//! imports the module that runs it.

use std::path::PathBuf;
use std::time::Duration;

use crate::loadgen::LoadOptions;
use crate::settings::Plan;
use crate::systems::{self, Runtime};
use crate::{postgres_names, storage_names};

/// The workloads `--workloads` selects from, in the order `bench all` runs them:
/// the host figures (trivial component, cold start), the storage round trips,
/// prediction, tracking, tracking on PostgreSQL, stalled clients, largest requests,
/// and the web UI.
pub const WORKLOADS: &[&str] = &[
    "host",
    storage_names::SELECTOR,
    "prediction",
    "tracking",
    postgres_names::SELECTOR,
    "stalled",
    "largest",
    "web-ui",
];

/// What `bench all` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub quick: bool,
    /// Only these systems (`spinflow` alone still brings the native floor).
    pub only: Option<Vec<String>>,
    /// Only these workloads (names of [`WORKLOADS`]); all of them when `None`.
    pub workloads: Option<Vec<String>>,
    /// Where the report and plots go.
    pub out: PathBuf,
    pub reps: usize,
    pub build: bool,
    pub plots: bool,
    /// The real Spin CLI: with it, the Spin systems run too (`spin`, `spin-registry`,
    /// `spin-baked`, tracking `spin`, `spin (trivial component)`) and `spinflow-baked`.
    pub spin_bin: Option<PathBuf>,
    /// Another checkout of this repository with its components built: with it, its app
    /// runs too, as `spinflow-baseline` (prediction, tracking, the whole app's cold start).
    pub baseline_app: Option<PathBuf>,
}

impl Options {
    pub fn wants(&self, system: &str) -> bool {
        if systems::needs_spin_cli(system) && self.spin_bin.is_none() {
            return false;
        }
        if systems::needs_baseline_app(system) && self.baseline_app.is_none() {
            return false;
        }
        match &self.only {
            None => self.spin_bin.is_some() || !systems::only_with_spin_cli(system),
            Some(list) => {
                list.iter().any(|s| s == system)
                    || (system == "floor" && list.iter().any(|s| s == "spinflow"))
            }
        }
    }

    /// The runtimes our app runs in, as `--only` selects them: `spinflow` (our host)
    /// and `spin` (the real Spin CLI), each with its system name.
    pub fn runtimes(&self) -> Vec<(Runtime, &'static str)> {
        [(Runtime::Spinflow, "spinflow"), (Runtime::Spin, "spin")]
            .into_iter()
            .filter(|(_, system)| self.wants(system))
            .collect()
    }

    /// Whether the run includes `workload` (one of [`WORKLOADS`]).
    pub fn runs(&self, workload: &str) -> bool {
        debug_assert!(WORKLOADS.contains(&workload), "unknown workload {workload}");
        self.workloads
            .as_ref()
            .is_none_or(|list| list.iter().any(|w| w == workload))
    }

    pub fn predict_load(&self) -> LoadOptions {
        if self.quick {
            LoadOptions {
                connections: 16,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(2),
            }
        } else {
            LoadOptions {
                connections: 16,
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(6),
            }
        }
    }

    pub fn tracking_plan(&self) -> Plan {
        let log_metric = if self.quick {
            LoadOptions {
                connections: 8,
                warmup: Duration::from_millis(500),
                duration: Duration::from_secs(2),
            }
        } else {
            LoadOptions {
                connections: 8,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(6),
            }
        };
        Plan {
            runs: 200,
            writers: 8,
            batches: if self.quick { 4 } else { 20 },
            batch_size: 1000,
            // 8 as in the earlier reports, and 16, where the issue measures its p99.
            log_metric_clients: [8, 16],
            log_metric,
            search_queries: if self.quick { 10 } else { 50 },
            history_points: 200,
            history_queries: if self.quick { 20 } else { 100 },
        }
    }
}
