//! Runs (`runs`): their info rows, run search, and whole runs assembled from their
//! params, tags, latest metrics, inputs and outputs (read together by `run_data`).

use super::db::{Db, DbExt, Dialect, Row, SqlValue};
use super::lifecycle::{ViewType, ACTIVE};
use super::migrations::{ensure_schema, SCHEMA_IS_CURRENT, STEPS};
use super::run_data::{self, Datum, RUNS_PER_STATEMENT};
use crate::error::{ApiResult, MlflowError, StoreError};
use crate::params;
use crate::search;
use mlflow_wire::tracking::{Run, RunInfo};
use std::collections::HashMap;

const COLUMNS: &str = "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

fn info_from_row(r: &Row) -> RunInfo {
    let id = r.text(0);
    RunInfo {
        run_uuid: id.clone(),
        run_id: id,
        run_name: r.text(1),
        experiment_id: r.int(2).to_string(),
        user_id: r.text(3),
        status: r.text(4),
        start_time: r.opt_int(5),
        end_time: r.opt_int(6),
        artifact_uri: r.text(7),
        lifecycle_stage: r.text(8),
    }
}

pub fn get_info(db: &dyn Db, run_id: &str) -> ApiResult<Option<RunInfo>> {
    Ok(db
        .query_one(
            &format!("SELECT {COLUMNS} FROM runs r WHERE r.run_uuid = ?"),
            &params![run_id],
        )?
        .map(|r| info_from_row(&r)))
}

/// Inserts a new run (`info.experiment_id` is the experiment's number).
pub fn insert(db: &dyn Db, info: &RunInfo, experiment_number: i64) -> ApiResult<()> {
    db.exec(
        "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
         VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, 'active', ?)",
        &params![
            info.run_id.as_str(),
            info.run_name.as_str(),
            experiment_number,
            info.user_id.as_str(),
            info.start_time,
            info.artifact_uri.as_str()
        ],
    )
}

/// Most tags [`insert_into_active_experiment`] writes with the run (on PostgreSQL three
/// bound values each, well within its 65535).
pub const MAX_TAGS_WITH_RUN: usize = 1000;

/// Inserts a new run, if its experiment (`experiment_number`) exists and is active, with
/// its tags (distinct keys, at least one, at most [`MAX_TAGS_WITH_RUN`]) in one
/// statement, all or nothing without a transaction: on SQLite an INSERT into the view
/// `new_runs` (its trigger writes the run and the tags, given as JSON), on PostgreSQL
/// data-modifying CTEs. The run's artifact URI is the experiment's location followed by
/// `/<run id>/artifacts`; it is returned, or `None` when the experiment is missing or
/// not active or the schema is behind ([`SCHEMA_IS_CURRENT`]): nothing written. The
/// error is the database's own (not logged here): on an older schema the statement may
/// fail.
pub fn insert_into_active_experiment(
    db: &dyn Db,
    info: &RunInfo,
    experiment_number: i64,
    tags: &[&(String, String)],
) -> Result<Option<String>, StoreError> {
    match db.dialect() {
        Dialect::Sqlite => insert_through_view(db, info, experiment_number, tags),
        Dialect::Postgres => insert_with_ctes(db, info, experiment_number, tags),
    }
}

/// SQLite: one INSERT into `new_runs`; the location it returns is read in the same
/// statement, so it is NULL exactly when the trigger wrote nothing.
fn insert_through_view(
    db: &dyn Db,
    info: &RunInfo,
    experiment_number: i64,
    tags: &[&(String, String)],
) -> Result<Option<String>, StoreError> {
    let pairs: Vec<[&str; 2]> = tags.iter().map(|(k, v)| [k.as_str(), v.as_str()]).collect();
    let tags_json = serde_json::to_string(&pairs).expect("strings serialize");
    let rows = db.execute(
        &format!(
            "INSERT INTO new_runs (run_uuid, name, experiment_id, user_id, start_time, tags)
             SELECT ?, ?, ?, ?, ?, ? WHERE {SCHEMA_IS_CURRENT}
             RETURNING (SELECT artifact_location FROM experiments WHERE experiment_id = ? AND lifecycle_stage = ?)"
        ),
        &params![
            info.run_id.as_str(),
            info.run_name.as_str(),
            experiment_number,
            info.user_id.as_str(),
            info.start_time,
            tags_json,
            STEPS,
            experiment_number,
            ACTIVE
        ],
    )?;
    Ok(rows
        .first()
        .and_then(|r| r.opt_text(0))
        .map(|location| format!("{location}/{}/artifacts", info.run_id)))
}

