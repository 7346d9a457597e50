//! Logs the model directory of a run, the way the official client does:
//! an MLflow 3 logged model (`models:/<model_id>`) when the server has them, else (MLflow 2
//! servers such as the 2.9 reference deployment) the `model/` folder of the run's artifacts.

use anyhow::Context;
use mlflow_wire::logged_models::LoggedModelResponse;
use mlflow_wire::tracking::{KeyValue, Metric, RunInfo};
use serde_json::json;

use crate::client::{ApiError, RestClient};
use crate::model_dir::{model_directory, utc_now, ModelFile, ModelOrigin};
use crate::tracking;

const LOGGED_MODELS: &str = "/api/2.0/mlflow/logged-models";

/// Name of the model inside the run (`runs:/<run_id>/model`), as in MLflow's examples.
pub const MODEL_NAME_IN_RUN: &str = "model";

/// Where the model was logged.
#[derive(Debug, Clone, PartialEq)]
pub enum LoggedLocation {
    /// An MLflow 3 logged model.
    LoggedModel {
        model_id: String,
        artifact_uri: String,
    },
    /// The `model/` folder of the run's artifacts (MLflow 2 servers).
    RunArtifacts { artifact_uri: String },
}

impl LoggedLocation {
    /// The URI a user loads the model with.
    pub fn model_uri(&self, run_id: &str) -> String {
        match self {
            LoggedLocation::LoggedModel { model_id, .. } => format!("models:/{model_id}"),
            LoggedLocation::RunArtifacts { .. } => format!("runs:/{run_id}/{MODEL_NAME_IN_RUN}"),
        }
    }

    /// The `source` of a model version registered from this location, as the official
    /// client sends it.
    pub fn registry_source(&self) -> String {
        match self {
            LoggedLocation::LoggedModel { model_id, .. } => format!("models:/{model_id}"),
            LoggedLocation::RunArtifacts { artifact_uri } => artifact_uri.clone(),
        }
    }

    pub fn model_id(&self) -> Option<&str> {
        match self {
            LoggedLocation::LoggedModel { model_id, .. } => Some(model_id),
            LoggedLocation::RunArtifacts { .. } => None,
        }
    }
}

/// What to log with the model.
pub struct ModelToLog<'a> {
    pub onnx: Vec<u8>,
    pub params: &'a [KeyValue],
    /// The run's metrics, re-logged with the model id so that the model carries them.
    pub metrics: &'a [Metric],
    pub tags: &'a [KeyValue],
}

/// Logs `model` for `run` and returns where it went.
pub fn log_model(
    client: &RestClient,
    run: &RunInfo,
    model: ModelToLog<'_>,
) -> anyhow::Result<LoggedLocation> {
    let created: anyhow::Result<LoggedModelResponse> = client.post(
        LOGGED_MODELS,
        &json!({
            "experiment_id": run.experiment_id,
            "name": MODEL_NAME_IN_RUN,
            "source_run_id": run.run_id,
            "model_type": "onnx",
            "params": model.params,
            "tags": model.tags,
        }),
    );
    match created {
        Ok(created) => log_as_logged_model(client, run, created, model),
        Err(e) if is_missing_endpoint(&e) => log_to_run_artifacts(client, run, model),
        Err(e) => Err(e.context("creating the logged model")),
    }
}

/// MLflow 2 servers answer a plain 404 for the logged-models endpoints.
fn is_missing_endpoint(err: &anyhow::Error) -> bool {
    err.downcast_ref::<ApiError>()
        .is_some_and(|e| e.status == 404 && e.error_code != "RESOURCE_DOES_NOT_EXIST")
}

fn log_as_logged_model(
    client: &RestClient,
    run: &RunInfo,
    created: LoggedModelResponse,
    model: ModelToLog<'_>,
) -> anyhow::Result<LoggedLocation> {
    let info = created.model.info;
    let model_id = info.model_id;
    client
        .post::<_, serde_json::Value>(
            "/api/2.0/mlflow/runs/outputs",
            &json!({ "run_id": run.run_id, "models": [{ "model_id": model_id, "step": 0 }] }),
        )
        .context("linking the model to the run")?;
    let model_metrics: Vec<Metric> = model
        .metrics
        .iter()
        .map(|m| Metric {
            model_id: Some(model_id.clone()),
            ..m.clone()
        })
        .collect();
    tracking::log_metrics(client, &run.run_id, &model_metrics)?;

    let origin = ModelOrigin {
        run_id: &run.run_id,
        model_id: Some(&model_id),
        artifact_path: &info.artifact_uri,
        utc_time_created: utc_now(),
    };
    let uploaded = model_directory(model.onnx, &origin)
        .and_then(|files| upload(client, &info.artifact_uri, &files));
    let status = if uploaded.is_ok() {
        "LOGGED_MODEL_READY"
    } else {
        "LOGGED_MODEL_UPLOAD_FAILED"
    };
    let finalized = client.patch::<_, LoggedModelResponse>(
        &format!("{LOGGED_MODELS}/{model_id}"),
        &json!({ "model_id": model_id, "status": status }),
    );
    uploaded?;
    finalized.context("marking the logged model ready")?;
    Ok(LoggedLocation::LoggedModel {
        model_id,
        artifact_uri: info.artifact_uri,
    })
}

fn log_to_run_artifacts(
    client: &RestClient,
    run: &RunInfo,
    model: ModelToLog<'_>,
) -> anyhow::Result<LoggedLocation> {
    let artifact_uri = format!(
        "{}/{MODEL_NAME_IN_RUN}",
        run.artifact_uri.trim_end_matches('/')
    );
    let origin = ModelOrigin {
        run_id: &run.run_id,
        model_id: None,
        artifact_path: MODEL_NAME_IN_RUN,
        utc_time_created: utc_now(),
    };
    let files = model_directory(model.onnx, &origin)?;
    upload(client, &artifact_uri, &files)?;
    // Recorded in the run's `mlflow.log-model.history` tag; like the official client we
    // only warn when the server refuses it.
    let mlmodel: serde_json::Value = serde_yaml_ng::from_slice(&files[0].bytes)?;
    let recorded = client.post::<_, serde_json::Value>(
        "/api/2.0/mlflow/runs/log-model",
        &json!({ "run_id": run.run_id, "model_json": mlmodel.to_string() }),
    );
    if let Err(e) = recorded {
        eprintln!("warning: the server did not record the model in the run's history: {e:#}");
    }
    Ok(LoggedLocation::RunArtifacts { artifact_uri })
}

fn upload(client: &RestClient, artifact_uri: &str, files: &[ModelFile]) -> anyhow::Result<()> {
    for file in files {
        client
            .put_artifact(artifact_uri, file.path, &file.bytes)
            .with_context(|| format!("uploading {}", file.path))?;
    }
    Ok(())
}
