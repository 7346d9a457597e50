//! Outbound Redis, as Spin's outbound-redis factor serves it:
//! `fermyon:spin/redis@2.0.0` (connections as resources, `spin_v2`) and the
//! unversioned `fermyon:spin/redis` of Spin 1 (an address per call, `spin_v1`).
//! An address is usable only if `allowed_outbound_hosts` allows it, scheme
//! included (`redis://host:port` does not allow `rediss://host:port`); the
//! client is the `redis` crate's multiplexed tokio connection, as in Spin.
//! `redis://` servers are reached over TCP, `rediss://` ones over TLS
//! (rustls, where Spin has native-tls): the server's certificate and name
//! are verified against the system's trust store (`SSL_CERT_FILE`,
//! `SSL_CERT_DIR`), read at each connection as the crate reads it, except
//! with the crate's `rediss://host:port/#insecure`, which verifies nothing.

mod bindings;
mod connection;
mod spin_v1;
mod spin_v2;

use crate::outbound_http::OutboundHooks;
use anyhow::Result;
pub use connection::RedisConnection;
use wasmtime::component::{HasData, Linker, ResourceTable};

/// What the Redis interfaces see of an instance.
pub struct RedisView<'a> {
    pub outbound: &'a OutboundHooks,
    pub table: &'a mut ResourceTable,
}

pub struct RedisCapability;
impl HasData for RedisCapability {
    type Data<'a> = RedisView<'a>;
}

/// Largest result the host buffers for a guest (Spin's limit).
const MAX_RESULT_BYTES: usize = 128 << 20;

/// Why a connection could not be opened.
enum OpenError {
    /// Not allowed by `allowed_outbound_hosts`, or not a Redis URL.
    InvalidAddress,
    Other(String),
}

/// Checks `address` against the component's allow-list, then connects.
async fn connect(outbound: &OutboundHooks, address: &str) -> Result<RedisConnection, OpenError> {
    {
        match outbound.allows_url(address, "redis") {
            Ok(true) => {}
            Ok(false) => return Err(OpenError::InvalidAddress),
            Err(e) => return Err(OpenError::Other(e)),
        }
        let client = redis::Client::open(address).map_err(|_| OpenError::InvalidAddress)?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| OpenError::Other(e.to_string()))?;
        Ok(RedisConnection(connection))
    }
}

/// Adds both Redis interfaces; `view` gives an instance's parts.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> RedisView<'_>,
) -> Result<()> {
    use bindings::fermyon::{spin::redis as v1, spin::redis_types, spin2_0_0::redis as v2};
    v2::add_to_linker::<_, RedisCapability>(linker, view)?;
    v1::add_to_linker::<_, RedisCapability>(linker, view)?;
    redis_types::add_to_linker::<_, RedisCapability>(linker, view)?;
    Ok(())
}

/// A reply to `execute`, flattened as Spin flattens it (arrays and sets
/// spliced in; maps and verbatim strings refused).
struct Flattened(Vec<Reply>);

enum Reply {
    Nil,
    Status(String),
    Int64(i64),
    Binary(Vec<u8>),
}

impl Reply {
    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
            + match self {
                Reply::Status(s) => s.len(),
                Reply::Binary(b) => b.len(),
                Reply::Nil | Reply::Int64(_) => 0,
            }
    }
}

impl redis::FromRedisValue for Flattened {
    fn from_redis_value(value: &redis::Value) -> redis::RedisResult<Self> {
        fn flatten(value: &redis::Value, out: &mut Vec<Reply>) -> redis::RedisResult<()> {
            use redis::Value;
            let unsupported = |what: &str| {
                Err(redis::RedisError::from((
                    redis::ErrorKind::TypeError,
                    "Could not convert Redis response",
                    format!("Redis {what} type is not supported"),
                )))
            };
            match value {
                Value::Nil => out.push(Reply::Nil),
                Value::Int(v) => out.push(Reply::Int64(*v)),
                Value::BulkString(b) => out.push(Reply::Binary(b.clone())),
                Value::SimpleString(s) => out.push(Reply::Status(s.clone())),
                Value::Okay => out.push(Reply::Status("OK".into())),
                Value::Array(items) | Value::Set(items) => {
                    for item in items {
                        flatten(item, out)?;
                    }
                }
                Value::Double(v) => out.push(Reply::Binary(v.to_string().into_bytes())),
                Value::Boolean(v) => out.push(Reply::Int64(i64::from(*v))),
                Value::BigNumber(v) => out.push(Reply::Binary(v.to_string().into_bytes())),
                Value::Map(_) => return unsupported("Map"),
                Value::Attribute { .. } => return unsupported("Attribute"),
                Value::VerbatimString { .. } => return unsupported("verbatim string"),
                Value::Push { .. } => return unsupported("Push"),
                Value::ServerError(e) => {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::ResponseError,
                        "server error",
                        format!("{e:?}"),
                    )))
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        flatten(value, &mut out)?;
        Ok(Flattened(out))
    }
}

/// Runs `command` with integer or binary `args` on `connection`.
async fn execute(
    connection: &mut redis::aio::MultiplexedConnection,
    command: &str,
    args: impl IntoIterator<Item = Param>,
) -> Result<Vec<Reply>, String> {
    let mut cmd = redis::cmd(command);
    for arg in args {
        match arg {
            Param::Int64(v) => cmd.arg(v),
            Param::Binary(v) => cmd.arg(v),
        };
    }
    let replies = cmd
        .query_async::<Flattened>(connection)
        .await
        .map_err(|e| e.to_string())?
        .0;
    let size: usize = replies.iter().map(Reply::size).sum();
    if size > MAX_RESULT_BYTES {
        return Err(format!(
            "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
        ));
    }
    Ok(replies)
}

enum Param {
    Int64(i64),
    Binary(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound_http::allowed_hosts::AllowedHosts;
    use std::sync::Arc;

    fn hooks(allowed: &[&str]) -> OutboundHooks {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        OutboundHooks {
            component_id: "c".into(),
            allowed: Arc::new(AllowedHosts::parse(&allowed).unwrap()),
            chaining: None,
        }
    }

    #[test]
    fn the_allow_list_matches_rediss_literally_as_spin_does() {
        for address in [
            "rediss://127.0.0.1:6380",
            "rediss://127.0.0.1:6380/#insecure",
        ] {
            let allows = |list: &[&str]| hooks(list).allows_url(address, "redis");
            assert_eq!(allows(&["redis://127.0.0.1:6380"]), Ok(false), "{address}");
            assert_eq!(allows(&["rediss://127.0.0.1:6380"]), Ok(true), "{address}");
            assert_eq!(allows(&["*://127.0.0.1:6380"]), Ok(true), "{address}");
        }
        // `rediss` has no default port, in the list or in the address.
        assert!(AllowedHosts::parse(&["rediss://127.0.0.1".into()]).is_err());
        let no_port = hooks(&["rediss://127.0.0.1:6379"]).allows_url("rediss://127.0.0.1", "redis");
        assert_eq!(no_port, Ok(false));
    }

    #[tokio::test]
    async fn a_fragment_other_than_insecure_is_an_invalid_address() {
        let outbound = hooks(&["rediss://127.0.0.1:1"]);
        let result = connect(&outbound, "rediss://127.0.0.1:1/#secure").await;
        assert!(matches!(result, Err(OpenError::InvalidAddress)));
        // Nothing listens there: the address itself was accepted.
        let result = connect(&outbound, "rediss://127.0.0.1:1/#insecure").await;
        assert!(matches!(result, Err(OpenError::Other(_))));
    }
}
