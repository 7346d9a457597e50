//! Experiments: create, get, get-by-name, search, update (rename), delete, restore, tags.

use super::validation::{self as v, validate_experiment_name, validate_key};
use super::{view_type_sql, ACTIVE, DELETED};
use crate::error::{required, ApiResult, MlflowError};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::params;
use crate::search;
use crate::store::db::{transaction, Db, DbExt, Row};
use crate::util::{page_token, time::now_ms};
use mlflow_wire::tracking::{self as wire, Experiment, KeyValue};

pub const ROUTES: &[Route] = &[
    route(Method::Post, "experiments/create", create),
    route(Method::Get, "experiments/get", get),
    route(Method::Get, "experiments/get-by-name", get_by_name),
    route(Method::Post, "experiments/search", search),
    route(Method::Get, "experiments/search", search),
    route(Method::Post, "experiments/update", update),
    route(Method::Post, "experiments/delete", delete),
    route(Method::Post, "experiments/restore", restore),
    route(Method::Post, "experiments/set-experiment-tag", set_tag),
    route(
        Method::Post,
        "experiments/delete-experiment-tag",
        delete_tag,
    ),
];

const COLUMNS: &str =
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time";

fn from_row(db: &dyn Db, r: &Row) -> ApiResult<Experiment> {
    let id = r.int(0);
    let tags = db
        .query(
            "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key",
            &params![id],
        )?
        .iter()
        .map(|t| KeyValue::new(t.text(0), t.text(1)))
        .collect();
    Ok(Experiment {
        experiment_id: id.to_string(),
        name: r.text(1),
        artifact_location: r.text(2),
        lifecycle_stage: r.text(3),
        creation_time: r.opt_int(4),
        last_update_time: r.opt_int(5),
        tags,
    })
}

/// Parses an experiment id; anything that is not one of ours cannot exist.
fn parse_id(id: &str) -> ApiResult<i64> {
    id.trim()
        .parse()
        .map_err(|_| MlflowError::not_found(format!("No Experiment with id={id} exists")))
}

pub fn get_experiment(db: &dyn Db, id: &str) -> ApiResult<Experiment> {
    let n = parse_id(id)?;
    let row = db
        .query_one(
            &format!("SELECT {COLUMNS} FROM experiments e WHERE e.experiment_id = ?"),
            &params![n],
        )?
        .ok_or_else(|| MlflowError::not_found(format!("No Experiment with id={id} exists")))?;
    from_row(db, &row)
}

/// The experiment, required to be active (for writes into it).
pub fn get_active_experiment(db: &dyn Db, id: &str) -> ApiResult<Experiment> {
    let e = get_experiment(db, id)?;
    if e.lifecycle_stage != ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {id} must be in the 'active' state. Current state is {}.",
            e.lifecycle_stage
        )));
    }
    Ok(e)
}

pub fn create_experiment(
    db: &dyn Db,
    name: Option<&str>,
    artifact_location: Option<&str>,
    tags: &[KeyValue],
) -> ApiResult<String> {
    let name = validate_experiment_name(name)?;
    let mut checked = Vec::new();
    for t in tags {
        let key = validate_key("tag", t.key.as_deref())?;
        let value = t.value.clone().unwrap_or_default();
        checked.push((key, v::truncate(&value, v::MAX_EXPERIMENT_TAG_VALUE_LEN)));
    }
    transaction(db, || {
        if db
            .query_one(
                "SELECT 1 FROM experiments WHERE name = ?",
                &params![name.as_str()],
            )?
            .is_some()
        {
            return Err(MlflowError::already_exists(format!(
                "Experiment(name={name}) already exists."
            )));
        }
        let now = now_ms();
        let row = db
            .query_one(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
                 VALUES (?, '', 'active', ?, ?) RETURNING experiment_id",
                &params![name.as_str(), now, now],
            )?
            .ok_or_else(|| MlflowError::internal("experiment insert returned no id"))?;
        let id = row.int(0);
        let location = match artifact_location.filter(|l| !l.is_empty()) {
            Some(l) => l.trim_end_matches('/').to_string(),
            None => format!("mlflow-artifacts:/{id}"),
        };
        db.exec(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
            &params![location, id],
        )?;
        for (k, val) in &checked {
            db.exec(
                "INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                &params![id, k.as_str(), val.as_str()],
            )?;
        }
        Ok(id.to_string())
    })
}

fn create(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::CreateExperiment = req.message()?;
    let id = create_experiment(
        ctx.db,
        m.name.as_deref(),
        m.artifact_location.as_deref(),
        &m.tags,
    )?;
    ApiResponse::json(&wire::CreateExperimentResponse { experiment_id: id })
}