/// PostgreSQL: the experiment's check, the run and its tags as data-modifying CTEs.
fn insert_with_ctes(
    db: &dyn Db,
    info: &RunInfo,
    experiment_number: i64,
    tags: &[&(String, String)],
) -> Result<Option<String>, StoreError> {
    let rows = vec!["(?, ?)"; tags.len()].join(", ");
    let sql = format!(
        "WITH e AS (SELECT artifact_location FROM experiments
                    WHERE experiment_id = ? AND lifecycle_stage = ? AND {SCHEMA_IS_CURRENT}),
         run AS (INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
                 SELECT ?, ?, ?, ?, 'RUNNING', ?, NULL, ?, e.artifact_location || '/' || ? || '/artifacts' FROM e
                 RETURNING run_uuid, artifact_uri),
         tagged AS (INSERT INTO tags (run_uuid, key, value)
                    SELECT run.run_uuid, t.key, t.value FROM run CROSS JOIN (VALUES {rows}) AS t (key, value))
         SELECT artifact_uri FROM run"
    );
    let mut binds: Vec<SqlValue> = params![
        experiment_number,
        ACTIVE,
        STEPS,
        info.run_id.as_str(),
        info.run_name.as_str(),
        experiment_number,
        info.user_id.as_str(),
        info.start_time,
        ACTIVE,
        info.run_id.as_str()
    ]
    .into();
    for (key, value) in tags {
        binds.extend(params![key.as_str(), value.as_str()]);
    }
    Ok(db.execute(&sql, &binds)?.first().map(|r| r.text(0)))
}

pub fn set_status(db: &dyn Db, run_id: &str, status: &str) -> ApiResult<()> {
    db.exec(
        "UPDATE runs SET status = ? WHERE run_uuid = ?",
        &params![status, run_id],
    )
}

pub fn set_end_time(db: &dyn Db, run_id: &str, end_time: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE runs SET end_time = ? WHERE run_uuid = ?",
        &params![end_time, run_id],
    )
}

pub fn set_name(db: &dyn Db, run_id: &str, name: &str) -> ApiResult<()> {
    db.exec(
        "UPDATE runs SET name = ? WHERE run_uuid = ?",
        &params![name, run_id],
    )
}

pub fn set_lifecycle(
    db: &dyn Db,
    run_id: &str,
    stage: &str,
    deleted_time: Option<i64>,
) -> ApiResult<()> {
    db.exec(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
        &params![stage, deleted_time, run_id],
    )
}

/// Soft-deletes the active runs of an experiment, stamped `now`.
pub fn delete_active_of_experiment(db: &dyn Db, experiment: i64, now: i64) -> ApiResult<()> {
    db.exec(
        "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = 'active'",
        &params![now, experiment],
    )
}

/// Restores the runs of an experiment deleted at `deleted_at`.
pub fn restore_deleted_of_experiment(
    db: &dyn Db,
    experiment: i64,
    deleted_at: i64,
) -> ApiResult<()> {
    db.exec(
        "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL
             WHERE experiment_id = ? AND lifecycle_stage = 'deleted' AND deleted_time = ?",
        &params![experiment, deleted_at],
    )
}

