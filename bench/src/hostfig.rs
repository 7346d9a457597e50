//! Figures of the host itself (the foundation issue): a trivial component through
//! `spinflow up` against the native floor answering the same bytes, the per-request
//! cost of a fresh instance, and cold start with and without the compiled-code cache.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::harness::Options;
use crate::loadgen::{self, LoadOptions, RequestSpec};
use crate::procs::{self, Launch};
use crate::report::RunInfo;
use crate::results::{Better, Results};
use crate::setup::Paths;
use crate::systems;

const TRIVIAL: &str = "spinflow (trivial component)";
const FLOOR: &str = "floor (same bytes)";

/// Where the host's trivial test component is built, newest layout first.
fn trivial_wasm(paths: &Paths) -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BENCH_TRIVIAL_WASM") {
        return Some(PathBuf::from(p));
    }
    let dirs = [
        "target/wasm32-wasip2/wasm-release",
        "target/wasm32-wasip2/release",
    ];
    let names = [
        "hello.wasm",
        "trivial.wasm",
        "hello_component.wasm",
        "test_hello.wasm",
    ];
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| paths.repo.join(d).join(n)))
        .find(|p| p.exists())
}

/// A manifest that routes everything to the trivial component.
fn trivial_manifest(paths: &Paths, wasm: &Path) -> Result<PathBuf> {
    let manifest = paths.work.join("trivial-spin.toml");
    let text = format!(
        "spin_manifest_version = 2\n\n[application]\nname = \"bench-trivial\"\nversion = \"0.1.0\"\n\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"trivial\"\n\n\
         [component.trivial]\nsource = \"{}\"\n",
        wasm.display()
    );
    fs::write(&manifest, text)?;
    Ok(manifest)
}

pub async fn run(paths: &Paths, opts: &Options, info: &mut RunInfo, results: &mut Results) {
    let Some(wasm) = trivial_wasm(paths) else {
        results
            .note("host figures skipped: no trivial test component built (set BENCH_TRIVIAL_WASM)");
        return;
    };
    if let Err(e) = measure(paths, &wasm, opts, info, results).await {
        results.note(format!("host figures: {e:#}"));
    }
}

fn trivial_launch(paths: &Paths, manifest: &Path, state: &Path, port: u16) -> Launch {
    let mut launch = systems::spinflow(paths, "trivial", port, state, &[], "/");
    launch.args[2] = manifest.display().to_string();
    launch
}

async fn measure(
    paths: &Paths,
    wasm: &Path,
    opts: &Options,
    info: &mut RunInfo,
    results: &mut Results,
) -> Result<()> {
    let manifest = trivial_manifest(paths, wasm)?;
    let logs = paths.work.join("logs");
    let load = if opts.quick {
        LoadOptions {
            connections: 16,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(2),
        }
    } else {
        LoadOptions {
            connections: 16,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(8),
        }
    };
    let single = LoadOptions {
        connections: 1,
        ..load
    };

    for rep in 0..opts.reps {
        // Cold start: a new state dir has no compiled code; the second start reuses it.
        let state = paths.work.join(format!("state-trivial-{rep}"));
        let launch = trivial_launch(paths, &manifest, &state, procs::free_port()?);
        info.command(TRIVIAL, &systems::command_line(&launch, paths));
        let first = procs::start(launch, &logs).await?;
        results.record(
            "host: cold start",
            "no compiled-code cache",
            "ms",
            Better::Lower,
            TRIVIAL,
            ms(first.cold_start),
        );
        first.stop();
        let server = procs::start(
            trivial_launch(paths, &manifest, &state, procs::free_port()?),
            &logs,
        )
        .await?;
        results.record(
            "host: cold start",
            "with compiled-code cache",
            "ms",
            Better::Lower,
            TRIVIAL,
            ms(server.cold_start),
        );

        // The floor answers exactly the bytes the component answers.
        let mut conn = loadgen::connect(&server.authority()).await?;
        let (status, body) = loadgen::send(
            &mut conn,
            RequestSpec::get(&server.authority(), "/").build()?,
        )
        .await?;
        ensure!(status == 200, "trivial component answered {status}");
        let body = String::from_utf8(body.to_vec()).context("trivial component body is text")?;
        let floor_launch = systems::floor(paths, "floor-same-bytes", procs::free_port()?, &body);
        let floor = procs::start(floor_launch, &logs).await?;

        let mut pairs = vec![(TRIVIAL, server.authority()), (FLOOR, floor.authority())];
        if rep % 2 == 1 {
            pairs.reverse();
        }
        for (name, authority) in &pairs {
            let spec = RequestSpec::get(authority, "/");
            let r = loadgen::run(&spec, load).await?;
            ensure!(
                r.errors == 0,
                "{name}: {} errors ({:?})",
                r.errors,
                r.first_error
            );
            results.record(
                "host: trivial component, 16 connections",
                "req/s",
                "req/s",
                Better::Higher,
                name,
                r.rps,
            );
            results.record(
                "host: trivial component, 16 connections",
                "p99",
                "ms",
                Better::Lower,
                name,
                r.p99_ms,
            );
            let r1 = loadgen::run(&spec, single).await?;
            results.record(
                "host: trivial component, 1 connection",
                "p50",
                "ms",
                Better::Lower,
                name,
                r1.p50_ms,
            );
        }
        results.record(
            "resources (host)",
            "RSS after load",
            "MiB",
            Better::Lower,
            TRIVIAL,
            server.rss_mib(),
        );
        results.record(
            "resources (host)",
            "RSS after load",
            "MiB",
            Better::Lower,
            FLOOR,
            floor.rss_mib(),
        );
        server.stop();
        floor.stop();
    }

    // Per-request cost of the host (routing + a fresh instance + the call), from the
    // single-connection latencies measured side by side.
    if let (Some(t), Some(f)) = (
        results
            .find("host: trivial component, 1 connection", "p50", TRIVIAL)
            .map(|f| f.values.clone()),
        results
            .find("host: trivial component, 1 connection", "p50", FLOOR)
            .map(|f| f.values.clone()),
    ) {
        for (a, b) in t.iter().zip(f.iter()) {
            results.record(
                "host: per-request cost",
                "p50 over the floor",
                "µs",
                Better::Lower,
                TRIVIAL,
                (a - b) * 1000.0,
            );
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
