//! Which [`ArtifactStore`] a request uses, from the component's variables:
//! `artifacts_destination` empty (the default) keeps files in the database;
//! `s3://bucket/prefix` puts them in that bucket at `s3_endpoint_url` (`s3_region`,
//! `s3_access_key_id`, `s3_secret_access_key`). A destination that cannot be used
//! fails the artifact requests with the reason, and nothing else. [`LazyDestination`]
//! reads the variables on a request's first artifact operation, so that the requests
//! that touch no artifact (most of them) do not.

use super::artifact_store::{ArtifactReader, ArtifactStore, ArtifactWriter, MisconfiguredStore};
use super::database_artifacts::DatabaseArtifacts;
use super::db::Db;
use super::s3::config::{S3Location, S3Settings};
use super::s3::wasi_http::WasiHttp;
use super::s3::S3Artifacts;
use crate::error::{ApiResult, MlflowError};
use spin_sdk::variables;
use std::cell::OnceCell;
use std::collections::BTreeMap;

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

/// A request's destination, chosen ([`ArtifactDestination::from_variables`]) when an
/// artifact operation first needs it.
pub struct LazyDestination<'a> {
    db: &'a dyn Db,
    chosen: OnceCell<ArtifactDestination<'a>>,
}

impl<'a> LazyDestination<'a> {
    pub fn new(db: &'a dyn Db) -> Self {
        LazyDestination {
            db,
            chosen: OnceCell::new(),
        }
    }

    fn store(&self) -> &dyn ArtifactStore {
        self.chosen
            .get_or_init(|| ArtifactDestination::from_variables(self.db))
            .store()
    }
}

impl ArtifactStore for LazyDestination<'_> {
    fn children(&self, dir: &str) -> ApiResult<BTreeMap<String, Option<i64>>> {
        self.store().children(dir)
    }
    fn is_dir(&self, path: &str) -> ApiResult<bool> {
        self.store().is_dir(path)
    }
    fn open(&self, path: &str) -> ApiResult<Option<Box<dyn ArtifactReader + '_>>> {
        self.store().open(path)
    }
    fn create(&self, path: &str) -> ApiResult<Box<dyn ArtifactWriter + '_>> {
        self.store().create(path)
    }
    fn delete(&self, path: &str) -> ApiResult<()> {
        self.store().delete(path)
    }
    fn put(&self, path: &str, bytes: &[u8]) -> ApiResult<()> {
        self.store().put(path, bytes)
    }
    fn get(&self, path: &str) -> ApiResult<Option<Vec<u8>>> {
        self.store().get(path)
    }
}
