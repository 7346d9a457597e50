//! Runs: create, get, update, delete, restore, search; params, tags, log-batch,
//! log-inputs, outputs, log-model. Metric writes live in `metrics`.

use super::experiments::get_active_experiment;
use super::metrics::{insert_metrics, validate_metric, NewMetric};
use super::validation::{self as v, validate_key};
use super::{view_type_sql, ACTIVE, DELETED};
use crate::error::{required, ApiResult, MlflowError};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::params;
use crate::search;
use crate::store::db::{transaction, Db, DbExt, Row, SqlValue};
use crate::util::{ids, names, page_token, time::now_ms};
use mlflow_wire::tracking::{self as wire, KeyValue, Run, RunData, RunInfo};
use std::collections::{BTreeMap, HashMap};

pub const ROUTES: &[Route] = &[
    route(Method::Post, "runs/create", create),
    route(Method::Get, "runs/get", get),
    route(Method::Post, "runs/update", update),
    route(Method::Post, "runs/delete", delete),
    route(Method::Post, "runs/restore", restore),
    route(Method::Post, "runs/search", search),
    route(Method::Get, "runs/search", search),
    route(Method::Post, "runs/log-parameter", log_param),
    route(Method::Post, "runs/set-tag", set_tag),
    route(Method::Post, "runs/delete-tag", delete_tag),
    route(Method::Post, "runs/log-batch", log_batch),
    route(Method::Post, "runs/log-inputs", log_inputs),
    route(Method::Post, "runs/outputs", log_outputs),
    route(Method::Post, "runs/log-model", log_model),
];

pub const RUN_NAME_TAG: &str = "mlflow.runName";
const STATUSES: &[&str] = &["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];
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

pub fn get_run_info(db: &dyn Db, run_id: &str) -> ApiResult<RunInfo> {
    db.query_one(
        &format!("SELECT {COLUMNS} FROM runs r WHERE r.run_uuid = ?"),
        &params![run_id],
    )?
    .map(|r| info_from_row(&r))
    .ok_or_else(|| MlflowError::not_found(format!("Run with id={run_id} not found")))
}

/// The run, required to be active (MLflow refuses writes to deleted runs).
pub fn get_active_run(db: &dyn Db, run_id: &str) -> ApiResult<RunInfo> {
    let info = get_run_info(db, run_id)?;
    if info.lifecycle_stage != ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is {}.",
            info.lifecycle_stage
        )));
    }
    Ok(info)
}

fn run_id_of(r: &wire::RunRef) -> ApiResult<&str> {
    r.id().ok_or_else(|| MlflowError::missing("run_id"))
}

/// A whole run: info, latest metrics, params, tags, inputs, outputs.
pub fn load_run(db: &dyn Db, info: RunInfo) -> ApiResult<Run> {
    let mut runs = load_runs(db, vec![info])?;
    Ok(runs.pop().expect("one run in, one run out"))
}

/// Tag rows per INSERT in create-run.
const TAG_ROWS: usize = 100;

