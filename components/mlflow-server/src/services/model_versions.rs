//! Model versions: create (READY at once, from a source checked against the run or
//! logged model it names), get, update, delete, transition-stage, search, download URI
//! and tags — MLflow's rules for them over `store::model_versions`. Versions of a name
//! are numbered 1, 2, … and numbers are never reused.

use super::registry_validation as v;
use super::{logged_models, registered_models, runs};
use crate::error::{required, ApiResult, MlflowError};
use crate::store::db::{transaction, Db};
use crate::store::logged_models as logged_model_store;
use crate::store::model_versions::{self as store, NewVersion};
use crate::store::registered_models as model_store;
use crate::util::{page_token, time::now_ms};
use mlflow_wire::registry::{CreateModelVersion, ModelVersion};

fn not_found(name: &str, version: i64) -> MlflowError {
    MlflowError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

/// The live (not deleted) version, or RESOURCE_DOES_NOT_EXIST.
pub fn get(db: &dyn Db, name: &str, version: i64) -> ApiResult<ModelVersion> {
    store::get(db, name, version)?.ok_or_else(|| not_found(name, version))
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
    let source = required(&m.source, "source")?;
    let mut tags = Vec::new();
    for t in &m.tags {
        tags.push(v::tag(t.key.as_deref(), t.value.as_deref())?);
    }
    let resolved = resolve_source(db, m, source)?;
    let version = transaction(db, || {
        registered_models::require(db, name)?;
        let now = now_ms();
        let next = store::next_number(db, name)?;
        store::insert(
            db,
            &NewVersion {
                name,
                version: next,
                now,
                description: m.description.clone(),
                source: &resolved.source,
                storage_location: &resolved.storage_location,
                run_id: resolved.run_id.clone(),
                run_link: m.run_link.clone(),
                model_id: resolved.model_id.clone(),
            },
        )?;
        for (key, value) in &tags {
            store::set_tag(db, name, next, key, value)?;
        }
        model_store::touch(db, name, now)?;
        if let Some(model_id) = &resolved.model_id {
            logged_model_store::record_registration(db, model_id, name, next)?;
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
    store::set_description(db, name, version, description, now_ms())?;
    get(db, name, version)
}

/// Deletes a version: its aliases go, the row stays (redacted) so the number is not reused.
pub fn delete(db: &dyn Db, name: &str, version: i64) -> ApiResult<()> {
    get(db, name, version)?;
    transaction(db, || {
        let now = now_ms();
        crate::store::aliases::delete_of_version(db, name, version)?;
        store::mark_deleted(db, name, version, now)?;
        model_store::touch(db, name, now)
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
            store::archive_others(db, name, version, stage, now)?;
        }
        store::set_stage(db, name, version, stage, now)?;
        model_store::touch(db, name, now)
    })?;
    get(db, name, version)
}

/// Where a client downloads the version's files from.
pub fn download_uri(db: &dyn Db, name: &str, version: i64) -> ApiResult<String> {
    get(db, name, version)?;
    store::download_location(db, name, version)?.ok_or_else(|| not_found(name, version))
}

pub fn set_tag(db: &dyn Db, name: &str, version: i64, key: &str, value: &str) -> ApiResult<()> {
    get(db, name, version)?;
    store::set_tag(db, name, version, key, value)
}

pub fn delete_tag(db: &dyn Db, name: &str, version: i64, key: &str) -> ApiResult<()> {
    get(db, name, version)?;
    store::delete_tag(db, name, version, key)
}

/// One page of search_model_versions and the token of the next page.
pub fn search(
    db: &dyn Db,
    filter: Option<&str>,
    max_results: Option<i64>,
    order_by: &[String],
    token: Option<&str>,
) -> ApiResult<(Vec<ModelVersion>, Option<String>)> {
    let limit = v::max_results(
        max_results,
        v::DEFAULT_SEARCH_VERSIONS,
        v::MAX_SEARCH_VERSIONS,
    )?;
    let offset = page_token::decode(token)?;
    let (versions, has_more) = store::search(db, filter.unwrap_or(""), order_by, limit, offset)?;
    let next = page_token::next(offset, versions.len(), has_more);
    Ok((versions, next))
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
