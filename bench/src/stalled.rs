//! The whole app under clients that stall: `/predict` and `log-metric` throughput with
//! 1,000 stalled connections held open, beside the same figures without them, and the
//! serving process's peak resident memory after the largest requests the app accepts.
//!
//! Half of the stalled clients stop in the middle of their headers, half after 5 bytes
//! of a 100-byte body (the two ways the reliability battery froze a server). A stalled
//! client that the server drops connects and stalls again at once, so the number held
//! stays at 1,000 for the whole measurement, as an attacker would keep it.

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::client::{now_ms, Client};
use crate::launch;
use crate::loadgen::{self, RequestSpec};
use crate::options::Options;
use crate::paths::Paths;
use crate::predict;
use crate::procs::{self, Server};
use crate::results::{Better, Results};
use crate::settings::STALLED;
use crate::systems::Runtime;

pub const WORKLOAD: &str = "stalled clients";
const API: &str = "/api/2.0/mlflow";

pub async fn run(paths: &Paths, opts: &Options, results: &mut Results) {
    for (runtime, name) in opts.runtimes() {
        if let Err(e) = measure(paths, opts, runtime, name, results).await {
            results.note(format!("{name} ({WORKLOAD}): {e:#}"));
        }
    }
}

async fn measure(
    paths: &Paths,
    opts: &Options,
    runtime: Runtime,
    name: &str,
    results: &mut Results,
) -> Result<()> {
    let state = paths.work.join(format!("state-stalled-{name}"));
    let _ = fs::remove_dir_all(&state);
    let manifest = paths.repo.join("spin.toml");
    let launch = launch::app(
        paths,
        runtime,
        &format!("{name}-stalled"),
        &manifest,
        procs::free_port()?,
        &state,
        "/health",
    );
    let server = procs::start(launch, &paths.work.join("logs")).await?;
    let measured = measure_on(&server, opts, name, results).await;
    server.stop();
    measured
}

async fn measure_on(
    server: &Server,
    opts: &Options,
    name: &str,
    results: &mut Results,
) -> Result<()> {
    let authority = server.authority();
    let load = opts.predict_load();
    let predict = predict::request(predict::Protocol::Predict, &authority, &[predict::ONE_ROW]);
    let log_metric = log_metric_spec(&authority).await?;

    let mut record = |metric: &str, unit: &str, better: Better, value: f64| {
        results.record(WORKLOAD, metric, unit, better, name, value);
    };
    // Calm figures before and after the stalled ones, averaged, so that drift over the
    // run (warm caches, a growing database) does not land on one side of the ratio.
    let calm_before = (
        loadgen::run(&predict, load).await?.rps,
        loadgen::run(&log_metric, load).await?.rps,
    );
    let stallers = Stallers::start(&authority, STALLED);
    stallers.wait_until_held(Duration::from_secs(30)).await?;
    let stalled_predict = loadgen::run(&predict, load).await;
    let stalled_log = loadgen::run(&log_metric, load).await;
    let held = stallers.held();
    stallers.stop();
    let (stalled_predict, stalled_log) = (stalled_predict?, stalled_log?);
    let calm_predict = (calm_before.0 + loadgen::run(&predict, load).await?.rps) / 2.0;
    let calm_log = (calm_before.1 + loadgen::run(&log_metric, load).await?.rps) / 2.0;

    record("/predict req/s", "req/s", Better::Higher, calm_predict);
    record(
        "/predict req/s, 1,000 stalled",
        "req/s",
        Better::Higher,
        stalled_predict.rps,
    );
    record(
        "/predict stalled/calm",
        "x",
        Better::Higher,
        ratio(stalled_predict.rps, calm_predict),
    );
    record(
        "/predict p99, 1,000 stalled",
        "ms",
        Better::Lower,
        stalled_predict.p99_ms,
    );
    record("log-metric req/s", "req/s", Better::Higher, calm_log);
    record(
        "log-metric req/s, 1,000 stalled",
        "req/s",
        Better::Higher,
        stalled_log.rps,
    );
    record(
        "log-metric stalled/calm",
        "x",
        Better::Higher,
        ratio(stalled_log.rps, calm_log),
    );
    record(
        "stalled connections held at the end",
        "connections",
        Better::Higher,
        held as f64,
    );
    for (label, r) in [("/predict", &stalled_predict), ("log-metric", &stalled_log)] {
        if r.errors > 0 {
            results.note(format!(
                "{name} ({WORKLOAD}): {label} with stalled clients: {} errors (first: {})",
                r.errors,
                r.first_error.as_deref().unwrap_or("-")
            ));
        }
    }
    Ok(())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// `runs/log-metric` on one run of a new experiment, one step per request.
async fn log_metric_spec(authority: &str) -> Result<RequestSpec> {
    let mut c = Client::new(authority);
    let (exp, _) = c
        .ok(
            "POST",
            &format!("{API}/experiments/create"),
            Some(&json!({"name": "bench-stalled"})),
        )
        .await?;
    let exp = exp["experiment_id"].as_str().context("experiment_id")?;
    let (run, _) = c
        .ok(
            "POST",
            &format!("{API}/runs/create"),
            Some(&json!({"experiment_id": exp, "start_time": now_ms()})),
        )
        .await?;
    let run = run["run"]["info"]["run_id"]
        .as_str()
        .context("run_id")?
        .to_string();
    let body_fn = Arc::new(move |conn: usize, seq: u64| {
        let body = json!({
            "run_id": run,
            "key": format!("stalled-{conn}"),
            "value": seq as f64,
            "timestamp": now_ms(),
            "step": seq,
        });
        Bytes::from(serde_json::to_vec(&body).expect("json"))
    });
    Ok(
        RequestSpec::post_json(authority, &format!("{API}/runs/log-metric"), Bytes::new())
            .vary(body_fn),
    )
}

/// Clients that each keep one connection stalled, reconnecting when dropped.
struct Stallers {
    tasks: Vec<JoinHandle<()>>,
    /// Connections currently open and stalled.
    held: Arc<AtomicUsize>,
    target: usize,
}

impl Stallers {
    fn start(authority: &str, count: usize) -> Self {
        let held = Arc::new(AtomicUsize::new(0));
        let tasks = (0..count)
            .map(|i| {
                let authority = authority.to_string();
                let held = held.clone();
                // Even clients stop inside their headers, odd ones inside their body.
                let stall = if i % 2 == 0 { HALF_HEADERS } else { HALF_BODY };
                tokio::spawn(async move {
                    loop {
                        if stall_once(&authority, stall, &held).await.is_err() {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                })
            })
            .collect();
        Self {
            tasks,
            held,
            target: count,
        }
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    async fn wait_until_held(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while self.held() < self.target {
            ensure!(
                Instant::now() < deadline,
                "only {} of {} stalled connections open after {limit:?}",
                self.held(),
                self.target
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

const HALF_HEADERS: &[u8] =
    b"POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: bench\r\nContent-Typ";
const HALF_BODY: &[u8] = b"POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: bench\r\n\
Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"exp";

/// One stalled connection: send `stall`, then wait until the server drops it.
async fn stall_once(authority: &str, stall: &[u8], held: &AtomicUsize) -> Result<()> {
    let mut stream = TcpStream::connect(authority).await?;
    stream.write_all(stall).await?;
    held.fetch_add(1, Ordering::Relaxed);
    // Counted down however the wait ends, abort included.
    struct Held<'a>(&'a AtomicUsize);
    impl Drop for Held<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _held = Held(held);
    let mut sink = [0u8; 1024];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}
