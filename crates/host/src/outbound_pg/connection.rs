//! The resource behind a guest's `connection` (every interface version).

/// A guest's open connection: one taken from its address's pool, handed
/// back when the guest drops it (or its instance ends).
pub struct PgConnection(pub(super) deadpool_postgres::Object);
