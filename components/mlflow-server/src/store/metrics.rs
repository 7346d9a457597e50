//! Metric points (`metrics`, clustered by history order) and the latest point per run and
//! key (`latest_metrics`, kept by a trigger). SQLite has no NaN: a NaN point is stored as
//! 0 flagged by `is_nan`.

use super::db::{Db, DbExt, Dialect, Row, SqlValue};
use super::lifecycle::ACTIVE;
use super::migrations::{SCHEMA_IS_CURRENT, STEPS};
use crate::error::{ApiResult, StoreError};
use crate::params;
use mlflow_wire::tracking::Metric;

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

/// (value, is_nan) as stored: SQLite has no NaN, so NaN is 0 flagged by is_nan.
fn value_binds(value: f64) -> [SqlValue; 2] {
    if value.is_nan() {
        [SqlValue::Real(0.0), SqlValue::Integer(1)]
    } else {
        [SqlValue::Real(value), SqlValue::Integer(0)]
    }
}

/// Points per INSERT: on PostgreSQL a whole log-batch (1000 points, 9000 parameters of
/// its 65535) is one statement, so its `latest_metrics_follow` trigger runs once; SQLite
/// keeps statements of 100 rows.
fn insert_rows(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Postgres => 1000,
        Dialect::Sqlite => 100,
    }
}

/// Appends points (multi-row INSERTs; `latest_metrics` follows by itself, through the
/// `latest_metrics_follow` trigger) and records the points logged with a model's id
/// with that logged model. Callers hold a transaction.
pub fn insert(db: &dyn Db, run_id: &str, metrics: &[NewMetric]) -> ApiResult<()> {
    for chunk in metrics.chunks(insert_rows(db.dialect())) {
        let mut sql = String::from(
            "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest) VALUES ",
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
        sql.push_str(" ON CONFLICT DO NOTHING");
        db.exec(&sql, &binds)?;
    }
    for m in metrics {
        if let Some(model_id) = &m.model_id {
            let dataset = (m.dataset_name.as_deref(), m.dataset_digest.as_deref());
            super::logged_models::record_metric(
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
    Ok(())
}

/// Logs one point (without a logged model) in a single statement, which needs no
/// transaction: the point goes in only if the run exists and is active and the schema is
/// current ([`SCHEMA_IS_CURRENT`]). False when nothing was inserted (no such active run,
/// the identical point exists already, or the schema is behind). The error is the
/// database's own (not logged here): before the first migration the statement fails.
pub fn insert_point(db: &dyn Db, run_id: &str, m: &NewMetric) -> Result<bool, StoreError> {
    let mut binds = vec![SqlValue::from(run_id), SqlValue::from(m.key.as_str())];
    binds.extend(value_binds(m.value));
    binds.extend(params![
        m.timestamp,
        m.step,
        m.dataset_name.clone(),
        m.dataset_digest.clone(),
        run_id,
        ACTIVE,
        STEPS
    ]);
    let inserted = db.execute(
        &format!(
            "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step, dataset_name, dataset_digest)
             SELECT ?, ?, ?, ?, ?, ?, ?, ?
             WHERE EXISTS (SELECT 1 FROM runs WHERE run_uuid = ? AND lifecycle_stage = ?) AND {SCHEMA_IS_CURRENT}
             ON CONFLICT DO NOTHING RETURNING 1"
        ),
        &binds,
    )?;
    Ok(!inserted.is_empty())
}

/// Reads (key, value, is_nan, timestamp, step) starting at column `at`.
pub(super) fn metric_from_row(r: &Row, at: usize) -> Metric {
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

/// The latest point of each of the run's metrics, by key.
pub fn latest_for(db: &dyn Db, run_id: &str) -> ApiResult<Vec<Metric>> {
    Ok(db
        .query(
            "SELECT key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_uuid = ? ORDER BY key",
            &params![run_id],
        )?
        .iter()
        .map(|r| metric_from_row(r, 0))
        .collect())
}

/// Up to `limit` points of a metric's history from `offset`, ordered by (timestamp,
/// step, value); none when the schema is behind ([`SCHEMA_IS_CURRENT`]). The error is
/// the database's own (not logged here): before the first migration the query fails.
pub fn history(
    db: &dyn Db,
    run_id: &str,
    key: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Metric>, StoreError> {
    // The key is known: not reading it back saves one string per point.
    Ok(db
        .execute(
            &format!(
                "SELECT value, is_nan, timestamp, step FROM metrics
                 WHERE run_uuid = ? AND key = ? AND {SCHEMA_IS_CURRENT}
                 ORDER BY timestamp, step, value LIMIT ? OFFSET ?"
            ),
            &params![run_id, key, STEPS, limit, offset],
        )?
        .iter()
        .map(|r| point_from_row(key, r, 0))
        .collect())
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
    FROM metrics WHERE run_uuid = ?1 AND key = ?2 AND step BETWEEN ?3 AND ?4) AS points
 WHERE total <= ?5
    OR (?5 = 1 AND i = total - 1)
    OR (?5 > 1 AND (i = 0 OR i * (?5 - 1) / (total - 1) > (i - 1) * (?5 - 1) / (total - 1)))
 ORDER BY step, timestamp, value, is_nan";

/// A sample of at most `max` points of the run's metric between two steps (see
/// [`SAMPLE_SQL`]), each carrying the run id.
pub fn sample(
    db: &dyn Db,
    run_id: &str,
    key: &str,
    (start, end): (i64, i64),
    max: i64,
) -> ApiResult<Vec<Metric>> {
    Ok(db
        .query(SAMPLE_SQL, &params![run_id, key, start, end, max])?
        .iter()
        .map(|r| {
            let mut metric = point_from_row(key, r, 0);
            metric.run_id = Some(run_id.to_string());
            metric
        })
        .collect())
}

/// The first `limit` points of the run's metric in history order, each carrying the
/// run id.
pub fn first_points(db: &dyn Db, run_id: &str, key: &str, limit: i64) -> ApiResult<Vec<Metric>> {
    let rows = db.query(
        "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ?
         ORDER BY timestamp, step, value LIMIT ?",
        &params![run_id, key, limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| Metric {
            run_id: Some(run_id.to_string()),
            ..point_from_row(key, r, 0)
        })
        .collect())
}
