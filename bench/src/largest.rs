//! Peak resident memory of the serving process under the largest requests the app
//! accepts, and the oversized ones of the reliability battery, several at once:
//! the figure that bounds what one pod needs.
//!
//! Each kind of request is sent [`AT_ONCE`] times concurrently on a new server;
//! the peak is the serving process's high-water mark (VmHWM) at the end.

use std::fs;

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use futures::future::join_all;
use http_body_util::Full;
use serde_json::{json, Value};

use crate::client::{now_ms, Client};
use crate::launch;
use crate::loadgen;
use crate::options::Options;
use crate::paths::Paths;
use crate::predict;
use crate::procs::{self, Server};
use crate::results::{Better, Results};
use crate::settings::{ARTIFACT_MIB, AT_ONCE, HISTORY_POINTS};
use crate::systems::Runtime;

pub const WORKLOAD: &str = "largest requests";
/// Size of a JSON body just under mlflow-server's buffered-body limit (16 MiB).
const BIG_BODY_BYTES: usize = (16 << 20) - 4096;
/// `outputs` entries of the battery's oversized Open Inference Protocol request.
const REPEATED_OUTPUTS: usize = 5_000;
const API: &str = "/api/2.0/mlflow";

pub async fn run(paths: &Paths, opts: &Options, results: &mut Results) {
    for (runtime, name) in opts.runtimes() {
        if let Err(e) = measure(paths, runtime, name, results).await {
            results.note(format!("{name} ({WORKLOAD}): {e:#}"));
        }
    }
}

async fn measure(paths: &Paths, runtime: Runtime, name: &str, results: &mut Results) -> Result<()> {
    let state = paths.work.join(format!("state-largest-{name}"));
    let _ = fs::remove_dir_all(&state);
    let launch = launch::app(
        paths,
        runtime,
        &format!("{name}-largest"),
        &paths.repo.join("spin.toml"),
        procs::free_port()?,
        &state,
        "/health",
    );
    let server = procs::start(launch, &paths.work.join("logs")).await?;
    let measured = measure_on(&server, name, results).await;
    server.stop();
    measured
}

