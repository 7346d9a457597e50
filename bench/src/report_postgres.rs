//! The report's section on tracking on PostgreSQL (`--workloads tracking-postgres`):
//! spinflow's tracking figures on SQLite beside PostgreSQL, with real Spin, `mlflow
//! server` and FastTrackML on the same PostgreSQL server, spinflow-on-PostgreSQL's
//! speed-up over each peer and whether it meets issue 23's goal (3x FastTrackML, 10x
//! MLflow on every figure); then one against two replicas: throughput, latency,
//! errors, CPU time per request and lost writes.

use std::fmt::Write as _;

use crate::cells::{cell, fmt, fmt_unit};
use crate::postgres_names::{FASTTRACKML, MLFLOW, ONE_REPLICA, SPIN, SPINFLOW, TWO_REPLICAS};
use crate::results::{Better, Figure, Results};
use crate::settings::{log_metric_workload, Plan};

/// The goals of issue 23 on PostgreSQL: spinflow's speed-up over each peer.
const GOALS: &[(&str, &str, f64)] = &[(FASTTRACKML, "FastTrackML", 3.0), (MLFLOW, "MLflow", 10.0)];

/// The columns of the side-by-side table: spinflow on SQLite (the `tracking`
/// workload) and every system on PostgreSQL.
const COLUMNS: &[(&str, &str)] = &[
    ("spinflow", "spinflow (SQLite)"),
    (SPINFLOW, SPINFLOW),
    (SPIN, SPIN),
    (MLFLOW, MLFLOW),
    (FASTTRACKML, FASTTRACKML),
];

/// The tracking figures and the metric each one's speed is judged on: its throughput,
/// or, for the sequential ones (one client, one request after another), its p50.
fn figures(plan: &Plan) -> Vec<(String, &'static str)> {
    let mut v = vec![
        ("create-runs".to_string(), "runs/s"),
        ("log-batch".to_string(), "metrics/s"),
    ];
    for clients in plan.log_metric_clients {
        v.push((log_metric_workload(clients), "req/s"));
    }
    v.push(("search-runs".to_string(), "p50"));
    v.push(("get-history".to_string(), "p50"));
    v
}

/// How many times faster `ours` is than `theirs` (medians): throughput over
/// throughput, or latency of theirs over ours.
fn speed_up(ours: &Figure, theirs: &Figure) -> f64 {
    match ours.better {
        Better::Higher => ours.median() / theirs.median(),
        Better::Lower => theirs.median() / ours.median(),
    }
}

/// Sum over every repetition, as a whole number; `-` when not measured.
fn total(results: &Results, workload: &str, metric: &str, system: &str) -> String {
    results
        .find(workload, metric, system)
        .map(|f| fmt_unit(f.values.iter().sum(), "count"))
        .unwrap_or_else(|| "-".into())
}

/// The section; nothing without PostgreSQL figures.
pub fn section(out: &mut String, results: &Results, plan: &Plan, cores: usize) -> bool {
    let measured = results.figures.iter().any(|f| {
        COLUMNS[1..].iter().any(|(s, _)| f.system == *s)
            || f.system == ONE_REPLICA
            || f.system == TWO_REPLICAS
    });
    if !measured {
        return false;
    }
    let _ = writeln!(out, "## Tracking on PostgreSQL\n");
    let _ = writeln!(
        out,
        "One PostgreSQL server for the run (Debian's, started by `crates/test-postgres` in a temporary directory, \
         `fsync=off`), a new database for each system and repetition, and every tracking figure of the `tracking` \
         workload (the same code) against mlflow-server on it (`spinflow up`, and `spin up` with a Spin CLI: \
         `database_url` and `database_host`), `mlflow server --backend-store-uri postgresql://…` and FastTrackML \
         `--database-uri postgres://…`. The SQLite column is spinflow in the `tracking` workload of the same run. \
         The ratios say how many times better spinflow on PostgreSQL does than the peer on PostgreSQL: \
         throughput over throughput, or the peer's latency (or CPU time per request) over ours. The goal \
         (issue 23) is judged on each figure's throughput, which for search-runs and get-history (one client, \
         one request after another) is 1 / p50. CPU per request: the server's process tree and PostgreSQL's, \
         from /proc, over the write load (warm-up included) divided by the requests acknowledged meanwhile.\n"
    );
    goal_lines(out, results, plan);
    side_by_side(out, results, plan);
    replicas(out, results, plan, cores);
    true
}

