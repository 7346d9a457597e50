//! Tracking entities (experiments, runs, metrics, inputs, artifacts) and the request and
//! response bodies of the tracking endpoints, named as in MLflow's `service.proto`.

use crate::lenient::{de_f64, opt_bool, opt_f64, opt_i64, opt_string, ser_f64, string_list};
use serde::{Deserialize, Serialize};

/// A key/value pair: experiment tags, run tags, params and input tags share this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KeyValue {
    #[serde(default, deserialize_with = "opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: Some(key.into()),
            value: Some(value.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub last_update_time: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub creation_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// One metric point. `value` travels in proto3 form (NaN and infinities as strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Metric {
    pub key: String,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub value: f64,
    #[serde(deserialize_with = "de_i64_required")]
    pub timestamp: i64,
    #[serde(default, deserialize_with = "de_i64_required")]
    pub step: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

fn de_i64_required<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_i64(d).map(|v| v.unwrap_or(0))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunInfo {
    pub run_id: String,
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    #[serde(default)]
    pub user_id: String,
    pub status: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub start_time: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunData {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Dataset {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DatasetInput {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub dataset: Option<Dataset>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelInput {
    #[serde(default)]
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelOutput {
    #[serde(default)]
    pub model_id: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub step: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunInputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<ModelInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunOutputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
    #[serde(default)]
    pub inputs: RunInputs,
    #[serde(default)]
    pub outputs: RunOutputs,
}

/// An entry of an artifact listing. `is_dir` is always written (the client indexes it);
/// `file_size` is absent for directories and empty files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FileInfo {
    pub path: String,
    #[serde(default)]
    pub is_dir: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64"
    )]
    pub file_size: Option<i64>,
}

// ---------------------------------------------------------------------------------------
// Requests. Every field is optional at the wire level; the server checks what is required
// so that a missing field is an INVALID_PARAMETER_VALUE, not a parse failure.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
pub struct CreateExperiment {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub artifact_location: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// Any request naming one experiment (get, delete, restore).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ExperimentRef {
    #[serde(default, deserialize_with = "opt_string")]
    pub experiment_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct GetExperimentByName {
    #[serde(default, deserialize_with = "opt_string")]
    pub experiment_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct UpdateExperiment {
    #[serde(default, deserialize_with = "opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub new_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ExperimentTagRequest {
    #[serde(default, deserialize_with = "opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct SearchExperiments {
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub page_token: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub view_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct CreateRun {
    #[serde(default, deserialize_with = "opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub run_name: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// Any request naming one run. MLflow clients send `run_id`, `run_uuid` or both.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RunRef {
    #[serde(default, deserialize_with = "opt_string")]
    pub run_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub run_uuid: Option<String>,
}

impl RunRef {
    /// `run_id` if given, else the deprecated `run_uuid`.
    pub fn id(&self) -> Option<&str> {
        self.run_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.run_uuid.as_deref().filter(|s| !s.is_empty()))
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct UpdateRun {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "opt_string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub end_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub run_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct SearchRuns {
    #[serde(default, deserialize_with = "string_list")]
    pub experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub run_view_type: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, deserialize_with = "string_list")]
    pub order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct LogMetric {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub value: Option<f64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub step: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub model_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub dataset_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub dataset_digest: Option<String>,
}

/// log-parameter, set-tag and delete-tag.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RunKeyValue {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
}

/// A metric inside log-batch: fields optional so that a missing one is a clear 400.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct BatchMetric {
    #[serde(default, deserialize_with = "opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub value: Option<f64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub step: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub model_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub dataset_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub dataset_digest: Option<String>,
}

/// log-batch. The run fields are inline (not a flattened [`RunRef`]) because serde's
/// flatten buffers the whole message first, which is costly at 1000 metrics.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct LogBatch {
    #[serde(default, deserialize_with = "opt_string")]
    pub run_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub run_uuid: Option<String>,
    #[serde(default)]
    pub metrics: Vec<BatchMetric>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

impl LogBatch {
    pub fn run(&self) -> RunRef {
        RunRef {
            run_id: self.run_id.clone(),
            run_uuid: self.run_uuid.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct LogInputs {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default)]
    pub datasets: Vec<DatasetInput>,
    #[serde(default)]
    pub models: Vec<ModelInput>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct LogOutputs {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default)]
    pub models: Vec<ModelOutput>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct LogModel {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "opt_string")]
    pub model_json: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct GetMetricHistory {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "opt_string")]
    pub metric_key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub page_token: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_results: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct GetMetricHistoryBulkInterval {
    #[serde(default, deserialize_with = "string_list")]
    pub run_ids: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub metric_key: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub start_step: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub end_step: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_results: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ListArtifacts {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "opt_string")]
    pub path: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub page_token: Option<String>,
}

/// Query of the proxied artifact listing (`GET /api/2.0/mlflow-artifacts/artifacts`).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ListProxiedArtifacts {
    #[serde(default, deserialize_with = "opt_string")]
    pub path: Option<String>,
}

/// Used by endpoints that take a `view_type`-like flag such as `allow_deleted`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct AllowDeleted {
    #[serde(default, deserialize_with = "opt_bool")]
    pub allow_deleted: Option<bool>,
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CreateExperimentResponse {
    pub experiment_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ExperimentResponse {
    pub experiment: Experiment,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SearchExperimentsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<Experiment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunResponse {
    pub run: Run,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UpdateRunResponse {
    pub run_info: RunInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SearchRunsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct MetricsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ListArtifactsResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Error body of every MLflow endpoint (read leniently: a proxy may send only one field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ErrorBody {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_round_trips_special_values() {
        let m = Metric {
            key: "loss".into(),
            value: f64::NAN,
            timestamp: 5,
            step: 1,
            ..Default::default()
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["value"], "NaN");
        assert!(json.get("run_id").is_none());
        let back: Metric = serde_json::from_value(json).unwrap();
        assert!(back.value.is_nan());
    }

    #[test]
    fn run_ref_prefers_run_id() {
        let r: RunRef = serde_json::from_str(r#"{"run_uuid":"b","run_id":"a"}"#).unwrap();
        assert_eq!(r.id(), Some("a"));
        let r: RunRef = serde_json::from_str(r#"{"run_uuid":"b","run_id":""}"#).unwrap();
        assert_eq!(r.id(), Some("b"));
    }

    #[test]
    fn flattened_requests_accept_query_strings() {
        let q: GetMetricHistory =
            serde_json::from_str(r#"{"run_id":"r","metric_key":"m","max_results":"10"}"#).unwrap();
        assert_eq!(q.max_results, Some(10));
        assert_eq!(q.run.id(), Some("r"));
    }

    #[test]
    fn empty_fields_are_omitted() {
        let r = SearchRunsResponse::default();
        assert_eq!(serde_json::to_string(&r).unwrap(), "{}");
        let f = FileInfo {
            path: "d".into(),
            is_dir: true,
            file_size: None,
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"path":"d","is_dir":true}"#
        );
        let f = FileInfo {
            path: "f".into(),
            is_dir: false,
            file_size: Some(3),
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"path":"f","is_dir":false,"file_size":3}"#
        );
    }
}
