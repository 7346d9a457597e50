//! The resource behind a guest's Redis `connection`, in its own module so that
//! the bindings (which name it) and the interface code (which uses them) do not
//! import each other.

/// A guest's open connection (a handle onto one multiplexed connection).
pub struct RedisConnection(pub(super) redis::aio::MultiplexedConnection);
