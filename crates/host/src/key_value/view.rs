//! The key-value capability of one instance: which stores it may open, and
//! the resources (stores, compare-and-swap handles) it holds.

use super::backend::Store;
use super::stores::KvStores;
use crate::instance_id::InstanceId;
use std::collections::HashSet;
use std::sync::Arc;
use wasmtime::component::{HasData, Resource, ResourceTable};

/// The key-value capability of one instance.
#[derive(Clone)]
pub struct KeyValueState {
    pub stores: Arc<KvStores>,
    /// Labels the component declared in `key_value_stores`.
    pub allowed: Arc<HashSet<String>>,
}

/// A guest store (fermyon) or bucket (wasi:keyvalue) resource.
pub struct StoreHandle {
    pub(super) store: Store,
}

/// A wasi:keyvalue compare-and-swap handle: the value seen when it was made.
pub struct CasHandle {
    pub(super) store: Store,
    pub(super) key: String,
    pub(super) current: Option<Vec<u8>>,
}

pub struct KeyValueView<'a> {
    pub state: &'a KeyValueState,
    pub table: &'a mut ResourceTable,
    /// The instance making the calls.
    pub instance: InstanceId,
}

pub struct KeyValueCapability;
impl HasData for KeyValueCapability {
    type Data<'a> = KeyValueView<'a>;
}

pub(super) enum OpenError {
    NoSuchStore,
    AccessDenied,
}

impl KeyValueView<'_> {
    pub(super) fn open(
        &mut self,
        label: &str,
    ) -> anyhow::Result<Result<Resource<StoreHandle>, OpenError>> {
        if !self.state.allowed.contains(label) {
            return Ok(Err(OpenError::AccessDenied));
        }
        let Some(store) = self.state.stores.get(label) else {
            return Ok(Err(OpenError::NoSuchStore));
        };
        Ok(Ok(self.table.push(StoreHandle {
            store: store.for_instance(self.instance),
        })?))
    }

    pub(super) fn store(&self, handle: &Resource<StoreHandle>) -> anyhow::Result<Store> {
        Ok(self.table.get(handle)?.store.clone())
    }
}
