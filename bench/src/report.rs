//! The report: `<out>/<date>.md` (or `<date>-quick.md`), the figures as JSON beside
//! it, and PNG plots drawn by `bench/plot.py` with the bench venv's matplotlib.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cells::{cell, fmt, fmt_unit};
use crate::options::Options;
use crate::paths::Paths;
use crate::results::{Better, Figure, Results};
use crate::run_info::RunInfo;
use crate::settings::{self, log_metric_workload};
use crate::{postgres_names, report_postgres, storage_names, systems};

/// spinflow / peer, and whether that is the good direction.
fn ratio(ours: &Figure, peer: &Figure) -> (f64, bool) {
    let (a, b) = (ours.median(), peer.median());
    // Two zeros (no file fetched again on either side) are equal, not undefined.
    let r = if a == 0.0 && b == 0.0 { 1.0 } else { a / b };
    let good = match ours.better {
        Better::Higher => r >= 1.0,
        Better::Lower => r <= 1.0,
    };
    (r, good)
}

/// Name under which spinflow appears in a workload's figures.
fn our_name(workload: &str) -> &'static str {
    if workload.starts_with("host") {
        "spinflow (trivial component)"
    } else {
        "spinflow"
    }
}

/// Which of our figures a peer is compared with (request for request): a peer on
/// PostgreSQL with spinflow on PostgreSQL.
fn our_counterpart(workload: &str, peer: &str) -> &'static str {
    if peer == "mlflow-serve" && workload.starts_with("predict") {
        "spinflow /invocations"
    } else if peer.ends_with(postgres_names::SUFFIX) {
        postgres_names::SPINFLOW
    } else {
        our_name(workload)
    }
}

fn workloads(results: &Results) -> Vec<String> {
    let mut seen = Vec::new();
    for f in &results.figures {
        if !seen.contains(&f.workload) {
            seen.push(f.workload.clone());
        }
    }
    seen
}

/// One table per workload: rows are systems, columns are metrics (median and spread).
fn workload_table(out: &mut String, results: &Results, workload: &str) {
    let figs: Vec<&Figure> = results
        .figures
        .iter()
        .filter(|f| f.workload == workload)
        .collect();
    let mut metrics: Vec<(String, String)> = Vec::new();
    let mut systems_seen: Vec<String> = Vec::new();
    for f in &figs {
        if !metrics.iter().any(|(m, _)| *m == f.metric) {
            metrics.push((f.metric.clone(), f.unit.clone()));
        }
        if !systems_seen.contains(&f.system) {
            systems_seen.push(f.system.clone());
        }
    }
    let _ = writeln!(out, "### {workload}\n");
    let header: Vec<String> = metrics
        .iter()
        .map(|(m, u)| {
            if m == u {
                m.clone()
            } else {
                format!("{m} ({u})")
            }
        })
        .collect();
    let _ = writeln!(out, "| system | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(metrics.len()));
    for system in &systems_seen {
        let cells: Vec<String> = metrics
            .iter()
            .map(|(m, _)| {
                results
                    .find(workload, m, system)
                    .map(cell)
                    .unwrap_or_else(|| "-".into())
            })
            .collect();
        let _ = writeln!(out, "| {system} | {} |", cells.join(" | "));
    }
    let _ = writeln!(out);
}

/// Median of a figure, if it was measured.
fn med(results: &Results, workload: &str, metric: &str, system: &str) -> Option<f64> {
    results.find(workload, metric, system).map(Figure::median)
}

/// `ours / theirs` as "N.Nx", when both were measured.
fn times(ours: Option<f64>, theirs: Option<f64>) -> Option<String> {
    Some(format!("{}x", fmt(ours? / theirs?)))
}

/// `prefix` and the parts joined by commas, or nothing when there are none.
fn joined(prefix: &str, parts: &[String]) -> String {
    if parts.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", parts.join(", "))
    }
}

