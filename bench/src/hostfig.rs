//! Figures of the host itself (the foundation issue): a trivial component through
//! `spinflow up` against the native floor answering the same bytes, the per-request
//! cost of a fresh instance, and cold start with and without the compiled-code cache.
//! With a Spin CLI, the same trivial component (and the whole app's cold start) in
//! real Spin too: Spin's own floor, to which iris-api under Spin is compared; with a
//! baseline app (`--baseline-app`), its whole app's cold start beside ours.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::launch;
use crate::loadgen::{self, LoadOptions, RequestSpec};
use crate::manifest::toml_string;
use crate::options::Options;
use crate::paths::Paths;
use crate::procs::{self, Launch, Server};
use crate::results::{Better, Results};
use crate::run_info::RunInfo;
use crate::setup;
use crate::systems::{Runtime, BASELINE};
use crate::wrk;

const TRIVIAL: &str = "spinflow (trivial component)";
const WHOLE_APP: &str = "spinflow (whole app)";
/// The baseline's whole app (`--baseline-app`), in `spinflow up`.
const BASELINE_WHOLE_APP: &str = "spinflow-baseline (whole app)";
const SPIN_TRIVIAL: &str = "spin (trivial component)";
const SPIN_WHOLE_APP: &str = "spin (whole app)";
const FLOOR: &str = "floor (same bytes)";
const COLD: &str = "host: cold start";

/// The figure names of a runtime: (trivial component, whole app).
fn names(runtime: Runtime) -> (&'static str, &'static str) {
    match runtime {
        Runtime::Spinflow => (TRIVIAL, WHOLE_APP),
        Runtime::Spin => (SPIN_TRIVIAL, SPIN_WHOLE_APP),
    }
}

/// A manifest that routes everything to the trivial component.
fn trivial_manifest(paths: &Paths, wasm: &Path) -> Result<PathBuf> {
    let manifest = paths.work.join("trivial-spin.toml");
    let text = format!(
        "spin_manifest_version = 2\n\n[application]\nname = \"bench-trivial\"\nversion = \"0.1.0\"\n\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"trivial\"\n\n\
         [component.trivial]\nsource = {}\n",
        toml_string(&wasm.display().to_string())
    );
    fs::write(&manifest, text)?;
    Ok(manifest)
}

pub async fn run(paths: &Paths, opts: &Options, info: &mut RunInfo, results: &mut Results) {
    if let Err(e) = measure(paths, opts, info, results).await {
        results.note(format!("host figures: {e:#}"));
    }
}

/// What is started: a runtime serving a manifest, under a figure name.
struct Target<'a> {
    runtime: Runtime,
    name: &'a str,
    manifest: &'a Path,
    ready: &'a str,
    /// The whole app (with the runtime config `make up` passes), not the trivial component.
    app: bool,
}

/// The runtime serving `t` with its own state dir and compiled-code cache `cache`.
fn launch(paths: &Paths, t: &Target, cache: &Path) -> Result<Launch> {
    let state = paths
        .work
        .join(format!("state-{}", t.name.replace([' ', '(', ')'], "")));
    let port = procs::free_port()?;
    let mut launch = if t.app {
        launch::app(paths, t.runtime, t.name, t.manifest, port, &state, t.ready)
    } else if t.runtime == Runtime::Spin {
        launch::spin(paths, t.name, t.manifest, port, &state, &[], t.ready)
    } else {
        launch::spinflow(paths, t.name, t.manifest, port, &state, &[], t.ready)
    };
    match t.runtime {
        Runtime::Spinflow => {
            launch.env = vec![("SPINFLOW_CACHE_DIR".into(), cache.display().to_string())];
        }
        Runtime::Spin => launch::use_spin_cache(&mut launch, cache)?,
    }
    Ok(launch)
}

