//! Experiments: create, get, get-by-name, search, rename, delete, restore, tags — MLflow's
//! rules for them (names, states, the default experiment) over `store::experiments`.

use super::validation::{self as v, validate_experiment_name, validate_key};
use crate::error::{ApiResult, ErrorCode, MlflowError};
use crate::store::db::{transaction, Db};
use crate::store::lifecycle::{ACTIVE, DELETED};
use crate::store::{experiments as store, runs as run_store};
use crate::util::{page_token, time::now_ms};
use mlflow_wire::tracking::{self as wire, Experiment, KeyValue};

/// Parses an experiment id; anything that is not one of ours cannot exist.
fn parse_id(id: &str) -> ApiResult<i64> {
    id.trim()
        .parse()
        .map_err(|_| MlflowError::not_found(format!("No Experiment with id={id} exists")))
}

pub fn get_experiment(db: &dyn Db, id: &str) -> ApiResult<Experiment> {
    store::get(db, parse_id(id)?)?
        .ok_or_else(|| MlflowError::not_found(format!("No Experiment with id={id} exists")))
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

pub fn get_experiment_by_name(db: &dyn Db, name: &str) -> ApiResult<Experiment> {
    store::get_by_name(db, name)?.ok_or_else(|| {
        MlflowError::not_found(format!("Could not find experiment with name '{name}'"))
    })
}

fn already_exists(name: &str) -> MlflowError {
    MlflowError::already_exists(format!("Experiment(name={name}) already exists."))
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
        if store::name_exists(db, &name)? {
            return Err(already_exists(&name));
        }
        let id = store::insert(db, &name, now_ms())?;
        let location = match artifact_location.filter(|l| !l.is_empty()) {
            Some(l) => l.trim_end_matches('/').to_string(),
            None => format!("mlflow-artifacts:/{id}"),
        };
        store::set_artifact_location(db, id, &location)?;
        for (k, val) in &checked {
            store::set_tag(db, id, k, val)?;
        }
        Ok(id.to_string())
    })
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
    let view = v::view_type(m.view_type.as_deref())?;
    let (experiments, has_more) = store::search(
        db,
        view,
        m.filter.as_deref().unwrap_or(""),
        &m.order_by,
        limit,
        offset,
    )?;
    let next_page_token = page_token::next(offset, experiments.len(), has_more);
    Ok(wire::SearchExperimentsResponse {
        experiments,
        next_page_token,
    })
}

pub fn rename_experiment(db: &dyn Db, id: &str, new_name: Option<&str>) -> ApiResult<()> {
    let new_name = validate_experiment_name(new_name)?;
    transaction(db, || {
        let e = get_experiment(db, id)?;
        if e.lifecycle_stage != ACTIVE {
            return Err(MlflowError::new(
                ErrorCode::InvalidState,
                "Cannot rename a non-active experiment.",
            ));
        }
        if e.name == new_name {
            return Ok(());
        }
        if store::name_exists(db, &new_name)? {
            return Err(already_exists(&new_name));
        }
        store::rename(db, parse_id(id)?, &new_name, now_ms())
    })
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
        store::set_lifecycle(db, n, DELETED, now)?;
        run_store::delete_active_of_experiment(db, n, now)
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
        store::set_lifecycle(db, n, ACTIVE, now_ms())?;
        run_store::restore_deleted_of_experiment(db, n, deleted_at)
    })
}

/// Sets a tag of an active experiment (`value` required, truncated to the limit).
pub fn set_experiment_tag(
    db: &dyn Db,
    id: &str,
    key: Option<&str>,
    value: Option<&str>,
) -> ApiResult<()> {
    let key = validate_key("tag", key)?;
    let value = value.ok_or_else(|| MlflowError::missing("value"))?;
    let value = v::truncate(value, v::MAX_EXPERIMENT_TAG_VALUE_LEN);
    get_active_experiment(db, id)?;
    store::set_tag(db, parse_id(id)?, &key, &value)
}

/// Deletes a tag of an active experiment; a missing tag is RESOURCE_DOES_NOT_EXIST.
pub fn delete_experiment_tag(db: &dyn Db, id: &str, key: &str) -> ApiResult<()> {
    get_active_experiment(db, id)?;
    let n = parse_id(id)?;
    if !store::tag_exists(db, n, key)? {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in experiment with id {id}"
        )));
    }
    store::delete_tag(db, n, key)
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
