//! `bench all`: set up, start every system in turn on a free loopback port, run its
//! workloads, stop it, and write the report. Repetitions alternate the order of the
//! systems so that drift on a shared machine does not favour one side.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cpu::CpuMeter;
use crate::launch;
use crate::loadgen;
use crate::manifest;
use crate::options::{Options, WORKLOADS};
use crate::paths::Paths;
use crate::predict;
use crate::procs::{self, Server};
use crate::report;
use crate::results::{Better, Results};
use crate::run_info::RunInfo;
use crate::settings::Plan;
use crate::setup;
use crate::shell;
use crate::systems::{self, Model, Runtime, PREDICT_SYSTEMS, TRACKING_SYSTEMS};
use crate::tracking;
use crate::{hostfig, largest, sizes, stalled, storage, storage_names, web_ui};
use crate::{postgres_names, tracking_postgres};

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
    let scratch = std::path::absolute(opts.out.join("tmp"))?;
    remove_earlier_runs(&scratch)?;
    let work = scratch.join(stamp.format(RUN_STAMP).to_string());
    fs::create_dir_all(&work)?;
    check_spin_bin(&opts)?;
    check_workloads(&opts)?;
    check_baseline_app(&opts)?;
    let paths = Paths::new(
        work.clone(),
        opts.quick,
        opts.spin_bin.clone(),
        opts.baseline_app.clone(),
    )?;
    let needs_peers = peer_systems(&opts)
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

    if opts.runs("host") && (opts.wants("spinflow") || opts.wants("spin")) {
        hostfig::run(&paths, &opts, &mut info, &mut results).await;
    }
    if opts.runs(storage_names::SELECTOR) {
        storage::run(&paths, &opts, &mut info, &mut results).await;
    }
    // The whole app's compiled code, for the workloads that serve it.
    let whole_app = [
        "prediction",
        "tracking",
        postgres_names::SELECTOR,
        "stalled",
        "largest",
        "web-ui",
    ]
    .iter()
    .any(|w| opts.runs(w));
    if whole_app && opts.wants("spinflow") {
        let manifest = paths.repo.join("spin.toml");
        if let Err(e) = hostfig::prime_cache(&paths, Runtime::Spinflow, &manifest).await {
            results.note(format!("priming the compiled-code cache: {e:#}"));
        }
    }
    if whole_app && opts.wants(systems::BASELINE) {
        let manifest = paths.baseline_manifest();
        if let Err(e) = hostfig::prime_cache(&paths, Runtime::Spinflow, &manifest).await {
            results.note(format!(
                "priming the compiled-code cache with the baseline: {e:#}"
            ));
        }
    }
    let any_spin = [PREDICT_SYSTEMS, TRACKING_SYSTEMS]
        .concat()
        .iter()
        .any(|s| systems::needs_spin_cli(s) && opts.wants(s));
    if whole_app && any_spin {
        let manifest = paths.repo.join("spin.toml");
        if let Err(e) = hostfig::prime_cache(&paths, Runtime::Spin, &manifest).await {
            results.note(format!("priming Spin's compiled-code cache: {e:#}"));
        }
    }

    let mut predict: Vec<&str> = PREDICT_SYSTEMS
        .iter()
        .copied()
        .filter(|s| opts.runs("prediction") && opts.wants(s))
        .collect();
    for system in predict
        .iter()
        .copied()
        .filter(|s| has_model(s, Model::Registry))
    {
        if let Err(e) = prepare_registry_model(&paths, system).await {
            results.note(format!("{system}: no registry model to serve: {e:#}"));
        }
    }
    let baked: Vec<&str> = predict
        .iter()
        .copied()
        .filter(|s| has_model(s, Model::Baked))
        .collect();
    if !baked.is_empty() {
        if let Err(e) = prepare_baked(&paths, &baked).await {
            results.note(format!(
                "{}: no baked iris-api to serve: {e:#}",
                baked.join(", ")
            ));
            predict.retain(|s| !baked.contains(s));
        }
    }
    for rep in 0..opts.reps {
        for system in in_rep_order(&predict, rep) {
            let companion = match launch::tracking_companion(&paths, system, procs::free_port()?) {
                Some(l) => match procs::start(l, &paths.work.join("logs")).await {
                    Ok(server) => Some(server),
                    Err(e) => {
                        results.note(format!(
                            "{system}: its tracking server did not start: {e:#}"
                        ));
                        continue;
                    }
                },
                None => None,
            };
            let tracking_uri = companion
                .as_ref()
                .map(|c| format!("http://{}", c.authority()));
            let launch = launch::predict_launch(
                &paths,
                system,
                procs::free_port()?,
                model_dir.as_ref(),
                FLOOR_BODY,
                tracking_uri.as_deref(),
            );
            info.command(system, &launch::command_line(&launch, &paths));
            match procs::start(launch, &paths.work.join("logs")).await {
                Ok(server) => match check_served_model(&server, system).await {
                    Ok(()) => predict_system(server, system, &opts, &mut results).await,
                    Err(e) => {
                        results.note(format!("{system}: not measured: {e:#}"));
                        server.stop();
                    }
                },
                Err(e) => results.note(format!("{system} did not start: {e:#}")),
            }
            if let Some(c) = companion {
                c.stop();
            }
        }
    }

    let tracking: Vec<&str> = TRACKING_SYSTEMS
        .iter()
        .copied()
        .filter(|s| opts.runs("tracking") && opts.wants(s))
        .collect();
    let plan = opts.tracking_plan();
    for rep in 0..opts.reps {
        for system in in_rep_order(&tracking, rep) {
            let launch = launch::tracking_launch(&paths, system, procs::free_port()?);
            info.command(
                &format!("{system} (tracking)"),
                &launch::command_line(&launch, &paths),
            );
            match procs::start(launch, &paths.work.join("logs")).await {
                Ok(server) => tracking_system(server, system, rep, &plan, &mut results).await,
                Err(e) => results.note(format!("{system} (tracking) did not start: {e:#}")),
            }
        }
    }
    if opts.runs(postgres_names::SELECTOR) {
        tracking_postgres::run(&paths, &opts, &mut info, &mut results).await;
    }

    if opts.runs("stalled") {
        stalled::run(&paths, &opts, &mut results).await;
    }
    if opts.runs("largest") {
        largest::run(&paths, &opts, &mut results).await;
    }
    if opts.runs("web-ui") {
        web_ui::run(&paths, &opts, &mut results).await;
    }
    sizes::record(&paths, needs_peers, &mut results);
    info.finish(started.elapsed());
    let report = report::write(&opts, &paths, &info, &results)?;
    if opts.plots {
        report::plot(&paths, &report)?;
    }
    Ok(report)
}

