//! Variables, as Spin's variables factor serves them: application variables
//! (`app_variables`), the component variables rendered from them
//! (`component_variables`), and the interfaces a guest reads them through,
//! `fermyon:spin/variables@2.0.0` (`spin_v2`) and `wasi:config/store`
//! (`wasi_config`).

mod app_variables;
mod bindings;
mod component_variables;
mod spin_v2;
mod wasi_config;

pub use app_variables::AppVariables;
pub use component_variables::ComponentVariables;

use anyhow::Result;
use wasmtime::component::{HasSelf, Linker};

/// Adds every variables interface; `variables` gives an instance's variables.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    variables: fn(&mut T) -> &mut ComponentVariables,
) -> Result<()> {
    use bindings::{fermyon::spin2_0_0::variables as v2, wasi::config::store as wasi_config};
    v2::add_to_linker::<_, HasSelf<ComponentVariables>>(linker, variables)?;
    wasi_config::add_to_linker::<_, HasSelf<ComponentVariables>>(linker, variables)?;
    Ok(())
}

/// The manifest the variables tests share: one variable with a default, one required secret.
#[cfg(test)]
fn test_manifest() -> crate::manifest::Manifest {
    crate::manifest::parse(
        r#"
        spin_manifest_version = 2
        [application]
        name = "t"
        [variables]
        greeting = { default = "hello" }
        token = { required = true, secret = true }
        "#,
    )
    .unwrap()
}
