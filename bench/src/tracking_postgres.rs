//! Tracking on PostgreSQL (`--workloads tracking-postgres`): one PostgreSQL server for
//! the run (crates/test-postgres: Debian's programs, a cluster in a temporary
//! directory), a fresh database of its own for each system and repetition, and every
//! tracking figure of the `tracking` workload (the same code) against `spinflow up`
//! and `spin up` with mlflow-server's `database_url`, `mlflow server
//! --backend-store-uri postgresql://…` and FastTrackML's `--database-uri postgres://…`.
//!
//! Then one against two replicas: the concurrent write figures (log-batch, log-metric)
//! against one `spinflow up`, and against two on one database with the load split
//! between them by the load generator itself (no proxy to measure), with the CPU time
//! of the servers and of the database per request; afterwards the acknowledged points
//! are counted in the database's `metrics` table.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::{anyhow, Context, Result};
use test_postgres::Postgres;

use crate::cpu::CpuMeter;
use crate::launch;
use crate::options::Options;
use crate::paths::Paths;
use crate::postgres_names::{self, on_postgres};
use crate::procs::{self, Launch, Server};
use crate::results::Results;
use crate::run_info::RunInfo;
use crate::settings::Plan;
use crate::tracking::{self, Target, Writes};

pub async fn run(paths: &Paths, opts: &Options, info: &mut RunInfo, results: &mut Results) {
    let systems: Vec<&str> = postgres_names::SYSTEMS
        .iter()
        .copied()
        .filter(|s| opts.wants(s))
        .collect();
    if systems.is_empty() {
        return;
    }
    // Started on this runtime thread, which lives as long as the run: the server gets
    // SIGINT when the thread that started it ends (test-postgres's parent-death signal).
    let server = match catch_unwind(|| test_postgres::start(false)) {
        Ok(server) => server,
        Err(panic) => {
            results.note(format!(
                "tracking on PostgreSQL not measured: PostgreSQL did not start: {}",
                panic_text(&panic)
            ));
            return;
        }
    };
    match server_version(&server.url()).await {
        Ok(v) => info
            .versions
            .push(("PostgreSQL (tracking-postgres)".into(), v)),
        Err(e) => results.note(format!("PostgreSQL's version: {e:#}")),
    }
    let plan = opts.tracking_plan();
    for rep in 0..opts.reps {
        for system in in_rep_order(systems.clone(), rep) {
            if let Err(e) = measure_system(paths, info, &server, system, rep, &plan, results).await
            {
                results.note(format!("{}: {e:#}", on_postgres(system)));
            }
        }
        if opts.wants("spinflow") {
            for count in in_rep_order(vec![1, 2], rep) {
                if let Err(e) =
                    measure_replicas(paths, info, &server, count, rep, &plan, results).await
                {
                    results.note(format!("{}: {e:#}", postgres_names::replicas(count)));
                }
            }
        }
    }
}