async fn measure_on(server: &Server, name: &str, results: &mut Results) -> Result<()> {
    let authority = server.authority();
    results.record(
        WORKLOAD,
        "RSS idle, serving process",
        "MiB",
        Better::Lower,
        name,
        server.largest_process_rss_mib(),
    );
    let mut c = Client::new(&authority);
    let run = new_run(&mut c).await?;
    write_history(&mut c, &run, HISTORY_POINTS).await?;

    let mut unexpected = Vec::new();
    for (label, request, want) in requests(&authority, &run) {
        let answers = join_all((0..AT_ONCE).map(|_| send(&authority, request.clone()))).await;
        for answer in answers {
            match answer {
                Ok((status, _)) if want.accepts(status) => {}
                Ok((status, body)) => unexpected.push(format!(
                    "{label}: {status} {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                )),
                Err(e) => unexpected.push(format!("{label}: {e:#}")),
            }
        }
    }
    results.record(
        WORKLOAD,
        "peak RSS, serving process",
        "MiB",
        Better::Lower,
        name,
        server.peak_rss_mib(),
    );
    results.record(
        WORKLOAD,
        "RSS after, serving process",
        "MiB",
        Better::Lower,
        name,
        server.largest_process_rss_mib(),
    );
    if !unexpected.is_empty() {
        results.note(format!(
            "{name} ({WORKLOAD}): unexpected answers: {}",
            unexpected.join("; ")
        ));
    }
    let artifact = download_len(&authority).await?;
    ensure!(
        artifact == ARTIFACT_MIB << 20,
        "the {ARTIFACT_MIB} MiB artifact reads back as {artifact} bytes"
    );
    Ok(())
}

/// What an answer must be for the request to have been served as designed.
#[derive(Clone, Copy)]
enum Want {
    Success,
    /// Refused as the client's fault, or served (a bounded answer).
    RefusedOrServed,
}

impl Want {
    fn accepts(self, status: u16) -> bool {
        match self {
            Want::Success => (200..300).contains(&status),
            Want::RefusedOrServed => (200..300).contains(&status) || (400..500).contains(&status),
        }
    }
}

fn artifact_path() -> String {
    format!("{API}-artifacts/artifacts/bench/largest/blob.bin")
}

/// The requests, in the order they are sent: (label, request, expected answer).
fn requests(authority: &str, run: &str) -> Vec<(&'static str, hyper::Request<Full<Bytes>>, Want)> {
    let rows = predict::rows(1000);
    let predict = json!({ "features": rows });
    let oip = json!({
        "inputs": [{
            "name": "input", "shape": [1000, 4], "datatype": "FP32",
            "data": rows.iter().flatten().collect::<Vec<_>>(),
        }],
        "outputs": vec![json!({"name": "probabilities"}); REPEATED_OUTPUTS],
    });
    let metrics: Vec<Value> = (0..1000)
        .map(|i| json!({"key": format!("m{}", i % 10), "value": i, "timestamp": now_ms(), "step": i}))
        .collect();
    let big_tag = json!({
        "experiment_id": "0",
        "tags": [{"key": "big", "value": "x".repeat(BIG_BODY_BYTES)}],
    });
    let blob = Bytes::from(vec![7u8; ARTIFACT_MIB << 20]);
    vec![
        (
            "/predict 1,000 rows",
            post(authority, "/predict", &predict),
            Want::Success,
        ),
        (
            "OIP infer, 1,000 rows, outputs x 5,000",
            post(authority, "/v2/models/iris/infer", &oip),
            Want::RefusedOrServed,
        ),
        (
            "log-batch 1,000 metrics",
            post(
                authority,
                &format!("{API}/runs/log-batch"),
                &json!({"run_id": run, "metrics": metrics}),
            ),
            Want::Success,
        ),
        (
            "runs/create with a 16 MiB tag",
            post(authority, &format!("{API}/runs/create"), &big_tag),
            Want::RefusedOrServed,
        ),
        (
            "get-history of 300,000 points, no max_results",
            request(
                authority,
                "GET",
                &format!("{API}/metrics/get-history?run_id={run}&metric_key=long"),
                Bytes::new(),
            ),
            Want::Success,
        ),
        (
            "artifact upload, 100 MiB",
            request(authority, "PUT", &artifact_path(), blob),
            Want::Success,
        ),
    ]
}

fn post(authority: &str, path: &str, body: &Value) -> hyper::Request<Full<Bytes>> {
    let body = Bytes::from(serde_json::to_vec(body).expect("json"));
    let mut req = request(authority, "POST", path, body);
    req.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    req
}

fn request(authority: &str, method: &str, path: &str, body: Bytes) -> hyper::Request<Full<Bytes>> {
    hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header("x-api-key", "dev-key")
        .body(Full::new(body))
        .expect("request")
}

async fn send(authority: &str, req: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes)> {
    let mut conn = loadgen::connect(authority).await?;
    loadgen::send(&mut conn, req).await
}

async fn download_len(authority: &str) -> Result<usize> {
    let (status, body) = send(
        authority,
        request(authority, "GET", &artifact_path(), Bytes::new()),
    )
    .await?;
    ensure!(status == 200, "artifact download answered {status}");
    Ok(body.len())
}

async fn new_run(c: &mut Client) -> Result<String> {
    let (v, _) = c
        .ok(
            "POST",
            &format!("{API}/runs/create"),
            Some(&json!({"experiment_id": "0", "start_time": now_ms()})),
        )
        .await?;
    Ok(v["run"]["info"]["run_id"]
        .as_str()
        .context("run_id")?
        .to_string())
}

/// `points` steps of the metric `long`, by log-batch of 1,000.
async fn write_history(c: &mut Client, run: &str, points: usize) -> Result<()> {
    let ts = now_ms();
    for start in (0..points).step_by(1000) {
        let metrics: Vec<Value> = (start..(start + 1000).min(points))
            .map(|i| json!({"key": "long", "value": i, "timestamp": ts, "step": i}))
            .collect();
        c.ok(
            "POST",
            &format!("{API}/runs/log-batch"),
            Some(&json!({"run_id": run, "metrics": metrics})),
        )
        .await?;
    }
    Ok(())
}
