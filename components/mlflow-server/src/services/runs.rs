//! Runs: create, get, update, delete, restore, search; params, tags, log-batch,
//! log-inputs, outputs, log-model — MLflow's rules for them (active runs only, params
//! immutable, batch limits, the run-name tag) over the tracking store modules.

use super::experiments::get_active_experiment;
use super::validation::{self as v, checked_param, checked_tag, validate_key, validate_metric};
use crate::error::{required, ApiResult, MlflowError};
use crate::store::db::{transaction, Db};
use crate::store::inputs::{self, NewDatasetInput};
use crate::store::lifecycle::{ACTIVE, DELETED};
use crate::store::metrics::{self as metric_store, NewMetric};
use crate::store::migrations::ensure_schema;
use crate::store::runs::{self as store, SearchQuery};
use crate::store::{params as param_store, tags as tag_store};
use crate::util::{ids, names, page_token, time::now_ms};
use mlflow_wire::tracking::{self as wire, KeyValue, Run, RunData, RunInfo};
use std::collections::{BTreeMap, HashMap};

pub const RUN_NAME_TAG: &str = "mlflow.runName";
const STATUSES: &[&str] = &["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

pub fn get_run_info(db: &dyn Db, run_id: &str) -> ApiResult<RunInfo> {
    store::get_info(db, run_id)?
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

/// The run id a request names (`run_id`, or the older `run_uuid`).
pub fn run_id_of(r: &wire::RunRef) -> ApiResult<&str> {
    r.id().ok_or_else(|| MlflowError::missing("run_id"))
}

/// A whole run: info, latest metrics, params, tags, inputs, outputs.
pub fn load_run(db: &dyn Db, info: RunInfo) -> ApiResult<Run> {
    let mut runs = store::load(db, vec![info])?;
    Ok(runs.pop().expect("one run in, one run out"))
}

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
    let mut info = RunInfo {
        run_uuid: run_id.clone(),
        run_id: run_id.clone(),
        run_name,
        experiment_id: String::new(),
        user_id: m.user_id.clone().unwrap_or_default(),
        status: "RUNNING".into(),
        start_time: Some(start_time),
        end_time: None,
        artifact_uri: String::new(),
        lifecycle_stage: ACTIVE.into(),
    };
    // The experiment's check, the run and its tags in one statement (one round trip),
    // which checks the schema too (the route skips the separate check). When it writes
    // nothing, the schema is brought up to date, and the general path below reads the
    // experiment and answers why (missing or not active), or writes the run.
    if let Ok(number) = experiment_id.trim().parse::<i64>() {
        let distinct = tag_store::last_per_key(&tags);
        if distinct.len() <= store::MAX_TAGS_WITH_RUN {
            if let Ok(Some(uri)) =
                store::insert_into_active_experiment(db, &info, number, &distinct)
            {
                info.experiment_id = number.to_string();
                info.artifact_uri = uri;
                return Ok(created_run(info, tags));
            }
        }
    }
    ensure_schema(db)?;
    // Read before the write transaction: under Spin each statement is a round trip to
    // the host, and the write lock is held from BEGIN to COMMIT.
    let exp = get_active_experiment(db, &experiment_id)?;
    let experiment_number = exp.experiment_id.parse::<i64>().unwrap_or(0);
    info.experiment_id = experiment_number.to_string();
    info.artifact_uri = format!("{}/{run_id}/artifacts", exp.artifact_location);
    transaction(db, || {
        store::insert(db, &info, experiment_number)?;
        // The tags (at least the run name) in as few statements as possible.
        tag_store::insert_all(db, &run_id, &tags)
    })?;
    Ok(created_run(info, tags))
}

/// A new run holds only its tags: the answer is built from what was written instead of
/// being read back (it equals get-run's; a test checks that), the tags sorted by key,
/// the last value of a repeated key winning, as the table holds them.
fn created_run(info: RunInfo, tags: Vec<(String, String)>) -> Run {
    let by_key: BTreeMap<String, String> = tags.into_iter().collect();
    Run {
        info,
        data: RunData {
            tags: by_key
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// runs/get: the run a request names (by run_id or run_uuid), whole.
pub fn get_run(db: &dyn Db, m: &wire::RunRef) -> ApiResult<Run> {
    let info = get_run_info(db, run_id_of(m)?)?;
    load_run(db, info)
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
            store::set_status(db, run_id, s)?;
        }
        if let Some(t) = m.end_time {
            store::set_end_time(db, run_id, t)?;
        }
        if let Some(name) = m.run_name.as_deref().filter(|n| !n.is_empty()) {
            store::set_name(db, run_id, name)?;
            tag_store::set(db, run_id, RUN_NAME_TAG, name)?;
        }
        Ok(())
    })?;
    get_run_info(db, run_id)
}

/// Deletes (soft, stamped) or restores a run.
pub fn set_lifecycle(db: &dyn Db, run_id: &str, stage: &str) -> ApiResult<()> {
    get_run_info(db, run_id)?;
    let deleted_time = (stage == DELETED).then(now_ms);
    store::set_lifecycle(db, run_id, stage, deleted_time)
}

pub fn delete_run(db: &dyn Db, m: &wire::RunRef) -> ApiResult<()> {
    set_lifecycle(db, run_id_of(m)?, DELETED)
}

pub fn restore_run(db: &dyn Db, m: &wire::RunRef) -> ApiResult<()> {
    set_lifecycle(db, run_id_of(m)?, ACTIVE)
}

/// The search statement for a request (`None` when it names no experiment).
pub(crate) fn search_runs_sql(m: &wire::SearchRuns) -> ApiResult<Option<SearchQuery>> {
    let limit = v::max_results(
        m.max_results,
        v::DEFAULT_SEARCH_RESULTS,
        v::MAX_SEARCH_RUNS_RESULTS,
    )?;
    let offset = page_token::decode(m.page_token.as_deref())?;
    let view = v::view_type(m.run_view_type.as_deref())?;
    store::search_sql(
        &m.experiment_ids,
        view,
        m.filter.as_deref().unwrap_or(""),
        &m.order_by,
        limit,
        offset,
    )
}

pub fn search_runs(db: &dyn Db, m: &wire::SearchRuns) -> ApiResult<wire::SearchRunsResponse> {
    let Some(query) = search_runs_sql(m)? else {
        return Ok(wire::SearchRunsResponse::default());
    };
    let (runs, has_more) = store::search(db, &query)?;
    let next_page_token = page_token::next(query.3, runs.len(), has_more);
    Ok(wire::SearchRunsResponse {
        runs,
        next_page_token,
    })
}

/// Writes params; a key already logged with a different value is refused.
fn write_params(db: &dyn Db, run_id: &str, params: &[(String, String)]) -> ApiResult<()> {
    for (key, value) in params {
        match param_store::value(db, run_id, key)? {
            Some(existing) if existing != *value => {
                return Err(MlflowError::invalid(format!(
                    "Changing param values is not allowed. Param with key='{key}' was already logged with value='{existing}' for run ID='{run_id}'. Attempted logging new value '{value}'."
                )))
            }
            Some(_) => {}
            None => param_store::insert(db, run_id, key, value)?,
        }
    }
    Ok(())
}

/// Writes tags; the run-name tag renames the run too.
fn write_tags(db: &dyn Db, run_id: &str, tags: &[(String, String)]) -> ApiResult<()> {
    for (key, value) in tags {
        tag_store::set(db, run_id, key, value)?;
        if key == RUN_NAME_TAG {
            store::set_name(db, run_id, value)?;
        }
    }
    Ok(())
}

pub fn log_param(db: &dyn Db, m: &wire::RunKeyValue) -> ApiResult<()> {
    let run_id = run_id_of(&m.run)?;
    let p = checked_param(&KeyValue {
        key: m.key.clone(),
        value: m.value.clone(),
    })?;
    transaction(db, || {
        get_active_run(db, run_id)?;
        write_params(db, run_id, std::slice::from_ref(&p))
    })
}

pub fn set_tag(db: &dyn Db, m: &wire::RunKeyValue) -> ApiResult<()> {
    let run_id = run_id_of(&m.run)?;
    if m.value.is_none() {
        return Err(MlflowError::missing("value"));
    }
    let t = checked_tag(&KeyValue {
        key: m.key.clone(),
        value: m.value.clone(),
    })?;
    transaction(db, || {
        get_active_run(db, run_id)?;
        write_tags(db, run_id, std::slice::from_ref(&t))
    })
}

pub fn delete_tag(db: &dyn Db, m: &wire::RunKeyValue) -> ApiResult<()> {
    let run_id = run_id_of(&m.run)?;
    let key = required(&m.key, "key")?;
    transaction(db, || {
        get_active_run(db, run_id)?;
        if !tag_store::exists(db, run_id, key)? {
            return Err(MlflowError::not_found(format!(
                "No tag with name: {key} in run with id {run_id}"
            )));
        }
        tag_store::delete(db, run_id, key)
    })
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
    let mut metrics: Vec<NewMetric> = m
        .metrics
        .iter()
        .map(validate_metric)
        .collect::<ApiResult<_>>()?;
    let mut params: Vec<(String, String)> = m
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
    let mut tags: Vec<(String, String)> =
        m.tags.iter().map(checked_tag).collect::<ApiResult<_>>()?;
    // Written in key order (stable: a tag given twice keeps its last value), so that
    // concurrent batches on one run lock its latest-metric, param and tag rows in the
    // same order: on PostgreSQL, where replicas write side by side, they queue instead
    // of deadlocking. The order of a batch's entries means nothing in MLflow.
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    params.sort_by(|a, b| a.0.cmp(&b.0));
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    transaction(db, || {
        get_active_run(db, run_id)?;
        metric_store::insert(db, run_id, &metrics)?;
        write_params(db, run_id, &params)?;
        write_tags(db, run_id, &tags)
    })
}

pub fn log_inputs(db: &dyn Db, m: &wire::LogInputs) -> ApiResult<()> {
    let run_id = run_id_of(&m.run)?;
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
            inputs::insert_dataset(
                db,
                run_id,
                &NewDatasetInput {
                    name,
                    digest,
                    source_type,
                    source,
                    schema: d.schema.clone(),
                    profile: d.profile.clone(),
                    context,
                    tags_json,
                },
            )?;
        }
        for model in &m.models {
            let id = required(&model.model_id, "model_id")?;
            inputs::insert_model_input(db, run_id, id)?;
        }
        Ok(())
    })
}