/// Starts twice on a new cache: the first start compiles, the second loads the cache.
/// Returns the second server, still running.
async fn cold_starts(
    paths: &Paths,
    t: &Target<'_>,
    cache: &Path,
    info: &mut RunInfo,
    results: &mut Results,
) -> Result<Server> {
    let logs = paths.work.join("logs");
    let _ = fs::remove_dir_all(cache);
    let first = launch(paths, t, cache)?;
    info.command(t.name, &launch::command_line(&first, paths));
    let first = procs::start(first, &logs).await?;
    results.record(
        COLD,
        "no compiled-code cache",
        "ms",
        Better::Lower,
        t.name,
        ms(first.cold_start),
    );
    first.stop();
    let second = procs::start(launch(paths, t, cache)?, &logs).await?;
    results.record(
        COLD,
        "with compiled-code cache",
        "ms",
        Better::Lower,
        t.name,
        ms(second.cold_start),
    );
    Ok(second)
}

/// The compiled-code cache of a repetition: the first repetition of a full run fills
/// the run's shared one; later repetitions (and quick runs) start afresh.
fn rep_cache(paths: &Paths, opts: &Options, runtime: Runtime, rep: usize) -> PathBuf {
    match runtime {
        Runtime::Spinflow if rep == 0 && !opts.quick => paths.spinflow_cache(),
        Runtime::Spinflow => paths.work.join(format!("cache-rep{rep}")),
        Runtime::Spin if rep == 0 && !opts.quick => paths.spin_cache(),
        Runtime::Spin => paths.work.join(format!("spin-cache-rep{rep}")),
    }
}

async fn measure(
    paths: &Paths,
    opts: &Options,
    info: &mut RunInfo,
    results: &mut Results,
) -> Result<()> {
    let wasm = setup::ensure_component(paths, "hello")?;
    let manifest = trivial_manifest(paths, &wasm)?;
    let app_manifest = paths.repo.join("spin.toml");
    let load = opts.predict_load();
    let single = LoadOptions {
        connections: 1,
        ..load
    };
    let runtimes: Vec<Runtime> = opts.runtimes().into_iter().map(|(r, _)| r).collect();
    // wrk cross-checks the full runs only (the quick mode installs nothing).
    let use_wrk = !opts.quick && wrk::ensure();
    if use_wrk {
        info.versions
            .push(("wrk (cross-check)".into(), wrk::version()));
    }

    for rep in 0..opts.reps {
        // The whole app (both components): the start a user waits for after `make up`.
        // Compiling iris-api takes long (in Spin, minutes), so quick runs leave it out,
        // and Spin's is measured in the first repetition only.
        for &runtime in &runtimes {
            if opts.quick || (runtime == Runtime::Spin && rep > 0) {
                continue;
            }
            let t = Target {
                runtime,
                name: names(runtime).1,
                manifest: &app_manifest,
                ready: "/health",
                app: true,
            };
            let cache = rep_cache(paths, opts, runtime, rep);
            cold_starts(paths, &t, &cache, info, results).await?.stop();
        }
        // The baseline's whole app in the same host, each repetition on a new cache of
        // its own (as ours: a compiling start, then one from the cache).
        if !opts.quick && opts.wants(BASELINE) {
            let t = Target {
                runtime: Runtime::Spinflow,
                name: BASELINE_WHOLE_APP,
                manifest: &paths.baseline_manifest(),
                ready: "/health",
                app: true,
            };
            let cache = paths.work.join(format!("cache-baseline-rep{rep}"));
            cold_starts(paths, &t, &cache, info, results).await?.stop();
        }
        let mut servers: Vec<(&str, Server)> = Vec::new();
        for &runtime in &runtimes {
            let t = Target {
                runtime,
                name: names(runtime).0,
                manifest: &manifest,
                ready: "/",
                app: false,
            };
            let cache = rep_cache(paths, opts, runtime, rep);
            match cold_starts(paths, &t, &cache, info, results).await {
                Ok(server) => servers.push((t.name, server)),
                Err(e) => {
                    for (_, s) in servers {
                        s.stop();
                    }
                    return Err(e);
                }
            }
        }
        let measured =
            measure_against_floor(paths, rep, &servers, load, single, use_wrk, results).await;
        for (_, server) in servers {
            server.stop();
        }
        measured?;
    }

    // The same cost measured inside the host, without HTTP (full runs: it builds an example).
    if !opts.quick && runtimes.contains(&Runtime::Spinflow) {
        let hello = paths
            .repo
            .join("crates/spinflow/tests/apps/hello/spin.toml");
        for _ in 0..opts.reps {
            match tokio::task::block_in_place(|| in_process_cost(paths, &hello, "hello")) {
                Ok(figures) => {
                    for (what, us) in figures {
                        let w = "host: in-process cost per request (no HTTP)";
                        results.record(w, &what, "µs", Better::Lower, TRIVIAL, us);
                    }
                }
                Err(e) => {
                    results.note(format!("in-process instantiation cost: {e:#}"));
                    break;
                }
            }
        }
    }

    // What one request costs the host (routing, a fresh instance, the call) beyond
    // the floor's HTTP handling: the single-connection latencies, side by side.
    let w1 = "host: trivial component, 1 connection";
    let floor = results
        .find(w1, "p50", FLOOR)
        .map(|f| f.values.clone())
        .unwrap_or_default();
    for &runtime in &runtimes {
        let name = names(runtime).0;
        let ours = results
            .find(w1, "p50", name)
            .map(|f| f.values.clone())
            .unwrap_or_default();
        for (a, b) in ours.iter().zip(floor.iter()) {
            results.record(
                "host: per-request cost",
                "p50 over the floor",
                "µs",
                Better::Lower,
                name,
                (a - b) * 1000.0,
            );
        }
    }
    Ok(())
}

