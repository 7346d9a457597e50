//! MLflow 3 logged models (`/api/2.0/mlflow/logged-models`).

use crate::lenient::{opt_i64, opt_string, string_list};
use crate::tracking::{KeyValue, Metric};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LoggedModelRegistration {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub creation_timestamp_ms: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub last_updated_timestamp_ms: Option<i64>,
    #[serde(default)]
    pub artifact_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<LoggedModelRegistration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LoggedModelData {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    #[serde(default)]
    pub data: LoggedModelData,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct CreateLoggedModel {
    #[serde(default, deserialize_with = "opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub model_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub source_run_id: Option<String>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// PATCH `logged-models/{id}` (finalize), `.../tags` and POST `.../params`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct UpdateLoggedModel {
    #[serde(default, deserialize_with = "opt_string")]
    pub model_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct LoggedModelOrderBy {
    #[serde(default, deserialize_with = "opt_string")]
    pub field_name: Option<String>,
    #[serde(default)]
    pub ascending: Option<bool>,
    #[serde(default, deserialize_with = "opt_string")]
    pub dataset_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub dataset_digest: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct SearchLoggedModels {
    #[serde(default, deserialize_with = "string_list")]
    pub experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub order_by: Vec<LoggedModelOrderBy>,
    #[serde(default, deserialize_with = "opt_string")]
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LoggedModelResponse {
    pub model: LoggedModel,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SearchLoggedModelsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LoggedModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}
