//! Model versions: create (READY at once), get, update, delete, transition-stage,
//! search, download URI and tags. Versions of a name are numbered 1, 2, … and numbers are
//! never reused (deleted versions stay as `Deleted_Internal` rows).

use super::validation::{self as v, STAGE_DELETED};
use super::{logged_models, search};
use crate::error::{ApiResult, MlflowError};
use crate::params;
use crate::services::runs;
use crate::store::db::{transaction, Db, DbExt, Row};
use crate::util::{page_token, time::now_ms};
use mlflow_wire::registry::{CreateModelVersion, ModelVersion};
use mlflow_wire::tracking::KeyValue;

pub const COLUMNS: &str = "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, \
     mv.user_id, mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.status, mv.status_message, mv.model_id";

/// A version row with its tags and aliases.
pub fn from_row(db: &dyn Db, r: &Row) -> ApiResult<ModelVersion> {
    let (name, version) = (r.text(0), r.int(1));
    let tags = db
        .query(
            "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key",
            &params![name.as_str(), version],
        )?
        .iter()
        .map(|t| KeyValue::new(t.text(0), t.text(1)))
        .collect();
    let aliases = db
        .query(
            "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias",
            &params![name.as_str(), version],
        )?
        .iter()
        .map(|a| a.text(0))
        .collect();
    Ok(ModelVersion {
        name,
        version: version.to_string(),
        creation_timestamp: r.opt_int(2),
        last_updated_timestamp: r.opt_int(3),
        description: r.opt_text(4),
        user_id: r.opt_text(5),
        current_stage: r.opt_text(6),
        source: r.opt_text(7),
        run_id: r.opt_text(8),
        run_link: r.opt_text(9),
        status: r.opt_text(10),
        status_message: r.opt_text(11),
        tags,
        aliases,
        model_id: r.opt_text(12),
    })
}