pub fn create_run(db: &dyn Db, m: &wire::CreateRun) -> ApiResult<Run> {
    let experiment_id = m
        .experiment_id
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "0".into());
    let mut tags = Vec::new();
    for t in &m.tags {
        let key = validate_key("tag", t.key.as_deref())?;
        tags.push((
            key,
            v::truncate(t.value.as_deref().unwrap_or(""), v::MAX_TAG_VALUE_LEN),
        ));
    }
    let tag_name = tags
        .iter()
        .find(|(k, _)| k == RUN_NAME_TAG)
        .map(|(_, v)| v.clone());
    let given = m.run_name.clone().filter(|s| !s.is_empty());
    let run_name = match (given, tag_name) {
        (Some(a), Some(b)) if a != b => {
            return Err(MlflowError::invalid(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{a}', mlflow.runName='{b}')."
            )))
        }
        (Some(a), _) => a,
        (None, Some(b)) if !b.is_empty() => b,
        _ => names::random_run_name(),
    };
    if !tags.iter().any(|(k, _)| k == RUN_NAME_TAG) {
        tags.push((RUN_NAME_TAG.to_string(), run_name.clone()));
    }
    let run_id = ids::new_run_id();
    let start_time = m.start_time.unwrap_or_else(now_ms);
    // Read before the write transaction: under Spin each statement is a round trip to
    // the host, and the write lock is held from BEGIN to COMMIT.
    let exp = get_active_experiment(db, &experiment_id)?;
    let experiment_number = exp.experiment_id.parse::<i64>().unwrap_or(0);
    let artifact_uri = format!("{}/{run_id}/artifacts", exp.artifact_location);
    let info = transaction(db, || {
        db.exec(
            "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
             VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, 'active', ?)",
            &params![
                run_id.as_str(),
                run_name.as_str(),
                experiment_number,
                m.user_id.clone().unwrap_or_default(),
                start_time,
                artifact_uri.as_str()
            ],
        )?;
        // The tags (at least the run name) in as few statements as SQLite's limit
        // on bound values allows.
        for chunk in tags.chunks(TAG_ROWS) {
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let binds: Vec<SqlValue> = chunk
                .iter()
                .flat_map(|(k, val)| params![run_id.as_str(), k.as_str(), val.as_str()])
                .collect();
            db.exec(
                &format!("INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES {rows}"),
                &binds,
            )?;
        }
        Ok(RunInfo {
            run_uuid: run_id.clone(),
            run_id: run_id.clone(),
            run_name: run_name.clone(),
            experiment_id: experiment_number.to_string(),
            user_id: m.user_id.clone().unwrap_or_default(),
            status: "RUNNING".into(),
            start_time: Some(start_time),
            end_time: None,
            artifact_uri: artifact_uri.clone(),
            lifecycle_stage: ACTIVE.into(),
        })
    })?;
    // A new run holds only its tags: answer from what was written instead of reading
    // it back (the answer equals get-run's; a test checks that).
    // Sorted by key, the last value of a repeated key winning, as the table holds them.
    let by_key: BTreeMap<String, String> = tags.into_iter().collect();
    Ok(Run {
        info,
        data: RunData {
            tags: by_key
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect(),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn create(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::CreateRun = req.message()?;
    let run = create_run(ctx.db, &m)?;
    ApiResponse::json(&wire::RunResponse { run })
}

/// runs/get: the run a request names (by run_id or run_uuid), whole.
pub fn get_run(db: &dyn Db, m: &wire::RunRef) -> ApiResult<Run> {
    let info = get_run_info(db, run_id_of(m)?)?;
    load_run(db, info)
}

fn get(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunRef = req.message()?;
    ApiResponse::json(&wire::RunResponse {
        run: get_run(ctx.db, &m)?,
    })
}

pub fn update_run(db: &dyn Db, m: &wire::UpdateRun) -> ApiResult<RunInfo> {
    let run_id = run_id_of(&m.run)?;
    if let Some(s) = &m.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(MlflowError::invalid(format!(
                "Invalid run status '{s}'; expected one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    transaction(db, || {
        get_active_run(db, run_id)?;
        if let Some(s) = &m.status {
            db.exec(
                "UPDATE runs SET status = ? WHERE run_uuid = ?",
                &params![s.as_str(), run_id],
            )?;
        }
        if let Some(t) = m.end_time {
            db.exec(
                "UPDATE runs SET end_time = ? WHERE run_uuid = ?",
                &params![t, run_id],
            )?;
        }
        if let Some(name) = m.run_name.as_deref().filter(|n| !n.is_empty()) {
            db.exec(
                "UPDATE runs SET name = ? WHERE run_uuid = ?",
                &params![name, run_id],
            )?;
            db.exec(
                "INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)",
                &params![run_id, RUN_NAME_TAG, name],
            )?;
        }
        Ok(())
    })?;
    get_run_info(db, run_id)
}

fn update(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::UpdateRun = req.message()?;
    let run_info = update_run(ctx.db, &m)?;
    ApiResponse::json(&wire::UpdateRunResponse { run_info })
}

pub fn set_lifecycle(db: &dyn Db, run_id: &str, stage: &str) -> ApiResult<()> {
    get_run_info(db, run_id)?;
    let deleted_time = (stage == DELETED).then(now_ms);
    db.exec(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
        &params![stage, deleted_time, run_id],
    )
}

fn delete(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunRef = req.message()?;
    set_lifecycle(ctx.db, run_id_of(&m)?, DELETED)?;
    ApiResponse::empty()
}

fn restore(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunRef = req.message()?;
    set_lifecycle(ctx.db, run_id_of(&m)?, ACTIVE)?;
    ApiResponse::empty()
}

/// Loads params, tags, latest metrics, inputs and outputs of many runs with a few IN
/// queries per 400 runs, not six per run.
fn load_runs(db: &dyn Db, infos: Vec<RunInfo>) -> ApiResult<Vec<Run>> {
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
    for chunk in ids.chunks(400) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let binds: Vec<SqlValue> = chunk.iter().map(SqlValue::from).collect();
        for (table, is_param) in [("params", true), ("tags", false)] {
            for r in db.query(
                &format!("SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({marks}) ORDER BY key"),
                &binds,
            )? {
                let run = &mut runs[index[&r.text(0)]];
                let kv = KeyValue::new(r.text(1), r.text(2));
                if is_param {
                    run.data.params.push(kv);
                } else {
                    run.data.tags.push(kv);
                }
            }
        }
        for r in db.query(
            &format!(
                "SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_uuid IN ({marks}) ORDER BY key"
            ),
            &binds,
        )? {
            let run = &mut runs[index[&r.text(0)]];
            run.data.metrics.push(super::metrics::metric_from_row(&r, 1));
        }
        load_inputs_outputs(db, &mut runs, &index, &marks, &binds)?;
    }
    Ok(runs)
}

/// Dataset and model inputs and model outputs of the runs bound in `binds`.
fn load_inputs_outputs(
    db: &dyn Db,
    runs: &mut [Run],
    index: &HashMap<String, usize>,
    marks: &str,
    binds: &[SqlValue],
) -> ApiResult<()> {
    for r in db.query(
        &format!(
            "SELECT run_uuid, name, digest, source_type, source, schema, profile, tags_json FROM run_dataset_inputs WHERE run_uuid IN ({marks}) ORDER BY rowid"
        ),
        binds,
    )? {
        let run = &mut runs[index[&r.text(0)]];
        run.inputs.dataset_inputs.push(wire::DatasetInput {
            tags: serde_json::from_str(&r.text(7)).unwrap_or_default(),
            dataset: Some(wire::Dataset {
                name: r.opt_text(1),
                digest: r.opt_text(2),
                source_type: r.opt_text(3),
                source: r.opt_text(4),
                schema: r.opt_text(5),
                profile: r.opt_text(6),
            }),
        });
    }
    for r in db.query(
        &format!("SELECT run_uuid, model_id FROM run_model_inputs WHERE run_uuid IN ({marks}) ORDER BY model_id"),
        binds,
    )? {
        runs[index[&r.text(0)]]
            .inputs
            .model_inputs
            .push(wire::ModelInput {
                model_id: r.opt_text(1),
            });
    }
    for r in db.query(
        &format!("SELECT run_uuid, model_id, step FROM run_model_outputs WHERE run_uuid IN ({marks}) ORDER BY model_id"),
        binds,
    )? {
        runs[index[&r.text(0)]]
            .outputs
            .model_outputs
            .push(wire::ModelOutput {
                model_id: r.opt_text(1),
                step: r.opt_int(2),
            });
    }
    Ok(())
}

/// A search statement with its parameters, page size and offset.
pub(crate) type SearchQuery = (String, Vec<SqlValue>, i64, i64);

/// The search statement for a request (`None` when it names no experiment).
pub(crate) fn search_runs_sql(m: &wire::SearchRuns) -> ApiResult<Option<SearchQuery>> {
    let limit = v::max_results(
        m.max_results,
        v::DEFAULT_SEARCH_RESULTS,
        v::MAX_SEARCH_RUNS_RESULTS,
    )?;
    let offset = page_token::decode(m.page_token.as_deref())?;
    let view = view_type_sql(m.run_view_type.as_deref(), "r.lifecycle_stage")?;
    let filter = search::runs::filter_sql(m.filter.as_deref().unwrap_or(""))?;
    let order = search::runs::order_sql(&m.order_by)?;
    if m.experiment_ids.is_empty() {
        return Ok(None);
    }
    search::limits::check_experiment_ids(&m.experiment_ids)?;
    let mut exp_ids = Vec::new();
    for id in &m.experiment_ids {
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
        "SELECT {COLUMNS} FROM runs r WHERE r.experiment_id IN ({marks}) AND {view}{}{} LIMIT ? OFFSET ?",
        filter.sql, order.sql
    );
    let mut binds = exp_ids;
    binds.extend(filter.params);
    binds.extend(order.params);
    binds.extend(params![limit + 1, offset]);
    Ok(Some((sql, binds, limit, offset)))
}

pub fn search_runs(db: &dyn Db, m: &wire::SearchRuns) -> ApiResult<wire::SearchRunsResponse> {
    let Some((sql, binds, limit, offset)) = search_runs_sql(m)? else {
        return Ok(wire::SearchRunsResponse::default());
    };
    let rows = db.query(&sql, &binds)?;
    let has_more = rows.len() as i64 > limit;
    let infos: Vec<RunInfo> = rows
        .iter()
        .take(limit as usize)
        .map(info_from_row)
        .collect();
    let count = infos.len();
    Ok(wire::SearchRunsResponse {
        runs: load_runs(db, infos)?,
        next_page_token: page_token::next(offset, count, has_more),
    })
}

fn search(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::SearchRuns = req.message()?;
    ApiResponse::json(&search_runs(ctx.db, &m)?)
}

/// Writes params; a key already logged with a different value is refused.
fn write_params(db: &dyn Db, run_id: &str, params: &[(String, String)]) -> ApiResult<()> {
    for (key, value) in params {
        let existing = db.query_one(
            "SELECT value FROM params WHERE run_uuid = ? AND key = ?",
            &params![run_id, key.as_str()],
        )?;
        match existing {
            Some(r) if r.text(0) != *value => {
                return Err(MlflowError::invalid(format!(
                    "Changing param values is not allowed. Param with key='{key}' was already logged with value='{}' for run ID='{run_id}'. Attempted logging new value '{value}'.",
                    r.text(0)
                )))
            }
            Some(_) => {}
            None => db.exec(
                "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)",
                &params![run_id, key.as_str(), value.as_str()],
            )?,
        }
    }
    Ok(())
}

fn write_tags(db: &dyn Db, run_id: &str, tags: &[(String, String)]) -> ApiResult<()> {
    for (key, value) in tags {
        db.exec(
            "INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)",
            &params![run_id, key.as_str(), value.as_str()],
        )?;
        if key == RUN_NAME_TAG {
            db.exec(
                "UPDATE runs SET name = ? WHERE run_uuid = ?",
                &params![value.as_str(), run_id],
            )?;
        }
    }
    Ok(())
}

fn checked_param(kv: &KeyValue) -> ApiResult<(String, String)> {
    let key = validate_key("param", kv.key.as_deref())?;
    let value = kv
        .value
        .as_deref()
        .ok_or_else(|| MlflowError::missing("value"))?;
    Ok((key, v::truncate(value, v::MAX_PARAM_VALUE_LEN)))
}

fn checked_tag(kv: &KeyValue) -> ApiResult<(String, String)> {
    let key = validate_key("tag", kv.key.as_deref())?;
    Ok((
        key,
        v::truncate(kv.value.as_deref().unwrap_or(""), v::MAX_TAG_VALUE_LEN),
    ))
}

fn log_param(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunKeyValue = req.message()?;
    let run_id = run_id_of(&m.run)?;
    let p = checked_param(&KeyValue {
        key: m.key.clone(),
        value: m.value.clone(),
    })?;
    transaction(ctx.db, || {
        get_active_run(ctx.db, run_id)?;
        write_params(ctx.db, run_id, &[p])
    })?;
    ApiResponse::empty()
}

fn set_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunKeyValue = req.message()?;
    let run_id = run_id_of(&m.run)?;
    if m.value.is_none() {
        return Err(MlflowError::missing("value"));
    }
    let t = checked_tag(&KeyValue {
        key: m.key.clone(),
        value: m.value.clone(),
    })?;
    transaction(ctx.db, || {
        get_active_run(ctx.db, run_id)?;
        write_tags(ctx.db, run_id, &[t])
    })?;
    ApiResponse::empty()
}

fn delete_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunKeyValue = req.message()?;
    let run_id = run_id_of(&m.run)?;
    let key = required(&m.key, "key")?;
    transaction(ctx.db, || {
        get_active_run(ctx.db, run_id)?;
        if ctx
            .db
            .query_one(
                "SELECT 1 FROM tags WHERE run_uuid = ? AND key = ?",
                &params![run_id, key],
            )?
            .is_none()
        {
            return Err(MlflowError::not_found(format!(
                "No tag with name: {key} in run with id {run_id}"
            )));
        }
        ctx.db.exec(
            "DELETE FROM tags WHERE run_uuid = ? AND key = ?",
            &params![run_id, key],
        )
    })?;
    ApiResponse::empty()
}

/// log-batch: every limit and every entity is checked before anything is written, and
/// the writes form one transaction, so a refused batch leaves the run untouched.
pub fn log_batch_checked(db: &dyn Db, m: &wire::LogBatch) -> ApiResult<()> {
    let run = m.run();
    let run_id = run_id_of(&run)?;
    let (nm, np, nt) = (m.metrics.len(), m.params.len(), m.tags.len());
    if nm > v::MAX_BATCH_METRICS
        || np > v::MAX_BATCH_PARAMS
        || nt > v::MAX_BATCH_TAGS
        || nm + np + nt > v::MAX_BATCH_ENTITIES
    {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most {} metrics, {} params, {} tags and {} entities in total. Got {nm} metrics, {np} params and {nt} tags.",
            v::MAX_BATCH_METRICS, v::MAX_BATCH_PARAMS, v::MAX_BATCH_TAGS, v::MAX_BATCH_ENTITIES
        )));
    }
    let metrics: Vec<NewMetric> = m
        .metrics
        .iter()
        .map(validate_metric)
        .collect::<ApiResult<_>>()?;
    let params: Vec<(String, String)> = m
        .params
        .iter()
        .map(checked_param)
        .collect::<ApiResult<_>>()?;
    let mut seen = HashMap::new();
    for (k, val) in &params {
        if let Some(prev) = seen.insert(k.as_str(), val.as_str()) {
            if prev != val {
                return Err(MlflowError::invalid(format!(
                    "Duplicate parameter keys have been submitted: ['{k}']. Please ensure the request contains only one param value per param key."
                )));
            }
        }
    }
    let tags: Vec<(String, String)> = m.tags.iter().map(checked_tag).collect::<ApiResult<_>>()?;
    transaction(db, || {
        get_active_run(db, run_id)?;
        insert_metrics(db, run_id, &metrics)?;
        write_params(db, run_id, &params)?;
        write_tags(db, run_id, &tags)
    })
}

