//! SQL databases, as Spin's SQLite factor serves them: the interfaces
//! `fermyon:spin/sqlite@2.0.0` (`spin_v2`) and `spin:sqlite/sqlite@3.0.0`
//! (`spin_v3`), both on the same connections. Each binding talks to a database
//! through the [`Database`] and [`Connection`] traits (`backend`); the one
//! backend is local SQLite (`local_backend`, Spin's `spin` database type, which
//! says where its statements run), and another one (libSQL, PostgreSQL, ...)
//! would be a module beside it, chosen in `databases`.

mod backend;
mod bindings;
mod databases;
mod local_backend;
mod spin_v2;
mod spin_v3;
mod statement;
#[cfg(test)]
mod tests;
mod view;

pub use backend::{Connection, Database, QueryResult, Value};
pub use databases::Databases;
pub use statement::run_statement;
pub use view::{SqliteCapability, SqliteState, SqliteView};

use anyhow::Result;
use wasmtime::component::Linker;

/// Adds every SQLite interface; `view` gives an instance's SQLite state.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SqliteView<'_>,
) -> Result<()> {
    use bindings::{fermyon::spin2_0_0::sqlite as v2, spin::sqlite::sqlite as v3};
    v2::add_to_linker::<_, SqliteCapability>(linker, view)?;
    v3::add_to_linker::<_, SqliteCapability>(linker, view)?;
    Ok(())
}
