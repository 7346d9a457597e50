//! Model-registry entities and bodies (`model_registry.proto`), shared by mlflow-server's
//! registry handlers, the mlflow-client crate and the trainer.

use crate::lenient::{opt_bool, opt_i64, opt_string, string_list};
use crate::tracking::KeyValue;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RegisteredModelAlias {
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub creation_timestamp: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RegisteredModel {
    pub name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub creation_timestamp: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<RegisteredModelAlias>,
}

// ---- requests (all fields optional at the wire level; the server checks requirements) ----

#[derive(Debug, Clone, Deserialize, Default)]
pub struct CreateRegisteredModel {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
}

/// Requests naming a registered model, optionally with a new name/description/tag/alias
/// (rename, update, delete, get, set-tag, delete-tag, alias get/set/delete).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RegisteredModelRequest {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub new_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub alias: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct CreateModelVersion {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub run_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default, deserialize_with = "opt_string")]
    pub run_link: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub model_id: Option<String>,
}

/// Requests naming one model version (get, update, delete, transition-stage, tags,
/// get-download-uri).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ModelVersionRequest {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub stage: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub archive_existing_versions: Option<bool>,
    #[serde(default, deserialize_with = "opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct SearchRegistry {
    #[serde(default, deserialize_with = "opt_string")]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, deserialize_with = "string_list")]
    pub order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub page_token: Option<String>,
}

// ---- responses ----

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RegisteredModelResponse {
    pub registered_model: RegisteredModel,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ModelVersionResponse {
    pub model_version: ModelVersion,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ModelVersionsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_versions: Vec<ModelVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RegisteredModelsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_models: Vec<RegisteredModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// `registered-models/get-latest-versions` as a client sends it (POST body).
#[derive(Debug, Clone, Serialize, Default)]
pub struct GetLatestVersions {
    pub name: String,
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DownloadUriResponse {
    pub artifact_uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_version_parses_minimal_json() {
        let v: ModelVersionResponse = serde_json::from_str(
            r#"{"model_version":{"name":"iris","version":"3","creation_timestamp":"12"}}"#,
        )
        .unwrap();
        assert_eq!(v.model_version.version, "3");
        assert_eq!(v.model_version.creation_timestamp, Some(12));
        let out = serde_json::to_value(&v.model_version).unwrap();
        assert!(out.get("aliases").is_none());
    }
}