/// Loads each trivial-component server and the native floor answering exactly the
/// bytes the component answers, alternating their order between repetitions.
async fn measure_against_floor(
    paths: &Paths,
    rep: usize,
    servers: &[(&str, Server)],
    load: LoadOptions,
    single: LoadOptions,
    use_wrk: bool,
    results: &mut Results,
) -> Result<()> {
    let Some((_, first)) = servers.first() else {
        return Ok(());
    };
    let mut conn = loadgen::connect(&first.authority()).await?;
    let probe = RequestSpec::get(&first.authority(), "/").build()?;
    let (status, body) = loadgen::send(&mut conn, probe).await?;
    ensure!(status == 200, "trivial component answered {status}");
    let body = String::from_utf8(body.to_vec()).context("trivial component body is text")?;
    let floor = launch::floor(paths, "floor-same-bytes", procs::free_port()?, &body);
    let floor = procs::start(floor, &paths.work.join("logs")).await?;

    let mut pairs: Vec<(&str, String)> = servers
        .iter()
        .map(|(name, server)| (*name, server.authority()))
        .collect();
    pairs.push((FLOOR, floor.authority()));
    if rep % 2 == 1 {
        pairs.reverse();
    }
    let measured = async {
        for (name, authority) in &pairs {
            let spec = RequestSpec::get(authority, "/").expect(body.trim());
            let r = loadgen::run(&spec, load).await?;
            ensure!(
                r.errors == 0,
                "{name}: {} errors ({:?})",
                r.errors,
                r.first_error
            );
            let w16 = "host: trivial component, 16 connections";
            results.record(w16, "req/s", "req/s", Better::Higher, name, r.rps);
            results.record(w16, "p50", "ms", Better::Lower, name, r.p50_ms);
            results.record(w16, "p99", "ms", Better::Lower, name, r.p99_ms);
            let r1 = loadgen::run(&spec, single).await?;
            ensure!(
                r1.errors == 0,
                "{name}: {} errors ({:?})",
                r1.errors,
                r1.first_error
            );
            let w1 = "host: trivial component, 1 connection";
            results.record(w1, "req/s", "req/s", Better::Higher, name, r1.rps);
            results.record(w1, "p50", "ms", Better::Lower, name, r1.p50_ms);
        }
        if use_wrk {
            // The same servers under wrk: our generator's figures should match its
            // (spinflow's and the floor's suffice to cross-check the generator).
            for (name, authority) in pairs.iter().filter(|(n, _)| *n != SPIN_TRIVIAL) {
                let wrk_run = || wrk::run(authority, "/", load.connections, load.duration);
                match tokio::task::block_in_place(wrk_run) {
                    Ok(r) => {
                        let w = "host: trivial component, 16 connections, wrk";
                        results.record(w, "req/s", "req/s", Better::Higher, name, r.rps);
                        results.record(w, "p50", "ms", Better::Lower, name, r.p50_ms);
                        results.record(w, "p99", "ms", Better::Lower, name, r.p99_ms);
                    }
                    Err(e) => results.note(format!("wrk against {name}: {e:#}")),
                }
            }
        }
        for (name, server) in servers {
            results.record(
                "resources (host)",
                "RSS after load",
                "MiB",
                Better::Lower,
                name,
                server.rss_mib(),
            );
        }
        results.record(
            "resources (host)",
            "RSS after load",
            "MiB",
            Better::Lower,
            FLOOR,
            floor.rss_mib(),
        );
        Ok(())
    }
    .await;
    floor.stop();
    measured
}

