//! An in-memory database with every migration applied, for unit tests.

use super::migrations::ensure_schema;
use super::native::NativeDb;

pub fn db() -> NativeDb {
    let db = NativeDb::open_in_memory();
    ensure_schema(&db).expect("migrations apply");
    db
}