/// A Spin system asked for by name needs the Spin CLI; a Spin CLI must run.
fn check_spin_bin(opts: &Options) -> Result<()> {
    match &opts.spin_bin {
        None => {
            let named: Vec<&String> = opts
                .only
                .iter()
                .flatten()
                .filter(|s| systems::needs_spin_cli(s))
                .collect();
            if !named.is_empty() {
                bail!("{named:?} run under real Spin: give its CLI with --spin-bin PATH (or SPIN_BIN)");
            }
        }
        Some(spin) => {
            let out = std::process::Command::new(spin)
                .arg("--version")
                .output()
                .with_context(|| format!("running {} --version", spin.display()))?;
            if !out.status.success() {
                bail!("{} --version failed: {}", spin.display(), out.status);
            }
        }
    }
    Ok(())
}

/// The baseline asked for by name needs `--baseline-app`; a baseline app must be built.
fn check_baseline_app(opts: &Options) -> Result<()> {
    match &opts.baseline_app {
        None => {
            let named = opts
                .only
                .iter()
                .flatten()
                .any(|s| systems::needs_baseline_app(s));
            if named {
                bail!(
                    "{} serves another checkout's app: give it with --baseline-app DIR",
                    systems::BASELINE
                );
            }
        }
        Some(dir) => {
            manifest::built_app_manifest(dir)?;
        }
    }
    Ok(())
}

/// `--workloads` names only known workloads.
fn check_workloads(opts: &Options) -> Result<()> {
    let unknown: Vec<&String> = opts
        .workloads
        .iter()
        .flatten()
        .filter(|w| !WORKLOADS.contains(&w.as_str()))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unknown workload(s) {unknown:?}: choose from {}",
            WORKLOADS.join(", ")
        );
    }
    Ok(())
}

/// The systems of the selected workloads that may need the peers' venv: prediction
/// (and its trained model) and tracking (on SQLite or PostgreSQL); the web UI
/// compares with `mlflow`.
fn peer_systems(opts: &Options) -> Vec<&'static str> {
    let mut v = Vec::new();
    if opts.runs("prediction") {
        v.extend(PREDICT_SYSTEMS);
    }
    if opts.runs("tracking") || opts.runs(postgres_names::SELECTOR) || opts.runs("web-ui") {
        v.extend(TRACKING_SYSTEMS);
    }
    v
}

fn has_model(system: &str, model: Model) -> bool {
    systems::variant(system).is_some_and(|v| v.model == model)
}