fn get(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentRef = req.message()?;
    let experiment = get_experiment(ctx.db, required(&m.experiment_id, "experiment_id")?)?;
    ApiResponse::json(&wire::ExperimentResponse { experiment })
}

fn get_by_name(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::GetExperimentByName = req.message()?;
    let name = required(&m.experiment_name, "experiment_name")?;
    let row = ctx
        .db
        .query_one(
            &format!("SELECT {COLUMNS} FROM experiments e WHERE e.name = ? ORDER BY e.lifecycle_stage = 'active' DESC"),
            &params![name],
        )?
        .ok_or_else(|| {
            MlflowError::not_found(format!("Could not find experiment with name '{name}'"))
        })?;
    let experiment = from_row(ctx.db, &row)?;
    ApiResponse::json(&wire::ExperimentResponse { experiment })
}

pub fn search_experiments(
    db: &dyn Db,
    m: &wire::SearchExperiments,
) -> ApiResult<wire::SearchExperimentsResponse> {
    let limit = v::max_results(
        m.max_results,
        v::DEFAULT_SEARCH_RESULTS,
        v::MAX_SEARCH_RUNS_RESULTS,
    )?;
    let offset = page_token::decode(m.page_token.as_deref())?;
    let view = view_type_sql(m.view_type.as_deref(), "e.lifecycle_stage")?;
    let filter = search::experiments::filter_sql(m.filter.as_deref().unwrap_or(""))?;
    let order = search::experiments::order_sql(&m.order_by)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM experiments e WHERE {view}{}{} LIMIT ? OFFSET ?",
        filter.sql, order.sql
    );
    let mut binds = filter.params;
    binds.extend(order.params);
    binds.extend(params![limit + 1, offset]);
    let rows = db.query(&sql, &binds)?;
    let has_more = rows.len() as i64 > limit;
    let experiments = rows
        .iter()
        .take(limit as usize)
        .map(|r| from_row(db, r))
        .collect::<ApiResult<Vec<_>>>()?;
    let next_page_token = page_token::next(offset, experiments.len(), has_more);
    Ok(wire::SearchExperimentsResponse {
        experiments,
        next_page_token,
    })
}

fn search(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::SearchExperiments = req.message()?;
    ApiResponse::json(&search_experiments(ctx.db, &m)?)
}

pub fn rename_experiment(db: &dyn Db, id: &str, new_name: Option<&str>) -> ApiResult<()> {
    let new_name = validate_experiment_name(new_name)?;
    transaction(db, || {
        let e = get_experiment(db, id)?;
        if e.lifecycle_stage != ACTIVE {
            return Err(MlflowError::new(
                crate::error::ErrorCode::InvalidState,
                "Cannot rename a non-active experiment.",
            ));
        }
        if e.name == new_name {
            return Ok(());
        }
        if db
            .query_one(
                "SELECT 1 FROM experiments WHERE name = ?",
                &params![new_name.as_str()],
            )?
            .is_some()
        {
            return Err(MlflowError::already_exists(format!(
                "Experiment(name={new_name}) already exists."
            )));
        }
        db.exec(
            "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
            &params![new_name.as_str(), now_ms(), parse_id(id)?],
        )
    })
}

fn update(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::UpdateExperiment = req.message()?;
    let id = required(&m.experiment_id, "experiment_id")?;
    rename_experiment(ctx.db, id, Some(required(&m.new_name, "new_name")?))?;
    ApiResponse::empty()
}

/// Soft-deletes an experiment and its active runs; the shared timestamp lets restore
/// bring back exactly the runs this delete removed.
pub fn delete_experiment(db: &dyn Db, id: &str) -> ApiResult<()> {
    let n = parse_id(id)?;
    if n == 0 {
        return Err(MlflowError::invalid(
            "Cannot delete the default experiment '0'.",
        ));
    }
    transaction(db, || {
        get_experiment(db, id)?;
        let now = now_ms();
        db.exec(
            "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = ? WHERE experiment_id = ?",
            &params![now, n],
        )?;
        db.exec(
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = 'active'",
            &params![now, n],
        )
    })
}

pub fn restore_experiment(db: &dyn Db, id: &str) -> ApiResult<()> {
    let n = parse_id(id)?;
    transaction(db, || {
        let e = get_experiment(db, id)?;
        if e.lifecycle_stage != DELETED {
            return Err(MlflowError::invalid(format!(
                "Cannot restore an experiment that is not deleted: {id}"
            )));
        }
        let deleted_at = e.last_update_time.unwrap_or(0);
        db.exec(
            "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ? WHERE experiment_id = ?",
            &params![now_ms(), n],
        )?;
        db.exec(
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL
             WHERE experiment_id = ? AND lifecycle_stage = 'deleted' AND deleted_time = ?",
            &params![n, deleted_at],
        )
    })
}