fn log_batch(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    if req.body.len() > v::MAX_BATCH_BODY_BYTES {
        return Err(MlflowError::invalid(format!(
            "Batched logging API requests must be at most {} bytes, got a request of {} bytes.",
            v::MAX_BATCH_BODY_BYTES,
            req.body.len()
        )));
    }
    let m: wire::LogBatch = req.message()?;
    log_batch_checked(ctx.db, &m)?;
    ApiResponse::empty()
}

fn log_inputs(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::LogInputs = req.message()?;
    let run_id = run_id_of(&m.run)?;
    let db = ctx.db;
    transaction(db, || {
        get_active_run(db, run_id)?;
        for input in &m.datasets {
            let d = input
                .dataset
                .clone()
                .ok_or_else(|| MlflowError::missing("dataset"))?;
            let name = required(&d.name, "dataset.name")?;
            let digest = required(&d.digest, "dataset.digest")?;
            let source_type = required(&d.source_type, "dataset.source_type")?;
            let source = required(&d.source, "dataset.source")?;
            let context = input
                .tags
                .iter()
                .find(|t| t.key.as_deref() == Some("mlflow.data.context"))
                .and_then(|t| t.value.clone());
            let tags_json = serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into());
            db.exec(
                "INSERT OR IGNORE INTO run_dataset_inputs (run_uuid, name, digest, source_type, source, schema, profile, context, tags_json)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &params![run_id, name, digest, source_type, source, d.schema.clone(), d.profile.clone(), context, tags_json],
            )?;
        }
        for model in &m.models {
            let id = required(&model.model_id, "model_id")?;
            db.exec(
                "INSERT OR IGNORE INTO run_model_inputs (run_uuid, model_id) VALUES (?, ?)",
                &params![run_id, id],
            )?;
        }
        Ok(())
    })?;
    ApiResponse::empty()
}

