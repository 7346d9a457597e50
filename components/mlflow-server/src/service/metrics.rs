//! Metrics: log-metric, get-history (paged), get-history-bulk (the web UI's) and
//! get-history-bulk-interval, plus the batched insert shared with log-batch.

use super::runs::{get_active_run, get_run_info};
use super::validation::{self as v, clamp_metric_value, validate_key};
use super::ACTIVE;
use crate::error::{required, ApiResult, MlflowError};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::params;
use crate::store::db::{transaction, Db, DbExt, Row, SqlValue};
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
    route(Method::Get, "metrics/get-history-bulk", get_history_bulk),
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
///
/// A page holds at most [`v::MAX_HISTORY_PAGE`] points whatever `max_results` asks
/// (absent, it is that many too), so an answer stays bounded however long the history;
/// `next_page_token` leads to the rest. MLflow's server answers the whole history
/// without `max_results`, but both official clients (2.9 and 3.x) ask for pages of
/// that size and follow the token, so they still read every point.
pub fn metric_history(
    db: &dyn Db,
    run_id: &str,
    key: &str,
    max_results: Option<i64>,
    token: Option<&str>,
) -> ApiResult<wire::MetricsResponse> {
    let limit = match max_results {
        None => v::MAX_HISTORY_PAGE,
        Some(n) if n >= 1 => n.min(v::MAX_HISTORY_PAGE),
        Some(n) => {
            return Err(MlflowError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer."
            )))
        }
    };
    let offset = page_token::decode(token)?;
    get_run_info(db, run_id)?;
    // The key is known: not reading it back saves one string per point.
    let rows = db.query(
        "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ?
         ORDER BY timestamp, step, value LIMIT ? OFFSET ?",
        &params![run_id, key, limit + 1, offset],
    )?;
    let (metrics, next_page_token) =
        page_token::page(&rows, limit, offset, |r| Ok(point_from_row(key, r, 0)))?;
    Ok(wire::MetricsResponse {
        metrics,
        next_page_token,
    })
}