fn not_found(name: &str, version: i64) -> MlflowError {
    MlflowError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

/// The live (not deleted) version row, or RESOURCE_DOES_NOT_EXIST.
pub fn get(db: &dyn Db, name: &str, version: i64) -> ApiResult<ModelVersion> {
    let row = db
        .query_one(
            &format!(
                "SELECT {COLUMNS} FROM model_versions mv WHERE mv.name = ? AND mv.version = ? AND mv.current_stage != ?"
            ),
            &params![name, version, STAGE_DELETED],
        )?
        .ok_or_else(|| not_found(name, version))?;
    from_row(db, &row)
}

/// Where a source's files are: a `models:/<model_id>` source lives at the logged
/// model's artifact location, a `models:/<name>/<version>` source where that version
/// lives; any other source is its own location.
struct ResolvedSource {
    source: String,
    storage_location: String,
    run_id: Option<String>,
    model_id: Option<String>,
}

fn resolve_source(db: &dyn Db, m: &CreateModelVersion, source: &str) -> ApiResult<ResolvedSource> {
    v::source_has_no_traversal(source)?;
    let run_id = m.run_id.clone().filter(|r| !r.is_empty());
    let model_id = m.model_id.clone().filter(|r| !r.is_empty());
    let invalid = |id_name: &str| {
        MlflowError::invalid(format!(
            "Invalid model version source: '{source}'. The {id_name} request parameter must identify the resource that contains the source."
        ))
    };
    if let Some(rest) = source.strip_prefix("models:/") {
        let rest = rest.trim_end_matches('/');
        if rest.starts_with("m-") && !rest.contains('/') {
            // A logged model: the request must name the same model_id.
            if model_id.as_deref() != Some(rest) {
                return Err(invalid("model_id"));
            }
            let model = logged_models::get(db, rest, false).map_err(|_| invalid("model_id"))?;
            return Ok(ResolvedSource {
                source: source.to_string(),
                storage_location: model.info.artifact_uri,
                run_id: run_id.or(model.info.source_run_id),
                model_id,
            });
        }
        // Another registered version: `models:/<name>/<version>`.
        let (name, version) = rest.split_once('/').ok_or_else(|| invalid("model_id"))?;
        let origin = get(db, name, v::version(Some(version))?)?;
        let storage_location = download_uri(db, name, origin.version.parse().unwrap_or(0))?;
        return Ok(ResolvedSource {
            source: format!("models:/{name}/{}", origin.version),
            storage_location,
            run_id: run_id.or(origin.run_id),
            model_id: model_id.or(origin.model_id),
        });
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let source_run = rest.split('/').next().unwrap_or("");
        if model_id.is_some() || run_id.as_deref() != Some(source_run) {
            return Err(invalid(if model_id.is_some() {
                "model_id"
            } else {
                "run_id"
            }));
        }
    } else if is_proxied_artifact_source(source) {
        // Must lie inside the artifacts of the model or run the request names.
        let root = match (&model_id, &run_id) {
            (Some(id), _) => {
                logged_models::get(db, id, false)
                    .map_err(|_| invalid("model_id"))?
                    .info
                    .artifact_uri
            }
            (None, Some(run)) => {
                runs::get_run_info(db, run)
                    .map_err(|_| invalid("run_id"))?
                    .artifact_uri
            }
            (None, None) => return Err(invalid("run_id")),
        };
        if !within(source, &root) {
            return Err(invalid(if model_id.is_some() {
                "model_id"
            } else {
                "run_id"
            }));
        }
    } else if is_local(source) {
        return Err(MlflowError::invalid(format!(
            "Invalid model version source: '{source}'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id."
        )));
    }
    if let (None, Some(id)) = (&run_id, &model_id) {
        if let Ok(model) = logged_models::get(db, id, false) {
            return Ok(ResolvedSource {
                source: source.to_string(),
                storage_location: source.to_string(),
                run_id: model.info.source_run_id,
                model_id,
            });
        }
    }
    Ok(ResolvedSource {
        source: source.to_string(),
        storage_location: source.to_string(),
        run_id,
        model_id,
    })
}

fn is_proxied_artifact_source(source: &str) -> bool {
    source.starts_with("mlflow-artifacts:")
        || ((source.starts_with("http://") || source.starts_with("https://"))
            && source.contains("/api/2.0/mlflow-artifacts/artifacts"))
}

fn is_local(source: &str) -> bool {
    source.starts_with('/') || source.starts_with("file:") || !source.contains(':')
}

/// Whether `source` is `root` or below it (path segments compared, host ignored).
fn within(source: &str, root: &str) -> bool {
    fn segments(uri: &str) -> Vec<String> {
        let path = uri
            .strip_prefix("mlflow-artifacts:")
            .map(|rest| match rest.strip_prefix("//") {
                Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
                None => rest,
            })
            .or_else(|| {
                uri.split_once("/api/2.0/mlflow-artifacts/artifacts")
                    .map(|(_, p)| p)
            })
            .unwrap_or(uri);
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect()
    }
    let (source, root) = (segments(source), segments(root));
    !root.is_empty() && source.len() >= root.len() && source[..root.len()] == root[..]
}

/// Creates the next version of `m.name` from `m.source`, status READY.
pub fn create(db: &dyn Db, m: &CreateModelVersion) -> ApiResult<ModelVersion> {
    let name = v::model_name(m.name.as_deref())?;
    let source = crate::error::required(&m.source, "source")?;
    let mut tags = Vec::new();
    for t in &m.tags {
        tags.push(v::tag(t.key.as_deref(), t.value.as_deref())?);
    }
    let resolved = resolve_source(db, m, source)?;
    let version = transaction(db, || {
        super::models::require(db, name)?;
        let now = now_ms();
        let next = db
            .query_one(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?",
                &params![name],
            )?
            .map_or(1, |r| r.int(0));
        db.exec(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, current_stage, source, storage_location, run_id, run_link, status, model_id)
             VALUES (?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, 'READY', ?)",
            &params![
                name,
                next,
                now,
                now,
                m.description.clone(),
                resolved.source.as_str(),
                resolved.storage_location.as_str(),
                resolved.run_id.clone(),
                m.run_link.clone(),
                resolved.model_id.clone()
            ],
        )?;
        for (key, value) in &tags {
            db.exec(
                "INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)",
                &params![name, next, key.as_str(), value.as_str()],
            )?;
        }
        db.exec(
            "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
            &params![now, name],
        )?;
        if let Some(model_id) = &resolved.model_id {
            logged_models::record_registration(db, model_id, name, next)?;
        }
        Ok(next)
    })?;
    get(db, name, version)
}

pub fn update(
    db: &dyn Db,
    name: &str,
    version: i64,
    description: Option<&str>,
) -> ApiResult<ModelVersion> {
    get(db, name, version)?;
    db.exec(
        "UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?",
        &params![description, now_ms(), name, version],
    )?;
    get(db, name, version)
}

