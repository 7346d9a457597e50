//! Metrics: log-metric, get-history (paged), get-history-bulk (the web UI's) and
//! get-history-bulk-interval — MLflow's rules and bounds for them over `store::metrics`.

use super::runs::{get_active_run, get_run_info, run_id_of};
use super::validation::{self as v, validate_metric};
use crate::error::{required, ApiResult, MlflowError};
use crate::store::db::{transaction, Db};
use crate::store::metrics::{self as store, NewMetric};
use crate::store::migrations::ensure_schema;
use crate::util::page_token;
use mlflow_wire::tracking::{self as wire, Metric};

/// log-metric: one point, into an active run.
pub fn log_metric(db: &dyn Db, m: &wire::LogMetric) -> ApiResult<()> {
    let run_id = run_id_of(&m.run)?;
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
        log_point(db, run_id, &point)?;
    } else {
        ensure_schema(db)?;
        transaction(db, || {
            get_active_run(db, run_id)?;
            store::insert(db, run_id, std::slice::from_ref(&point))
        })?;
    }
    Ok(())
}

/// Logs one point without a logged model in a single statement (no transaction): the
/// point goes in only if the run exists and is active. That statement also checks the
/// schema (the route skips the separate check); when it writes nothing, the schema is
/// brought up to date and the point tried again before the answer says why.
fn log_point(db: &dyn Db, run_id: &str, point: &NewMetric) -> ApiResult<()> {
    if let Ok(true) = store::insert_point(db, run_id, point) {
        return Ok(());
    }
    ensure_schema(db)?;
    if !store::insert_point(db, run_id, point)? {
        // The run is missing or not active (answered as MLflow does), or the point was
        // logged already (identical points are one).
        get_active_run(db, run_id)?;
    }
    Ok(())
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
    // The query checks the schema too (the route skips the separate check). Points
    // exist only for a run that exists: when there are none, the schema is brought up
    // to date, the page read again, and the run looked up (for its "not found").
    let mut metrics = match store::history(db, run_id, key, limit + 1, offset) {
        Ok(page) if !page.is_empty() => page,
        _ => {
            ensure_schema(db)?;
            let page = store::history(db, run_id, key, limit + 1, offset)?;
            if page.is_empty() {
                get_run_info(db, run_id)?;
            }
            page
        }
    };
    let has_more = metrics.len() as i64 > limit;
    metrics.truncate(limit as usize);
    let next_page_token = page_token::next(offset, metrics.len(), has_more);
    Ok(wire::MetricsResponse {
        metrics,
        next_page_token,
    })
}

/// get-history: the page a request asks for.
pub fn get_metric_history(
    db: &dyn Db,
    m: &wire::GetMetricHistory,
) -> ApiResult<wire::MetricsResponse> {
    let run_id = run_id_of(&m.run)?;
    let key = required(&m.metric_key, "metric_key")?;
    metric_history(db, run_id, key, m.max_results, m.page_token.as_deref())
}

/// Samples of a metric of up to 100 runs, each spread evenly over its history between
/// two steps (see `store::metrics::sample`), bounded in all.
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
        out.extend(store::sample(db, run_id, key, (start, end), max)?);
    }
    Ok(wire::MetricsResponse {
        metrics: out,
        next_page_token: None,
    })
}

/// MLflow's bounds of get-history-bulk: 100 runs, 25,000 points over all of them.
const MAX_BULK_RUNS: usize = 100;
const MAX_BULK_POINTS: i64 = 25_000;

/// get-history-bulk: the whole history of a metric for several runs (runs in id order,
/// each in (timestamp, step, value) order), at most `max_results` points in all. As in
/// MLflow, an unknown run has no points rather than being an error. The arguments are
/// the request's query values, checked here in MLflow's order.
pub fn history_bulk(
    db: &dyn Db,
    mut run_ids: Vec<String>,
    metric_key: Option<String>,
    max_results: Option<String>,
) -> ApiResult<Vec<Metric>> {
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
    let key = metric_key.ok_or_else(|| {
        MlflowError::invalid("GetMetricHistoryBulk request must specify a metric_key.")
    })?;
    let max = match max_results {
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
        metrics.extend(store::first_points(db, run_id, &key, left)?);
    }
    Ok(metrics)
}

