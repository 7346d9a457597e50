//! Every key-value store of the app, by label, each on the backend its
//! runtime config chose (today always Spin's `spin` type: SQLite).

use super::backend::Store;
use super::sqlite_backend;
use crate::runtime_config::StorageLocation;
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct KvStores {
    stores: HashMap<String, Store>,
}

impl KvStores {
    /// Opens every configured store.
    pub fn open(locations: &BTreeMap<String, StorageLocation>) -> Result<Self> {
        let stores = sqlite_backend::open_stores(locations)?
            .into_iter()
            .map(|(label, backend)| (label, Store::new(backend)))
            .collect();
        Ok(Self { stores })
    }

    /// The store labelled `label`, as the host sees it.
    pub fn get(&self, label: &str) -> Option<&Store> {
        self.stores.get(label)
    }
}