/// The figures the project's targets are about, in words.
fn headline(results: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    let p1 = "predict 1 row";
    let ours = med(results, p1, "req/s", "spinflow");
    let inv = med(results, p1, "req/s", "spinflow /invocations");
    let mut parts = Vec::new();
    for peer in ["fastapi-1w", "fastapi-2w", "fastapi-2w-nodelay"] {
        if let Some(t) = times(ours, med(results, p1, "req/s", peer)) {
            parts.push(format!("{t} {peer}"));
        }
    }
    if let Some(t) = times(inv, med(results, p1, "req/s", "mlflow-serve")) {
        parts.push(format!("{t} mlflow-serve (both on /invocations)"));
    }
    if let Some(t) = times(ours, med(results, p1, "req/s", "floor")) {
        parts.push(format!("{t} the native floor"));
    }
    if let Some(o) = ours {
        lines.push(format!(
            "`/predict`, 1 row, 16 connections: spinflow {} req/s{}.",
            fmt(o),
            joined(" = ", &parts)
        ));
    }
    if let Some(p99) = med(results, p1, "p99", "spinflow") {
        lines.push(format!(
            "`/predict` p99 latency at 16 connections: {} ms (target: under 5 ms).",
            fmt(p99)
        ));
    }
    let ingest = med(results, "log-batch", "metrics/s", "spinflow");
    let parts: Vec<String> = ["mlflow", "mlflow-nodelay", "fasttrackml"]
        .iter()
        .filter_map(|p| {
            times(ingest, med(results, "log-batch", "metrics/s", p)).map(|t| format!("{t} {p}"))
        })
        .collect();
    if let Some(i) = ingest {
        lines.push(format!(
            "log-batch ingest: spinflow {} metrics/s{}.",
            fmt(i),
            joined(" = ", &parts)
        ));
    }
    let log_metric_16 = log_metric_workload(16);
    for (workload, metric) in [
        (log_metric_16.as_str(), "p99"),
        ("search-runs", "p50"),
        ("get-history", "p50"),
        ("create-runs", "p50"),
    ] {
        let ours = med(results, workload, metric, "spinflow");
        let parts: Vec<String> = ["mlflow", "mlflow-nodelay", "fasttrackml"]
            .iter()
            .filter_map(|p| med(results, workload, metric, p).map(|v| format!("{p} {} ms", fmt(v))))
            .collect();
        if let Some(o) = ours {
            lines.push(format!(
                "{workload} {metric}: spinflow {} ms{}.",
                fmt(o),
                joined("; ", &parts)
            ));
        }
    }
    let rp = "resources (prediction)";
    if let (Some(o), Some(f)) = (
        med(results, rp, "RSS after load", "spinflow"),
        med(results, rp, "RSS after load", "fastapi-1w"),
    ) {
        lines.push(format!(
            "Memory after load: spinflow (whole app) {} MiB, the FastAPI app (1 worker) {} MiB: {}x of it.",
            fmt(o),
            fmt(f),
            fmt(o / f)
        ));
    }
    let rt = "resources (tracking)";
    let ours = med(results, rt, "RSS after load", "spinflow");
    let parts: Vec<String> = ["mlflow", "fasttrackml"]
        .iter()
        .filter_map(|p| {
            med(results, rt, "RSS after load", p).map(|v| format!("{p} {} MiB", fmt(v)))
        })
        .collect();
    if let Some(o) = ours {
        lines.push(format!(
            "Tracking server memory after load: spinflow {} MiB{}.",
            fmt(o),
            joined("; ", &parts)
        ));
    }
    let h = "host: trivial component, 16 connections";
    let t = med(results, h, "req/s", "spinflow (trivial component)");
    if let (Some(t), Some(f)) = (t, med(results, h, "req/s", "floor (same bytes)")) {
        let cost = med(
            results,
            "host: per-request cost",
            "p50 over the floor",
            "spinflow (trivial component)",
        );
        lines.push(format!(
            "Host: a trivial component serves {} req/s, {}x the native floor answering the same bytes ({} req/s); \
             a request costs the host about {} µs more than the floor at 1 connection.",
            fmt(t),
            fmt(t / f),
            fmt(f),
            cost.map(fmt).unwrap_or_else(|| "-".into())
        ));
    }
    let c = "host: cold start";
    if let (Some(a), Some(b)) = (
        med(results, c, "no compiled-code cache", "spinflow (whole app)"),
        med(
            results,
            c,
            "with compiled-code cache",
            "spinflow (whole app)",
        ),
    ) {
        lines.push(format!(
            "Cold start of the whole app: {} ms compiling, {} ms from the compiled-code cache.",
            fmt(a),
            fmt(b)
        ));
    }
    lines.extend(spin_headline(results));
    lines.extend(storage_headline(results));
    lines
}

/// The storage round trips in words: spinflow's throughput against Spin's for each
/// route on the default stores, beside the same ratio for the trivial component.
fn storage_headline(results: &Results) -> Vec<String> {
    let h16 = "host: trivial component, 16 connections";
    let mut parts = Vec::new();
    for (what, workload) in [
        ("key-value", storage_names::KV_16),
        ("SQLite", storage_names::SQLITE_16),
    ] {
        let ours = med(results, workload, "req/s", storage_names::SPINFLOW_DISK);
        let spin = med(results, workload, "req/s", storage_names::SPIN_DISK);
        match (ours, spin) {
            (Some(o), Some(s)) => parts.push(format!(
                "{what} spinflow {} req/s, Spin {} req/s, spinflow / Spin {}x",
                fmt(o),
                fmt(s),
                fmt(o / s)
            )),
            (Some(o), None) => parts.push(format!("{what} spinflow {} req/s", fmt(o))),
            _ => {}
        }
    }
    if parts.is_empty() {
        return Vec::new();
    }
    let trivial = times(
        med(results, h16, "req/s", "spinflow (trivial component)"),
        med(results, h16, "req/s", "spin (trivial component)"),
    )
    .map(|t| {
        format!(
            "; the trivial component in the same run: spinflow / Spin {t} (target: at least 3x)"
        )
    })
    .unwrap_or_default();
    vec![format!(
        "Storage round trips (a write, then a read of it), default stores on disk, 16 connections: \
         {}{trivial}. Durability differs per runtime (see Storage round trips).",
        parts.join("; ")
    )]
}

/// One row of the storage table: (what, connections, workload, spinflow's system,
/// Spin's system).
type StorageRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const STORAGE_ROWS: &[StorageRow] = &[
    (
        "trivial component (no storage)",
        "16",
        "host: trivial component, 16 connections",
        "spinflow (trivial component)",
        "spin (trivial component)",
    ),
    (
        "trivial component (no storage)",
        "1",
        "host: trivial component, 1 connection",
        "spinflow (trivial component)",
        "spin (trivial component)",
    ),
    (
        "key-value, files",
        "16",
        storage_names::KV_16,
        storage_names::SPINFLOW_DISK,
        storage_names::SPIN_DISK,
    ),
    (
        "key-value, files",
        "1",
        storage_names::KV_1,
        storage_names::SPINFLOW_DISK,
        storage_names::SPIN_DISK,
    ),
    (
        "SQLite, file",
        "16",
        storage_names::SQLITE_16,
        storage_names::SPINFLOW_DISK,
        storage_names::SPIN_DISK,
    ),
    (
        "SQLite, file",
        "1",
        storage_names::SQLITE_1,
        storage_names::SPINFLOW_DISK,
        storage_names::SPIN_DISK,
    ),
    (
        "key-value, in memory",
        "16",
        storage_names::KV_16,
        storage_names::SPINFLOW_MEMORY,
        storage_names::SPIN_MEMORY,
    ),
    (
        "key-value, in memory",
        "1",
        storage_names::KV_1,
        storage_names::SPINFLOW_MEMORY,
        storage_names::SPIN_MEMORY,
    ),
];

