//! `bench`: measures spinflow against the systems it replaces, side by side in one run.
//!
//! - `bench all [--quick] [--only spinflow] [--workloads storage] [--spin-bin PATH]
//!   [--baseline-app DIR]`: the whole benchmark (or some workloads of it) and its report
//!   (with a Spin CLI, every figure under real Spin too; with a baseline, our app as it
//!   was at another checkout beside it).
//! - `bench load URL ...`: the load generator alone (like wrk, with POST bodies).
//! - `bench floor --listen ADDR`: the native HTTP floor server.
//! - `bench timing URL ...`: medians of a route's `Server-Timing` parts.
//! - `bench pages --spin-bin PATH -f spin.toml --component ID PATH ...`: the pages of
//!   linear memory one request costs the component under real Spin.

mod cells;
mod client;
mod cpu;
mod fault_trace;
mod floor;
mod harness;
mod hostfig;
mod largest;
mod launch;
mod loadgen;
mod machine;
mod manifest;
mod memory_slots;
mod options;
mod pages;
mod paths;
mod postgres_names;
mod predict;
mod procs;
mod report;
mod report_postgres;
mod results;
mod run_info;
mod settings;
mod setup;
mod shell;
mod sizes;
mod stalled;
mod storage;
mod storage_names;
mod systems;
mod timing;
mod tracking;
mod tracking_postgres;
mod wasm_stack;
mod web_ui;
mod wrk;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmarks of spinflow against the systems it replaces")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Set up, run every workload against every system, write the report and plots.
    All {
        /// Short runs, one repetition (a few minutes); the report is named <date>-quick.md.
        #[arg(long)]
        quick: bool,
        /// Only these systems, comma-separated (`spinflow` also runs the native floor).
        #[arg(long, value_delimiter = ',')]
        only: Option<Vec<String>>,
        /// Only these workloads, comma-separated: host, storage, prediction, tracking,
        /// tracking-postgres, stalled, largest, web-ui (default: all of them).
        #[arg(long, value_delimiter = ',')]
        workloads: Option<Vec<String>>,
        /// Directory of the report and plots.
        #[arg(long, default_value_os_t = default_out())]
        out: PathBuf,
        /// Repetitions of each figure (default: 2, or 1 with --quick).
        #[arg(long)]
        reps: Option<usize>,
        /// Do not run `make build` first (the host and components are already built).
        #[arg(long)]
        no_build: bool,
        /// Do not draw the PNG plots (they need the bench venv's matplotlib).
        #[arg(long)]
        no_plots: bool,
        /// A Spin CLI (`spin`): also run every prediction and tracking figure under real
        /// Spin (`spin up`), beside `spinflow up`, and the baked-model variants.
        #[arg(long, env = "SPIN_BIN", value_name = "PATH")]
        spin_bin: Option<PathBuf>,
        /// Another checkout of this repository with its components built (its spin.toml,
        /// target/wasm32-wasip2/wasm-release/*.wasm, target/mlflow-ui/site): its app also
        /// runs, as `spinflow-baseline`, and the report sets `spinflow` against it.
        #[arg(long, value_name = "DIR")]
        baseline_app: Option<PathBuf>,
    },
    /// Load one URL with N keep-alive connections for a fixed duration; prints JSON.
    Load {
        url: String,
        #[arg(short = 'c', long, default_value_t = 16)]
        connections: usize,
        /// Seconds measured, after the warm-up.
        #[arg(short = 'd', long, default_value_t = 10.0)]
        duration: f64,
        #[arg(short = 'w', long, default_value_t = 2.0)]
        warmup: f64,
        /// A request body; the method becomes POST.
        #[arg(long)]
        body: Option<String>,
        /// Extra header, `name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
    },
    /// Send sequential requests and summarise their `Server-Timing` parts; prints JSON.
    Timing {
        url: String,
        /// Requests summarised, after the warm-up requests.
        #[arg(short = 'n', long, default_value_t = 400)]
        requests: usize,
        #[arg(short = 'w', long, default_value_t = 50)]
        warmup: usize,
        /// A request body; the method becomes POST.
        #[arg(long)]
        body: Option<String>,
        /// Extra header, `name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
    },
    /// Count the pages of linear memory one request costs a component under real Spin:
    /// those Spin's reset rewrites afterwards and those the request writes, by region
    /// (stack, memory image, heap). Root only; prints JSON.
    Pages {
        /// The Spin CLI.
        #[arg(long, env = "SPIN_BIN", value_name = "PATH")]
        spin_bin: PathBuf,
        /// The app's manifest.
        #[arg(short = 'f', long, default_value = "spin.toml")]
        manifest: PathBuf,
        /// The component measured (Spin serves it alone: `--component-id`).
        #[arg(long)]
        component: String,
        /// Path of the request, e.g. `/predict`.
        path: String,
        /// A request body; the method becomes POST.
        #[arg(long)]
        body: Option<String>,
        /// Extra header, `name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Requests before the measured one.
        #[arg(short = 'w', long, default_value_t = 5)]
        warmup: usize,
        /// Path that answers 200 once Spin is ready.
        #[arg(long, default_value = "/health")]
        ready_path: String,
        /// Environment of `spin up`, `NAME=value` (repeatable).
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// `spin up --runtime-config-file`.
        #[arg(long)]
        runtime_config_file: Option<PathBuf>,
    },
    /// Serve fixed bytes on every request (the HTTP floor of this machine).
    Floor {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long, default_value = harness::FLOOR_BODY)]
        body: String,
    },
}