/// Deletes a version: its aliases go, the row stays (redacted) so the number is not reused.
pub fn delete(db: &dyn Db, name: &str, version: i64) -> ApiResult<()> {
    get(db, name, version)?;
    transaction(db, || {
        let now = now_ms();
        db.exec(
            "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?",
            &params![name, version],
        )?;
        db.exec(
            "UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description = NULL, user_id = NULL,
                 source = 'REDACTED-SOURCE-PATH', storage_location = NULL, run_id = 'REDACTED-RUN-ID',
                 run_link = 'REDACTED-RUN-LINK', status_message = NULL
             WHERE name = ? AND version = ?",
            &params![STAGE_DELETED, now, name, version],
        )?;
        db.exec(
            "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
            &params![now, name],
        )
    })
}

/// Moves a version to `stage`; with `archive_existing`, the other versions in that
/// stage move to Archived (only for Staging and Production).
pub fn transition_stage(
    db: &dyn Db,
    name: &str,
    version: i64,
    stage: &str,
    archive_existing: bool,
) -> ApiResult<ModelVersion> {
    if archive_existing && !matches!(stage, "Staging" | "Production") {
        return Err(MlflowError::invalid(format!(
            "Model version transition cannot archive existing model versions because '{stage}' is not an Active stage. Valid stages are ['Staging', 'Production']"
        )));
    }
    get(db, name, version)?;
    transaction(db, || {
        let now = now_ms();
        if archive_existing {
            db.exec(
                "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ?
                 WHERE name = ? AND version != ? AND current_stage = ?",
                &params![now, name, version, stage],
            )?;
        }
        db.exec(
            "UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?",
            &params![stage, now, name, version],
        )?;
        db.exec(
            "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
            &params![now, name],
        )
    })?;
    get(db, name, version)
}

/// Where a client downloads the version's files from.
pub fn download_uri(db: &dyn Db, name: &str, version: i64) -> ApiResult<String> {
    get(db, name, version)?;
    let row = db
        .query_one(
            "SELECT COALESCE(NULLIF(storage_location, ''), source) FROM model_versions WHERE name = ? AND version = ?",
            &params![name, version],
        )?
        .ok_or_else(|| not_found(name, version))?;
    Ok(row.text(0))
}

pub fn set_tag(db: &dyn Db, name: &str, version: i64, key: &str, value: &str) -> ApiResult<()> {
    get(db, name, version)?;
    db.exec(
        "INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)",
        &params![name, version, key, value],
    )
}

pub fn delete_tag(db: &dyn Db, name: &str, version: i64, key: &str) -> ApiResult<()> {
    get(db, name, version)?;
    db.exec(
        "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
        &params![name, version, key],
    )
}

/// One page of search_model_versions and the token of the next page.
pub fn search(
    db: &dyn Db,
    filter: Option<&str>,
    max_results: Option<i64>,
    order_by: &[String],
    token: Option<&str>,
) -> ApiResult<(Vec<ModelVersion>, Option<String>)> {
    let limit = v_max(
        max_results,
        v::DEFAULT_SEARCH_VERSIONS,
        v::MAX_SEARCH_VERSIONS,
    )?;
    let offset = page_token::decode(token)?;
    let filter = search::model_versions_filter(filter.unwrap_or(""))?;
    let order = search::model_versions_order(order_by)?;
    let mut args = vec![crate::store::db::SqlValue::from(STAGE_DELETED)];
    args.extend(filter.params);
    args.push((limit + 1).into());
    args.push(offset.into());
    let rows = db.query(
        &format!(
            "SELECT {COLUMNS} FROM model_versions mv WHERE mv.current_stage != ?{} ORDER BY {order} LIMIT ? OFFSET ?",
            filter.sql
        ),
        &args,
    )?;
    page_token::page(&rows, limit, offset, |r| from_row(db, r))
}

/// `max_results` within 1..=max (MLflow's wording for the registry).
pub fn v_max(value: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(MlflowError::invalid(format!(
            "Invalid value for request parameter max_results. It must be at most {max} and at least 1, but got value {n}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_compares_path_segments() {
        let root = "mlflow-artifacts:/1/abc/artifacts";
        assert!(within("mlflow-artifacts:/1/abc/artifacts/model", root));
        assert!(within("mlflow-artifacts://host:5000/1/abc/artifacts", root));
        assert!(within(
            "http://h/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/m",
            root
        ));
        assert!(!within("mlflow-artifacts:/1/abcd/artifacts", root));
        assert!(!within("mlflow-artifacts:/1/other/artifacts", root));
    }

    #[test]
    fn local_sources_are_recognised() {
        assert!(is_local("/tmp/model"));
        assert!(is_local("file:///tmp/model"));
        assert!(is_local("relative/model"));
        assert!(!is_local("s3://bucket/model"));
    }
}