/// The storage round trips side by side, spinflow against real Spin, with the
/// trivial component (no storage) for reference, and how each runtime keeps the
/// stores. Nothing without storage figures.
fn storage_section(out: &mut String, results: &Results) -> bool {
    let measured = results
        .figures
        .iter()
        .any(|f| f.workload.starts_with("storage:"));
    if !measured {
        return false;
    }
    let _ = writeln!(out, "## Storage round trips (spinflow / Spin)\n");
    let _ = writeln!(
        out,
        "Each request writes a new {bytes}-byte value and reads it back (`bench/apps/roundtrip`, the same .wasm \
         and manifest in both runtimes): `POST /kv/<key>` sets and gets a key of the `default` key-value store, \
         `POST /sqlite/<id>` upserts a row of the `default` SQLite database and selects it. An answer counts only \
         if it is a 200 echoing the value sent. Ratios above 1 favour spinflow.\n",
        bytes = storage_names::VALUE_BYTES
    );
    let _ = writeln!(
        out,
        "| round trip | connections | spinflow req/s | Spin req/s | spinflow / Spin | p50 ms (spinflow / Spin) | \
         p99 ms (spinflow / Spin) | errors (spinflow / Spin) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (what, conns, workload, ours, spin) in STORAGE_ROWS {
        let get = |metric: &str, system: &str| med(results, workload, metric, system);
        let (o, s) = (get("req/s", ours), get("req/s", spin));
        if o.is_none() && s.is_none() {
            continue;
        }
        let show = |v: Option<f64>| v.map(fmt).unwrap_or_else(|| "-".into());
        let pair =
            |metric: &str| format!("{} / {}", show(get(metric, ours)), show(get(metric, spin)));
        // Errors over every repetition, as whole numbers.
        let count = |system: &str| {
            results
                .find(workload, "errors", system)
                .map(|f| fmt_unit(f.values.iter().sum(), "count"))
                .unwrap_or_else(|| "-".into())
        };
        let ratio = times(o, s)
            .map(|t| format!("**{t}**"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| {what} | {conns} | {} | {} | {ratio} | {} | {} | {} / {} |",
            show(o),
            show(s),
            pair("p50"),
            pair("p99"),
            count(ours),
            count(spin)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Storage setup.** No runtime config, as `spin up` runs an app without one: each runtime keeps the \
         `default` key-value store in `sqlite_key_value.db` and the `default` SQLite database in `sqlite_db.db` \
         in its state dir (`.spin/` beside the manifest by default; here a new `--state-dir` per server). The \
         in-memory rows add a runtime config with the `default` key-value store of type `spin` and no path \
         (kept in memory by both runtimes; nothing survives a restart).\n"
    );
    let _ = writeln!(
        out,
        "**Durability differs.** spinflow opens both files in WAL mode with `synchronous = NORMAL` and answers a \
         write once an `fdatasync` of the log that began after its commit has finished (group commit: writers \
         that commit meanwhile share one sync; readers run beside the writer). Spin 3.6.3 opens each file with \
         SQLite's defaults, a rollback journal and `synchronous = FULL`, on one connection behind a lock: every \
         commit syncs the journal and the database on its own, one request at a time.\n"
    );
    let _ = writeln!(
        out,
        "**Spin at 1 connection.** Spin's HTTP server does not set `TCP_NODELAY`. When it writes an answer in \
         pieces (headers, then the chunked body, then its last chunk), Nagle's algorithm holds the last piece \
         until the client acknowledges the earlier ones, and a client with nothing more to send delays that \
         acknowledgement (about 40 ms on Linux). Whether an answer goes out in pieces depends on timing, so at 1 \
         connection Spin's p50 can be near 40 ms when the round trip itself takes far less. Our load generator, \
         like most clients, keeps its connections alive.\n"
    );
    true
}

/// The headline figures under real Spin (the `spin…` systems), when there are any.
fn spin_headline(results: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    let p1 = "predict 1 row";
    let h16 = "host: trivial component, 16 connections";
    let ours = med(results, p1, "req/s", "spin");
    if let Some(o) = ours {
        let mut parts = Vec::new();
        for peer in ["fastapi-1w", "fastapi-2w", "fastapi-2w-nodelay", "spinflow"] {
            if let Some(t) = times(ours, med(results, p1, "req/s", peer)) {
                parts.push(format!("{t} {peer}"));
            }
        }
        let p99 = med(results, p1, "p99", "spin")
            .map(|v| format!(", p99 {} ms", fmt(v)))
            .unwrap_or_default();
        lines.push(format!(
            "Under real Spin: `/predict`, 1 row, 16 connections: spin {} req/s{p99}{}.",
            fmt(o),
            joined(" = ", &parts)
        ));
    }
    let trivial = med(results, h16, "req/s", "spin (trivial component)");
    if let (Some(o), Some(t)) = (ours, trivial) {
        lines.push(format!(
            "Under real Spin: iris-api `/predict` (1 row) serves {}x what Spin serves from a trivial component \
             ({} req/s; target: at least 0.8x).",
            fmt(o / t),
            fmt(t)
        ));
    }
    let mut parts = Vec::new();
    for system in [
        "spin-registry",
        "spin-baked",
        "spinflow-registry",
        "spinflow-baked",
    ] {
        if let Some(v) = med(results, p1, "req/s", system) {
            let p99 = med(results, p1, "p99", system)
                .map(|p| format!(" (p99 {} ms)", fmt(p)))
                .unwrap_or_default();
            parts.push(format!("{system} {} req/s{p99}", fmt(v)));
        }
    }
    if !parts.is_empty() {
        lines.push(format!(
            "A registry model, loaded at run time or baked into iris-api at build time: {}.",
            parts.join(", ")
        ));
    }
    let rp = "resources (prediction)";
    if let Some(o) = med(results, rp, "RSS after load", "spin") {
        let vs = times(Some(o), med(results, rp, "RSS after load", "fastapi-1w"))
            .map(|t| format!(", {t} the FastAPI app's (1 worker)"))
            .unwrap_or_default();
        lines.push(format!(
            "Memory after load under real Spin: spin (whole app; `spin up` and its trigger process) {} MiB{vs}{}.",
            fmt(o),
            med(results, rp, "RSS after load, serving process", "spin")
                .map(|t| {
                    let vs = times(Some(t), med(results, rp, "RSS after load", "fastapi-1w"))
                        .map(|x| format!(", {x}"))
                        .unwrap_or_default();
                    format!("; the serving process alone (`spin trigger http`) {} MiB{vs}", fmt(t))
                })
                .unwrap_or_default()
        ));
    }
    if let Some(line) = spin_pod_headline(results) {
        lines.push(line);
    }
    let ingest = med(results, "log-batch", "metrics/s", "spin");
    let lm = log_metric_workload(16);
    let lm_p99 = med(results, &lm, "p99", "spin");
    if ingest.is_some() || lm_p99.is_some() {
        let mut parts = Vec::new();
        if let Some(i) = ingest {
            let vs = times(
                ingest,
                med(results, "log-batch", "metrics/s", "fasttrackml"),
            )
            .map(|t| format!(" ({t} fasttrackml)"))
            .unwrap_or_default();
            parts.push(format!("log-batch {} metrics/s{vs}", fmt(i)));
        }
        if let Some(p) = lm_p99 {
            let vs = med(results, &lm, "p99", "fasttrackml")
                .map(|v| format!(" (fasttrackml {} ms)", fmt(v)))
                .unwrap_or_default();
            parts.push(format!(
                "log-metric p99 at 16 connections {} ms{vs}",
                fmt(p)
            ));
        }
        if let Some(m) = med(results, "resources (tracking)", "RSS after load", "spin") {
            parts.push(format!("memory after load {} MiB", fmt(m)));
        }
        lines.push(format!("Tracking under real Spin: {}.", parts.join(", ")));
    }
    lines
}

/// iris-api alone under real Spin, as each iris-api pod serves it: `/predict` and the
/// serving process's memory, against the FastAPI app (1 worker).
fn spin_pod_headline(results: &Results) -> Option<String> {
    let (p1, rp, fastapi) = ("predict 1 row", "resources (prediction)", "fastapi-1w");
    let rps = med(results, p1, "req/s", "spin-pod")?;
    let vs = |v: Option<f64>, peer: Option<f64>| {
        times(v, peer)
            .map(|t| format!(" ({t} the FastAPI app's)"))
            .unwrap_or_default()
    };
    let p99 = med(results, p1, "p99", "spin-pod")
        .map(|v| format!(", p99 {} ms", fmt(v)))
        .unwrap_or_default();
    let rss = med(results, rp, "RSS after load, serving process", "spin-pod")
        .map(|m| {
            let peer = med(results, rp, "RSS after load", fastapi);
            format!(
                "; its serving process after load {} MiB{}",
                fmt(m),
                vs(Some(m), peer)
            )
        })
        .unwrap_or_default();
    Some(format!(
        "Under real Spin, iris-api alone as each Kubernetes pod runs it (spin-pod): `/predict`, 1 row, 16 \
         connections: {} req/s{}{p99}{rss}.",
        fmt(rps),
        vs(Some(rps), med(results, p1, "req/s", fastapi)),
    ))
}

/// The metrics measured for `workload`.
fn metrics_of<'a>(results: &'a Results, workload: &str) -> BTreeSet<&'a str> {
    results
        .figures
        .iter()
        .filter(|f| f.workload == workload)
        .map(|f| f.metric.as_str())
        .collect()
}

