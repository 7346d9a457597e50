//! Tracking workloads over the MLflow REST API, the same requests for every server:
//! create runs, log-batch ingest (verified by reading back), single log-metric under
//! concurrency, search with a metric filter and order_by, get-history. Each figure
//! counts its errors (answers other than 2xx); the write figures also count what was
//! acknowledged and read back, and, with a [`CpuMeter`], the CPU time per request.
//! The concurrent writes can be spread over several replicas of one app
//! ([`Target`]), each writer and connection addressing one of them directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::client::{now_ms, Client};
use crate::cpu::CpuMeter;
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

/// The servers a tracking workload addresses (one, or several replicas of one app on
/// one database) and the processes its CPU time is read from.
pub struct Target {
    /// `host:port` of each server; never empty.
    pub authorities: Vec<String>,
    pub meter: CpuMeter,
}

impl Target {
    pub fn new(authorities: Vec<String>, meter: CpuMeter) -> Self {
        assert!(!authorities.is_empty(), "a target has a server");
        Target { authorities, meter }
    }

    /// The server of the sequential figures and of the set-up and read-back requests.
    fn first(&self) -> &str {
        &self.authorities[0]
    }

    /// The other servers, which concurrent writes are spread over with the first.
    fn others(&self) -> &[String] {
        &self.authorities[1..]
    }
}

/// What a write figure (log-batch, log-metric) wrote: the runs and keys, the points
/// the servers acknowledged (a 2xx answer; warm-up included) and the points read
/// back afterwards through the API.
#[derive(Clone, Debug)]
pub struct Writes {
    pub runs: Vec<String>,
    pub keys: Vec<String>,
    pub acknowledged: u64,
    pub read_back: u64,
}

impl Writes {
    /// Acknowledged points missing from `stored`.
    pub fn lost(&self, stored: u64) -> u64 {
        self.acknowledged.saturating_sub(stored)
    }
}

/// The p50 and p99 of a figure's latency histogram.
fn record_latency(results: &mut Results, figure: &str, system: &str, hist: &Histogram<u64>) {
    results.record(
        figure,
        "p50",
        "ms",
        Better::Lower,
        system,
        quantile_ms(hist, 0.5),
    );
    results.record(
        figure,
        "p99",
        "ms",
        Better::Lower,
        system,
        quantile_ms(hist, 0.99),
    );
}

/// The latency and errors of a one-client figure; fails it when no request succeeded.
fn record_sequential(
    results: &mut Results,
    figure: &str,
    system: &str,
    r: &loadgen::LoadResult,
) -> Result<()> {
    if r.requests > 0 {
        results.record(figure, "p50", "ms", Better::Lower, system, r.p50_ms);
        results.record(figure, "p99", "ms", Better::Lower, system, r.p99_ms);
    }
    record_errors(results, figure, system, r.errors, r.first_error.as_deref());
    ensure!(r.requests > 0, "no {figure} request succeeded");
    Ok(())
}

/// Records the `errors` figure (a count) of `workload`, with a note naming the first.
fn record_errors(
    results: &mut Results,
    workload: &str,
    system: &str,
    errors: u64,
    first: Option<&str>,
) {
    results.record(
        workload,
        "errors",
        "count",
        Better::Lower,
        system,
        errors as f64,
    );
    if errors > 0 {
        results.note(format!(
            "{system}: {workload} had {errors} errors (first: {})",
            first.unwrap_or("-")
        ));
    }
}

