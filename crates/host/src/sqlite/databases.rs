//! Every SQL database of the app, by label, each on the backend its runtime
//! config chose (today always Spin's `spin` type: local SQLite).

use super::backend::Database;
use super::local_backend::LocalDatabase;
use crate::runtime_config::StorageLocation;
use crate::sqlite_pool::Pool;
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Default)]
pub struct Databases {
    databases: HashMap<String, Arc<dyn Database>>,
}

impl Databases {
    pub fn open(locations: &BTreeMap<String, StorageLocation>) -> Result<Self> {
        let databases = locations
            .iter()
            .map(|(label, location)| {
                let database: Arc<dyn Database> =
                    Arc::new(LocalDatabase::new(Pool::open(location)?));
                Ok((label.clone(), database))
            })
            .collect::<Result<_>>()?;
        Ok(Self { databases })
    }

    /// These databases, by label.
    #[cfg(test)]
    pub fn from_databases(
        databases: impl IntoIterator<Item = (String, Arc<dyn Database>)>,
    ) -> Self {
        Self {
            databases: databases.into_iter().collect(),
        }
    }

    pub fn get(&self, label: &str) -> Option<&Arc<dyn Database>> {
        self.databases.get(label)
    }

    /// Runs setup statements (`--sqlite`) against a database before serving.
    pub fn execute_batch(&self, label: &str, sql: &str) -> Result<()> {
        self.get(label)
            .ok_or_else(|| anyhow::anyhow!("no sqlite database labelled `{label}`"))?
            .execute_batch(sql)
    }
}