/// The metrics of `workload` that ratios are shown for: not counts of errors or lost
/// writes (their table says how many there were; a ratio of two zeros says nothing).
fn ratio_metrics<'a>(results: &'a Results, workload: &str) -> BTreeSet<&'a str> {
    let mut m = metrics_of(results, workload);
    m.remove("errors");
    m.remove("lost writes");
    m
}

/// For every workload and metric: spinflow / each peer.
fn ratio_table(out: &mut String, results: &Results) {
    let _ = writeln!(out, "| workload | metric | spinflow / peer |");
    let _ = writeln!(out, "|---|---|---|");
    for workload in workloads(results) {
        for metric in ratio_metrics(results, &workload) {
            let mut parts = Vec::new();
            for peer in results
                .figures
                .iter()
                .filter(|f| f.workload == workload && f.metric == metric)
            {
                // The floor is a peer for throughput and latency, not for resources.
                let floor_resources =
                    peer.system.starts_with("floor") && workload.starts_with("resources");
                // Ours, in either runtime (the Spin rows have their own table).
                if peer.system.starts_with("spin") || floor_resources {
                    continue;
                }
                let ours_name = our_counterpart(&workload, &peer.system);
                let Some(ours) = results.find(&workload, metric, ours_name) else {
                    continue;
                };
                let (r, good) = ratio(ours, peer);
                parts.push(format!(
                    "{}: **{}x**{}",
                    peer.system,
                    fmt(r),
                    if good { "" } else { " (worse)" }
                ));
            }
            if !parts.is_empty() {
                let _ = writeln!(out, "| {workload} | {metric} | {} |", parts.join(", "));
            }
        }
    }
    let _ = writeln!(out);
}

/// Our figures and the baseline's of the same kind (`--baseline-app`): this build
/// against the app as it was at the baseline's commit, in the same host.
const BASELINE_PAIRS: &[(&str, &str)] = &[
    ("spinflow", "spinflow-baseline"),
    ("spinflow /invocations", "spinflow-baseline /invocations"),
    ("spinflow (whole app)", "spinflow-baseline (whole app)"),
];

