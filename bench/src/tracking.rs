//! Tracking workloads over the MLflow REST API, the same requests for every server:
//! create runs, log-batch ingest (verified by reading back), single log-metric under
//! concurrency, search with a metric filter and order_by, get-history.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::client::{now_ms, Client};
use crate::loadgen::{self, LoadOptions, RequestSpec};
use crate::results::{Better, Results};
use crate::settings::{log_metric_workload, Plan};

const API: &str = "/api/2.0/mlflow";

/// Keys per log-batch request: each batch holds `batch_size / KEYS` steps of each key.
const KEYS: usize = 10;

fn metric(key: &str, value: f64, step: u64, timestamp: u64) -> Value {
    json!({"key": key, "value": value, "timestamp": timestamp, "step": step})
}

async fn create_experiment(c: &mut Client, name: &str) -> Result<String> {
    let (v, _) = c
        .ok(
            "POST",
            &format!("{API}/experiments/create"),
            Some(&json!({"name": name})),
        )
        .await?;
    v["experiment_id"]
        .as_str()
        .map(str::to_string)
        .context("experiment_id in answer")
}

async fn create_run(c: &mut Client, exp: &str, name: &str) -> Result<(String, Duration)> {
    let body = json!({"experiment_id": exp, "start_time": now_ms(), "run_name": name});
    let (v, t) = c
        .ok("POST", &format!("{API}/runs/create"), Some(&body))
        .await?;
    let id = v["run"]["info"]["run_id"]
        .as_str()
        .context("run.info.run_id in answer")?;
    Ok((id.to_string(), t))
}

async fn log_batch(c: &mut Client, run: &str, metrics: Vec<Value>) -> Result<Duration> {
    let body = json!({"run_id": run, "metrics": metrics});
    Ok(c.ok("POST", &format!("{API}/runs/log-batch"), Some(&body))
        .await?
        .1)
}

