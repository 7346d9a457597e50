//! Which [`ArtifactStore`] a request uses, from the component's variables:
//! `artifacts_destination` empty (the default) keeps files in the database;
//! `s3://bucket/prefix` puts them in that bucket at `s3_endpoint_url` (`s3_region`,
//! `s3_access_key_id`, `s3_secret_access_key`). A destination that cannot be used
//! fails the artifact requests with the reason, and nothing else.

use super::artifact_store::{ArtifactStore, MisconfiguredStore};
use super::database_artifacts::DatabaseArtifacts;
use super::db::Db;
use super::s3::config::{S3Location, S3Settings};
use super::s3::wasi_http::WasiHttp;
use super::s3::S3Artifacts;
use crate::error::MlflowError;
use spin_sdk::variables;

pub enum ArtifactDestination<'a> {
    Database(DatabaseArtifacts<'a>),
    S3(S3Artifacts<WasiHttp>),
    Misconfigured(MisconfiguredStore),
}

/// A variable's value; one the manifest does not declare reads as empty.
fn variable(name: &str) -> Result<String, MlflowError> {
    match variables::get(name) {
        Ok(value) => Ok(value),
        Err(variables::Error::Undefined(_)) => Ok(String::new()),
        Err(e) => Err(MlflowError::internal(format!(
            "cannot read the variable {name}: {e}"
        ))),
    }
}

fn s3_settings() -> Result<S3Settings, MlflowError> {
    Ok(S3Settings {
        destination: variable("artifacts_destination")?,
        endpoint_url: variable("s3_endpoint_url")?,
        region: variable("s3_region")?,
        access_key_id: variable("s3_access_key_id")?,
        secret_access_key: variable("s3_secret_access_key")?,
    })
}

impl<'a> ArtifactDestination<'a> {
    pub fn from_variables(db: &'a dyn Db) -> Self {
        let chosen = variable("artifacts_destination").and_then(|destination| {
            if destination.trim().is_empty() {
                return Ok(None);
            }
            let at = S3Location::from_settings(&s3_settings()?)?;
            Ok(Some(S3Artifacts::new(at, WasiHttp)))
        });
        match chosen {
            Ok(None) => ArtifactDestination::Database(DatabaseArtifacts(db)),
            Ok(Some(s3)) => ArtifactDestination::S3(s3),
            Err(e) => {
                eprintln!("mlflow-server: {}", e.message);
                ArtifactDestination::Misconfigured(MisconfiguredStore(e))
            }
        }
    }

    pub fn store(&self) -> &dyn ArtifactStore {
        match self {
            ArtifactDestination::Database(db) => db,
            ArtifactDestination::S3(s3) => s3,
            ArtifactDestination::Misconfigured(m) => m,
        }
    }
}
