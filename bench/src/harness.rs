//! `bench all`: set up, start every system in turn on a free loopback port, run its
//! workloads, stop it, and write the report. Repetitions alternate the order of the
//! systems so that drift on a shared machine does not favour one side.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::loadgen::{self, LoadOptions};
use crate::predict;
use crate::procs::{self, Server};
use crate::report::{self, RunInfo};
use crate::results::{Better, Results};
use crate::setup::{self, Paths};
use crate::systems::{self, PREDICT_SYSTEMS, TRACKING_SYSTEMS};
use crate::tracking::{self, Plan};
use crate::{hostfig, sizes};

/// What `bench all` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub quick: bool,
    /// Only these systems (`spinflow` alone still brings the native floor).
    pub only: Option<Vec<String>>,
    /// Where the report and plots go.
    pub out: PathBuf,
    pub reps: usize,
    pub build: bool,
    pub plots: bool,
}

impl Options {
    fn wants(&self, system: &str) -> bool {
        match &self.only {
            None => true,
            Some(list) => {
                list.iter().any(|s| s == system)
                    || (system == "floor" && list.iter().any(|s| s == "spinflow"))
            }
        }
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
            log_metric_clients: 8,
            log_metric,
            search_queries: if self.quick { 10 } else { 50 },
            history_points: 200,
            history_queries: if self.quick { 20 } else { 100 },
        }
    }
}

/// The fixed answer of the floor: the size and shape of a one-row prediction.
pub const FLOOR_BODY: &str = r#"{"predictions":[{"class":"setosa","class_index":0,"probabilities":{"setosa":0.97,"versicolor":0.03,"virginica":0.0}}],"model":{"name":"iris","version":"1","source":"embedded"}}"#;

/// Name of a run's scratch directory (databases, logs) under `<out>/tmp`.
const RUN_STAMP: &str = "%Y%m%dT%H%M%S";

/// Drops the scratch of earlier runs (hundreds of MiB each), so that only the latest
/// run's is kept for reading its logs. Only directories named like a run are touched.
fn remove_earlier_runs(scratch: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(scratch) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let is_run = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| chrono::NaiveDateTime::parse_from_str(n, RUN_STAMP).is_ok());
        if is_run && path.is_dir() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

pub async fn run(opts: Options) -> Result<PathBuf> {
    let started = Instant::now();
    let stamp = chrono::Utc::now();
    let scratch = opts.out.join("tmp");
    remove_earlier_runs(&scratch)?;
    let work = scratch.join(stamp.format(RUN_STAMP).to_string());
    fs::create_dir_all(&work)?;
    let paths = Paths::new(work.clone(), opts.quick)?;
    let needs_peers = [PREDICT_SYSTEMS, TRACKING_SYSTEMS]
        .concat()
        .iter()
        .any(|s| !systems::is_native(s) && opts.wants(s));

    if opts.build {
        setup::build_spinflow(&paths)?;
    }
    let model_dir = if needs_peers {
        setup::ensure_venv(&paths)?;
        Some(setup::train_peer_model(&paths)?)
    } else {
        None
    };

    let mut info = RunInfo::new(&opts, &paths, stamp, needs_peers);
    let mut results = Results::default();

    if opts.wants("spinflow") {
        hostfig::run(&paths, &opts, &mut info, &mut results).await;
        if let Err(e) = hostfig::prime_cache(&paths).await {
            results.note(format!("priming the compiled-code cache: {e:#}"));
        }
    }

    let predict: Vec<&str> = PREDICT_SYSTEMS
        .iter()
        .copied()
        .filter(|s| opts.wants(s))
        .collect();
    for system in predict.iter().copied().filter(|s| is_registry_variant(s)) {
        if let Err(e) = prepare_registry_model(&paths, system).await {
            results.note(format!("{system}: no registry model to serve: {e:#}"));
        }
    }
    for rep in 0..opts.reps {
        for system in in_rep_order(&predict, rep) {
            let launch = systems::predict_launch(
                &paths,
                system,
                procs::free_port()?,
                model_dir.as_ref(),
                FLOOR_BODY,
            );
            info.command(system, &systems::command_line(&launch, &paths));
            match procs::start(launch, &paths.work.join("logs")).await {
                Ok(server) => predict_system(server, system, &opts, &mut results).await,
                Err(e) => results.note(format!("{system} did not start: {e:#}")),
            }
        }
    }

    let tracking: Vec<&str> = TRACKING_SYSTEMS
        .iter()
        .copied()
        .filter(|s| opts.wants(s))
        .collect();
    let plan = opts.tracking_plan();
    for rep in 0..opts.reps {
        for system in in_rep_order(&tracking, rep) {
            let launch = systems::tracking_launch(&paths, system, procs::free_port()?);
            info.command(
                &format!("{system} (tracking)"),
                &systems::command_line(&launch, &paths),
            );
            match procs::start(launch, &paths.work.join("logs")).await {
                Ok(server) => tracking_system(server, system, rep, &plan, &mut results).await,
                Err(e) => results.note(format!("{system} (tracking) did not start: {e:#}")),
            }
        }
    }

    sizes::record(&paths, needs_peers, &mut results);
    info.finish(started.elapsed());
    let report = report::write(&opts, &paths, &info, &results)?;
    if opts.plots {
        report::plot(&paths, &report)?;
    }
    Ok(report)
}