fn delete(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentRef = req.message()?;
    delete_experiment(ctx.db, required(&m.experiment_id, "experiment_id")?)?;
    ApiResponse::empty()
}

fn restore(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentRef = req.message()?;
    restore_experiment(ctx.db, required(&m.experiment_id, "experiment_id")?)?;
    ApiResponse::empty()
}

fn set_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentTagRequest = req.message()?;
    let id = required(&m.experiment_id, "experiment_id")?;
    let key = validate_key("tag", m.key.as_deref())?;
    let value = m
        .value
        .as_deref()
        .ok_or_else(|| MlflowError::missing("value"))?;
    let value = v::truncate(value, v::MAX_EXPERIMENT_TAG_VALUE_LEN);
    get_active_experiment(ctx.db, id)?;
    ctx.db.exec(
        "INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
        &params![parse_id(id)?, key, value],
    )?;
    ApiResponse::empty()
}

fn delete_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentTagRequest = req.message()?;
    let id = required(&m.experiment_id, "experiment_id")?;
    let key = required(&m.key, "key")?;
    get_active_experiment(ctx.db, id)?;
    let n = parse_id(id)?;
    if ctx
        .db
        .query_one(
            "SELECT 1 FROM experiment_tags WHERE experiment_id = ? AND key = ?",
            &params![n, key],
        )?
        .is_none()
    {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in experiment with id {id}"
        )));
    }
    ctx.db.exec(
        "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
        &params![n, key],
    )?;
    ApiResponse::empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::store::testing;

    #[test]
    fn default_experiment_exists() {
        let db = testing::db();
        let e = get_experiment(&db, "0").unwrap();
        assert_eq!(e.name, "Default");
        assert_eq!(e.artifact_location, "mlflow-artifacts:/0");
        assert_eq!(e.lifecycle_stage, "active");
    }

    #[test]
    fn create_duplicate_rename_delete_restore() {
        let db = testing::db();
        let id = create_experiment(&db, Some("iris"), None, &[KeyValue::new("team", "a")]).unwrap();
        assert_eq!(id, "1");
        let e = get_experiment(&db, &id).unwrap();
        assert_eq!(e.artifact_location, "mlflow-artifacts:/1");
        assert_eq!(e.tags, vec![KeyValue::new("team", "a")]);
        let dup = create_experiment(&db, Some("iris"), None, &[]).unwrap_err();
        assert_eq!(dup.code, ErrorCode::ResourceAlreadyExists);
        create_experiment(&db, Some("other"), None, &[]).unwrap();
        assert_eq!(
            rename_experiment(&db, &id, Some("other")).unwrap_err().code,
            ErrorCode::ResourceAlreadyExists
        );
        rename_experiment(&db, &id, Some("iris2")).unwrap();
        assert_eq!(get_experiment(&db, &id).unwrap().name, "iris2");
        delete_experiment(&db, &id).unwrap();
        assert_eq!(get_experiment(&db, &id).unwrap().lifecycle_stage, "deleted");
        assert_eq!(
            rename_experiment(&db, &id, Some("x")).unwrap_err().code,
            ErrorCode::InvalidState
        );
        restore_experiment(&db, &id).unwrap();
        assert_eq!(get_experiment(&db, &id).unwrap().lifecycle_stage, "active");
        assert!(delete_experiment(&db, "0").is_err());
        assert_eq!(
            get_experiment(&db, "99").unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
    }

    #[test]
    fn search_filters_orders_and_pages() {
        let db = testing::db();
        for name in ["alpha", "beta", "Gamma"] {
            create_experiment(&db, Some(name), None, &[]).unwrap();
        }
        let q = |filter: &str, order: &[&str], max: Option<i64>, token: Option<String>| {
            search_experiments(
                &db,
                &wire::SearchExperiments {
                    filter: Some(filter.into()),
                    order_by: order.iter().map(|s| s.to_string()).collect(),
                    max_results: max,
                    page_token: token,
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let names = |r: &wire::SearchExperimentsResponse| {
            r.experiments
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&q("name LIKE 'gam%'", &[], None, None)).len(), 0);
        assert_eq!(
            names(&q("name ILIKE 'gam%'", &[], None, None)),
            vec!["Gamma"]
        );
        let page1 = q("", &["name ASC"], Some(2), None);
        assert_eq!(names(&page1), vec!["Default", "Gamma"]);
        let page2 = q("", &["name ASC"], Some(2), page1.next_page_token.clone());
        assert_eq!(names(&page2), vec!["alpha", "beta"]);
        assert!(page2.next_page_token.is_none());
    }
}
