//! The names of the tracking-on-PostgreSQL workload: its `--workloads` selector, the
//! systems it measures on PostgreSQL and the names their figures go under. The
//! workload (tracking_postgres.rs), the system list and the report use them, so they
//! live here, where none of them imports another.

/// The workload's name in `--workloads`.
pub const SELECTOR: &str = "tracking-postgres";

/// The tracking systems measured on PostgreSQL, by their `--only` names (`spin` only
/// with a Spin CLI).
pub const SYSTEMS: &[&str] = &["spinflow", "spin", "mlflow", "fasttrackml"];

/// The name of `system`'s figures on PostgreSQL, e.g. `mlflow (PostgreSQL)`.
pub fn on_postgres(system: &str) -> String {
    format!("{system}{SUFFIX}")
}

/// What [`on_postgres`] appends.
pub const SUFFIX: &str = " (PostgreSQL)";

pub const SPINFLOW: &str = "spinflow (PostgreSQL)";
pub const SPIN: &str = "spin (PostgreSQL)";
pub const MLFLOW: &str = "mlflow (PostgreSQL)";
pub const FASTTRACKML: &str = "fasttrackml (PostgreSQL)";

/// The replica figures: the concurrent write figures against one `spinflow up`, and
/// against two on one database with the load split between them.
pub const ONE_REPLICA: &str = "spinflow (PostgreSQL, 1 replica)";
pub const TWO_REPLICAS: &str = "spinflow (PostgreSQL, 2 replicas)";

/// The name of the replica figures of `count` replicas (1 or 2).
pub fn replicas(count: usize) -> &'static str {
    if count == 1 {
        ONE_REPLICA
    } else {
        TWO_REPLICAS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_on_postgres_are_the_constants() {
        assert_eq!(on_postgres("spinflow"), SPINFLOW);
        assert_eq!(on_postgres("spin"), SPIN);
        assert_eq!(on_postgres("mlflow"), MLFLOW);
        assert_eq!(on_postgres("fasttrackml"), FASTTRACKML);
        assert_eq!(replicas(2), TWO_REPLICAS);
    }
}