fn default_out() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results")
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Cmd::All {
            quick,
            only,
            workloads,
            out,
            reps,
            no_build,
            no_plots,
            spin_bin,
            baseline_app,
        } => {
            let opts = options::Options {
                quick,
                only,
                workloads,
                out,
                reps: reps.unwrap_or(if quick { 1 } else { 2 }).max(1),
                build: !no_build,
                plots: !no_plots,
                spin_bin: spin_bin.filter(|p| !p.as_os_str().is_empty()),
                baseline_app: baseline_app.map(std::path::absolute).transpose()?,
            };
            let report = rt.block_on(harness::run(opts))?;
            println!("report: {}", report.display());
        }
        Cmd::Load {
            url,
            connections,
            duration,
            warmup,
            body,
            headers,
        } => {
            let spec = loadgen::RequestSpec::from_command_line(&url, body, &headers)?;
            let opts = loadgen::LoadOptions {
                connections,
                warmup: Duration::from_secs_f64(warmup),
                duration: Duration::from_secs_f64(duration),
            };
            let result = rt.block_on(loadgen::run(&spec, opts))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        Cmd::Timing {
            url,
            requests,
            warmup,
            body,
            headers,
        } => {
            let spec = loadgen::RequestSpec::from_command_line(&url, body, &headers)?;
            let parts = rt.block_on(timing::run(&spec, warmup, requests.max(1)))?;
            println!("{}", serde_json::to_string_pretty(&parts)?);
        }
        Cmd::Pages {
            spin_bin,
            manifest,
            component,
            path,
            body,
            headers,
            warmup,
            ready_path,
            env,
            runtime_config_file,
        } => {
            let env = env
                .iter()
                .map(|e| {
                    e.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .context("--env takes NAME=VALUE")
                })
                .collect::<Result<_>>()?;
            let spin_args = runtime_config_file
                .map(|f| vec!["--runtime-config-file".into(), f.display().to_string()])
                .unwrap_or_default();
            let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let opts = pages::Options {
                spin_bin,
                manifest: std::path::absolute(manifest)?,
                component,
                spin_args,
                env,
                ready_path,
                warmup,
                path,
                body,
                headers,
                spin_cache: repo.join("target/bench-spin-cache"),
            };
            let report = rt.block_on(pages::run(&opts))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Cmd::Floor { listen, body } => rt.block_on(floor::serve(listen, body.into()))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_app_is_an_option_of_all() {
        let cli = Cli::try_parse_from([
            "bench",
            "all",
            "--only",
            "spinflow,spinflow-baseline",
            "--baseline-app",
            "/tmp/before",
        ])
        .unwrap();
        let Cmd::All {
            only, baseline_app, ..
        } = cli.command
        else {
            panic!("not `all`");
        };
        assert_eq!(baseline_app, Some(PathBuf::from("/tmp/before")));
        assert_eq!(
            only,
            Some(vec!["spinflow".into(), "spinflow-baseline".into()])
        );
        let cli = Cli::try_parse_from(["bench", "all"]).unwrap();
        assert!(matches!(
            cli.command,
            Cmd::All {
                baseline_app: None,
                ..
            }
        ));
    }
}
