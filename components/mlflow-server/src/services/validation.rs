//! MLflow's tracking validation rules and limits (reference §2), in one place: keys,
//! values, names, metric points, view types and page sizes.

use crate::error::{ApiResult, MlflowError};
use crate::store::lifecycle::ViewType;
use crate::store::metrics::NewMetric;
use mlflow_wire::tracking::{BatchMetric, KeyValue};

pub const MAX_KEY_LEN: usize = 250;
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
pub const MAX_TAG_VALUE_LEN: usize = 8000;
pub const MAX_EXPERIMENT_TAG_VALUE_LEN: usize = 20000;
pub const MAX_EXPERIMENT_NAME_LEN: usize = 500;
pub const MAX_BATCH_METRICS: usize = 1000;
pub const MAX_BATCH_PARAMS: usize = 100;
pub const MAX_BATCH_TAGS: usize = 100;
pub const MAX_BATCH_ENTITIES: usize = 1000;
pub const MAX_BATCH_BODY_BYTES: usize = 1_000_000;
pub const MAX_SEARCH_RUNS_RESULTS: i64 = 50_000;
pub const DEFAULT_SEARCH_RESULTS: i64 = 1000;
pub const MAX_BULK_INTERVAL_RUNS: usize = 100;
pub const MAX_BULK_INTERVAL_RESULTS: i64 = 2500;
/// Points of one get-history page: the page size both official clients ask for
/// (`GET_METRIC_HISTORY_MAX_RESULTS`), and the most MLflow's get-history-bulk answers.
pub const MAX_HISTORY_PAGE: i64 = 25_000;
/// Points of one get-history-bulk-interval answer, over all its runs: 100 runs x 2,500
/// points (MLflow's per-request maxima) would not fit a small instance, so with many
/// runs each run's sample is smaller (100 runs: 250 points each, still first to last).
pub const MAX_BULK_INTERVAL_POINTS: i64 = MAX_HISTORY_PAGE;

/// Metric, param and tag keys: `^[/\w.\- ]*$`, a normalised relative path, ≤ 250 chars.
pub fn validate_key(kind: &str, key: Option<&str>) -> ApiResult<String> {
    let key = match key {
        Some(k) if !k.is_empty() => k,
        _ => return Err(MlflowError::missing("key")),
    };
    if key.chars().count() > MAX_KEY_LEN {
        return Err(MlflowError::invalid(format!(
            "{kind} '{key}' had length {}, which exceeded length limit of {MAX_KEY_LEN}",
            key.chars().count()
        )));
    }
    let allowed = key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' '));
    let normalised = !key.starts_with('/') && key != "." && !key.split('/').any(|seg| seg == "..");
    if !allowed || !normalised {
        return Err(MlflowError::invalid(format!(
            "Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/), and must be a relative path without '..'."
        )));
    }
    Ok(key.to_string())
}

/// Values over the limit are truncated, as MLflow 3 does by default.
pub fn truncate(value: &str, limit: usize) -> String {
    match value.char_indices().nth(limit) {
        Some((byte, _)) => value[..byte].to_string(),
        None => value.to_string(),
    }
}

/// MLflow stores ±infinity clamped to the largest finite doubles.
pub fn clamp_metric_value(v: f64) -> f64 {
    if v == f64::INFINITY {
        f64::MAX
    } else if v == f64::NEG_INFINITY {
        f64::MIN
    } else {
        v
    }
}

pub fn validate_experiment_name(name: Option<&str>) -> ApiResult<String> {
    let name = match name {
        Some(n) if !n.trim().is_empty() => n,
        _ => return Err(MlflowError::invalid("Invalid experiment name: ''")),
    };
    if name.chars().count() > MAX_EXPERIMENT_NAME_LEN {
        return Err(MlflowError::invalid(format!(
            "Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LEN} characters"
        )));
    }
    Ok(name.to_string())
}

/// A param as stored: a valid key and a value (truncated to the limit).
pub fn checked_param(kv: &KeyValue) -> ApiResult<(String, String)> {
    let key = validate_key("param", kv.key.as_deref())?;
    let value = kv
        .value
        .as_deref()
        .ok_or_else(|| MlflowError::missing("value"))?;
    Ok((key, truncate(value, MAX_PARAM_VALUE_LEN)))
}

/// A run tag as stored: a valid key and a value (missing is empty, truncated).
pub fn checked_tag(kv: &KeyValue) -> ApiResult<(String, String)> {
    let key = validate_key("tag", kv.key.as_deref())?;
    Ok((
        key,
        truncate(kv.value.as_deref().unwrap_or(""), MAX_TAG_VALUE_LEN),
    ))
}

/// A metric point as stored: valid key, a value (±infinity clamped), a timestamp ≥ 0.
pub fn validate_metric(m: &BatchMetric) -> ApiResult<NewMetric> {
    let key = validate_key("metric", m.key.as_deref())?;
    let value = m.value.ok_or_else(|| MlflowError::missing("value"))?;
    let timestamp = m
        .timestamp
        .ok_or_else(|| MlflowError::missing("timestamp"))?;
    if timestamp < 0 {
        return Err(MlflowError::invalid(format!(
            "Got invalid timestamp {timestamp} for metric '{key}'. Timestamp must be a nonnegative integer."
        )));
    }
    Ok(NewMetric {
        key,
        value: clamp_metric_value(value),
        timestamp,
        step: m.step.unwrap_or(0),
        model_id: m.model_id.clone(),
        dataset_name: m.dataset_name.clone(),
        dataset_digest: m.dataset_digest.clone(),
    })
}

/// `ACTIVE_ONLY` (default), `DELETED_ONLY` or `ALL` (or their numbers).
pub fn view_type(view: Option<&str>) -> ApiResult<ViewType> {
    Ok(
        match view.unwrap_or("ACTIVE_ONLY").to_ascii_uppercase().as_str() {
            "" | "ACTIVE_ONLY" | "1" => ViewType::ActiveOnly,
            "DELETED_ONLY" | "2" => ViewType::DeletedOnly,
            "ALL" | "3" => ViewType::All,
            other => {
                return Err(MlflowError::invalid(format!(
                    "Invalid view type '{other}'; expected ACTIVE_ONLY, DELETED_ONLY or ALL"
                )))
            }
        },
    )
}

/// `max_results` within 1..=max, defaulting to `default`.
pub fn max_results(v: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(MlflowError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be between 1 and {max}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(validate_key("param", Some("a/b.c-d e_f")).is_ok());
        assert!(validate_key("param", Some(&"k".repeat(250))).is_ok());
        for bad in ["", "/abs", "a/../b", "..", ".", "a*b", "a\\b", "ü$"] {
            assert!(validate_key("param", Some(bad)).is_err(), "{bad}");
        }
        assert!(validate_key("param", Some(&"k".repeat(251))).is_err());
        assert!(validate_key("param", None).is_err());
    }

    #[test]
    fn truncation_and_clamping() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(clamp_metric_value(f64::INFINITY), f64::MAX);
        assert!(clamp_metric_value(f64::NAN).is_nan());
    }

    #[test]
    fn max_results_bounds() {
        assert_eq!(max_results(None, 1000, 50000).unwrap(), 1000);
        assert!(max_results(Some(0), 1000, 50000).is_err());
        assert!(max_results(Some(50001), 1000, 50000).is_err());
    }
}