pub fn log_outputs(db: &dyn Db, m: &wire::LogOutputs) -> ApiResult<()> {
    let run_id = run_id_of(&m.run)?;
    transaction(db, || {
        get_active_run(db, run_id)?;
        for model in &m.models {
            let id = required(&model.model_id, "model_id")?;
            let step = model.step.ok_or_else(|| MlflowError::missing("step"))?;
            inputs::set_model_output(db, run_id, id, step)?;
        }
        Ok(())
    })
}

/// 2.x clients record each logged model's MLmodel JSON in a run tag (a JSON list).
pub fn log_model(db: &dyn Db, m: &wire::LogModel) -> ApiResult<()> {
    const HISTORY_TAG: &str = "mlflow.log-model.history";
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
    transaction(db, || {
        get_active_run(db, run_id)?;
        let mut history: Vec<serde_json::Value> = tag_store::value(db, run_id, HISTORY_TAG)?
            .and_then(|value| serde_json::from_str(&value).ok())
            .unwrap_or_default();
        history.push(model.clone());
        let value = serde_json::to_string(&history).unwrap_or_default();
        write_tags(db, run_id, &[(HISTORY_TAG.to_string(), value)])
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::store::db::DbExt;
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
    fn create_run_and_search_runs_bring_a_schema_that_is_behind_up_to_date() {
        let db = testing::db();
        // Tracking step 5 can be applied again (see the same test for log-metric).
        let step_5 = "FROM schema_migrations WHERE area = 'tracking' AND version = 5";
        db.exec(&format!("DELETE {step_5}"), &[]).unwrap();
        let run = new_run(&db, Some("behind"));
        assert_eq!(
            get_run_info(&db, &run.info.run_id).unwrap().run_name,
            "behind"
        );
        let recorded = db
            .query_one(&format!("SELECT COUNT(*) {step_5}"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(recorded.int(0), 1);
        // runs/search too: its page finds nothing on a schema that is behind.
        db.exec(&format!("DELETE {step_5}"), &[]).unwrap();
        let found = search_runs(
            &db,
            &wire::SearchRuns {
                experiment_ids: vec!["0".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(found.runs.len(), 1);
        let recorded = db
            .query_one(&format!("SELECT COUNT(*) {step_5}"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(recorded.int(0), 1);
    }

    #[test]
    fn a_run_goes_only_into_an_active_experiment() {
        let db = testing::db();
        let in_experiment = |id: &str| {
            create_run(
                &db,
                &wire::CreateRun {
                    experiment_id: Some(id.into()),
                    tags: vec![KeyValue::new("t", "v")],
                    ..Default::default()
                },
            )
        };
        let missing = in_experiment("12345").unwrap_err();
        assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
        assert_eq!(in_experiment("x").unwrap_err().code, missing.code);
        db.exec(
            "UPDATE experiments SET lifecycle_stage = 'deleted' WHERE experiment_id = 0",
            &[],
        )
        .unwrap();
        let deleted = in_experiment("0").unwrap_err();
        assert!(deleted.message.contains("must be in the 'active' state"));
        for table in ["runs", "tags"] {
            let rows = db
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .unwrap()
                .unwrap()
                .int(0);
            assert_eq!(rows, 0, "{table}");
        }
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
