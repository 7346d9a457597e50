//! `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2` on the instance's stores
//! (a bucket is a store; `list-keys` answers every key in one page).

use super::bindings::wasi::keyvalue as wkv;
use super::view::{CasHandle, KeyValueView, OpenError};
use wasmtime::component::Resource;

impl wkv::store::Host for KeyValueView<'_> {
    async fn open(
        &mut self,
        identifier: String,
    ) -> anyhow::Result<Result<Resource<wkv::store::Bucket>, wkv::store::Error>> {
        Ok(KeyValueView::open(self, &identifier)?.map_err(|e| match e {
            OpenError::NoSuchStore => wkv::store::Error::NoSuchStore,
            OpenError::AccessDenied => wkv::store::Error::AccessDenied,
        }))
    }
}

impl wkv::store::HostBucket for KeyValueView<'_> {
    async fn get(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<Option<Vec<u8>>, wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .get(key)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn set(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .set(key, value)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn delete(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .delete(key)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn exists(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<bool, wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .exists(key)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn list_keys(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        _cursor: Option<String>,
    ) -> anyhow::Result<Result<wkv::store::KeyResponse, wkv::store::Error>> {
        // Every key in one page: the cursor is always `none`.
        Ok(self
            .store(&b)?
            .keys()
            .await
            .map(|keys| wkv::store::KeyResponse { keys, cursor: None })
            .map_err(wkv::store::Error::Other))
    }

    async fn drop(&mut self, b: Resource<wkv::store::Bucket>) -> anyhow::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl wkv::atomics::Host for KeyValueView<'_> {
    async fn increment(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
        delta: i64,
    ) -> anyhow::Result<Result<i64, wkv::store::Error>> {
        Ok(self
            .store(&b)?
            .increment(key, delta)
            .await
            .map_err(wkv::store::Error::Other))
    }

    async fn swap(
        &mut self,
        cas: Resource<wkv::atomics::Cas>,
        value: Vec<u8>,
    ) -> anyhow::Result<Result<(), wkv::atomics::CasError>> {
        let handle = self.table.get(&cas)?;
        let (store, key, expected) = (
            handle.store.clone(),
            handle.key.clone(),
            handle.current.clone(),
        );
        match store.compare_and_swap(key, expected, value).await {
            Ok(true) => {
                self.table.delete(cas)?;
                Ok(Ok(()))
            }
            // The guest gets its CAS handle back to retry with.
            Ok(false) => Ok(Err(wkv::atomics::CasError::CasFailed(cas))),
            Err(e) => {
                self.table.delete(cas)?;
                Ok(Err(wkv::atomics::CasError::StoreError(
                    wkv::store::Error::Other(e),
                )))
            }
        }
    }
}

impl wkv::atomics::HostCas for KeyValueView<'_> {
    async fn new(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key: String,
    ) -> anyhow::Result<Result<Resource<wkv::atomics::Cas>, wkv::store::Error>> {
        let store = self.store(&b)?;
        let current = match store.get(key.clone()).await {
            Ok(v) => v,
            Err(e) => return Ok(Err(wkv::store::Error::Other(e))),
        };
        Ok(Ok(self.table.push(CasHandle {
            store,
            key,
            current,
        })?))
    }

    async fn current(
        &mut self,
        cas: Resource<wkv::atomics::Cas>,
    ) -> anyhow::Result<Result<Option<Vec<u8>>, wkv::store::Error>> {
        Ok(Ok(self.table.get(&cas)?.current.clone()))
    }

    async fn drop(&mut self, cas: Resource<wkv::atomics::Cas>) -> anyhow::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl wkv::batch::Host for KeyValueView<'_> {
    async fn get_many(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        keys: Vec<String>,
    ) -> anyhow::Result<Result<Vec<(String, Option<Vec<u8>>)>, wkv::store::Error>> {
        let store = self.store(&b)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match store.get(key.clone()).await {
                Ok(v) => out.push((key, v)),
                Err(e) => return Ok(Err(wkv::store::Error::Other(e))),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        let store = self.store(&b)?;
        for (key, value) in key_values {
            if let Err(e) = store.set(key, value).await {
                return Ok(Err(wkv::store::Error::Other(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(
        &mut self,
        b: Resource<wkv::store::Bucket>,
        keys: Vec<String>,
    ) -> anyhow::Result<Result<(), wkv::store::Error>> {
        let store = self.store(&b)?;
        for key in keys {
            if let Err(e) = store.delete(key).await {
                return Ok(Err(wkv::store::Error::Other(e)));
            }
        }
        Ok(Ok(()))
    }
}
