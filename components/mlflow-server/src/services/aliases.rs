//! Registered-model aliases: set (onto a live version), delete, and resolve (`latest`
//! being the highest live version) — over `store::aliases`.

use super::{model_versions, registered_models};
use crate::error::{ApiResult, MlflowError};
use crate::store::aliases as store;
use crate::store::db::Db;
use mlflow_wire::registry::ModelVersion;

/// Points `alias` at `version` (moving it when it exists); the version must be live.
pub fn set_alias(db: &dyn Db, name: &str, alias: &str, version: i64) -> ApiResult<()> {
    model_versions::get(db, name, version)?;
    store::set(db, name, alias, version)
}

pub fn delete_alias(db: &dyn Db, name: &str, alias: &str) -> ApiResult<()> {
    registered_models::require(db, name)?;
    store::delete(db, name, alias)
}

/// The version an alias points at. `latest` is the highest live version. A missing
/// alias is INVALID_PARAMETER_VALUE (400), as MLflow answers.
pub fn version_by_alias(db: &dyn Db, name: &str, alias: &str) -> ApiResult<ModelVersion> {
    registered_models::require(db, name)?;
    if alias.eq_ignore_ascii_case("latest") {
        return registered_models::latest_versions(db, name, &[])?
            .into_iter()
            .max_by_key(|mv| mv.version.parse::<i64>().unwrap_or(0))
            .ok_or_else(|| {
                MlflowError::not_found(format!("Latest version not found for model {name}."))
            });
    }
    let version = store::version_of(db, name, alias)?.ok_or_else(|| {
        MlflowError::invalid(format!("Registered model alias {alias} not found."))
    })?;
    model_versions::get(db, name, version)
}