/// Fills this run's shared compiled-code cache of `runtime` with the whole app of
/// `manifest` (ours, or the baseline's), so that the cold starts measured later are
/// restarts (as a user's second `spinflow up` or `spin up`), whichever system runs first.
pub async fn prime_cache(paths: &Paths, runtime: Runtime, manifest: &Path) -> Result<()> {
    let (name, cache) = match runtime {
        Runtime::Spinflow => ("prime", paths.spinflow_cache()),
        Runtime::Spin => ("prime-spin", paths.spin_cache()),
    };
    let t = Target {
        runtime,
        name,
        manifest,
        ready: "/health",
        app: true,
    };
    let l = launch(paths, &t, &cache)?;
    procs::start(l, &paths.work.join("logs")).await?.stop();
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The host's in-process per-request cost (no network), from its own
/// `instantiation_cost` example: (label, µs) pairs.
fn in_process_cost(paths: &Paths, manifest: &Path, component: &str) -> Result<Vec<(String, f64)>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "spinflow-host",
            "--example",
            "instantiation_cost",
            "--",
        ])
        .arg(manifest)
        .args([component, "10000"])
        .current_dir(&paths.repo)
        .output()
        .context("running the host's instantiation_cost example")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "instantiation_cost failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_in_process(&text)
}

/// Parses lines such as
/// `pooling=true: store+instance 45.2µs, whole request 80.1µs (mean of 10000)`.
fn parse_in_process(text: &str) -> Result<Vec<(String, f64)>> {
    let mut figures = Vec::new();
    for line in text.lines() {
        let Some((mode, rest)) = line.split_once(": ") else {
            continue;
        };
        let allocator = if mode.trim() == "pooling=true" {
            "pooling"
        } else {
            "on-demand"
        };
        for part in rest.split(", ") {
            let part = part.split(" (").next().unwrap_or(part);
            let Some((what, value)) = part.rsplit_once(' ') else {
                continue;
            };
            let micros = debug_duration_us(value)
                .with_context(|| format!("unreadable duration {value:?}"))?;
            figures.push((format!("{what}, {allocator} allocator"), micros));
        }
    }
    ensure!(
        !figures.is_empty(),
        "no figures in instantiation_cost output: {text}"
    );
    Ok(figures)
}

/// A `Duration`'s Debug text (`45.2µs`, `1.5ms`, `800ns`, `1.2s`) in microseconds.
fn debug_duration_us(v: &str) -> Option<f64> {
    let units = [
        ("ns", 0.001),
        ("µs", 1.0),
        ("us", 1.0),
        ("ms", 1000.0),
        ("s", 1_000_000.0),
    ];
    units.iter().find_map(|(u, scale)| {
        v.strip_suffix(u)
            .and_then(|n| n.parse::<f64>().ok())
            .map(|n| n * scale)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_examples_output() {
        let text = "pooling=true: store+instance 45.2µs, whole request 80.1µs (mean of 10000)\n\
                    pooling=false: store+instance 1.5ms, whole request 2ms (mean of 10000)\n";
        let f = parse_in_process(text).unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f[0].0, "store+instance, pooling allocator");
        assert!((f[0].1 - 45.2).abs() < 1e-9);
        assert_eq!(f[3].0, "whole request, on-demand allocator");
        assert!((f[3].1 - 2000.0).abs() < 1e-9);
        assert!(parse_in_process("nothing here").is_err());
    }

    #[test]
    fn debug_durations() {
        assert_eq!(debug_duration_us("800ns"), Some(0.8));
        assert_eq!(debug_duration_us("1.2s"), Some(1_200_000.0));
        assert_eq!(debug_duration_us("x"), None);
    }
}
