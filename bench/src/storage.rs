//! Storage round trips: our own small component (`bench/apps/roundtrip`) writes a value
//! and reads it back on every request, in the `default` key-value store (`POST
//! /kv/<key>`) and in the `default` SQLite database (`POST /sqlite/<id>`: an upsert
//! and a `SELECT` of the row), under `spinflow up` and under real Spin, with the same
//! .wasm, the same manifest and the load of the trivial-component figures.
//!
//! The stores are each runtime's defaults for `spin up` without a runtime config:
//! SQLite files in the state dir. When it is cheap (a restart with a runtime config),
//! the key-value route also runs with the `default` store in memory. Every answer
//! must be a 200 whose body is exactly the value sent (the component answers with
//! what it read back); anything else counts as an error and is reported.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use bytes::Bytes;

use crate::launch;
use crate::loadgen::{self, LoadOptions, RequestSpec};
use crate::options::Options;
use crate::paths::Paths;
use crate::procs::{self, Server};
use crate::results::{Better, Results};
use crate::run_info::RunInfo;
use crate::setup;
use crate::storage_names::{
    KEYS_PER_CONNECTION, KV_1, KV_16, MANIFEST, PACKAGE, SPINFLOW_DISK, SPINFLOW_MEMORY, SPIN_DISK,
    SPIN_MEMORY, SQLITE_1, SQLITE_16, VALUE_BYTES,
};
use crate::systems::Runtime;

/// The runtime config of the in-memory variant: the `default` key-value store of type
/// `spin` without a path, which both runtimes keep in memory.
const KV_IN_MEMORY: &str = "[key_value_store.default]\ntype = \"spin\"\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /kv/<key>`: set, then get.
    KeyValue,
    /// `POST /sqlite/<id>`: upsert, then select.
    Sqlite,
}

impl Route {
    /// The workload names (16 connections, 1 connection).
    fn workloads(self) -> (&'static str, &'static str) {
        match self {
            Route::KeyValue => (KV_16, KV_1),
            Route::Sqlite => (SQLITE_16, SQLITE_1),
        }
    }

    /// The path of request `seq` of connection `conn`.
    pub fn path(self, conn: usize, seq: u64) -> String {
        let slot = seq % KEYS_PER_CONNECTION;
        match self {
            Route::KeyValue => format!("/kv/c{conn}-k{slot}"),
            Route::Sqlite => format!("/sqlite/{}", conn as u64 * KEYS_PER_CONNECTION + slot),
        }
    }
}

/// The value written by request `seq` of connection `conn`: distinct for each
/// request, `VALUE_BYTES` long, plain ASCII (the SQLite route stores it as TEXT).
pub fn value(conn: usize, seq: u64) -> Bytes {
    let mut v = format!("connection {conn} request {seq} ");
    while v.len() < VALUE_BYTES {
        v.push('.');
    }
    v.truncate(VALUE_BYTES);
    Bytes::from(v)
}

/// The request of `route`: each one a new value, the answer must echo it.
pub fn request(route: Route, authority: &str) -> RequestSpec {
    let mut spec = RequestSpec::get(authority, &route.path(0, 0))
        .header("content-type", "text/plain")
        .vary_path(std::sync::Arc::new(move |conn, seq| route.path(conn, seq)))
        .vary(std::sync::Arc::new(value))
        .expect_echo();
    spec.method = hyper::Method::POST;
    spec
}

/// One server measured: a runtime, and where its `default` key-value store lives.
#[derive(Clone, Copy, Debug)]
struct Setup {
    runtime: Runtime,
    kv_in_memory: bool,
}

impl Setup {
    fn name(self) -> &'static str {
        match (self.runtime, self.kv_in_memory) {
            (Runtime::Spinflow, false) => SPINFLOW_DISK,
            (Runtime::Spin, false) => SPIN_DISK,
            (Runtime::Spinflow, true) => SPINFLOW_MEMORY,
            (Runtime::Spin, true) => SPIN_MEMORY,
        }
    }

    /// The in-memory variant measures the key-value route only (SQLite is on disk
    /// in both variants, and measured in the first).
    fn routes(self) -> &'static [Route] {
        if self.kv_in_memory {
            &[Route::KeyValue]
        } else {
            &[Route::KeyValue, Route::Sqlite]
        }
    }
}

/// The servers of a repetition, in order: on disk first, then the in-memory
/// key-value variant; odd repetitions run them in reverse.
fn setups(runtimes: &[Runtime], rep: usize) -> Vec<Setup> {
    let mut v: Vec<Setup> = [false, true]
        .into_iter()
        .flat_map(|kv_in_memory| {
            runtimes.iter().map(move |&runtime| Setup {
                runtime,
                kv_in_memory,
            })
        })
        .collect();
    if rep % 2 == 1 {
        v.reverse();
    }
    v
}

pub async fn run(paths: &Paths, opts: &Options, info: &mut RunInfo, results: &mut Results) {
    let runtimes: Vec<Runtime> = opts.runtimes().into_iter().map(|(r, _)| r).collect();
    if runtimes.is_empty() {
        return;
    }
    let prepared = setup::ensure_component(paths, PACKAGE).and_then(|_| memory_config(paths));
    let memory_config = match prepared {
        Ok(c) => c,
        Err(e) => {
            results.note(format!("storage round trips: not measured: {e:#}"));
            return;
        }
    };
    let load = opts.predict_load();
    for rep in 0..opts.reps {
        for setup in setups(&runtimes, rep) {
            let measured = measure(paths, setup, rep, &memory_config, load, info, results).await;
            if let Err(e) = measured {
                results.note(format!("{} (storage round trips): {e:#}", setup.name()));
            }
        }
    }
}