/// A setup server of `manifest` on a new `state` dir (always `spinflow up`, which
/// starts fastest), asking the registry every second so that a new version is
/// served at once.
async fn start_setup_server(
    paths: &Paths,
    name: &str,
    manifest: &str,
    state: &Path,
) -> Result<Server> {
    let _ = fs::remove_dir_all(state);
    let mut launch = launch::app(
        paths,
        Runtime::Spinflow,
        &format!("{name}-setup"),
        Path::new(manifest),
        procs::free_port()?,
        state,
        "/health",
    );
    launch
        .env
        .push(("SPIN_VARIABLE_MODEL_REFRESH_SECONDS".into(), "1".into()));
    procs::start(launch, &paths.work.join("logs")).await
}

/// Trains the Iris model into the server's tracking server and registry
/// (`spinflow train`), and waits until its iris-api serves it.
async fn train_into(paths: &Paths, server: &Server) -> Result<()> {
    let url = format!("http://{}", server.authority());
    shell::run(std::process::Command::new(paths.spinflow()).args([
        "train",
        "--tracking-uri",
        &url,
        "-q",
    ]))?;
    wait_for_registry_model(&server.authority()).await
}

/// Trains a model into the app's own tracking server (`spinflow train`) and waits
/// until iris-api serves it; the measured runs then start from that state dir (in
/// spinflow or in Spin: both keep the tracking database in `<state>/sqlite_db.db`),
/// with the default refresh interval.
async fn prepare_registry_model(paths: &Paths, system: &str) -> Result<()> {
    let v = systems::variant(system).context("not one of our variants")?;
    let state = launch::registry_state_dir(paths, system);
    let server = start_setup_server(paths, system, v.manifest, &state).await?;
    let served = train_into(paths, &server).await;
    server.stop();
    served
}

/// The baked variants: a registry model trained into a state dir as for the registry
/// variants, baked into iris-api (`spinflow preinit --model models:/iris@champion`)
/// from that registry while its setup server runs, a manifest copy that serves the
/// baked component, and one start of each baked system (which checks it and fills
/// its runtime's compiled-code cache, as for the other systems).
async fn prepare_baked(paths: &Paths, systems_: &[&str]) -> Result<()> {
    let state = launch::registry_state_dir(paths, systems_[0]);
    let server = start_setup_server(paths, "baked", "spin.toml", &state).await?;
    let baked = match train_into(paths, &server).await {
        Ok(()) => bake(paths, &server.authority()),
        Err(e) => Err(e),
    };
    server.stop();
    baked?;
    let manifest = paths.repo.join("spin.toml");
    let text = fs::read_to_string(&manifest)?;
    let copy =
        manifest::rewrite_manifest(&text, &paths.repo, "iris-api", &launch::baked_wasm(paths))?;
    let baked_manifest = launch::baked_manifest(paths);
    let copy_dir = baked_manifest.parent().expect("the work dir");
    manifest::link_file_mounts(&text, &paths.repo, copy_dir)?;
    fs::write(&baked_manifest, copy)?;
    for system in systems_ {
        let launch =
            launch::predict_launch(paths, system, procs::free_port()?, None, FLOOR_BODY, None);
        let server = procs::start(launch, &paths.work.join("logs")).await?;
        let checked = check_served_model(&server, system).await;
        server.stop();
        checked.with_context(|| format!("{system}, first start"))?;
    }
    Ok(())
}

/// `spinflow preinit` of iris-api with the registry's champion baked in. The built
/// component is pre-initialised already; initialising it again bakes the model in
/// beside the embedded one.
fn bake(paths: &Paths, tracking: &str) -> Result<()> {
    shell::run(
        std::process::Command::new(paths.spinflow())
            .arg("preinit")
            .arg(paths.wasm("iris_api.preinit.wasm"))
            .arg("--output")
            .arg(launch::baked_wasm(paths))
            .args(["--model", "models:/iris@champion", "--tracking-uri"])
            .arg(format!("http://{tracking}"))
            .current_dir(&paths.repo),
    )
}

