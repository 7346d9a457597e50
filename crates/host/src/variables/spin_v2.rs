//! `fermyon:spin/variables@2.0.0`: a component's variables.

use super::bindings::fermyon::spin2_0_0::variables as v2;
use super::component_variables::{ComponentVariables, LookupError};

impl v2::Host for ComponentVariables {
    async fn get(&mut self, name: String) -> anyhow::Result<Result<String, v2::Error>> {
        Ok(self.lookup(&name).map_err(|e| match e {
            LookupError::InvalidName(m) => v2::Error::InvalidName(m),
            LookupError::Undefined(m) => v2::Error::Undefined(m),
        }))
    }
}