fn memory_config(paths: &Paths) -> Result<PathBuf> {
    let file = paths.work.join("storage-kv-in-memory.toml");
    fs::write(&file, KV_IN_MEMORY).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

async fn measure(
    paths: &Paths,
    setup: Setup,
    rep: usize,
    memory_config: &Path,
    load: LoadOptions,
    info: &mut RunInfo,
    results: &mut Results,
) -> Result<()> {
    let name = setup.name();
    let slug = name.replace([' ', '(', ')', ','], "");
    let state = paths.work.join(format!("state-{slug}-rep{rep}"));
    let _ = fs::remove_dir_all(&state);
    let config = memory_config.display().to_string();
    let args: Vec<&str> = if setup.kv_in_memory {
        vec!["--runtime-config-file", &config]
    } else {
        Vec::new()
    };
    let manifest = paths.repo.join(MANIFEST);
    let port = procs::free_port()?;
    let launch = match setup.runtime {
        Runtime::Spinflow => launch::spinflow(paths, name, &manifest, port, &state, &args, "/"),
        Runtime::Spin => launch::spin(paths, name, &manifest, port, &state, &args, "/"),
    };
    info.command(name, &launch::command_line(&launch, paths));
    let server = procs::start(launch, &paths.work.join("logs")).await?;
    let measured = measure_routes(&server, setup, load, results).await;
    let measured = measured.map_err(|e| e.context(server.log_tail()));
    server.stop();
    measured
}

async fn measure_routes(
    server: &Server,
    setup: Setup,
    load: LoadOptions,
    results: &mut Results,
) -> Result<()> {
    let name = setup.name();
    let single = LoadOptions {
        connections: 1,
        ..load
    };
    for &route in setup.routes() {
        let spec = request(route, &server.authority());
        check_once(&spec).await?;
        let (w16, w1) = route.workloads();
        for (workload, opts) in [(w16, load), (w1, single)] {
            let r = loadgen::run(&spec, opts).await?;
            if r.errors > 0 {
                results.note(format!(
                    "{name}, {workload}: {} errors, {} reconnects (first: {})",
                    r.errors,
                    r.reconnects,
                    r.first_error.as_deref().unwrap_or("-")
                ));
            }
            results.record(workload, "req/s", "req/s", Better::Higher, name, r.rps);
            results.record(workload, "p50", "ms", Better::Lower, name, r.p50_ms);
            if opts.connections > 1 {
                results.record(workload, "p99", "ms", Better::Lower, name, r.p99_ms);
            }
            results.record(
                workload,
                "errors",
                "count",
                Better::Lower,
                name,
                r.errors as f64,
            );
        }
    }
    Ok(())
}

/// One request before the load: the route answers 200 with the value sent (for the
/// SQLite route, the request that creates the table).
async fn check_once(spec: &RequestSpec) -> Result<()> {
    let mut conn = loadgen::connect(&spec.authority).await?;
    let sent = spec.body_nth(0, 0);
    let (status, body) = loadgen::send(&mut conn, spec.build()?).await?;
    ensure!(
        spec.answers(&sent, status, &body),
        "{} answered {status}: {}",
        spec.path,
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_connection_cycles_through_keys_of_its_own() {
        assert_eq!(Route::KeyValue.path(3, 17), "/kv/c3-k1");
        assert_eq!(Route::Sqlite.path(0, 15), "/sqlite/15");
        assert_eq!(Route::Sqlite.path(1, 16), "/sqlite/16");
        let rows: std::collections::BTreeSet<String> = (0..16)
            .flat_map(|c| (0..64).map(move |s| Route::Sqlite.path(c, s)))
            .collect();
        assert_eq!(rows.len(), 16 * KEYS_PER_CONNECTION as usize);
    }

    #[test]
    fn values_differ_per_request_and_have_a_fixed_size() {
        let a = value(2, 7);
        assert_eq!(a.len(), VALUE_BYTES);
        assert!(a.starts_with(b"connection 2 request 7 "));
        assert_ne!(a, value(2, 8));
        assert_eq!(value(usize::MAX, u64::MAX).len(), VALUE_BYTES);
    }

    #[test]
    fn answers_must_echo_the_value_sent() {
        let spec = request(Route::KeyValue, "127.0.0.1:1");
        let req = spec.build_nth(4, 20).unwrap();
        assert_eq!(req.method(), hyper::Method::POST);
        assert_eq!(req.uri().path(), "/kv/c4-k4");
        let sent = spec.body_nth(4, 20);
        assert!(spec.answers(&sent, 200, &sent));
        assert!(!spec.answers(&sent, 200, &value(4, 19)));
        assert!(!spec.answers(&sent, 500, &sent));
    }

    #[test]
    fn repetitions_alternate_the_order() {
        let both = [Runtime::Spinflow, Runtime::Spin];
        let names = |rep| -> Vec<&str> { setups(&both, rep).iter().map(|s| s.name()).collect() };
        assert_eq!(
            names(0),
            [SPINFLOW_DISK, SPIN_DISK, SPINFLOW_MEMORY, SPIN_MEMORY]
        );
        assert_eq!(
            names(1),
            [SPIN_MEMORY, SPINFLOW_MEMORY, SPIN_DISK, SPINFLOW_DISK]
        );
        for s in setups(&both, 0) {
            assert_eq!(s.routes().contains(&Route::Sqlite), !s.kv_in_memory);
            assert_eq!(
                crate::systems::needs_spin_cli(s.name()),
                s.runtime == Runtime::Spin
            );
        }
    }
}
