//! Experiments and runs over the tracking REST API (the calls `mlflow.set_experiment`,
//! `start_run`, `log_params`/`log_metrics` and `end_run` make).

use anyhow::{bail, Context};
use mlflow_wire::tracking::{
    CreateExperimentResponse, Experiment, ExperimentResponse, KeyValue, Metric, RunInfo,
    RunResponse,
};
use serde_json::json;

use crate::client::{ApiError, RestClient};

const API: &str = "/api/2.0/mlflow";

/// The log-batch limits of the server: split larger batches.
const MAX_PARAMS_PER_BATCH: usize = 100;
const MAX_METRICS_PER_BATCH: usize = 1000;

/// Finds the experiment `name`, creating it when absent (tolerating a concurrent creation).
pub fn get_or_create_experiment(client: &RestClient, name: &str) -> anyhow::Result<Experiment> {
    let experiment = match get_experiment_by_name(client, name)? {
        Some(experiment) => experiment,
        None => {
            let created: anyhow::Result<CreateExperimentResponse> = client.post(
                &format!("{API}/experiments/create"),
                &json!({ "name": name }),
            );
            let id = match created {
                Ok(created) => created.experiment_id,
                Err(e) if ApiError::has_code(&e, "RESOURCE_ALREADY_EXISTS") => {
                    return get_experiment_by_name(client, name)?
                        .with_context(|| format!("experiment {name:?} vanished after creation"));
                }
                Err(e) => return Err(e.context(format!("creating experiment {name:?}"))),
            };
            client
                .get::<ExperimentResponse>(
                    &format!("{API}/experiments/get"),
                    &[("experiment_id", &id)],
                )?
                .experiment
        }
    };
    if experiment.lifecycle_stage != "active" {
        bail!(
            "experiment {name:?} (id {}) is deleted; restore it or choose another with --experiment",
            experiment.experiment_id
        );
    }
    Ok(experiment)
}

fn get_experiment_by_name(client: &RestClient, name: &str) -> anyhow::Result<Option<Experiment>> {
    let found: anyhow::Result<ExperimentResponse> = client.get(
        &format!("{API}/experiments/get-by-name"),
        &[("experiment_name", name)],
    );
    match found {
        Ok(found) => Ok(Some(found.experiment)),
        Err(e) if ApiError::has_code(&e, "RESOURCE_DOES_NOT_EXIST") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Starts a run in `experiment_id`; the server names it when `run_name` is `None`.
pub fn create_run(
    client: &RestClient,
    experiment_id: &str,
    run_name: Option<&str>,
    tags: &[KeyValue],
) -> anyhow::Result<RunInfo> {
    let mut body = json!({
        "experiment_id": experiment_id,
        "start_time": now_ms(),
        "tags": tags,
    });
    if let Some(name) = run_name {
        body["run_name"] = json!(name);
    }
    let run: RunResponse = client
        .post(&format!("{API}/runs/create"), &body)
        .context("creating the run")?;
    Ok(run.run.info)
}

/// Logs params, in batches the server accepts.
pub fn log_params(client: &RestClient, run_id: &str, params: &[KeyValue]) -> anyhow::Result<()> {
    for chunk in params.chunks(MAX_PARAMS_PER_BATCH) {
        log_batch(
            client,
            run_id,
            &json!({ "run_id": run_id, "params": chunk }),
        )?;
    }
    Ok(())
}

/// Logs metrics, in batches the server accepts.
pub fn log_metrics(client: &RestClient, run_id: &str, metrics: &[Metric]) -> anyhow::Result<()> {
    for chunk in metrics.chunks(MAX_METRICS_PER_BATCH) {
        log_batch(
            client,
            run_id,
            &json!({ "run_id": run_id, "metrics": chunk }),
        )?;
    }
    Ok(())
}

fn log_batch(client: &RestClient, run_id: &str, body: &serde_json::Value) -> anyhow::Result<()> {
    client
        .post::<_, serde_json::Value>(&format!("{API}/runs/log-batch"), body)
        .with_context(|| format!("logging to run {run_id}"))
        .map(drop)
}

/// Sets the terminal status of a run (`FINISHED`, `FAILED`).
pub fn end_run(client: &RestClient, run_id: &str, status: &str) -> anyhow::Result<()> {
    client
        .post::<_, serde_json::Value>(
            &format!("{API}/runs/update"),
            &json!({ "run_id": run_id, "run_uuid": run_id, "status": status, "end_time": now_ms() }),
        )
        .with_context(|| format!("marking run {run_id} {status}"))
        .map(drop)
}

/// Milliseconds since the Unix epoch, as MLflow timestamps are.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
