//! Registers a logged model as a new version of a registered model and points an alias
//! at it, with the calls `mlflow.register_model` and `set_registered_model_alias` make.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mlflow_wire::logged_models::LoggedModelResponse;
use mlflow_wire::registry::{ModelVersion, ModelVersionResponse, RegisteredModelResponse};
use serde_json::json;

use crate::client::{ApiError, RestClient};

const API: &str = "/api/2.0/mlflow";

/// How long a version may stay `PENDING_REGISTRATION` (the official client waits 300 s).
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(300);
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The tag of a logged model that lists its registrations.
const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";

/// Creates the registered model `name` if absent, then a version from `source`.
pub fn register(
    client: &RestClient,
    name: &str,
    source: &str,
    run_id: &str,
    model_id: Option<&str>,
) -> anyhow::Result<ModelVersion> {
    let created: anyhow::Result<RegisteredModelResponse> = client.post(
        &format!("{API}/registered-models/create"),
        &json!({ "name": name }),
    );
    match created {
        Ok(_) => {}
        Err(e)
            if ApiError::has_code(&e, "RESOURCE_ALREADY_EXISTS")
                || ApiError::has_code(&e, "ALREADY_EXISTS") => {}
        Err(e) => return Err(e.context(format!("creating registered model {name:?}"))),
    }
    let mut body = json!({ "name": name, "source": source, "run_id": run_id });
    if let Some(model_id) = model_id {
        body["model_id"] = json!(model_id);
    }
    let version = client
        .post::<_, ModelVersionResponse>(&format!("{API}/model-versions/create"), &body)
        .with_context(|| format!("creating a version of {name:?}"))?
        .model_version;
    let version = wait_until_ready(client, version)?;
    if let Some(model_id) = model_id {
        // The UI shows a logged model's registrations from this tag; like the official
        // client, a failure here does not undo the registration.
        if let Err(e) = record_registration(client, model_id, &version) {
            eprintln!(
                "warning: could not tag logged model {model_id} with its registration: {e:#}"
            );
        }
    }
    Ok(version)
}

fn wait_until_ready(
    client: &RestClient,
    mut version: ModelVersion,
) -> anyhow::Result<ModelVersion> {
    let started = Instant::now();
    loop {
        match version.status.as_deref() {
            None | Some("READY") => return Ok(version),
            Some("PENDING_REGISTRATION") if started.elapsed() < REGISTRATION_TIMEOUT => {
                std::thread::sleep(POLL_INTERVAL);
                version = client
                    .get::<ModelVersionResponse>(
                        &format!("{API}/model-versions/get"),
                        &[("name", &version.name), ("version", &version.version)],
                    )?
                    .model_version;
            }
            Some(status) => bail!(
                "version {} of {:?} ended {status}: {}",
                version.version,
                version.name,
                version.status_message.as_deref().unwrap_or("no message")
            ),
        }
    }
}

fn record_registration(
    client: &RestClient,
    model_id: &str,
    version: &ModelVersion,
) -> anyhow::Result<()> {
    let model: LoggedModelResponse = client.get(&format!("{API}/logged-models/{model_id}"), &[])?;
    let existing = model
        .model
        .info
        .tags
        .iter()
        .find(|t| t.key.as_deref() == Some(MODEL_VERSIONS_TAG))
        .and_then(|t| t.value.as_deref())
        .and_then(|v| serde_json::from_str::<Vec<serde_json::Value>>(v).ok())
        .unwrap_or_default();
    // MLflow 3 servers record it themselves (the version as a number) when the version
    // names its model_id; only add it when it is not there in either spelling.
    let same = |entry: &serde_json::Value| {
        entry["name"] == version.name.as_str()
            && match &entry["version"] {
                serde_json::Value::String(v) => *v == version.version,
                other => other
                    .as_u64()
                    .is_some_and(|n| n.to_string() == version.version),
            }
    };
    if existing.iter().any(same) {
        return Ok(());
    }
    let mut registrations = existing;
    registrations.push(json!({ "name": version.name, "version": version.version }));
    let value = serde_json::to_string(&registrations)?;
    client.patch::<_, serde_json::Value>(
        &format!("{API}/logged-models/{model_id}/tags"),
        &json!({ "tags": [{ "key": MODEL_VERSIONS_TAG, "value": value }] }),
    )?;
    Ok(())
}

/// Points `alias` of registered model `name` at `version` (moving it if it exists).
pub fn set_alias(
    client: &RestClient,
    name: &str,
    alias: &str,
    version: &str,
) -> anyhow::Result<()> {
    client
        .post::<_, serde_json::Value>(
            &format!("{API}/registered-models/alias"),
            &json!({ "name": name, "alias": alias, "version": version }),
        )
        .with_context(|| format!("setting alias {alias:?} of {name:?} to version {version}"))
        .map(drop)
}