/// A point of metric `key` from (value, is_nan, timestamp, step) starting at column `at`.
fn point_from_row(key: &str, r: &Row, at: usize) -> Metric {
    let value = if r.int(at + 1) == 1 {
        f64::NAN
    } else {
        r.opt_real(at).unwrap_or(f64::NAN)
    };
    Metric {
        key: key.to_string(),
        value,
        timestamp: r.int(at + 2),
        step: r.int(at + 3),
        ..Default::default()
    }
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

/// Up to `max` points of one run's metric, spread evenly over its history in
/// (step, timestamp, value) order, always the first and the last (only the last when
/// `max` is 1), as MLflow 3 samples. The sampling runs in SQL, so the component holds
/// at most `max` rows whatever the history's length, even when every point has the
/// same step (the default step 0).
///
/// Rows are numbered 0..total; row i is kept when it is the first whose scaled index
/// `i * (max - 1) / (total - 1)` reaches a new integer, which keeps exactly `max`
/// rows, row 0 and row total - 1 among them.
const SAMPLE_SQL: &str = "SELECT value, is_nan, timestamp, step FROM (
    SELECT value, is_nan, timestamp, step,
           ROW_NUMBER() OVER (ORDER BY step, timestamp, value, is_nan) - 1 AS i,
           COUNT(*) OVER () AS total
    FROM metrics WHERE run_uuid = ?1 AND key = ?2 AND step BETWEEN ?3 AND ?4)
 WHERE total <= ?5
    OR (?5 = 1 AND i = total - 1)
    OR (?5 > 1 AND (i = 0 OR i * (?5 - 1) / (total - 1) > (i - 1) * (?5 - 1) / (total - 1)))
 ORDER BY step, timestamp, value, is_nan";

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
    )?;
    let (start, end) = (
        m.start_step.unwrap_or(i64::MIN),
        m.end_step.unwrap_or(i64::MAX),
    );
    if start > end {
        return Err(MlflowError::invalid(format!(
            "end_step ({end}) must be at least start_step ({start})"
        )));
    }
    let mut run_ids = m.run_ids.clone();
    run_ids.sort();
    run_ids.dedup();
    for run_id in &run_ids {
        get_run_info(db, run_id)?;
    }
    // The answer's size is bounded over all runs, not only per run.
    let max = max.min((v::MAX_BULK_INTERVAL_POINTS / run_ids.len() as i64).max(1));
    let mut out = Vec::new();
    for run_id in &run_ids {
        for r in db.query(SAMPLE_SQL, &params![run_id.as_str(), key, start, end, max])? {
            let mut metric = point_from_row(key, &r, 0);
            metric.run_id = Some(run_id.clone());
            out.push(metric);
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

/// MLflow's bounds of get-history-bulk: 100 runs, 25,000 points over all of them.
const MAX_BULK_RUNS: usize = 100;
const MAX_BULK_POINTS: i64 = 25_000;

/// `GET /ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id=..&run_id=..&metric_key=`:
/// the whole history of a metric for several runs (runs in id order, each in
/// (timestamp, step, value) order), at most `max_results` points in all. As in MLflow, an
/// unknown run has no points rather than being an error.
fn get_history_bulk(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    crate::http::ajax_only(req)?;
    let mut run_ids: Vec<String> = form_urlencoded::parse(req.query.as_bytes())
        .filter(|(k, _)| k == "run_id")
        .map(|(_, v)| v.into_owned())
        .collect();
    if run_ids.is_empty() {
        return Err(MlflowError::invalid(
            "GetMetricHistoryBulk request must specify at least one run_id.",
        ));
    }
    if run_ids.len() > MAX_BULK_RUNS {
        return Err(MlflowError::invalid(format!(
            "GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids. Received {} run_ids.",
            run_ids.len()
        )));
    }
    let key = req.query_value("metric_key").ok_or_else(|| {
        MlflowError::invalid("GetMetricHistoryBulk request must specify a metric_key.")
    })?;
    let max = match req.query_value("max_results") {
        None => MAX_BULK_POINTS,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => n.min(MAX_BULK_POINTS),
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid value {v} for parameter 'max_results' supplied. It must be a non-negative integer."
                )))
            }
        },
    };
    run_ids.sort();
    run_ids.dedup();
    let mut metrics = Vec::new();
    for run_id in &run_ids {
        let left = max - metrics.len() as i64;
        if left <= 0 {
            break;
        }
        let rows = ctx.db.query(
            "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ?
             ORDER BY timestamp, step, value LIMIT ?",
            &params![run_id.as_str(), key.as_str(), left],
        )?;
        metrics.extend(rows.iter().map(|r| Metric {
            run_id: Some(run_id.clone()),
            ..point_from_row(&key, r, 0)
        }));
    }
    // `{"metrics": []}` when empty, as MLflow answers (not the empty message).
    ApiResponse::json(&serde_json::json!({ "metrics": metrics }))
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

    /// `n` points of "m" at step `i / same_step` (so several points may share a step).
    fn many_points(db: &dyn Db, id: &str, n: i64, same_step: i64) {
        db.exec(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?)
             INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step)
             SELECT ?, 'm', i, 0, i, i / ? FROM s",
            &params![n, id, same_step],
        )
        .unwrap();
    }

    #[test]
    fn a_history_page_is_bounded_whatever_is_asked() {
        let db = testing::db();
        let id = run(&db);
        let total = v::MAX_HISTORY_PAGE + 7;
        many_points(&db, &id, total, 1);
        for asked in [None, Some(v::MAX_HISTORY_PAGE + 1), Some(i64::MAX)] {
            let page = metric_history(&db, &id, "m", asked, None).unwrap();
            assert_eq!(page.metrics.len() as i64, v::MAX_HISTORY_PAGE, "{asked:?}");
            let rest =
                metric_history(&db, &id, "m", asked, page.next_page_token.as_deref()).unwrap();
            assert_eq!(rest.metrics.len(), 7);
            assert_eq!(rest.metrics[6].timestamp, total - 1);
            assert!(rest.next_page_token.is_none());
        }
        for bad in [0, -1, i64::MIN] {
            let e = metric_history(&db, &id, "m", Some(bad), None).unwrap_err();
            assert_eq!(e.code.name(), "INVALID_PARAMETER_VALUE");
        }
    }

    #[test]
    fn bulk_interval_samples_points_not_steps() {
        let db = testing::db();
        let id = run(&db);
        // Every point at step 0 (log_metric's default): still at most max_results.
        many_points(&db, &id, 30_000, 30_000);
        let ask = |max| {
            history_bulk_interval(
                &db,
                &wire::GetMetricHistoryBulkInterval {
                    run_ids: vec![id.clone()],
                    metric_key: Some("m".into()),
                    max_results: Some(max),
                    ..Default::default()
                },
            )
            .unwrap()
            .metrics
        };
        let sample = ask(2500);
        assert_eq!(sample.len(), 2500);
        assert_eq!(sample[0].timestamp, 0);
        assert_eq!(sample[2499].timestamp, 29_999);
        assert!(sample.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        // With many runs, each run's sample shrinks so that the answer stays bounded.
        let runs: Vec<String> = (0..20)
            .map(|_| id.clone())
            .chain((0..19).map(|_| {
                let other = run(&db);
                many_points(&db, &other, 2_000, 1);
                other
            }))
            .collect();
        let wide = history_bulk_interval(
            &db,
            &wire::GetMetricHistoryBulkInterval {
                run_ids: runs,
                metric_key: Some("m".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .metrics;
        let per_run = (v::MAX_BULK_INTERVAL_POINTS / 20) as usize;
        assert_eq!(wide.len(), per_run + 19 * 2_000.min(per_run));
        let last = ask(1);
        assert_eq!((last.len(), last[0].timestamp), (1, 29_999));
        assert_eq!(
            ask(2).iter().map(|m| m.timestamp).collect::<Vec<_>>(),
            [0, 29_999]
        );
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

    #[test]
    fn bulk_history_of_several_runs() {
        use crate::http::route::Ctx;
        use crate::http::router::dispatch;
        let db = testing::db();
        let (a, b) = (run(&db), run(&db));
        log(
            &db,
            &a,
            &[
                point("loss", 0.9, 1, 0),
                point("loss", 0.5, 2, 1),
                point("acc", 1.0, 1, 0),
            ],
        );
        log(&db, &b, &[point("loss", 0.7, 1, 0)]);
        let get = |query: &str| {
            let req = ApiRequest::new(
                Method::Get,
                &format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk?{query}"),
                Vec::new(),
            );
            let r = dispatch(&Ctx { db: &db }, &req);
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            (r.status, v)
        };
        let (status, v) = get(&format!(
            "run_id={a}&run_id={b}&run_id=nope&metric_key=loss"
        ));
        assert_eq!(status, 200);
        let mut want = vec![
            (a.clone(), 0.9, 0),
            (a.clone(), 0.5, 1),
            (b.clone(), 0.7, 0),
        ];
        want.sort_by(|x, y| x.0.cmp(&y.0));
        let got: Vec<(String, f64, i64)> = v["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(m["key"], "loss");
                (
                    m["run_id"].as_str().unwrap().to_string(),
                    m["value"].as_f64().unwrap(),
                    m["step"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want);
        let (_, v) = get(&format!(
            "run_id={a}&run_id={b}&metric_key=loss&max_results=2"
        ));
        assert_eq!(v["metrics"].as_array().unwrap().len(), 2);
        let (_, v) = get(&format!("run_id={a}&metric_key=missing"));
        assert_eq!(v, serde_json::json!({"metrics": []}));
        let many: String = (0..101).map(|i| format!("run_id={i}&")).collect();
        for bad in [
            "metric_key=loss".to_string(),
            format!("run_id={a}"),
            format!("run_id={a}&metric_key=loss&max_results=abc"),
            format!("{many}metric_key=loss"),
        ] {
            let (status, v) = get(&bad);
            assert_eq!(
                (status, v["error_code"].as_str()),
                (400, Some("INVALID_PARAMETER_VALUE")),
                "{bad}"
            );
        }
        let api = ApiRequest::new(
            Method::Get,
            &format!("/api/2.0/mlflow/metrics/get-history-bulk?run_id={a}&metric_key=loss"),
            Vec::new(),
        );
        assert_eq!(dispatch(&Ctx { db: &db }, &api).status, 404);
    }
}
