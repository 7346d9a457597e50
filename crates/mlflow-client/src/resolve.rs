//! Which model version a [`ModelUri`] designates now, and where its artifacts are.
//!
//! `models:/iris@champion` -> `GET registered-models/alias`; `models:/iris/3` ->
//! `GET model-versions/get`; `models:/iris/Production` and `models:/iris/latest` ->
//! `POST registered-models/get-latest-versions`; then `GET
//! model-versions/get-download-uri` (which a 3.x registry may answer with
//! `models:/m-<id>`: then `GET logged-models/<id>`). `runs:/<id>/<path>` -> `GET
//! runs/get` (artifact root + path); `models:/m-<id>` -> `GET logged-models/<id>`.

use crate::artifact_path::encode;
use crate::client::MlflowClient;
use crate::error::RegistryError;
use crate::http::HttpClient;
use crate::model_uri::ModelUri;
use mlflow_wire::answers::{
    ArtifactLocation, LatestVersionsAnswer, LoggedModelAnswer, RunAnswer, VersionAnswer,
    VersionNumber,
};
use mlflow_wire::registry::{DownloadUriResponse, GetLatestVersions};

/// The model version a URI points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The registered model's name (a logged model's name, a run URI's path).
    pub name: String,
    /// The version number (a logged model's id, a run URI's run id).
    pub version: String,
    /// Where its artifacts are, as the server wrote it.
    pub artifact_uri: String,
}

impl<H: HttpClient> MlflowClient<'_, H> {
    /// Which version `uri` designates now, and where its artifacts are.
    pub async fn resolve(&self, uri: &ModelUri) -> Result<Resolved, RegistryError> {
        let (name, version) = match uri {
            ModelUri::Alias { name, alias } => {
                let call = format!(
                    "registered-models/alias?name={}&alias={}",
                    encode(name),
                    encode(alias)
                );
                let answer: VersionAnswer = self.get(&call).await?.decode()?;
                (name.clone(), version_of(answer.model_version)?)
            }
            ModelUri::Version { name, version } => {
                let call = format!("model-versions/get?name={}&version={version}", encode(name));
                let answer: VersionAnswer = self.get(&call).await?.decode()?;
                (name.clone(), version_of(answer.model_version)?)
            }
            ModelUri::Latest { name, stage } => {
                (name.clone(), self.latest(name, stage.as_deref()).await?)
            }
            ModelUri::Run { run_id, path } => {
                let call = format!("runs/get?run_id={}", encode(run_id));
                let answer: RunAnswer = self.get(&call).await?.decode()?;
                let root = non_empty(answer.run.info.artifact_uri, "run.info.artifact_uri")?;
                return Ok(Resolved {
                    name: path.clone(),
                    version: run_id.clone(),
                    artifact_uri: format!("{}/{path}", root.trim_end_matches('/')),
                });
            }
            ModelUri::LoggedModel { model_id } => {
                let info = self.logged_model(model_id).await?;
                let name = if info.name.is_empty() {
                    model_id.clone()
                } else {
                    info.name
                };
                return Ok(Resolved {
                    name,
                    version: model_id.clone(),
                    artifact_uri: non_empty(info.artifact_uri, "model.info.artifact_uri")?,
                });
            }
        };
        let call = format!(
            "model-versions/get-download-uri?name={}&version={}",
            encode(&name),
            encode(&version)
        );
        let answer: DownloadUriResponse = self.get(&call).await?.decode()?;
        let mut artifact_uri = answer.artifact_uri;
        if let Some(model_id) = artifact_uri
            .strip_prefix("models:/")
            .filter(|id| id.starts_with("m-"))
        {
            let info = self.logged_model(model_id).await?;
            artifact_uri = non_empty(info.artifact_uri, "model.info.artifact_uri")?;
        }
        Ok(Resolved {
            name,
            version,
            artifact_uri,
        })
    }

    async fn logged_model(&self, model_id: &str) -> Result<ArtifactLocation, RegistryError> {
        let call = format!("logged-models/{}", encode(model_id));
        let answer: LoggedModelAnswer = self.get(&call).await?.decode()?;
        Ok(answer.model.info)
    }

    /// Highest version among the latest ones of `stage` (or of every stage).
    async fn latest(&self, name: &str, stage: Option<&str>) -> Result<String, RegistryError> {
        let request = GetLatestVersions {
            name: name.to_string(),
            stages: stage.into_iter().map(String::from).collect(),
        };
        let call = "registered-models/get-latest-versions";
        let posted = self.post(call, &request).await?;
        let answer: LatestVersionsAnswer = match posted.decode_if_found()? {
            Some(answer) => answer,
            None => {
                // Older servers only have the GET form (the POST answers a bare 404).
                let mut query = format!("{call}?name={}", encode(name));
                for s in &request.stages {
                    query.push_str(&format!("&stages={}", encode(s)));
                }
                self.get(&query).await?.decode()?
            }
        };
        answer
            .model_versions
            .into_iter()
            .map(|v| v.version)
            .filter(|v| !v.is_empty())
            .max_by_key(|v| v.parse::<u64>().unwrap_or(0))
            .ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "model {name:?} has no version in stage {}",
                    stage.unwrap_or("any")
                ))
            })
    }
}

fn version_of(version: VersionNumber) -> Result<String, RegistryError> {
    non_empty(version.version, "model_version.version")
}

fn non_empty(value: String, what: &str) -> Result<String, RegistryError> {
    if value.is_empty() {
        return Err(RegistryError::Invalid(format!("{what} is missing")));
    }
    Ok(value)
}