fn is_registry_variant(system: &str) -> bool {
    systems::spinflow_variant(system).is_some_and(|(_, registry)| registry)
}

/// Trains a model into the app's own tracking server (`spinflow train`) and waits
/// until iris-api serves it; the measured runs then start from that state, with
/// the default refresh interval.
async fn prepare_registry_model(paths: &Paths, system: &str) -> Result<()> {
    let (manifest, _) = systems::spinflow_variant(system).context("not a spinflow variant")?;
    let state = systems::registry_state_dir(paths, system);
    let _ = fs::remove_dir_all(&state);
    let mut launch = systems::spinflow(
        paths,
        &format!("{system}-setup"),
        Path::new(manifest),
        procs::free_port()?,
        &state,
        &[],
        "/health",
    );
    // Asks the registry every second while setting up, to pick the version up at once.
    launch
        .env
        .push(("SPIN_VARIABLE_MODEL_REFRESH_SECONDS".into(), "1".into()));
    let server = procs::start(launch, &paths.work.join("logs")).await?;
    let url = format!("http://{}", server.authority());
    let served = match setup::run(std::process::Command::new(paths.spinflow()).args([
        "train",
        "--tracking-uri",
        &url,
        "-q",
    ])) {
        Ok(()) => wait_for_registry_model(&server.authority()).await,
        Err(e) => Err(e),
    };
    server.stop();
    served
}

async fn wait_for_registry_model(authority: &str) -> Result<()> {
    let mut client = crate::client::Client::new(authority);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, health, _) = client.call("GET", "/health", None).await?;
        if health["model"]["source"] == "registry" {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("iris-api still serves {health} after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Odd repetitions run the systems in reverse order.
fn in_rep_order<'a>(systems: &[&'a str], rep: usize) -> Vec<&'a str> {
    let mut v = systems.to_vec();
    if rep % 2 == 1 {
        v.reverse();
    }
    v
}

async fn settle_and_measure_rss(server: &Server) -> f64 {
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.rss_mib()
}

async fn predict_system(server: Server, system: &str, opts: &Options, results: &mut Results) {
    results.record(
        "resources (prediction)",
        "cold start",
        "ms",
        Better::Lower,
        system,
        server.cold_start.as_secs_f64() * 1000.0,
    );
    let idle = settle_and_measure_rss(&server).await;
    results.record(
        "resources (prediction)",
        "RSS idle",
        "MiB",
        Better::Lower,
        system,
        idle,
    );
    let load = opts.predict_load();
    for (target, protocol) in predict::targets(system) {
        for (workload, n) in [("predict 1 row", 1), ("predict 100 rows", 100)] {
            let spec = predict::request(protocol, &server.authority(), &predict::rows_for(n));
            match loadgen::run(&spec, load).await {
                Ok(r) => {
                    if r.errors > 0 {
                        results.note(format!(
                            "{target} {workload}: {} errors, {} reconnects (first: {})",
                            r.errors,
                            r.reconnects,
                            r.first_error.as_deref().unwrap_or("-")
                        ));
                    }
                    if r.requests == 0 {
                        continue;
                    }
                    results.record(workload, "req/s", "req/s", Better::Higher, &target, r.rps);
                    results.record(workload, "p50", "ms", Better::Lower, &target, r.p50_ms);
                    results.record(workload, "p99", "ms", Better::Lower, &target, r.p99_ms);
                }
                Err(e) => results.note(format!("{target} {workload}: {e:#}")),
            }
        }
    }
    results.record(
        "resources (prediction)",
        "RSS after load",
        "MiB",
        Better::Lower,
        system,
        server.rss_mib(),
    );
    server.stop();
}

async fn tracking_system(
    server: Server,
    system: &str,
    rep: usize,
    plan: &Plan,
    results: &mut Results,
) {
    results.record(
        "resources (tracking)",
        "cold start",
        "ms",
        Better::Lower,
        system,
        server.cold_start.as_secs_f64() * 1000.0,
    );
    let idle = settle_and_measure_rss(&server).await;
    results.record(
        "resources (tracking)",
        "RSS idle",
        "MiB",
        Better::Lower,
        system,
        idle,
    );
    if let Err(e) = tracking::run_all(&server.authority(), system, rep, plan, results).await {
        results.note(format!("{system} (tracking): {e:#}\n{}", server.log_tail()));
    }
    results.record(
        "resources (tracking)",
        "RSS after load",
        "MiB",
        Better::Lower,
        system,
        server.rss_mib(),
    );
    server.stop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_earlier_run_directories_are_removed() {
        let scratch = std::env::temp_dir().join(format!("bench-scratch-{}", std::process::id()));
        let run = scratch.join("20261128T022837");
        let other = scratch.join("notes");
        let file_named_like_a_run = scratch.join("20261128T000000");
        fs::create_dir_all(run.join("logs")).unwrap();
        fs::create_dir_all(&other).unwrap();
        fs::write(&file_named_like_a_run, b"kept").unwrap();

        remove_earlier_runs(&scratch).unwrap();

        assert!(!run.exists());
        assert!(other.is_dir());
        assert!(file_named_like_a_run.is_file());
        fs::remove_dir_all(&scratch).unwrap();
        // No scratch directory at all is fine too.
        remove_earlier_runs(&scratch).unwrap();
    }
}
