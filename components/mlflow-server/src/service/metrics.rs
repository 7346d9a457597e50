//! Metrics: log-metric, get-history (paged) and get-history-bulk-interval, plus the
//! batched insert shared with log-batch.

use super::runs::{get_active_run, get_run_info};
use super::validation::{self as v, clamp_metric_value, validate_key};
use super::ACTIVE;
use crate::error::{required, ApiResult, MlflowError};
use crate::http::router::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::params;
use crate::store::{transaction, Db, DbExt, Row, SqlValue};
use crate::util::page_token;
use mlflow_wire::tracking::{self as wire, Metric};

pub const ROUTES: &[Route] = &[
    route(Method::Post, "runs/log-metric", log_metric),
    route(Method::Get, "metrics/get-history", get_history),
    route(
        Method::Get,
        "metrics/get-history-bulk-interval",
        get_history_bulk_interval,
    ),
];

/// A validated metric point ready to store.
#[derive(Debug, Clone)]
pub struct NewMetric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub model_id: Option<String>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

pub fn validate_metric(m: &wire::BatchMetric) -> ApiResult<NewMetric> {
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

/// (value, is_nan) as stored: SQLite has no NaN, so NaN is 0 flagged by is_nan.
fn value_binds(value: f64) -> [SqlValue; 2] {
    if value.is_nan() {
        [SqlValue::Real(0.0), SqlValue::Integer(1)]
    } else {
        [SqlValue::Real(value), SqlValue::Integer(0)]
    }
}

const INSERT_ROWS: usize = 100;

/// Appends points (multi-row INSERTs) and moves `latest_metrics` forward. Callers hold a
/// transaction.
pub fn insert_metrics(db: &dyn Db, run_id: &str, metrics: &[NewMetric]) -> ApiResult<()> {
    for chunk in metrics.chunks(INSERT_ROWS) {
        let mut sql = String::from(
            "INSERT OR IGNORE INTO metrics (run_uuid, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest) VALUES ",
        );
        let mut binds = Vec::with_capacity(chunk.len() * 9);
        for (i, m) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            });
            binds.push(SqlValue::from(run_id));
            binds.push(SqlValue::from(m.key.as_str()));
            binds.extend(value_binds(m.value));
            binds.extend(params![
                m.timestamp,
                m.step,
                m.model_id.clone(),
                m.dataset_name.clone(),
                m.dataset_digest.clone()
            ]);
        }
        db.exec(&sql, &binds)?;
    }
    for m in metrics {
        if let Some(model_id) = &m.model_id {
            let dataset = (m.dataset_name.as_deref(), m.dataset_digest.as_deref());
            crate::registry::logged_models::record_metric(
                db,
                model_id,
                run_id,
                &m.key,
                m.value,
                m.timestamp,
                m.step,
                dataset,
            )?;
        }
    }
    // `latest_metrics` follows by itself (the `latest_metrics_follow` trigger).
    Ok(())
}

/// Logs one point (without a logged model) in a single statement, which needs no
/// transaction: the point goes in only if the run exists and is active.
fn insert_point(db: &dyn Db, run_id: &str, m: &NewMetric) -> ApiResult<()> {
    let mut binds = vec![SqlValue::from(run_id), SqlValue::from(m.key.as_str())];
    binds.extend(value_binds(m.value));
    binds.extend(params![
        m.timestamp,
        m.step,
        m.dataset_name.clone(),
        m.dataset_digest.clone(),
        run_id,
        ACTIVE
    ]);
    let inserted = db.query(
        "INSERT OR IGNORE INTO metrics (run_uuid, key, value, is_nan, timestamp, step, dataset_name, dataset_digest)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?
         WHERE EXISTS (SELECT 1 FROM runs WHERE run_uuid = ? AND lifecycle_stage = ?)
         RETURNING 1",
        &binds,
    )?;
    if inserted.is_empty() {
        // The run is missing or not active (answered as MLflow does), or the point was
        // logged already (identical points are one).
        get_active_run(db, run_id)?;
    }
    Ok(())
}

/// Reads (key, value, is_nan, timestamp, step) starting at column `at`.
pub fn metric_from_row(r: &Row, at: usize) -> Metric {
    let value = if r.int(at + 2) == 1 {
        f64::NAN
    } else {
        r.opt_real(at + 1).unwrap_or(f64::NAN)
    };
    Metric {
        key: r.text(at),
        value,
        timestamp: r.int(at + 3),
        step: r.int(at + 4),
        ..Default::default()
    }
}

pub fn latest_metrics_for(db: &dyn Db, run_id: &str) -> ApiResult<Vec<Metric>> {
    Ok(db
        .query(
            "SELECT key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_uuid = ? ORDER BY key",
            &params![run_id],
        )?
        .iter()
        .map(|r| metric_from_row(r, 0))
        .collect())
}

