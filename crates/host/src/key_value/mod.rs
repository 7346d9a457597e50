//! Key-value stores, as Spin's key-value factor serves them: the interfaces
//! `fermyon:spin/key-value@2.0.0` (`spin_v2`) and
//! `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2` (`wasi_keyvalue`), both on
//! the same stores. Each binding talks to a store through the
//! [`KeyValueBackend`] trait (`backend`). Spin's `spin` store type has two:
//! a SQLite file (`sqlite_backend`) for a store with a `path`, a map in memory
//! (`memory_backend`) for one without; another type (Redis, ...) would be a
//! module beside them, chosen in `stores`.

mod backend;
mod bindings;
mod memory_backend;
mod spin_v2;
mod sqlite_backend;
mod stores;
mod view;
mod wasi_keyvalue;

pub use backend::{KeyValueBackend, Store};
pub use stores::KvStores;
pub use view::{KeyValueCapability, KeyValueState, KeyValueView};

use anyhow::Result;
use wasmtime::component::Linker;

/// Adds every key-value interface; `view` gives an instance's key-value state.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KeyValueView<'_>,
) -> Result<()> {
    use bindings::{fermyon::spin2_0_0::key_value as v2, wasi::keyvalue as wkv};
    v2::add_to_linker::<_, KeyValueCapability>(linker, view)?;
    wkv::store::add_to_linker::<_, KeyValueCapability>(linker, view)?;
    wkv::atomics::add_to_linker::<_, KeyValueCapability>(linker, view)?;
    wkv::batch::add_to_linker::<_, KeyValueCapability>(linker, view)?;
    Ok(())
}
