//! `wasi:config/store@0.2.0-draft-2024-09-27`: a component's variables, as
//! Spin serves them (an undefined name is `none`).

use super::bindings::fermyon::spin2_0_0::variables as v2;
use super::bindings::wasi::config::store as wasi_config;
use super::component_variables::{ComponentVariables, LookupError};

impl wasi_config::Host for ComponentVariables {
    async fn get(
        &mut self,
        key: String,
    ) -> anyhow::Result<Result<Option<String>, wasi_config::Error>> {
        Ok(match self.lookup(&key) {
            Ok(v) => Ok(Some(v)),
            Err(LookupError::Undefined(_)) => Ok(None),
            // The message as `fermyon:spin/variables` would show the error.
            Err(LookupError::InvalidName(m)) => Err(wasi_config::Error::Upstream(format!(
                "{:?}",
                v2::Error::InvalidName(m)
            ))),
        })
    }

    async fn get_all(
        &mut self,
    ) -> anyhow::Result<Result<Vec<(String, String)>, wasi_config::Error>> {
        Ok(Ok(self
            .all()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()))
    }
}