fn log_metric(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::LogMetric = req.message()?;
    let run_id = m.run.id().ok_or_else(|| MlflowError::missing("run_id"))?;
    let point = validate_metric(&wire::BatchMetric {
        key: m.key.clone(),
        value: m.value,
        timestamp: m.timestamp,
        step: m.step,
        model_id: m.model_id.clone(),
        dataset_name: m.dataset_name.clone(),
        dataset_digest: m.dataset_digest.clone(),
    })?;
    if point.model_id.is_none() {
        insert_point(ctx.db, run_id, &point)?;
    } else {
        transaction(ctx.db, || {
            get_active_run(ctx.db, run_id)?;
            insert_metrics(ctx.db, run_id, &[point])
        })?;
    }
    ApiResponse::empty()
}

/// One page of a metric's history, ordered by (timestamp, step, value).
pub fn metric_history(
    db: &dyn Db,
    run_id: &str,
    key: &str,
    max_results: Option<i64>,
    token: Option<&str>,
) -> ApiResult<wire::MetricsResponse> {
    get_run_info(db, run_id)?;
    let offset = page_token::decode(token)?;
    let limit = match max_results {
        None => i64::MAX - 1,
        Some(n) if n >= 1 => n,
        Some(n) => {
            return Err(MlflowError::invalid(format!(
                "max_results must be positive, got {n}"
            )))
        }
    };
    let rows = db.query(
        "SELECT key, value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ?
         ORDER BY timestamp, step, value LIMIT ? OFFSET ?",
        &params![run_id, key, limit.saturating_add(1), offset],
    )?;
    let has_more = rows.len() as i64 > limit;
    let metrics: Vec<Metric> = rows
        .iter()
        .take(limit as usize)
        .map(|r| metric_from_row(r, 0))
        .collect();
    let next_page_token = page_token::next(offset, metrics.len(), has_more);
    Ok(wire::MetricsResponse {
        metrics,
        next_page_token,
    })
}

fn get_history(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::GetMetricHistory = req.message()?;
    let run_id = m.run.id().ok_or_else(|| MlflowError::missing("run_id"))?;
    let key = required(&m.metric_key, "metric_key")?;
    ApiResponse::json(&metric_history(
        ctx.db,
        run_id,
        key,
        m.max_results,
        m.page_token.as_deref(),
    )?)
}

/// Up to `n` steps spread evenly over `steps` (sorted, distinct), always keeping both ends.
fn sample_steps(steps: &[i64], n: usize) -> Vec<i64> {
    if steps.len() <= n {
        return steps.to_vec();
    }
    if n == 1 {
        return vec![steps[0]];
    }
    let mut out: Vec<i64> = (0..n)
        .map(|i| steps[i * (steps.len() - 1) / (n - 1)])
        .collect();
    out.dedup();
    out
}

pub fn history_bulk_interval(
    db: &dyn Db,
    m: &wire::GetMetricHistoryBulkInterval,
) -> ApiResult<wire::MetricsResponse> {
    let key = required(&m.metric_key, "metric_key")?;
    if m.run_ids.is_empty() {
        return Err(MlflowError::missing("run_ids"));
    }
    if m.run_ids.len() > v::MAX_BULK_INTERVAL_RUNS {
        return Err(MlflowError::invalid(format!(
            "GetMetricHistoryBulkInterval request must specify at most {} run_ids. Received {} run_ids.",
            v::MAX_BULK_INTERVAL_RUNS,
            m.run_ids.len()
        )));
    }
    let max = v::max_results(
        m.max_results,
        v::MAX_BULK_INTERVAL_RESULTS,
        v::MAX_BULK_INTERVAL_RESULTS,
    )? as usize;
    let (start, end) = (
        m.start_step.unwrap_or(i64::MIN),
        m.end_step.unwrap_or(i64::MAX),
    );
    if start > end {
        return Err(MlflowError::invalid(format!(
            "end_step ({end}) must be at least start_step ({start})"
        )));
    }
    let mut out = Vec::new();
    let mut run_ids = m.run_ids.clone();
    run_ids.sort();
    run_ids.dedup();
    for run_id in &run_ids {
        get_run_info(db, run_id)?;
        let steps: Vec<i64> = db
            .query(
                "SELECT DISTINCT step FROM metrics WHERE run_uuid = ? AND key = ? AND step BETWEEN ? AND ? ORDER BY step",
                &params![run_id.as_str(), key, start, end],
            )?
            .iter()
            .map(|r| r.int(0))
            .collect();
        let chosen = sample_steps(&steps, max);
        for chunk in chosen.chunks(400) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut binds = params![run_id.as_str(), key].to_vec();
            binds.extend(chunk.iter().map(|s| SqlValue::Integer(*s)));
            for r in db.query(
                &format!(
                    "SELECT key, value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ? AND step IN ({marks})
                     ORDER BY step, timestamp, value"
                ),
                &binds,
            )? {
                let mut metric = metric_from_row(&r, 0);
                metric.run_id = Some(run_id.clone());
                out.push(metric);
            }
        }
    }
    Ok(wire::MetricsResponse {
        metrics: out,
        next_page_token: None,
    })
}