/// Metric points and runs for the tests of this module and of the router's metric routes.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::services::runs::create_run;
    use crate::store::db::{transaction, Db};
    use crate::store::metrics::{self as store, NewMetric};

    /// A point without model or dataset.
    pub fn point(key: &str, value: f64, timestamp: i64, step: i64) -> NewMetric {
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

    /// A new run's id.
    pub fn run(db: &dyn Db) -> String {
        create_run(db, &Default::default()).unwrap().info.run_id
    }

    /// Logs `points` to run `id` in one transaction.
    pub fn log(db: &dyn Db, id: &str, points: &[NewMetric]) {
        transaction(db, || store::insert(db, id, points)).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{log, point, run};
    use super::*;
    use crate::params;
    use crate::store::db::DbExt;
    use crate::store::testing;

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
        let latest = store::latest_for(&db, &id).unwrap();
        assert_eq!((latest[0].value, latest[0].step), (5.0, 2));
        log(&db, &id, &[point("loss", 0.5, 11, 2)]);
        assert_eq!(store::latest_for(&db, &id).unwrap()[0].value, 0.5);
    }

    #[test]
    fn log_metric_and_get_history_bring_a_schema_that_is_behind_up_to_date() {
        let db = testing::db();
        let id = run(&db);
        // Tracking step 5 changes nothing on SQLite and replaces a trigger on PostgreSQL,
        // so it can be applied again: without its record the schema is one step behind.
        db.exec(
            "DELETE FROM schema_migrations WHERE area = 'tracking' AND version = 5",
            &[],
        )
        .unwrap();
        let m = wire::LogMetric {
            run: wire::RunRef {
                run_id: Some(id.clone()),
                ..Default::default()
            },
            key: Some("loss".into()),
            value: Some(0.5),
            timestamp: Some(7),
            step: Some(1),
            ..Default::default()
        };
        log_metric(&db, &m).unwrap();
        let step_5 = "WHERE area = 'tracking' AND version = 5";
        let recorded = db
            .query_one(
                &format!("SELECT COUNT(*) FROM schema_migrations {step_5}"),
                &[],
            )
            .unwrap()
            .unwrap();
        assert_eq!(recorded.int(0), 1);
        // get-history too: its query finds nothing on a schema that is behind.
        db.exec(&format!("DELETE FROM schema_migrations {step_5}"), &[])
            .unwrap();
        let page = metric_history(&db, &id, "loss", None, None).unwrap();
        assert_eq!(page.metrics.len(), 1);
        let recorded = db
            .query_one(
                "SELECT COUNT(*) FROM schema_migrations WHERE area = 'tracking' AND version = 5",
                &[],
            )
            .unwrap()
            .unwrap();
        assert_eq!(recorded.int(0), 1);
    }

    #[test]
    fn one_point_is_logged_only_into_an_active_run() {
        let db = testing::db();
        let id = run(&db);
        log_point(&db, &id, &point("acc", 0.5, 1, 1)).unwrap();
        log_point(&db, &id, &point("acc", 0.9, 2, 2)).unwrap();
        // The same point again is one point, and not an error.
        log_point(&db, &id, &point("acc", 0.9, 2, 2)).unwrap();
        let history = metric_history(&db, &id, "acc", None, None).unwrap().metrics;
        assert_eq!(history.len(), 2);
        assert_eq!(store::latest_for(&db, &id).unwrap()[0].value, 0.9);

        let missing = log_point(
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
        let deleted = log_point(&db, &id, &point("acc", 1.0, 3, 3)).unwrap_err();
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
}
