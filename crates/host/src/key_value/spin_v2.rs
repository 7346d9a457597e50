//! `fermyon:spin/key-value@2.0.0` on the instance's stores.

use super::bindings::fermyon::spin2_0_0::key_value as v2;
use super::view::{KeyValueView, OpenError};
use wasmtime::component::Resource;

impl v2::Host for KeyValueView<'_> {}

impl v2::HostStore for KeyValueView<'_> {
    async fn open(
        &mut self,
        label: String,
    ) -> anyhow::Result<Result<Resource<v2::Store>, v2::Error>> {
        Ok(KeyValueView::open(self, &label)?.map_err(|e| match e {
            OpenError::NoSuchStore => v2::Error::NoSuchStore,
            OpenError::AccessDenied => v2::Error::AccessDenied,
        }))
    }

    async fn get(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
    ) -> anyhow::Result<Result<Option<Vec<u8>>, v2::Error>> {
        Ok(self.store(&s)?.get(key).await.map_err(v2::Error::Other))
    }

    async fn set(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
        value: Vec<u8>,
    ) -> anyhow::Result<Result<(), v2::Error>> {
        Ok(self
            .store(&s)?
            .set(key, value)
            .await
            .map_err(v2::Error::Other))
    }

    async fn delete(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
    ) -> anyhow::Result<Result<(), v2::Error>> {
        Ok(self.store(&s)?.delete(key).await.map_err(v2::Error::Other))
    }

    async fn exists(
        &mut self,
        s: Resource<v2::Store>,
        key: String,
    ) -> anyhow::Result<Result<bool, v2::Error>> {
        Ok(self.store(&s)?.exists(key).await.map_err(v2::Error::Other))
    }

    async fn get_keys(
        &mut self,
        s: Resource<v2::Store>,
    ) -> anyhow::Result<Result<Vec<String>, v2::Error>> {
        Ok(self.store(&s)?.keys().await.map_err(v2::Error::Other))
    }

    async fn drop(&mut self, s: Resource<v2::Store>) -> anyhow::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}
