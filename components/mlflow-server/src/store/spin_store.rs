//! The database of a request in the component: Spin SQLite `default` or PostgreSQL
//! through Spin's outbound PostgreSQL interface, as `database_url` selects
//! ([`super::select`]), behind one [`Db`].

use super::select::{database_of, Database, DATABASE_URL};
use crate::error::StoreError;
use crate::store::db::{Db, Dialect, Row, SqlValue};
use crate::store::pg_spin::SpinPgDb;
use crate::store::spin::SpinDb;

/// The database a request works on.
pub enum SpinStore {
    Sqlite(SpinDb),
    Postgres(SpinPgDb),
}

/// Opens the database `database_url` selects. A manifest without the variable
/// keeps Spin SQLite.
pub fn open() -> Result<SpinStore, StoreError> {
    let url = match spin_sdk::variables::get(DATABASE_URL) {
        Ok(url) => url,
        Err(spin_sdk::variables::Error::Undefined(_)) => String::new(),
        Err(e) => return Err(StoreError(format!("cannot read {DATABASE_URL}: {e:?}"))),
    };
    match database_of(&url)? {
        Database::SpinSqlite => SpinDb::open_default().map(SpinStore::Sqlite),
        Database::Postgres => SpinPgDb::open(url.trim()).map(SpinStore::Postgres),
    }
}

impl Db for SpinStore {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        match self {
            SpinStore::Sqlite(db) => db.execute(sql, params),
            SpinStore::Postgres(db) => db.execute(sql, params),
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            SpinStore::Sqlite(db) => db.dialect(),
            SpinStore::Postgres(db) => db.dialect(),
        }
    }
}