/// Met or not met against each peer, figure by figure, and the errors on PostgreSQL.
fn goal_lines(out: &mut String, results: &Results, plan: &Plan) {
    for (peer, label, goal) in GOALS {
        let mut below = Vec::new();
        let mut judged = 0;
        for (workload, metric) in figures(plan) {
            let (Some(ours), Some(theirs)) = (
                results.find(&workload, metric, SPINFLOW),
                results.find(&workload, metric, peer),
            ) else {
                continue;
            };
            judged += 1;
            let s = speed_up(ours, theirs);
            if s < *goal {
                below.push(format!("{workload} {}x", fmt(s)));
            }
        }
        let verdict = if judged == 0 {
            "not measured".to_string()
        } else if below.is_empty() {
            format!("**met** on all {judged} figures")
        } else {
            format!(
                "**not met**: below on {} of {judged} figures ({})",
                below.len(),
                below.join(", ")
            )
        };
        let _ = writeln!(
            out,
            "- Goal: spinflow on PostgreSQL at least {goal}x {label} on PostgreSQL on every figure: {verdict}."
        );
    }
    let mut errors = Vec::new();
    for (workload, _) in figures(plan) {
        for (system, _) in &COLUMNS[1..] {
            if let Some(f) = results.find(&workload, "errors", system) {
                let n: f64 = f.values.iter().sum();
                if n > 0.0 {
                    errors.push(format!("{system} {workload}: {n:.0}"));
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "- Errors (answers other than 2xx) on PostgreSQL: {}.\n",
        if errors.is_empty() {
            "none".to_string()
        } else {
            errors.join(", ")
        }
    );
}

/// Every figure's metrics, one row each, the systems side by side, with the speed-ups.
fn side_by_side(out: &mut String, results: &Results, plan: &Plan) {
    let columns: Vec<&(&str, &str)> = COLUMNS
        .iter()
        .filter(|(s, _)| results.figures.iter().any(|f| f.system == *s))
        .collect();
    let header: Vec<&str> = columns.iter().map(|(_, label)| *label).collect();
    let goals: Vec<String> = GOALS
        .iter()
        .map(|(_, label, goal)| format!("spinflow (PostgreSQL) vs {label} (goal {goal}x)"))
        .collect();
    let _ = writeln!(
        out,
        "| figure | metric | {} | {} |",
        header.join(" | "),
        goals.join(" | ")
    );
    let _ = writeln!(
        out,
        "|---|---|{}{}",
        "---:|".repeat(columns.len()),
        "---:|".repeat(GOALS.len())
    );
    for (workload, judged) in figures(plan) {
        let mut metrics = vec![judged];
        for m in [
            "p50",
            "p99",
            "server CPU per request",
            "database CPU per request",
            "errors",
            "lost writes",
        ] {
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
        for metric in metrics {
            let seen = columns
                .iter()
                .any(|(s, _)| results.find(&workload, metric, s).is_some());
            if !seen {
                continue;
            }
            let cells: Vec<String> = columns
                .iter()
                .map(|(s, _)| match metric {
                    "errors" | "lost writes" => total(results, &workload, metric, s),
                    _ => results
                        .find(&workload, metric, s)
                        .map(cell)
                        .unwrap_or_else(|| "-".into()),
                })
                .collect();
            let ratios: Vec<String> = GOALS
                .iter()
                .map(|(peer, _, goal)| {
                    let counts = metric == "errors" || metric == "lost writes";
                    match (
                        results.find(&workload, metric, SPINFLOW),
                        results.find(&workload, metric, peer),
                    ) {
                        (Some(o), Some(t)) if !counts => {
                            let s = speed_up(o, t);
                            if metric == judged {
                                let verdict = if s >= *goal { "met" } else { "not met" };
                                format!("**{}x** ({verdict})", fmt(s))
                            } else {
                                format!("{}x", fmt(s))
                            }
                        }
                        _ => "-".into(),
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "| {workload} | {metric} | {} | {} |",
                cells.join(" | "),
                ratios.join(" | ")
            );
        }
    }
    let _ = writeln!(out);
}

/// One against two replicas on PostgreSQL, figure by figure.
fn replicas(out: &mut String, results: &Results, plan: &Plan, cores: usize) {
    let mut workloads = vec![("log-batch".to_string(), "metrics/s")];
    for clients in plan.log_metric_clients {
        workloads.push((log_metric_workload(clients), "req/s"));
    }
    let measured = results
        .figures
        .iter()
        .any(|f| f.system == ONE_REPLICA || f.system == TWO_REPLICAS);
    if !measured {
        return;
    }
    let _ = writeln!(out, "### One against two replicas on PostgreSQL\n");
    let _ = writeln!(
        out,
        "The concurrent write figures against one `spinflow up` (mlflow-server) and against two on one new \
         database: the load generator splits the load between the two itself, with no proxy in between (each \
         log-metric connection and each log-batch writer's successive batches address one replica directly, in \
         turn). CPU per request is the CPU time of the servers' processes (both replicas summed) and of \
         PostgreSQL's (server and backends), read from /proc before and after the load (warm-up included), over \
         the requests acknowledged meanwhile; a log-batch request carries {batch} metrics. Lost writes: points \
         acknowledged with a 2xx that are not rows of the database's `metrics` table afterwards (counted with SQL). \
         **This machine has {cores} cores**, shared by the replicas, PostgreSQL and the load generator: the cores \
         bound the total, so a second replica cannot add throughput here; what it costs or saves per request is \
         in the CPU columns.\n",
        batch = plan.batch_size
    );
    let _ = writeln!(
        out,
        "| figure | replicas | throughput | p50 (ms) | p99 (ms) | errors | server CPU per request (ms) | \
         database CPU per request (ms) | lost writes |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut lost_two = 0.0;
    let mut errors_two = 0.0;
    for (workload, throughput) in &workloads {
        for (system, label) in [(ONE_REPLICA, "1"), (TWO_REPLICAS, "2")] {
            if results.find(workload, throughput, system).is_none() {
                continue;
            }
            let show = |metric: &str| {
                results
                    .find(workload, metric, system)
                    .map(cell)
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                out,
                "| {workload} | {label} | {} {throughput} | {} | {} | {} | {} | {} | {} |",
                show(throughput),
                show("p50"),
                show("p99"),
                total(results, workload, "errors", system),
                show("server CPU per request"),
                show("database CPU per request"),
                total(results, workload, "lost writes", system),
            );
        }
        let sum = |metric: &str| {
            results
                .find(workload, metric, TWO_REPLICAS)
                .map(|f| f.values.iter().sum::<f64>())
                .unwrap_or(0.0)
        };
        lost_two += sum("lost writes");
        errors_two += sum("errors");
    }
    let _ = writeln!(out);
    let mut ratios = Vec::new();
    for (workload, throughput) in &workloads {
        if let (Some(one), Some(two)) = (
            results.find(workload, throughput, ONE_REPLICA),
            results.find(workload, throughput, TWO_REPLICAS),
        ) {
            ratios.push(format!("{workload} {}x", fmt(two.median() / one.median())));
        }
    }
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "- Throughput, 2 replicas / 1 replica: {}.",
            ratios.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "- With 2 replicas: errors: {errors_two:.0}; lost writes: {lost_two:.0}.\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::LoadOptions;
    use std::time::Duration;

    fn plan() -> Plan {
        Plan {
            runs: 10,
            writers: 2,
            batches: 2,
            batch_size: 100,
            log_metric_clients: [8, 16],
            log_metric: LoadOptions {
                connections: 8,
                warmup: Duration::ZERO,
                duration: Duration::from_secs(1),
            },
            search_queries: 1,
            history_points: 10,
            history_queries: 1,
        }
    }

    #[test]
    fn goals_are_judged_on_each_figure_and_replicas_are_summed() {
        let mut r = Results::default();
        let rec = |r: &mut Results, w: &str, m: &str, b: Better, s: &str, v: f64| {
            r.record(w, m, if m == "errors" { "count" } else { "x" }, b, s, v)
        };
        // 40x MLflow, 4x FastTrackML on create-runs; 2x FastTrackML on search.
        rec(
            &mut r,
            "create-runs",
            "runs/s",
            Better::Higher,
            SPINFLOW,
            400.0,
        );
        rec(
            &mut r,
            "create-runs",
            "runs/s",
            Better::Higher,
            MLFLOW,
            10.0,
        );
        rec(
            &mut r,
            "create-runs",
            "runs/s",
            Better::Higher,
            FASTTRACKML,
            100.0,
        );
        rec(&mut r, "search-runs", "p50", Better::Lower, SPINFLOW, 1.0);
        rec(&mut r, "search-runs", "p50", Better::Lower, MLFLOW, 20.0);
        rec(
            &mut r,
            "search-runs",
            "p50",
            Better::Lower,
            FASTTRACKML,
            2.0,
        );
        rec(&mut r, "create-runs", "errors", Better::Lower, MLFLOW, 3.0);
        let lm = log_metric_workload(16);
        rec(&mut r, &lm, "req/s", Better::Higher, ONE_REPLICA, 1000.0);
        rec(&mut r, &lm, "req/s", Better::Higher, TWO_REPLICAS, 1100.0);
        rec(&mut r, &lm, "lost writes", Better::Lower, TWO_REPLICAS, 0.0);
        let mut out = String::new();
        assert!(section(&mut out, &r, &plan(), 2));
        assert!(out.contains("3x FastTrackML on PostgreSQL on every figure: **not met**: below on 1 of 2 figures (search-runs 2.00x)"), "{out}");
        assert!(
            out.contains("10x MLflow on PostgreSQL on every figure: **met** on all 2 figures"),
            "{out}"
        );
        assert!(out.contains("| create-runs | runs/s | 400.0 | 10.00 | 100.0 | **4.00x** (met) | **40.00x** (met) |"), "{out}");
        assert!(out.contains("mlflow (PostgreSQL) create-runs: 3"), "{out}");
        assert!(out.contains("log-metric, 16 connections 1.10x"), "{out}");
        assert!(out.contains("errors: 0; lost writes: 0"), "{out}");
        assert!(out.contains("**This machine has 2 cores**"), "{out}");
        assert!(!section(
            &mut String::new(),
            &Results::default(),
            &plan(),
            2
        ));
    }
}