/// A registry or baked variant must serve what it is named after: `/health` says
/// `registry`, and for a baked variant a prediction's `Server-Timing` says its plan
/// was `baked`. Other systems are not checked.
async fn check_served_model(server: &Server, system: &str) -> Result<()> {
    let Some(v) = systems::variant(system) else {
        return Ok(());
    };
    if v.model == Model::Embedded {
        return Ok(());
    }
    let authority = server.authority();
    let mut client = crate::client::Client::new(&authority);
    let (_, health, _) = client.call("GET", "/health", None).await?;
    if health["model"]["source"] != "registry" {
        bail!(
            "iris-api serves {} (expected a registry model)",
            health["model"]
        );
    }
    if v.model == Model::Baked {
        let spec = predict::request(predict::Protocol::Predict, &authority, &[predict::ONE_ROW]);
        let mut conn = loadgen::connect(&authority).await?;
        let (status, headers, _) = loadgen::send_for_headers(&mut conn, spec.build()?).await?;
        let timing = headers
            .get("server-timing")
            .and_then(|t| t.to_str().ok())
            .unwrap_or_default();
        if status != 200 || !timing.contains("load;desc=baked") {
            bail!("/predict answered {status} with Server-Timing {timing:?} (expected load;desc=baked)");
        }
    }
    Ok(())
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

/// Spin serves the app from a child process of `spin up` (`spin trigger http`): its
/// memory alone, the serving process, beside the whole tree's.
fn record_spin_trigger_rss(server: &Server, workload: &str, system: &str, results: &mut Results) {
    if systems::needs_spin_cli(system) {
        results.record(
            workload,
            "RSS after load, serving process",
            "MiB",
            Better::Lower,
            system,
            server.largest_process_rss_mib(),
        );
    }
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
    record_spin_trigger_rss(&server, "resources (prediction)", system, results);
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
    let target = tracking::Target::new(
        vec![server.authority()],
        CpuMeter::new(vec![server.child.id()], None),
    );
    if let Err(e) = tracking::run_all(&target, system, rep, plan, results).await {
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
    record_spin_trigger_rss(&server, "resources (tracking)", system, results);
    server.stop();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(only: Option<&str>, spin: bool) -> Options {
        Options {
            quick: true,
            only: only.map(|o| o.split(',').map(str::to_string).collect()),
            workloads: None,
            out: PathBuf::from("/tmp"),
            reps: 1,
            build: false,
            plots: false,
            spin_bin: spin.then(|| PathBuf::from("/usr/local/bin/spin")),
            baseline_app: None,
        }
    }

    #[test]
    fn the_baseline_runs_only_with_a_baseline_app() {
        let baseline = "spinflow-baseline";
        assert!(!options(None, true).wants(baseline));
        assert!(!options(Some(baseline), false).wants(baseline));
        assert!(check_baseline_app(&options(Some("spinflow,spinflow-baseline"), false)).is_err());
        assert!(check_baseline_app(&options(Some("spinflow"), false)).is_ok());

        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let with = |only| Options {
            baseline_app: Some(repo.to_path_buf()),
            ..options(only, false)
        };
        // In the default set, and by name (`--only`) like any other system.
        assert!(with(None).wants(baseline) && with(None).wants("spinflow"));
        assert!(with(Some(baseline)).wants(baseline) && !with(Some(baseline)).wants("spinflow"));
        assert!(!with(Some("spinflow")).wants(baseline));
        // A directory without a built app is refused before anything runs.
        let unbuilt = Options {
            baseline_app: Some(repo.join("bench")),
            ..options(None, false)
        };
        assert!(check_baseline_app(&unbuilt).is_err());
    }

    #[test]
    fn spin_systems_run_only_with_a_spin_cli() {
        let without = options(None, false);
        for s in [
            "spinflow",
            "spinflow-registry",
            "fastapi-1w",
            "floor",
            "mlflow",
        ] {
            assert!(without.wants(s), "{s}");
        }
        for s in ["spin", "spin-registry", "spin-baked", "spinflow-baked"] {
            assert!(!without.wants(s), "{s} without --spin-bin");
        }
        let with = options(None, true);
        for s in [
            "spinflow",
            "spin",
            "spin-registry",
            "spin-baked",
            "spinflow-baked",
        ] {
            assert!(with.wants(s), "{s} with --spin-bin");
        }
        // --only: exactly the named systems (the floor comes with spinflow).
        let only = options(Some("spin,spinflow-baked"), true);
        assert!(only.wants("spin") && only.wants("spinflow-baked"));
        assert!(!only.wants("spinflow") && !only.wants("spin-baked") && !only.wants("floor"));
        // Our baked variant needs no Spin when asked for by name.
        assert!(options(Some("spinflow-baked"), false).wants("spinflow-baked"));
        assert!(!options(Some("spin"), false).wants("spin"));
        assert!(check_spin_bin(&options(Some("spin"), false)).is_err());
        assert!(check_spin_bin(&options(Some("spinflow"), false)).is_ok());
    }

    #[test]
    fn workloads_select_what_runs() {
        let all = options(None, true);
        assert!(WORKLOADS.iter().all(|w| all.runs(w)));
        assert!(check_workloads(&all).is_ok());
        let storage_only = Options {
            workloads: Some(vec!["storage".into()]),
            ..options(Some("spinflow,spin"), true)
        };
        assert!(storage_only.runs("storage") && !storage_only.runs("host"));
        assert!(peer_systems(&storage_only).is_empty());
        assert!(check_workloads(&storage_only).is_ok());
        let typo = Options {
            workloads: Some(vec!["storge".into()]),
            ..options(None, false)
        };
        assert!(check_workloads(&typo).is_err());
        let ui = Options {
            workloads: Some(vec!["web-ui".into()]),
            ..options(None, false)
        };
        assert!(peer_systems(&ui).contains(&"mlflow"));
    }

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