/// Odd repetitions run in reverse order, as the other workloads do.
fn in_rep_order<T>(mut items: Vec<T>, rep: usize) -> Vec<T> {
    if rep % 2 == 1 {
        items.reverse();
    }
    items
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// A new database on the server; its `postgres://` URL.
fn create_database(server: &Postgres, name: &str) -> Result<String> {
    catch_unwind(AssertUnwindSafe(|| server.create_database(name)))
        .map_err(|panic| anyhow!("creating database {name}: {}", panic_text(&panic)))
}

/// The tracking launch of `system` (launch.rs, as on SQLite), its store moved to the
/// database at `url`.
fn postgres_launch(paths: &Paths, system: &str, port: u16, url: &str, host: &str) -> Launch {
    let mut launch = launch::tracking_launch(paths, system, port);
    launch.name = format!("{system}-postgres");
    match system {
        "spinflow" => spin_variables(&mut launch, url, host),
        // Spin sets no connect timeout of its own; the docs advise this one.
        "spin" => spin_variables(&mut launch, &format!("{url}?connect_timeout=10"), host),
        "mlflow" => replace_arg(
            &mut launch,
            "--backend-store-uri",
            &url.replacen("postgres://", "postgresql://", 1),
        ),
        "fasttrackml" => replace_arg(&mut launch, "--database-uri", url),
        other => panic!("{other} is not measured on PostgreSQL"),
    }
    launch
}

/// mlflow-server's two variables that select PostgreSQL, as `SPIN_VARIABLE_…`.
fn spin_variables(launch: &mut Launch, url: &str, host: &str) {
    launch
        .env
        .push(("SPIN_VARIABLE_DATABASE_URL".into(), url.into()));
    launch
        .env
        .push(("SPIN_VARIABLE_DATABASE_HOST".into(), host.into()));
}

/// Sets the value that follows `flag` in the launch's arguments.
fn replace_arg(launch: &mut Launch, flag: &str, value: &str) {
    let i = launch
        .args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{} has no {flag}", launch.name));
    launch.args[i + 1] = value.into();
}

fn database_host(server: &Postgres) -> String {
    format!("127.0.0.1:{}", server.port())
}

/// Every tracking figure of `system` on a database of its own.
async fn measure_system(
    paths: &Paths,
    info: &mut RunInfo,
    database: &Postgres,
    system: &str,
    rep: usize,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let name = on_postgres(system);
    let url = create_database(database, &format!("{system}_{rep}"))?;
    let launch = postgres_launch(
        paths,
        system,
        procs::free_port()?,
        &url,
        &database_host(database),
    );
    info.command(
        &format!("{name} (tracking)"),
        &launch::command_line(&launch, paths),
    );
    let server = procs::start(launch, &paths.work.join("logs"))
        .await
        .context("did not start")?;
    let target = Target::new(
        vec![server.authority()],
        CpuMeter::new(vec![server.child.id()], database.pid()),
    );
    let measured = tracking::run_all(&target, &name, rep, plan, results).await;
    let tail = server.log_tail();
    server.stop();
    measured.map_err(|e| anyhow!("{e:#}\n{tail}"))
}

/// The write figures against `count` replicas of mlflow-server (`spinflow up`) on one
/// new database, and the acknowledged points counted in that database.
async fn measure_replicas(
    paths: &Paths,
    info: &mut RunInfo,
    database: &Postgres,
    count: usize,
    rep: usize,
    plan: &Plan,
    results: &mut Results,
) -> Result<()> {
    let system = postgres_names::replicas(count);
    let url = create_database(database, &format!("replicas{count}_{rep}"))?;
    let mut servers: Vec<Server> = Vec::new();
    // One after the other: the first migrates the schema before /health answers.
    for i in 0..count {
        let mut launch = postgres_launch(
            paths,
            "spinflow",
            procs::free_port()?,
            &url,
            &database_host(database),
        );
        launch.name = format!("spinflow-postgres-replica{i}");
        info.command(
            &format!("{system} (tracking)"),
            &launch::command_line(&launch, paths),
        );
        match procs::start(launch, &paths.work.join("logs")).await {
            Ok(server) => servers.push(server),
            Err(e) => {
                servers.into_iter().for_each(Server::stop);
                return Err(e.context(format!("replica {i} did not start")));
            }
        }
    }
    let target = Target::new(
        servers.iter().map(Server::authority).collect(),
        CpuMeter::new(
            servers.iter().map(|s| s.child.id()).collect(),
            database.pid(),
        ),
    );
    let tag = format!("replicas{count}-{rep}-{}", crate::client::now_ms());
    let written = tracking::write_figures(&target, system, &tag, plan, results).await;
    servers.into_iter().for_each(Server::stop);
    for (workload, writes) in written {
        let stored = stored_points(&url, &writes)
            .await
            .with_context(|| format!("counting the points of {workload}"))?;
        if stored != writes.read_back {
            results.note(format!(
                "{system}: {workload}: {stored} points in the database, {} read back through the API",
                writes.read_back
            ));
        }
        tracking::record_lost(results, &workload, system, &writes, stored);
    }
    Ok(())
}

/// Distinct points (run, key, step) of the written runs and keys in mlflow-server's
/// `metrics` table.
async fn stored_points(url: &str, writes: &Writes) -> Result<u64> {
    let client = connect(url).await?;
    let row = client
        .query_one(
            "SELECT count(*) FROM (SELECT DISTINCT run_uuid, key, step FROM metrics \
             WHERE run_uuid = ANY($1) AND key = ANY($2)) AS points",
            &[&writes.runs, &writes.keys],
        )
        .await?;
    Ok(row.get::<_, i64>(0) as u64)
}

async fn server_version(url: &str) -> Result<String> {
    let client = connect(url).await?;
    let row = client.query_one("SHOW server_version", &[]).await?;
    Ok(row.get(0))
}

async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths::new(
            std::env::temp_dir().join("bench-pg-launch"),
            true,
            None,
            None,
        )
        .unwrap()
    }

    #[test]
    fn each_system_is_pointed_at_its_database() {
        let paths = paths();
        let url = "postgres://postgres:pw@127.0.0.1:5999/spinflow_0";
        let host = "127.0.0.1:5999";
        let env_of = |launch: &Launch, name: &str| {
            launch
                .env
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let spinflow = postgres_launch(&paths, "spinflow", 1, url, host);
        assert_eq!(
            env_of(&spinflow, "SPIN_VARIABLE_DATABASE_URL").as_deref(),
            Some(url)
        );
        assert_eq!(
            env_of(&spinflow, "SPIN_VARIABLE_DATABASE_HOST").as_deref(),
            Some(host)
        );
        let spin_paths = Paths::new(
            paths.work.clone(),
            true,
            Some("/usr/local/bin/spin".into()),
            None,
        )
        .unwrap();
        let spin = postgres_launch(&spin_paths, "spin", 1, url, host);
        assert_eq!(
            env_of(&spin, "SPIN_VARIABLE_DATABASE_URL").unwrap(),
            format!("{url}?connect_timeout=10")
        );
        let mlflow = postgres_launch(&paths, "mlflow", 1, url, host);
        let i = mlflow
            .args
            .iter()
            .position(|a| a == "--backend-store-uri")
            .unwrap();
        assert_eq!(
            mlflow.args[i + 1],
            "postgresql://postgres:pw@127.0.0.1:5999/spinflow_0"
        );
        let fml = postgres_launch(&paths, "fasttrackml", 1, url, host);
        let i = fml.args.iter().position(|a| a == "--database-uri").unwrap();
        assert_eq!(fml.args[i + 1], url);
        assert_eq!(in_rep_order(vec![1, 2], 1), vec![2, 1]);
    }
}