/// For every workload and metric measured for both: this build's figure and the
/// baseline's (median and range) and their ratio. Nothing without baseline figures.
fn baseline_ratio_table(out: &mut String, results: &Results) -> bool {
    let mut rows = Vec::new();
    for workload in workloads(results) {
        for metric in ratio_metrics(results, &workload) {
            for (ours, baseline) in BASELINE_PAIRS {
                let (Some(a), Some(b)) = (
                    results.find(&workload, metric, ours),
                    results.find(&workload, metric, baseline),
                ) else {
                    continue;
                };
                let (r, good) = ratio(a, b);
                rows.push(format!(
                    "| {workload} | {metric} | {ours} | {} | {} | **{}x**{} |",
                    cell(a),
                    cell(b),
                    fmt(r),
                    if good { "" } else { " (worse)" }
                ));
            }
        }
    }
    if rows.is_empty() {
        return false;
    }
    let _ = writeln!(
        out,
        "| workload | metric | served | this build | baseline | this build / baseline |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    let _ = writeln!(out);
    true
}

/// The comparisons of the Spin table, (first, second): real Spin against the peers,
/// against our host running the same components, and its variants against each other.
/// A pair is shown for every workload where both were measured.
const SPIN_PAIRS: &[(&str, &str)] = &[
    ("spin", "fastapi-1w"),
    ("spin", "fastapi-2w"),
    ("spin", "fastapi-2w-nodelay"),
    ("spin", "mlflow"),
    ("spin", "mlflow-nodelay"),
    ("spin", "fasttrackml"),
    (postgres_names::SPIN, postgres_names::MLFLOW),
    (postgres_names::SPIN, postgres_names::FASTTRACKML),
    (postgres_names::SPIN, postgres_names::SPINFLOW),
    ("spin", "floor"),
    ("spin", "spinflow"),
    ("spin-pod", "fastapi-1w"),
    ("spin-pod", "spin"),
    ("spin-registry", "spin"),
    ("spin-registry", "spinflow-registry"),
    ("spin-baked", "spin"),
    ("spin-baked", "spin-registry"),
    ("spin-baked", "spinflow-baked"),
    ("spinflow-baked", "spinflow-registry"),
    ("spin (trivial component)", "floor (same bytes)"),
    ("spin (trivial component)", "spinflow (trivial component)"),
    ("spin (whole app)", "spinflow (whole app)"),
    (storage_names::SPIN_DISK, storage_names::SPINFLOW_DISK),
    (storage_names::SPIN_MEMORY, storage_names::SPINFLOW_MEMORY),
];

/// The same prediction against its runtime's trivial component (requests/s): what
/// iris-api keeps of the runtime's own floor.
const TRIVIAL_PAIRS: &[(&str, &str)] = &[
    ("spin", "spin (trivial component)"),
    ("spin-pod", "spin (trivial component)"),
    ("spin-registry", "spin (trivial component)"),
    ("spin-baked", "spin (trivial component)"),
    ("spinflow", "spinflow (trivial component)"),
    ("spinflow-baked", "spinflow (trivial component)"),
];

/// For every workload and metric: the Spin comparisons of [`SPIN_PAIRS`], then
/// iris-api against each runtime's trivial component. Nothing without Spin figures.
fn spin_ratio_table(out: &mut String, results: &Results) -> bool {
    let mut rows = Vec::new();
    for workload in workloads(results) {
        for metric in ratio_metrics(results, &workload) {
            let mut parts = Vec::new();
            for (a, b) in SPIN_PAIRS {
                if *b == "floor" && workload.starts_with("resources") {
                    continue;
                }
                let (Some(fa), Some(fb)) = (
                    results.find(&workload, metric, a),
                    results.find(&workload, metric, b),
                ) else {
                    continue;
                };
                let (r, good) = ratio(fa, fb);
                parts.push(format!(
                    "{a} / {b}: **{}x**{}",
                    fmt(r),
                    if good { "" } else { " (worse)" }
                ));
            }
            if !parts.is_empty() {
                rows.push(format!("| {workload} | {metric} | {} |", parts.join(", ")));
            }
        }
    }
    let trivial = "host: trivial component, 16 connections";
    for p1 in ["predict 1 row", "predict 100 rows"] {
        let parts: Vec<String> = TRIVIAL_PAIRS
            .iter()
            .filter_map(|(a, b)| {
                let r = med(results, p1, "req/s", a)? / med(results, trivial, "req/s", b)?;
                Some(format!("{a} / {b}: **{}x**", fmt(r)))
            })
            .collect();
        if !parts.is_empty() {
            rows.push(format!(
                "| {p1} against {trivial} | req/s | {} |",
                parts.join(", ")
            ));
        }
    }
    let has_spin = results
        .figures
        .iter()
        .any(|f| systems::needs_spin_cli(&f.system));
    if !has_spin || rows.is_empty() {
        return false;
    }
    let _ = writeln!(out, "| workload | metric | first / second |");
    let _ = writeln!(out, "|---|---|---|");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    let _ = writeln!(out);
    true
}

/// Writes the markdown report and the JSON figures; returns the report's path.
pub fn write(opts: &Options, paths: &Paths, info: &RunInfo, results: &Results) -> Result<PathBuf> {
    fs::create_dir_all(&opts.out)?;
    let md_path = opts.out.join(format!("{}.md", info.stem));
    let json_path = opts.out.join(format!("{}.json", info.stem));
    let plots = if opts.plots {
        plot_names(&info.stem, results)
    } else {
        Vec::new()
    };
    let json = serde_json::json!({"info": info, "results": results, "plots": plots});
    fs::write(&json_path, serde_json::to_string_pretty(&json)?)?;

    let mut out = String::new();
    let m = &info.machine;
    let _ = writeln!(out, "# spinflow benchmarks — {}\n", info.started);
    let _ = writeln!(
        out,
        "Mode **{}**, {} repetition(s) per figure; tables show the median and, in brackets, the range over the repetitions. \
         Every system ran on this machine in the same run, one at a time, on a free 127.0.0.1 port; \
         repetitions alternate the order of the systems.\n",
        info.mode, info.reps
    );
    let _ = writeln!(
        out,
        "- Machine: {} cores ({}), {:.1} GiB memory, Linux {}",
        m.cores, m.cpu, m.memory_gib, m.kernel
    );
    let _ = writeln!(
        out,
        "- Machine load (1/5/15-min load average): {} before, {} after; the run took {:.0} s",
        info.load_before, info.load_after, info.elapsed_s
    );
    let list = |flag: &str, v: &Option<Vec<String>>| {
        v.as_ref()
            .map(|l| format!(" {flag} {}", l.join(",")))
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "- Command: `cargo run -p bench --release -- all{}{}{}{}{}`",
        if opts.quick { " --quick" } else { "" },
        list("--only", &opts.only),
        list("--workloads", &opts.workloads),
        opts.spin_bin
            .as_ref()
            .map(|p| format!(" --spin-bin {}", p.display()))
            .unwrap_or_default(),
        opts.baseline_app
            .as_ref()
            .map(|p| format!(" --baseline-app {}", p.display()))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "- Runtimes: systems named `spinflow…` run our .wasm components in `spinflow up`, our wasmtime host; \
         systems named `spin…` run the same .wasm files and spin.toml in real Spin (`spin up`{}).",
        if opts.spin_bin.is_some() {
            ", the Spin CLI below"
        } else {
            "; not in this run: no --spin-bin"
        }
    );
    for (k, v) in &info.versions {
        let _ = writeln!(out, "- {k}: {v}");
    }
    let _ = writeln!(out);

    let lines = headline(results);
    if !lines.is_empty() {
        let _ = writeln!(out, "## Headline\n");
        for l in lines {
            let _ = writeln!(out, "- {l}");
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## Ratios (spinflow / peer)\n");
    let _ = writeln!(
        out,
        "Throughput ratios above 1 and latency, memory and start-up ratios below 1 favour spinflow; \
         the others are marked (worse). `mlflow-serve` is compared with spinflow's `/invocations` \
         (the same MLflow scoring request); every other prediction peer with spinflow's `/predict`.\n"
    );
    ratio_table(&mut out, results);

    let mut baseline_table = String::new();
    if baseline_ratio_table(&mut baseline_table, results) {
        let commit = info.baseline.as_deref().unwrap_or("?");
        let _ = writeln!(
            out,
            "## Ratios against the baseline (spinflow / spinflow-baseline, commit {commit})\n"
        );
        let _ = writeln!(
            out,
            "`spinflow-baseline` is the app of another checkout (`--baseline-app`, commit {commit}: its own \
             spin.toml and .wasm files) in the same `spinflow` binary with the same settings, run beside \
             `spinflow` (this build) in each repetition. Throughput ratios above 1 and latency, memory and \
             start-up ratios below 1 favour this build, the others are marked (worse); a difference within \
             the ranges over the repetitions is run-to-run noise.\n"
        );
        out.push_str(&baseline_table);
    }

    let mut spin_table = String::new();
    if spin_ratio_table(&mut spin_table, results) {
        let _ = writeln!(out, "## Ratios under real Spin\n");
        let _ = writeln!(
            out,
            "The `spin…` rows (real Spin, `spin up`) against the peers, against our host running the same \
             components (`spinflow…`) and against each other; throughput ratios above 1 and latency, memory and \
             start-up ratios below 1 favour the first system, the others are marked (worse). The last rows set \
             iris-api's `/predict` against the trivial component of the same runtime.\n"
        );
        out.push_str(&spin_table);
    }

    storage_section(&mut out, results);
    report_postgres::section(&mut out, results, &opts.tracking_plan(), info.machine.cores);

    if !plots.is_empty() {
        let _ = writeln!(out, "## Plots\n");
        for (_, file) in &plots {
            let _ = writeln!(out, "![{file}]({file})\n");
        }
    }

    let _ = writeln!(out, "## Figures\n");
    let _ = writeln!(
        out,
        "The load generator is this crate's own (hyper + tokio, closed loop, HDR histogram); its ceiling \
         on this machine is the `floor` row of the prediction tables (the native floor answers fixed \
         bytes, so the generator cannot go faster than that against anything). It shares the cores \
         with the server under test, as wrk would. In full runs the trivial-component comparison is \
         repeated with wrk (`-t2`, same connections and duration) to cross-check the generator.\n"
    );
    for w in workloads(results) {
        workload_table(&mut out, results, &w);
    }

    if !results.sizes.is_empty() {
        let _ = writeln!(out, "### artifact size on disk\n");
        let _ = writeln!(out, "| artifact | MiB |\n|---|---:|");
        for (label, mib) in &results.sizes {
            let _ = writeln!(out, "| {label} | {} |", fmt(*mib));
        }
        let _ = writeln!(out, "\nPeers: the installed files of the named distributions and everything they depend on, without the Python interpreter itself.\n");
    }

    let _ = writeln!(out, "## Systems and commands\n");
    for (system, line) in &info.commands {
        let base = system.trim_end_matches(" (tracking)");
        let _ = writeln!(
            out,
            "- **{system}** — {}  \n  `{line}`",
            systems::describe(base)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Workloads\n");
    let _ = writeln!(out, "{}", workloads_text(opts));
    if !results.notes.is_empty() {
        let _ = writeln!(out, "## Notes and errors\n");
        for n in &results.notes {
            let _ = writeln!(out, "- {}", n.replace('\n', "\n  "));
        }
        let _ = writeln!(out);
    }
    fs::write(&md_path, out)?;
    let _ = paths;
    Ok(md_path)
}

/// What each workload does, with this run's sizes and durations.
fn workloads_text(opts: &Options) -> String {
    let load = opts.predict_load();
    let plan = opts.tracking_plan();
    let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    format!(
        "- **predict 1 row / 100 rows**: {conns} keep-alive connections, closed loop, {dur} measured after a {warm} warm-up; \
  spinflow and the FastAPI app get `POST /predict` with `X-API-Key` (one object with named features, or \
  `{{\"features\": [[...] x 100]}}`); `mlflow models serve` and spinflow's `/invocations` get MLflow's \
  `dataframe_split` (with the same `X-API-Key`, which MLflow ignores). Every answer is checked (2xx and a class name in the body); the floor answers fixed bytes.
- **create-runs**: {runs} `runs/create`, one client, one after another.
- **log-batch**: {writers} writers at once, each {batches} batches of {batch} metrics (10 keys x {steps} steps) into its own run; \
  metrics/s over the wall time; then every point is read back with `get-history` and counted.
- **log-metric, {lm0} connections / {lm1} connections**: that many connections, each `runs/log-metric` with a new step per \
  request to its own run, {lmdur} measured after a {lmwarm} warm-up; afterwards the stored points are counted (no \
  acknowledged point may be missing).
- **tracking on PostgreSQL** (`tracking-postgres`): every figure above, on one PostgreSQL server started \
  for the run (a new database per system and repetition), against `spinflow up`, `spin up` (with a Spin CLI), \
  `mlflow server` and FastTrackML; then log-batch and log-metric against one and against two `spinflow up` \
  replicas on one database (see Tracking on PostgreSQL).
- **search-runs**: `runs/search` over the {runs} runs with `metrics.loss < 0.5` and `order_by metrics.loss DESC` \
  (half the runs answer; count and order are checked once), {sq} queries from one client, one after another.
- **get-history**: a {hp}-point metric (checked once), {hq} queries from one client, one after another.
- **storage round trips**: `bench/apps/roundtrip` (the same .wasm and manifest in `spinflow up` and in \
  `spin up`, each on a new state dir), loaded as the trivial component is ({conns} connections, then 1): \
  `POST /kv/<key>` sets a key of the `default` key-value store and gets it back, `POST /sqlite/<id>` upserts a \
  row of the `default` SQLite database (`INSERT ... ON CONFLICT (id) DO UPDATE`) and selects it; the table is \
  created once, by the first request that finds it missing (before the load). Each connection cycles through \
  {keys} keys (rows) of its own, each request writing a new {value_bytes}-byte value; an answer counts only if it \
  is a 200 whose body is exactly the value sent (the component answers with what it read back), else it is an \
  error. Stores: each runtime's defaults without a runtime config (SQLite files in the state dir), and the \
  key-value route again with the `default` store in memory; how each runtime syncs is under Storage round trips.
- **stalled clients**: the whole app (as `make up` serves it) on a new state dir: one-row `/predict` and \
  `log-metric` (one run, {conns} connections, as above) without, then with {stalled} stalled connections held open \
  (half stop inside their headers, half after 5 bytes of a 100-byte `runs/create` body; each one the server \
  drops connects and stalls again at once), then without again; `stalled/calm` is the throughput with them \
  over the mean of the two without.
- **largest requests**: the whole app on a new state dir; after writing a {hist}-point metric history, each of \
  these is sent {at_once} times at once, one kind after the other: `/predict` with 1,000 rows (the default \
  `max_batch_rows`), an Open Inference Protocol infer of 1,000 rows with its `outputs` entry repeated 5,000 times, a \
  `log-batch` of 1,000 metrics, a `runs/create` whose body is just under mlflow-server's 16 MiB limit, \
  `get-history` of the long metric without `max_results`, and a {art} MiB artifact upload (read back once and \
  checked); `peak RSS` is the serving process's high-water mark (VmHWM) at the end.
- **web UI**: the whole app (as `make up` serves it) and `mlflow server` on a new state, each seeded through \
  the REST API with one experiment of {ui_runs} runs ({ui_keys} params and {ui_keys} metrics each); `peers/ui_load.py` then \
  drives Debian's Chromium headless through playwright: {ui_loads} cold loads of the experiment's runs table, each in a \
  new browser context (empty cache), timed from navigation until the newest run's name shows, with the bytes \
  on the wire of the first; then a repeat load in the last context (a new document, warm cache), counting the \
  static files answered again in full (not 304, not from the cache); then the run page's `GetRun` GraphQL \
  request, captured as the UI sends it, replayed {ui_gql} times from one keep-alive connection (p50).
- **resources**: resident memory (VmRSS summed over the server's whole process tree) one second after it \
  answered its first 200, and again after its workloads; cold start = process launch to first 200 on its \
  health route (a route answered by the component itself for spinflow and Spin). For the `spin…` systems the \
  tree is `spin up` and the `spin trigger http` process it runs the app in; \
  `RSS after load, serving process` is the latter alone.
",
        conns = load.connections,
        dur = secs(load.duration),
        warm = secs(load.warmup),
        runs = plan.runs,
        writers = plan.writers,
        batches = plan.batches,
        batch = plan.batch_size,
        steps = plan.batch_size / 10,
        lm0 = plan.log_metric_clients[0],
        lm1 = plan.log_metric_clients[1],
        lmdur = secs(plan.log_metric.duration),
        lmwarm = secs(plan.log_metric.warmup),
        sq = plan.search_queries,
        hp = plan.history_points,
        hq = plan.history_queries,
        stalled = settings::STALLED,
        keys = storage_names::KEYS_PER_CONNECTION,
        value_bytes = storage_names::VALUE_BYTES,
        hist = settings::HISTORY_POINTS,
        at_once = settings::AT_ONCE,
        art = settings::ARTIFACT_MIB,
        ui_runs = settings::UI_RUNS,
        ui_keys = settings::UI_KEYS,
        ui_loads = settings::UI_COLD_LOADS,
        ui_gql = settings::UI_GRAPHQL_REQUESTS,
    )
}

/// The plots `plot.py` draws for these results: (workload, file name).
pub fn plot_names(stem: &str, results: &Results) -> Vec<(String, String)> {
    let mut v = vec![("headline".to_string(), format!("{stem}-headline.png"))];
    for w in workloads(results) {
        let slug: String = w
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        v.push((w.clone(), format!("{stem}-{slug}.png")));
    }
    if results.figures.is_empty() {
        v.clear();
    }
    v
}

/// Draws the PNGs next to the report with `bench/plot.py`.
pub fn plot(paths: &Paths, report: &Path) -> Result<()> {
    let json = report.with_extension("json");
    let py = paths.venv_bin("python");
    let status = Command::new(&py)
        .arg(paths.repo.join("bench/plot.py"))
        .arg(&json)
        .status()
        .with_context(|| format!("running {} bench/plot.py", py.display()))?;
    anyhow::ensure!(status.success(), "plot.py failed with {status}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage_names::{KV_16, SPINFLOW_DISK, SPIN_DISK, SQLITE_16};

    #[test]
    fn storage_section_sets_spinflow_against_spin() {
        let mut r = results(&[
            (
                "host: trivial component, 16 connections",
                "req/s",
                "spinflow (trivial component)",
                9000.0,
            ),
            (
                "host: trivial component, 16 connections",
                "req/s",
                "spin (trivial component)",
                3000.0,
            ),
            (KV_16, "req/s", SPINFLOW_DISK, 4000.0),
            (KV_16, "req/s", SPIN_DISK, 100.0),
            (SQLITE_16, "req/s", SPINFLOW_DISK, 2000.0),
        ]);
        r.record(KV_16, "errors", "count", Better::Lower, SPIN_DISK, 3.0);
        let mut out = String::new();
        assert!(storage_section(&mut out, &r));
        for want in [
            "| trivial component (no storage) | 16 | 9000 | 3000 | **3.00x** |",
            "| key-value, files | 16 | 4000 | 100.0 | **40.00x** |",
            "| - / 3 |",
            "| SQLite, file | 16 | 2000 | - | - |",
            "`synchronous = NORMAL`",
            "rollback journal and `synchronous = FULL`",
            "`sqlite_key_value.db`",
        ] {
            assert!(out.contains(want), "lacks {want}:\n{out}");
        }
        // No in-memory figures, no in-memory rows.
        assert!(!out.contains("| key-value, in memory |"), "{out}");
        let lines = storage_headline(&r).join("\n");
        assert!(
            lines.contains(
                "key-value spinflow 4000 req/s, Spin 100.0 req/s, spinflow / Spin 40.00x"
            ),
            "{lines}"
        );
        assert!(
            lines.contains("spinflow / Spin 3.00x (target: at least 3x)"),
            "{lines}"
        );

        // Without storage figures, no section and no headline.
        let r = results(&[("predict 1 row", "req/s", "spinflow", 1.0)]);
        assert!(!storage_section(&mut String::new(), &r));
        assert!(storage_headline(&r).is_empty());
    }

    #[test]
    fn the_baseline_gets_its_own_table() {
        let mut r = results(&[
            ("predict 1 row", "req/s", "spinflow", 12000.0),
            ("predict 1 row", "req/s", "spinflow-baseline", 10000.0),
            ("predict 1 row", "req/s", "fastapi-1w", 1500.0),
            ("predict 1 row", "req/s", "spinflow /invocations", 9000.0),
            ("log-metric, 16 connections", "p99", "spinflow", 4.0),
            (
                "log-metric, 16 connections",
                "p99",
                "spinflow-baseline",
                2.0,
            ),
        ]);
        r.record(
            "log-batch",
            "metrics/s",
            "metrics/s",
            Better::Higher,
            "spinflow",
            5.0,
        );
        let mut main = String::new();
        ratio_table(&mut main, &r);
        assert!(main.contains("fastapi-1w: **8.00x**"), "{main}");
        assert!(!main.contains("baseline"), "{main}");

        let mut table = String::new();
        assert!(baseline_ratio_table(&mut table, &r));
        for want in [
            "| predict 1 row | req/s | spinflow | 12000 | 10000 | **1.20x** |",
            "| log-metric, 16 connections | p99 | spinflow | 4.00 | 2.00 | **2.00x** (worse) |",
        ] {
            assert!(table.contains(want), "lacks {want}:\n{table}");
        }
        // Only pairs measured on both sides.
        assert!(
            !table.contains("/invocations") && !table.contains("log-batch"),
            "{table}"
        );
        assert!(!spin_ratio_table(&mut String::new(), &r));

        let r = results(&[("predict 1 row", "req/s", "spinflow", 1.0)]);
        assert!(!baseline_ratio_table(&mut String::new(), &r));
    }

    fn results(figures: &[(&str, &str, &str, f64)]) -> Results {
        let mut r = Results::default();
        for (workload, metric, system, v) in figures {
            let better = if *metric == "req/s" {
                Better::Higher
            } else {
                Better::Lower
            };
            r.record(workload, metric, "-", better, system, *v);
        }
        r
    }

    #[test]
    fn spin_rows_get_their_own_table() {
        let r = results(&[
            ("predict 1 row", "req/s", "spinflow", 12000.0),
            ("predict 1 row", "req/s", "spin", 6000.0),
            ("predict 1 row", "req/s", "spin-baked", 9000.0),
            ("predict 1 row", "req/s", "fastapi-1w", 1500.0),
            (
                "host: trivial component, 16 connections",
                "req/s",
                "spin (trivial component)",
                10000.0,
            ),
            ("log-metric, 16 connections", "p99", "spin", 4.0),
            ("log-metric, 16 connections", "p99", "fasttrackml", 8.0),
        ]);
        let mut main = String::new();
        ratio_table(&mut main, &r);
        assert!(main.contains("fastapi-1w: **8.00x**"), "{main}");
        assert!(
            !main.contains("spin-baked") && !main.contains("spin:"),
            "{main}"
        );

        let mut spin = String::new();
        assert!(spin_ratio_table(&mut spin, &r));
        for want in [
            "spin / fastapi-1w: **4.00x**",
            "spin / spinflow: **0.500x** (worse)",
            "spin-baked / spin: **1.50x**",
            "| log-metric, 16 connections | p99 | spin / fasttrackml: **0.500x** |",
            "| predict 1 row against host: trivial component, 16 connections | req/s | \
             spin / spin (trivial component): **0.600x**, spin-baked / spin (trivial component): **0.900x** |",
        ] {
            assert!(spin.contains(want), "lacks {want}:\n{spin}");
        }
        let lines = headline(&r).join("\n");
        assert!(
            lines.contains("0.600x what Spin serves from a trivial component"),
            "{lines}"
        );

        // Error counts get no ratio (their tables say how many there were).
        let mut r = results(&[
            (KV_16, "req/s", SPINFLOW_DISK, 3000.0),
            (KV_16, "req/s", SPIN_DISK, 100.0),
        ]);
        r.record(KV_16, "errors", "count", Better::Lower, SPINFLOW_DISK, 0.0);
        r.record(KV_16, "errors", "count", Better::Lower, SPIN_DISK, 2.0);
        let mut spin = String::new();
        assert!(spin_ratio_table(&mut spin, &r));
        assert!(
            spin.contains("spin (storage app) / spinflow (storage app): **0.033x** (worse)"),
            "{spin}"
        );
        assert!(!spin.contains("| errors |"), "{spin}");

        // Without Spin figures there is no Spin table.
        let r = results(&[("predict 1 row", "req/s", "spinflow", 1.0)]);
        assert!(!spin_ratio_table(&mut String::new(), &r));
    }
}