/// Records `lost writes` of a write figure: acknowledged points missing from `stored`.
pub fn record_lost(
    results: &mut Results,
    workload: &str,
    system: &str,
    writes: &Writes,
    stored: u64,
) {
    let lost = writes.lost(stored);
    results.record(
        workload,
        "lost writes",
        "count",
        Better::Lower,
        system,
        lost as f64,
    );
    if lost > 0 {
        results.note(format!(
            "{system}: {workload}: {lost} acknowledged points missing ({} acknowledged, {stored} stored)",
            writes.acknowledged
        ));
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().max(1) as u64
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Runs every tracking workload once against `target` and records the figures under
/// `system`. A failed workload is noted and the next one runs.
pub async fn run_all(
    target: &Target,
    system: &str,
    rep: usize,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let authority = target.first();
    let mut c = Client::new(authority);
    let tag = format!("{system}-{rep}-{}", now_ms());
    let exp = create_experiment(&mut c, &format!("bench-search-{tag}")).await?;

    // 1. Create runs, one client, one after another.
    let mut hist = Histogram::<u64>::new(3)?;
    let mut runs = Vec::with_capacity(plan.runs);
    let (mut errors, mut first_error) = (0, None);
    let t0 = Instant::now();
    for i in 0..plan.runs {
        match create_run(&mut c, &exp, &format!("run-{i}")).await {
            Ok((id, t)) => {
                hist.record(micros(t))?;
                runs.push(id);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if runs.is_empty() {
        record_errors(
            results,
            "create-runs",
            system,
            errors,
            first_error.as_deref(),
        );
        bail!("no run was created");
    }
    results.record(
        "create-runs",
        "runs/s",
        "runs/s",
        Better::Higher,
        system,
        runs.len() as f64 / secs,
    );
    record_latency(results, "create-runs", system, &hist);
    record_errors(
        results,
        "create-runs",
        system,
        errors,
        first_error.as_deref(),
    );

    // Each run gets `loss` = i / runs, so the filter below keeps the lower half.
    let mut tasks = Vec::new();
    let per_task = runs.len().div_ceil(8).max(1);
    for (index, chunk) in runs.chunks(per_task).enumerate() {
        let chunk = chunk.to_vec();
        let authority = authority.to_string();
        let n = runs.len();
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

    if let Err(e) = search(&mut c, authority, system, &exp, runs.len(), plan, results).await {
        results.note(format!("{system}: search-runs failed: {e:#}"));
    }
    if let Err(e) = get_history(&mut c, authority, system, &runs[0], plan, results).await {
        results.note(format!("{system}: get-history failed: {e:#}"));
    }
    for (workload, writes) in write_figures(target, system, &tag, plan, results).await {
        record_lost(results, &workload, system, &writes, writes.read_back);
    }
    Ok(())
}

/// The concurrent write figures, log-batch and log-metric at each connection count,
/// spread over the target's servers; what each wrote, for checks of what is stored.
/// A failed figure is noted and left out.
pub async fn write_figures(
    target: &Target,
    system: &str,
    tag: &str,
    plan: &Plan,
    results: &mut Results,
) -> Vec<(String, Writes)> {
    let mut written = Vec::new();
    match ingest(target, system, tag, plan, results).await {
        Ok(w) => written.push(("log-batch".to_string(), w)),
        Err(e) => results.note(format!("{system}: log-batch failed: {e:#}")),
    }
    for clients in plan.log_metric_clients {
        let workload = log_metric_workload(clients);
        match log_metric(target, system, tag, clients, plan, results).await {
            Ok(w) => written.push((workload, w)),
            Err(e) => results.note(format!("{system}: {workload} failed: {e:#}")),
        }
    }
    written
}

async fn search(
    c: &mut Client,
    authority: &str,
    system: &str,
    exp: &str,
    runs: usize,
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
    let expected = runs.div_ceil(2);
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
    record_sequential(results, "search-runs", system, &r)
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
    record_sequential(results, "get-history", system, &r)
}

/// What one log-batch writer saw: latencies of its acknowledged batches, and its errors.
struct WriterStats {
    hist: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// `writers` clients, each logging `batches` batches of `batch_size` metrics to its
/// own run at the same time (batch `b` of writer `w` to server `w + b` of the
/// target, in turn); then every point is read back.
async fn ingest(
    target: &Target,
    system: &str,
    tag: &str,
    plan: &Plan,
    results: &mut Results,
) -> Result<Writes> {
    let workload = "log-batch";
    let mut c = Client::new(target.first());
    let exp = create_experiment(&mut c, &format!("bench-ingest-{tag}")).await?;
    let mut runs = Vec::new();
    for w in 0..plan.writers {
        runs.push(create_run(&mut c, &exp, &format!("writer-{w}")).await?.0);
    }
    let steps_per_batch = plan.batch_size / KEYS;
    let cpu_before = target.meter.read();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (w, run) in runs.iter().cloned().enumerate() {
        let authorities = target.authorities.clone();
        let plan = *plan;
        tasks.push(tokio::spawn(async move {
            let mut clients: Vec<Client> = authorities.iter().map(|a| Client::new(a)).collect();
            let mut stats = WriterStats {
                hist: Histogram::<u64>::new(3)?,
                errors: 0,
                first_error: None,
            };
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
                let client = &mut clients[(w + b) % authorities.len()];
                match log_batch(client, &run, metrics).await {
                    Ok(t) => stats.hist.record(micros(t))?,
                    Err(e) => {
                        stats.errors += 1;
                        stats.first_error.get_or_insert(format!("{e:#}"));
                    }
                }
            }
            anyhow::Ok(stats)
        }));
    }
    let mut hist = Histogram::<u64>::new(3)?;
    let (mut errors, mut first_error) = (0, None);
    for t in tasks {
        let s = t.await??;
        hist.add(&s.hist)?;
        errors += s.errors;
        first_error = first_error.or(s.first_error);
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = target.meter.read().since(cpu_before);
    let batches = hist.len();
    if batches == 0 {
        record_errors(results, workload, system, errors, first_error.as_deref());
        bail!("no batch was acknowledged");
    }

    // Read back: every key of every run, counted against what was acknowledged.
    let keys: Vec<String> = (0..KEYS).map(|k| format!("m{k}")).collect();
    let mut read_back = 0;
    for run in &runs {
        for key in &keys {
            read_back += history(&mut c, run, key).await?.len() as u64;
        }
    }
    let acknowledged = batches * plan.batch_size as u64;
    results.record(
        workload,
        "metrics/s",
        "metrics/s",
        Better::Higher,
        system,
        acknowledged as f64 / secs,
    );
    record_latency(results, workload, system, &hist);
    record_errors(results, workload, system, errors, first_error.as_deref());
    target.meter.record(cpu, batches, workload, system, results);
    Ok(Writes {
        runs,
        keys,
        acknowledged,
        read_back,
    })
}

/// `clients` connections each logging one metric per request to its own run (a new
/// step each time) for a fixed duration, the connections split between the target's
/// servers; afterwards the stored points are read back.
async fn log_metric(
    target: &Target,
    system: &str,
    tag: &str,
    clients: usize,
    plan: &Plan,
    results: &mut Results,
) -> Result<Writes> {
    let workload = log_metric_workload(clients);
    let mut c = Client::new(target.first());
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
    let spec = RequestSpec::post_json(
        target.first(),
        &format!("{API}/runs/log-metric"),
        Bytes::new(),
    )
    .vary(body_fn)
    .spread_over(target.others());
    let opts = LoadOptions {
        connections: clients,
        ..plan.log_metric
    };
    let cpu_before = target.meter.read();
    let r = loadgen::run(&spec, opts).await?;
    let cpu = target.meter.read().since(cpu_before);
    if r.requests == 0 {
        record_errors(
            results,
            &workload,
            system,
            r.errors,
            r.first_error.as_deref(),
        );
        bail!("no request succeeded");
    }

    let mut read_back = 0;
    for run in &runs {
        read_back += history(&mut c, run, "lm").await?.len() as u64;
    }
    results.record(&workload, "req/s", "req/s", Better::Higher, system, r.rps);
    results.record(&workload, "p50", "ms", Better::Lower, system, r.p50_ms);
    results.record(&workload, "p99", "ms", Better::Lower, system, r.p99_ms);
    record_errors(
        results,
        &workload,
        system,
        r.errors,
        r.first_error.as_deref(),
    );
    target
        .meter
        .record(cpu, r.acknowledged, &workload, system, results);
    Ok(Writes {
        runs,
        keys: vec!["lm".to_string()],
        acknowledged: r.acknowledged,
        read_back,
    })
}