fn get_history_bulk_interval(
    ctx: &Ctx,
    req: &ApiRequest,
    _: &PathParams,
) -> ApiResult<ApiResponse> {
    let m: wire::GetMetricHistoryBulkInterval = req.message()?;
    ApiResponse::json(&history_bulk_interval(ctx.db, &m)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::runs::create_run;
    use crate::store::testing;

    fn point(key: &str, value: f64, timestamp: i64, step: i64) -> NewMetric {
        NewMetric {
            key: key.into(),
            value,
            timestamp,
            step,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
        }
    }

    fn run(db: &dyn Db) -> String {
        create_run(db, &Default::default()).unwrap().info.run_id
    }

    fn log(db: &dyn Db, id: &str, points: &[NewMetric]) {
        transaction(db, || insert_metrics(db, id, points)).unwrap();
    }

    #[test]
    fn latest_is_max_of_step_timestamp_value() {
        let db = testing::db();
        let id = run(&db);
        log(
            &db,
            &id,
            &[point("loss", 5.0, 10, 2), point("loss", 1.0, 99, 1)],
        );
        log(&db, &id, &[point("loss", 3.0, 10, 2)]);
        let latest = latest_metrics_for(&db, &id).unwrap();
        assert_eq!((latest[0].value, latest[0].step), (5.0, 2));
        log(&db, &id, &[point("loss", 0.5, 11, 2)]);
        assert_eq!(latest_metrics_for(&db, &id).unwrap()[0].value, 0.5);
    }

    #[test]
    fn one_point_is_logged_only_into_an_active_run() {
        let db = testing::db();
        let id = run(&db);
        insert_point(&db, &id, &point("acc", 0.5, 1, 1)).unwrap();
        insert_point(&db, &id, &point("acc", 0.9, 2, 2)).unwrap();
        // The same point again is one point, and not an error.
        insert_point(&db, &id, &point("acc", 0.9, 2, 2)).unwrap();
        let history = metric_history(&db, &id, "acc", None, None).unwrap().metrics;
        assert_eq!(history.len(), 2);
        assert_eq!(latest_metrics_for(&db, &id).unwrap()[0].value, 0.9);

        let missing = insert_point(
            &db,
            "0123456789abcdef0123456789abcdef",
            &point("acc", 1.0, 3, 3),
        );
        assert_eq!(missing.unwrap_err().code.name(), "RESOURCE_DOES_NOT_EXIST");
        db.exec(
            "UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_uuid = ?",
            &params![id.as_str()],
        )
        .unwrap();
        let deleted = insert_point(&db, &id, &point("acc", 1.0, 3, 3)).unwrap_err();
        assert_eq!(deleted.code.name(), "INVALID_PARAMETER_VALUE");
        assert_eq!(
            metric_history(&db, &id, "acc", None, None)
                .unwrap()
                .metrics
                .len(),
            2
        );
    }

    #[test]
    fn nan_and_infinities() {
        let db = testing::db();
        let id = run(&db);
        let pts: Vec<NewMetric> = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
            .iter()
            .enumerate()
            .map(|(i, v)| {
                validate_metric(&wire::BatchMetric {
                    key: Some("x".into()),
                    value: Some(*v),
                    timestamp: Some(i as i64),
                    step: Some(i as i64),
                    ..Default::default()
                })
                .unwrap()
            })
            .collect();
        log(&db, &id, &pts);
        let h = metric_history(&db, &id, "x", None, None).unwrap().metrics;
        assert!(h[0].value.is_nan());
        assert_eq!(h[1].value, f64::MAX);
        assert_eq!(h[2].value, f64::MIN);
    }

    #[test]
    fn history_is_sorted_and_paged() {
        let db = testing::db();
        let id = run(&db);
        let pts: Vec<NewMetric> = (0..25).rev().map(|i| point("m", i as f64, i, i)).collect();
        log(&db, &id, &pts);
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = metric_history(&db, &id, "m", Some(10), token.as_deref()).unwrap();
            seen.extend(page.metrics.iter().map(|m| m.timestamp));
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(seen, (0..25).collect::<Vec<_>>());
        assert!(metric_history(&db, "missing", "m", None, None).is_err());
    }

    #[test]
    fn bulk_interval_samples_steps() {
        let db = testing::db();
        let id = run(&db);
        let pts: Vec<NewMetric> = (0..100).map(|i| point("m", i as f64, i, i)).collect();
        log(&db, &id, &pts);
        let q = wire::GetMetricHistoryBulkInterval {
            run_ids: vec![id.clone()],
            metric_key: Some("m".into()),
            start_step: Some(10),
            end_step: Some(50),
            max_results: Some(5),
        };
        let r = history_bulk_interval(&db, &q).unwrap();
        let steps: Vec<i64> = r.metrics.iter().map(|m| m.step).collect();
        assert_eq!(steps, vec![10, 20, 30, 40, 50]);
        assert_eq!(r.metrics[0].run_id.as_deref(), Some(id.as_str()));
        let too_many = wire::GetMetricHistoryBulkInterval {
            run_ids: (0..101).map(|i| i.to_string()).collect(),
            metric_key: Some("m".into()),
            ..Default::default()
        };
        assert!(history_bulk_interval(&db, &too_many).is_err());
    }
}