/// Every point of a metric's history, following page tokens.
async fn history(c: &mut Client, run: &str, key: &str) -> Result<Vec<Value>> {
    let mut points = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("{API}/metrics/get-history?run_id={run}&metric_key={key}");
        if let Some(t) = &token {
            path.push_str(&format!("&page_token={t}"));
        }
        let (v, _) = c.ok("GET", &path, None).await?;
        if let Some(m) = v["metrics"].as_array() {
            points.extend(m.iter().cloned());
        }
        match v["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(points),
        }
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().max(1) as u64
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Runs every tracking workload once against the server at `authority` and records
/// the figures under `system`. A failed workload is noted and the next one runs.
pub async fn run_all(
    authority: &str,
    system: &str,
    rep: usize,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let mut c = Client::new(authority);
    let tag = format!("{system}-{rep}-{}", now_ms());
    let exp = create_experiment(&mut c, &format!("bench-search-{tag}")).await?;

    // 1. Create runs, one client, one after another.
    let mut hist = Histogram::<u64>::new(3)?;
    let mut runs = Vec::with_capacity(plan.runs);
    let t0 = Instant::now();
    for i in 0..plan.runs {
        let (id, t) = create_run(&mut c, &exp, &format!("run-{i}")).await?;
        hist.record(micros(t))?;
        runs.push(id);
    }
    let secs = t0.elapsed().as_secs_f64();
    results.record(
        "create-runs",
        "runs/s",
        "runs/s",
        Better::Higher,
        system,
        plan.runs as f64 / secs,
    );
    results.record(
        "create-runs",
        "p50",
        "ms",
        Better::Lower,
        system,
        quantile_ms(&hist, 0.5),
    );
    results.record(
        "create-runs",
        "p99",
        "ms",
        Better::Lower,
        system,
        quantile_ms(&hist, 0.99),
    );

    // Each run gets `loss` = i / runs, so the filter below keeps the lower half.
    let mut tasks = Vec::new();
    let per_task = runs.len().div_ceil(8).max(1);
    for (index, chunk) in runs.chunks(per_task).enumerate() {
        let chunk = chunk.to_vec();
        let authority = authority.to_string();
        let n = plan.runs;
        let start = index * per_task;
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(&authority);
            for (j, run) in chunk.iter().enumerate() {
                let loss = (start + j) as f64 / n as f64;
                log_batch(&mut c, run, vec![metric("loss", loss, 0, now_ms())]).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }

    if let Err(e) = search(&mut c, authority, system, &exp, plan, results).await {
        results.note(format!("{system}: search-runs failed: {e:#}"));
    }
    if let Err(e) = get_history(&mut c, authority, system, &runs[0], plan, results).await {
        results.note(format!("{system}: get-history failed: {e:#}"));
    }
    if let Err(e) = ingest(authority, system, &tag, plan, results).await {
        results.note(format!("{system}: log-batch failed: {e:#}"));
    }
    for clients in plan.log_metric_clients {
        let workload = log_metric_workload(clients);
        if let Err(e) = log_metric(authority, system, &tag, clients, plan, results).await {
            results.note(format!("{system}: {workload} failed: {e:#}"));
        }
    }
    Ok(())
}

async fn search(
    c: &mut Client,
    authority: &str,
    system: &str,
    exp: &str,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let body = json!({
        "experiment_ids": [exp],
        "filter": "metrics.loss < 0.5",
        "order_by": ["metrics.loss DESC"],
        "max_results": 1000,
    });
    // Check the answer once: the lower half of the runs, highest loss first.
    let (v, _) = c
        .ok("POST", &format!("{API}/runs/search"), Some(&body))
        .await?;
    let found = v["runs"].as_array().map(Vec::len).unwrap_or(0);
    let expected = plan.runs.div_ceil(2);
    ensure!(
        found == expected,
        "search found {found} runs, expected {expected}"
    );
    let losses: Vec<f64> = v["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            r["data"]["metrics"]
                .as_array()?
                .iter()
                .find(|m| m["key"] == "loss")?["value"]
                .as_f64()
        })
        .collect();
    ensure!(losses.len() == found, "search answer lacks the loss metric");
    ensure!(
        losses.windows(2).all(|w| w[0] >= w[1]),
        "search answer not ordered by loss DESC"
    );

    let spec = RequestSpec::post_json(
        authority,
        &format!("{API}/runs/search"),
        serde_json::to_vec(&body)?,
    )
    .expect("\"runs\"");
    let r = loadgen::sequential(&spec, plan.search_queries).await?;
    ensure!(r.errors == 0, "search errors: {:?}", r.first_error);
    results.record("search-runs", "p50", "ms", Better::Lower, system, r.p50_ms);
    results.record("search-runs", "p99", "ms", Better::Lower, system, r.p99_ms);
    Ok(())
}

async fn get_history(
    c: &mut Client,
    authority: &str,
    system: &str,
    run: &str,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let t = now_ms();
    let points: Vec<Value> = (0..plan.history_points)
        .map(|s| metric("hist", (s as f64).sqrt(), s as u64, t + s as u64))
        .collect();
    log_batch(c, run, points).await?;
    let got = history(c, run, "hist").await?.len();
    ensure!(
        got == plan.history_points,
        "get-history returned {got} points, expected {}",
        plan.history_points
    );

    let path = format!("{API}/metrics/get-history?run_id={run}&metric_key=hist");
    let spec = RequestSpec::get(authority, &path).expect("\"metrics\"");
    let r = loadgen::sequential(&spec, plan.history_queries).await?;
    ensure!(r.errors == 0, "get-history errors: {:?}", r.first_error);
    results.record("get-history", "p50", "ms", Better::Lower, system, r.p50_ms);
    results.record("get-history", "p99", "ms", Better::Lower, system, r.p99_ms);
    Ok(())
}

/// `writers` clients, each logging `batches` batches of `batch_size` metrics to its
/// own run at the same time; then every point is read back.
async fn ingest(
    authority: &str,
    system: &str,
    tag: &str,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let mut c = Client::new(authority);
    let exp = create_experiment(&mut c, &format!("bench-ingest-{tag}")).await?;
    let mut runs = Vec::new();
    for w in 0..plan.writers {
        runs.push(create_run(&mut c, &exp, &format!("writer-{w}")).await?.0);
    }
    let steps_per_batch = plan.batch_size / KEYS;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for run in runs.clone() {
        let authority = authority.to_string();
        let plan = *plan;
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(&authority);
            for b in 0..plan.batches {
                let ts = now_ms();
                let mut metrics = Vec::with_capacity(plan.batch_size);
                for s in 0..steps_per_batch {
                    let step = (b * steps_per_batch + s) as u64;
                    for k in 0..KEYS {
                        metrics.push(metric(
                            &format!("m{k}"),
                            step as f64 * 0.001 + k as f64,
                            step,
                            ts,
                        ));
                    }
                }
                log_batch(&mut c, &run, metrics).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let total = plan.writers * plan.batches * steps_per_batch * KEYS;

    // Read back: every key of every run holds every step; only a verified figure counts.
    let expected = plan.batches * steps_per_batch;
    for run in &runs {
        for k in 0..KEYS {
            let got = history(&mut c, run, &format!("m{k}")).await?.len();
            if got != expected {
                bail!("read back {got} points of m{k} in run {run}, expected {expected}");
            }
        }
    }
    let rate = total as f64 / secs;
    results.record(
        "log-batch",
        "metrics/s",
        "metrics/s",
        Better::Higher,
        system,
        rate,
    );
    Ok(())
}

/// `clients` connections each logging one metric per request to its own run (a new
/// step each time) for a fixed duration.
async fn log_metric(
    authority: &str,
    system: &str,
    tag: &str,
    clients: usize,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let workload = log_metric_workload(clients);
    let mut c = Client::new(authority);
    let exp = create_experiment(&mut c, &format!("bench-logmetric-{clients}-{tag}")).await?;
    let mut runs = Vec::new();
    for i in 0..clients {
        runs.push(create_run(&mut c, &exp, &format!("client-{i}")).await?.0);
    }
    let run_ids = Arc::new(runs.clone());
    let body_fn = Arc::new(move |conn: usize, seq: u64| {
        let body = json!({
            "run_id": run_ids[conn % run_ids.len()],
            "key": "lm",
            "value": seq as f64 * 0.5,
            "timestamp": now_ms(),
            "step": seq,
        });
        Bytes::from(serde_json::to_vec(&body).expect("json"))
    });
    let spec = RequestSpec::post_json(authority, &format!("{API}/runs/log-metric"), Bytes::new())
        .vary(body_fn);
    let opts = LoadOptions {
        connections: clients,
        ..plan.log_metric
    };
    let r = loadgen::run(&spec, opts).await?;
    if r.errors > 0 {
        results.note(format!(
            "{system}: {workload} had {} errors (first: {:?})",
            r.errors, r.first_error
        ));
    }

    // Nothing acknowledged may be missing (warm-up requests are extra points).
    let mut stored = 0;
    for run in &runs {
        stored += history(&mut c, run, "lm").await?.len() as u64;
    }
    ensure!(
        stored >= r.requests,
        "{stored} points stored, {} acknowledged",
        r.requests
    );
    ensure!(r.requests > 0, "no request succeeded");
    results.record(&workload, "req/s", "req/s", Better::Higher, system, r.rps);
    results.record(&workload, "p50", "ms", Better::Lower, system, r.p50_ms);
    results.record(&workload, "p99", "ms", Better::Lower, system, r.p99_ms);
    Ok(())
}