fn log_outputs(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::LogOutputs = req.message()?;
    let run_id = run_id_of(&m.run)?;
    transaction(ctx.db, || {
        get_active_run(ctx.db, run_id)?;
        for model in &m.models {
            let id = required(&model.model_id, "model_id")?;
            let step = model.step.ok_or_else(|| MlflowError::missing("step"))?;
            ctx.db.exec(
                "INSERT OR REPLACE INTO run_model_outputs (run_uuid, model_id, step) VALUES (?, ?, ?)",
                &params![run_id, id, step],
            )?;
        }
        Ok(())
    })?;
    ApiResponse::empty()
}

/// 2.x clients record each logged model's MLmodel JSON in a run tag (a JSON list).
fn log_model(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    const HISTORY_TAG: &str = "mlflow.log-model.history";
    let m: wire::LogModel = req.message()?;
    let run_id = run_id_of(&m.run)?;
    let model_json = required(&m.model_json, "model_json")?;
    let model: serde_json::Value = serde_json::from_str(model_json)
        .map_err(|e| MlflowError::invalid(format!("Malformed model info JSON: {e}")))?;
    for field in ["artifact_path", "flavors", "utc_time_created", "run_id"] {
        if model.get(field).is_none() {
            return Err(MlflowError::invalid(format!(
                "Model json is missing mandatory fields: {field}"
            )));
        }
    }
    transaction(ctx.db, || {
        get_active_run(ctx.db, run_id)?;
        let mut history: Vec<serde_json::Value> = ctx
            .db
            .query_one(
                "SELECT value FROM tags WHERE run_uuid = ? AND key = ?",
                &params![run_id, HISTORY_TAG],
            )?
            .and_then(|r| serde_json::from_str(&r.text(0)).ok())
            .unwrap_or_default();
        history.push(model);
        let value = serde_json::to_string(&history).unwrap_or_default();
        write_tags(ctx.db, run_id, &[(HISTORY_TAG.to_string(), value)])
    })?;
    ApiResponse::empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::store::testing;

    fn new_run(db: &dyn Db, name: Option<&str>) -> Run {
        create_run(
            db,
            &wire::CreateRun {
                run_name: name.map(String::from),
                start_time: Some(1000),
                ..Default::default()
            },
        )
        .unwrap()
    }

    /// A batch of distinct points (identical points would collapse into one).
    fn batch(run: &str, metrics: usize, params: usize, tags: usize) -> wire::LogBatch {
        static CALLS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let salt = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 1_000_000;
        wire::LogBatch {
            run_id: Some(run.into()),
            run_uuid: None,
            metrics: (0..metrics)
                .map(|i| wire::BatchMetric {
                    key: Some(format!("m{}", i % 10)),
                    value: Some(i as f64),
                    timestamp: Some(salt + i as i64),
                    step: Some(i as i64),
                    ..Default::default()
                })
                .collect(),
            params: (0..params)
                .map(|i| KeyValue::new(format!("p{i}"), "v"))
                .collect(),
            tags: (0..tags)
                .map(|i| KeyValue::new(format!("t{i}"), "v"))
                .collect(),
        }
    }

    #[test]
    fn create_run_defaults() {
        let db = testing::db();
        let run = new_run(&db, None);
        let info = &run.info;
        assert_eq!(info.experiment_id, "0");
        assert_eq!(info.status, "RUNNING");
        assert_eq!(
            info.artifact_uri,
            format!("mlflow-artifacts:/0/{}/artifacts", info.run_id)
        );
        assert!(!info.run_name.is_empty());
        assert!(run
            .data
            .tags
            .iter()
            .any(|t| t.key.as_deref() == Some(RUN_NAME_TAG)
                && t.value.as_deref() == Some(info.run_name.as_str())));
        let conflict = create_run(
            &db,
            &wire::CreateRun {
                run_name: Some("a".into()),
                tags: vec![KeyValue::new(RUN_NAME_TAG, "b")],
                ..Default::default()
            },
        );
        assert!(conflict.is_err());
    }

    #[test]
    fn create_run_answers_what_get_run_reads_back() {
        let db = testing::db();
        let created = create_run(
            &db,
            &wire::CreateRun {
                user_id: Some("ada".into()),
                tags: vec![
                    KeyValue::new("z", "last"),
                    KeyValue::new("k", "first"),
                    KeyValue::new("a", ""),
                    KeyValue::new("k", "second"),
                ],
                ..Default::default()
            },
        )
        .unwrap();
        let read = load_run(&db, get_run_info(&db, &created.info.run_id).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&created).unwrap(),
            serde_json::to_value(&read).unwrap()
        );
        let keys: Vec<_> = read
            .data
            .tags
            .iter()
            .map(|t| t.key.clone().unwrap())
            .collect();
        assert_eq!(keys, ["a", "k", RUN_NAME_TAG, "z"]);
    }

    #[test]
    fn a_run_created_with_hundreds_of_tags_keeps_them_all() {
        let db = testing::db();
        let tags: Vec<KeyValue> = (0..250)
            .map(|i| KeyValue::new(format!("t{i:03}"), i.to_string()))
            .collect();
        let created = create_run(
            &db,
            &wire::CreateRun {
                tags,
                ..Default::default()
            },
        )
        .unwrap();
        let read = load_run(&db, get_run_info(&db, &created.info.run_id).unwrap()).unwrap();
        // 250 tags and the run name, over three INSERTs.
        assert_eq!(read.data.tags.len(), 251);
    }

    #[test]
    fn params_are_immutable_but_idempotent() {
        let db = testing::db();
        let id = new_run(&db, Some("r")).info.run_id;
        write_params(&db, &id, &[("lr".into(), "0.1".into())]).unwrap();
        write_params(&db, &id, &[("lr".into(), "0.1".into())]).unwrap();
        let e = write_params(&db, &id, &[("lr".into(), "0.2".into())]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn log_batch_limits_are_all_or_nothing() {
        let db = testing::db();
        let id = new_run(&db, Some("r")).info.run_id;
        log_batch_checked(&db, &batch(&id, 1000, 0, 0)).unwrap();
        log_batch_checked(&db, &batch(&id, 800, 100, 100)).unwrap();
        for (m, p, t) in [(1001, 0, 0), (0, 101, 0), (0, 0, 101), (900, 100, 1)] {
            let before = db
                .query_one("SELECT COUNT(*) FROM metrics", &[])
                .unwrap()
                .unwrap()
                .int(0);
            let err = log_batch_checked(&db, &batch(&id, m, p, t)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidParameterValue);
            let after = db
                .query_one("SELECT COUNT(*) FROM metrics", &[])
                .unwrap()
                .unwrap()
                .int(0);
            assert_eq!(before, after);
        }
        // A bad entity late in the batch rolls back the earlier ones.
        let mut b = batch(&id, 3, 0, 0);
        b.params.push(KeyValue::new("p0", "changed"));
        assert!(log_batch_checked(&db, &b).is_err());
        assert_eq!(
            db.query_one("SELECT COUNT(*) FROM metrics", &[])
                .unwrap()
                .unwrap()
                .int(0),
            1800
        );
    }

    #[test]
    fn deleted_runs_refuse_writes_and_come_back() {
        let db = testing::db();
        let id = new_run(&db, Some("r")).info.run_id;
        set_lifecycle(&db, &id, DELETED).unwrap();
        let e = log_batch_checked(&db, &batch(&id, 1, 0, 0)).unwrap_err();
        assert!(e.message.contains("must be in the 'active' state"));
        set_lifecycle(&db, &id, ACTIVE).unwrap();
        log_batch_checked(&db, &batch(&id, 1, 0, 0)).unwrap();
        assert_eq!(
            get_run_info(&db, "nope").unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
    }

    #[test]
    fn search_filters_orders_pages() {
        let db = testing::db();
        let mut ids = Vec::new();
        for i in 0..5 {
            let id = new_run(&db, Some(&format!("run-{i}"))).info.run_id;
            let mut b = batch(&id, 0, 1, 0);
            b.metrics.push(wire::BatchMetric {
                key: Some("acc".into()),
                value: Some(i as f64 / 10.0),
                timestamp: Some(1),
                step: Some(0),
                ..Default::default()
            });
            if i < 4 {
                log_batch_checked(&db, &b).unwrap();
            }
            ids.push(id);
        }
        let q = |filter: &str, order: &[&str], max: Option<i64>, token: Option<String>| {
            search_runs(
                &db,
                &wire::SearchRuns {
                    experiment_ids: vec!["0".into()],
                    filter: Some(filter.into()),
                    order_by: order.iter().map(|s| s.to_string()).collect(),
                    max_results: max,
                    page_token: token,
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let names = |r: &wire::SearchRunsResponse| {
            r.runs
                .iter()
                .map(|r| r.info.run_name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&q("metrics.acc >= 0.2", &["metrics.acc DESC"], None, None)),
            ["run-3", "run-2"]
        );
        // Runs without the metric sort last in both directions.
        let asc = names(&q("", &["metrics.acc ASC"], None, None));
        assert_eq!(asc.last().unwrap(), "run-4");
        let desc = names(&q("", &["metrics.acc DESC"], None, None));
        assert_eq!(desc.last().unwrap(), "run-4");
        assert_eq!(
            names(&q("run_name LIKE 'run-1'", &[], None, None)),
            ["run-1"]
        );
        assert_eq!(names(&q("run_name LIKE 'RUN-1'", &[], None, None)).len(), 0);
        assert_eq!(
            names(&q("run_name ILIKE 'RUN-1'", &[], None, None)),
            ["run-1"]
        );
        assert_eq!(
            q(
                &format!("run_id IN ('{}', '{}')", ids[0], ids[1]),
                &[],
                None,
                None
            )
            .runs
            .len(),
            2
        );
        assert_eq!(q("params.p0 = 'v'", &[], None, None).runs.len(), 4);
        assert_eq!(q("params.p0 IS NULL", &[], None, None).runs.len(), 1);
        assert_eq!(
            q("tags.`mlflow.runName` = 'run-2'", &[], None, None)
                .runs
                .len(),
            1
        );
        let p1 = q("", &["attributes.run_name ASC"], Some(2), None);
        let p2 = q(
            "",
            &["attributes.run_name ASC"],
            Some(2),
            p1.next_page_token.clone(),
        );
        let p3 = q(
            "",
            &["attributes.run_name ASC"],
            Some(2),
            p2.next_page_token.clone(),
        );
        assert_eq!(
            [names(&p1), names(&p2), names(&p3)].concat(),
            ["run-0", "run-1", "run-2", "run-3", "run-4"]
        );
        assert!(p3.next_page_token.is_none());
        let run = &q("run_name = 'run-3'", &[], None, None).runs[0];
        assert_eq!(run.data.params, vec![KeyValue::new("p0", "v")]);
        assert_eq!(run.data.metrics[0].value, 0.3);
    }
}
