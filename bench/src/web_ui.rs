//! The MLflow web UI: how soon the runs table of a 1,000-run experiment shows in headless
//! Chromium, the bytes of a first load, what a repeat load fetches again, and the run
//! page's GraphQL query, on the whole app and on `mlflow server` in the same run.
//!
//! The browser work is `peers/ui_load.py` (playwright driving Debian's Chromium, from
//! the bench venv); this module starts each system, seeds it through the REST API and
//! records what the script measured.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{now_ms, Client};
use crate::launch;
use crate::options::Options;
use crate::paths::Paths;
use crate::procs::{self, Server};
use crate::results::{self, Better, Results};
use crate::settings::{UI_COLD_LOADS, UI_GRAPHQL_REQUESTS, UI_KEYS, UI_RUNS};
use crate::shell;
use crate::systems::Runtime;

pub const WORKLOAD: &str = "web UI";
const CHROMIUM: &str = "/usr/bin/chromium";
const API: &str = "/api/2.0/mlflow";

/// The systems measured: the whole app under each runtime that is available, and
/// `mlflow server` (which serves the same UI files). Only with the peers' venv, where
/// playwright is.
pub fn systems(opts: &Options) -> Vec<&'static str> {
    if !opts.wants("mlflow") {
        return Vec::new();
    }
    ["spinflow", "spin", "mlflow"]
        .into_iter()
        .filter(|s| opts.wants(s))
        .collect()
}

pub async fn run(paths: &Paths, opts: &Options, results: &mut Results) {
    let systems = systems(opts);
    if systems.is_empty() {
        return;
    }
    if !shell::ensure_debian_package("chromium", "chromium") {
        results.note(format!(
            "{WORKLOAD}: not measured: no {CHROMIUM} (Debian's chromium package; install it as root)"
        ));
        return;
    }
    for system in systems {
        if let Err(e) = measure(paths, system, results).await {
            results.note(format!("{system} ({WORKLOAD}): {e:#}"));
        }
    }
}

async fn measure(paths: &Paths, system: &str, results: &mut Results) -> Result<()> {
    let port = procs::free_port()?;
    let launch = match system {
        "mlflow" => launch::tracking_launch(paths, system, port),
        _ => {
            let state = paths.work.join(format!("state-ui-{system}"));
            let _ = fs::remove_dir_all(&state);
            let runtime = if system == "spin" {
                Runtime::Spin
            } else {
                Runtime::Spinflow
            };
            let manifest = paths.repo.join("spin.toml");
            launch::app(
                paths,
                runtime,
                &format!("{system}-ui"),
                &manifest,
                port,
                &state,
                "/health",
            )
        }
    };
    let server = procs::start(launch, &paths.work.join("logs")).await?;
    let measured = measure_on(paths, &server, system, results).await;
    server.stop();
    measured
}

async fn measure_on(
    paths: &Paths,
    server: &Server,
    system: &str,
    results: &mut Results,
) -> Result<()> {
    let seeded = seed(&server.authority()).await?;
    let out = browse(paths, &server.authority(), &seeded)?;
    let mut record = |metric: &str, unit: &str, value: f64| {
        results.record(WORKLOAD, metric, unit, Better::Lower, system, value);
    };
    record(
        "runs table shown, cold load (median of 5)",
        "ms",
        results::median(&out.cold_ms),
    );
    let first_bytes = out.cold_bytes.first().copied().unwrap_or(0.0);
    record("bytes of the first load", "MiB", first_bytes / 1048576.0);
    record("runs table shown, repeat load", "ms", out.warm_ms);
    record("bytes of a repeat load", "KiB", out.warm_bytes / 1024.0);
    record(
        "static files fetched again on a repeat load",
        "files",
        out.warm_static_fetched_again.len() as f64,
    );
    record("/graphql GetRun p50", "ms", out.graphql_get_run.p50_ms);
    if !out.warm_static_fetched_again.is_empty() {
        results.note(format!(
            "{system} ({WORKLOAD}): fetched again on a repeat load: {}",
            out.warm_static_fetched_again.join(", ")
        ));
    }
    Ok(())
}

/// What the UI is timed on: one experiment of [`UI_RUNS`] runs, each with [`UI_KEYS`] params
/// and metrics; the newest run is the runs table's first row.
struct Seeded {
    experiment_id: String,
    newest_run_id: String,
    newest_run_name: String,
}

async fn seed(authority: &str) -> Result<Seeded> {
    let mut c = Client::new(authority);
    let (exp, _) = c
        .ok(
            "POST",
            &format!("{API}/experiments/create"),
            Some(&json!({"name": "bench-ui"})),
        )
        .await?;
    let experiment_id = text(&exp["experiment_id"])?;
    let start = now_ms();
    let mut newest = (String::new(), String::new());
    for i in 0..UI_RUNS {
        let name = format!("ui-run-{i:04}");
        let (run, _) = c
            .ok(
                "POST",
                &format!("{API}/runs/create"),
                Some(&json!({
                    "experiment_id": experiment_id,
                    "run_name": name,
                    "start_time": start + i as u64,
                })),
            )
            .await?;
        let run_id = text(&run["run"]["info"]["run_id"])?;
        let params: Vec<Value> = (0..UI_KEYS)
            .map(|k| json!({"key": format!("param_{k}"), "value": format!("{}", (i + k) % 7)}))
            .collect();
        let metrics: Vec<Value> = (0..UI_KEYS)
            .map(|k| {
                json!({
                    "key": format!("metric_{k}"),
                    "value": ((i * 31 + k * 17) % 1000) as f64 / 1000.0,
                    "timestamp": start,
                    "step": 0,
                })
            })
            .collect();
        c.ok(
            "POST",
            &format!("{API}/runs/log-batch"),
            Some(&json!({"run_id": run_id, "params": params, "metrics": metrics})),
        )
        .await?;
        newest = (run_id, name);
    }
    Ok(Seeded {
        experiment_id,
        newest_run_id: newest.0,
        newest_run_name: newest.1,
    })
}

fn text(v: &Value) -> Result<String> {
    v.as_str().map(str::to_string).context("missing id")
}

#[derive(Deserialize)]
struct Browsed {
    cold_ms: Vec<f64>,
    cold_bytes: Vec<f64>,
    warm_ms: f64,
    warm_bytes: f64,
    warm_static_fetched_again: Vec<String>,
    graphql_get_run: GraphqlFigure,
}

#[derive(Deserialize)]
struct GraphqlFigure {
    p50_ms: f64,
}

fn browse(paths: &Paths, authority: &str, seeded: &Seeded) -> Result<Browsed> {
    let script = paths.peers().join("ui_load.py");
    let out = Command::new(paths.venv_bin("python"))
        .arg(&script)
        .args(["--url", &format!("http://{authority}")])
        .args(["--experiment-id", &seeded.experiment_id])
        .args(["--run-id", &seeded.newest_run_id])
        .args(["--run-name", &seeded.newest_run_name])
        .args(["--loads", &UI_COLD_LOADS.to_string()])
        .args(["--graphql-requests", &UI_GRAPHQL_REQUESTS.to_string()])
        .args(["--chromium", CHROMIUM])
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        bail!("{} failed ({}): {tail}", file_name(&script), out.status);
    }
    serde_json::from_slice(&out.stdout).context("ui_load.py's JSON")
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