/// Loads params, tags, latest metrics, inputs and outputs of many runs: one statement
/// per [`RUNS_PER_STATEMENT`] runs (none for no runs), not six per run.
pub fn load(db: &dyn Db, infos: Vec<RunInfo>) -> ApiResult<Vec<Run>> {
    let mut runs: Vec<Run> = infos
        .into_iter()
        .map(|info| Run {
            info,
            ..Default::default()
        })
        .collect();
    let index: HashMap<String, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.info.run_id.clone(), i))
        .collect();
    let ids: Vec<String> = index.keys().cloned().collect();
    for chunk in ids.chunks(RUNS_PER_STATEMENT) {
        for (run, datum) in run_data::of_runs(db, chunk)? {
            let run = &mut runs[index[&run]];
            match datum {
                Datum::Param(kv) => run.data.params.push(kv),
                Datum::Tag(kv) => run.data.tags.push(kv),
                Datum::Metric(metric) => run.data.metrics.push(metric),
                Datum::DatasetInput(input) => run.inputs.dataset_inputs.push(input),
                Datum::ModelInput(input) => run.inputs.model_inputs.push(input),
                Datum::ModelOutput(output) => run.outputs.model_outputs.push(output),
            }
        }
    }
    Ok(runs)
}

/// A search statement with its parameters, page size and offset.
pub type SearchQuery = (String, Vec<SqlValue>, i64, i64);

/// The search statement over `experiment_ids` (`None` when there are none), in SQLite's
/// SQL ([`search`] puts it in the database's).
pub fn search_sql(
    experiment_ids: &[String],
    view: ViewType,
    filter: &str,
    order_by: &[String],
    limit: i64,
    offset: i64,
) -> ApiResult<Option<SearchQuery>> {
    let view = view.sql("r.lifecycle_stage");
    let filter = search::runs::filter_sql(filter)?;
    let order = search::runs::order_sql(order_by)?;
    if experiment_ids.is_empty() {
        return Ok(None);
    }
    search::limits::check_experiment_ids(experiment_ids)?;
    let mut exp_ids = Vec::new();
    for id in experiment_ids {
        match id.trim().parse::<i64>() {
            Ok(n) => exp_ids.push(SqlValue::Integer(n)),
            Err(_) => {
                return Err(MlflowError::invalid(format!(
                    "Invalid experiment id '{id}'"
                )))
            }
        }
    }
    let marks = vec!["?"; exp_ids.len()].join(", ");
    let sql = format!(
        "SELECT {COLUMNS} FROM runs r
         WHERE r.experiment_id IN ({marks}) AND {view} AND {SCHEMA_IS_CURRENT}{}{} LIMIT ? OFFSET ?",
        filter.sql, order.sql
    );
    let mut binds = exp_ids;
    binds.push(SqlValue::Integer(STEPS));
    binds.extend(filter.params);
    binds.extend(order.params);
    binds.extend(params![limit + 1, offset]);
    Ok(Some((sql, binds, limit, offset)))
}

/// The runs a search statement finds (at most its page size), whole, and whether more
/// exist. The statement checks the schema too ([`SCHEMA_IS_CURRENT`]; the route skips
/// the separate check): when it finds nothing, or fails before the first migration, the
/// schema is brought up to date and the page read again.
pub fn search(db: &dyn Db, query: &SearchQuery) -> ApiResult<(Vec<Run>, bool)> {
    let (sql, binds, limit, _) = query;
    let statement = search::sql::Fragment {
        sql: sql.clone(),
        params: binds.clone(),
    }
    .in_dialect(db.dialect());
    let rows = match db.execute(&statement.sql, &statement.params) {
        Ok(rows) if !rows.is_empty() => rows,
        _ => {
            ensure_schema(db)?;
            db.query(&statement.sql, &statement.params)?
        }
    };
    let has_more = rows.len() as i64 > *limit;
    let infos: Vec<RunInfo> = rows
        .iter()
        .take(*limit as usize)
        .map(info_from_row)
        .collect();
    Ok((load(db, infos)?, has_more))
}
