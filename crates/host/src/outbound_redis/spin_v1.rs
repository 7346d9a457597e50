//! The unversioned `fermyon:spin/redis` of Spin 1: every call names the
//! address and gets a connection of its own; every failure is the one
//! `error` value, as in Spin.

use super::bindings::fermyon::spin::{redis as v1, redis_types};
use super::{Param, RedisView, Reply};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;

type Outcome<T> = anyhow::Result<Result<T, redis_types::Error>>;

async fn connect(
    outbound: &crate::outbound_http::OutboundHooks,
    address: &str,
) -> Result<MultiplexedConnection, redis_types::Error> {
    super::connect(outbound, address)
        .await
        .map(|c| c.0)
        .map_err(|_| redis_types::Error::Error)
}

/// Runs `op` on a fresh connection to `address`; any failure is `error`.
macro_rules! on_connection {
    ($self:ident, $address:expr, |$conn:ident| $op:expr) => {{
        let mut $conn = match connect($self.outbound, &$address).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok($op.await.map_err(|_| redis_types::Error::Error))
    }};
}

impl redis_types::Host for RedisView<'_> {}

impl v1::Host for RedisView<'_> {
    async fn publish(&mut self, address: String, channel: String, payload: Vec<u8>) -> Outcome<()> {
        on_connection!(self, address, |conn| conn
            .publish::<_, _, ()>(&channel, &payload))
    }

    async fn get(&mut self, address: String, key: String) -> Outcome<Vec<u8>> {
        let value: Outcome<Option<Vec<u8>>> =
            on_connection!(self, address, |conn| conn.get::<_, Option<Vec<u8>>>(&key));
        Ok(value?.and_then(|v| match v {
            Some(v) if v.len() > super::MAX_RESULT_BYTES => Err(redis_types::Error::Error),
            v => Ok(v.unwrap_or_default()),
        }))
    }

    async fn set(&mut self, address: String, key: String, value: Vec<u8>) -> Outcome<()> {
        on_connection!(self, address, |conn| conn.set::<_, _, ()>(&key, &value))
    }

    async fn incr(&mut self, address: String, key: String) -> Outcome<i64> {
        on_connection!(self, address, |conn| conn.incr::<_, _, i64>(&key, 1))
    }

    async fn del(&mut self, address: String, keys: Vec<String>) -> Outcome<i64> {
        on_connection!(self, address, |conn| conn.del::<_, i64>(&keys))
    }

    async fn sadd(&mut self, address: String, key: String, values: Vec<String>) -> Outcome<i64> {
        on_connection!(self, address, |conn| conn.sadd::<_, _, i64>(&key, &values))
    }

    async fn smembers(&mut self, address: String, key: String) -> Outcome<Vec<String>> {
        on_connection!(self, address, |conn| conn.smembers::<_, Vec<String>>(&key))
    }

    async fn srem(&mut self, address: String, key: String, values: Vec<String>) -> Outcome<i64> {
        on_connection!(self, address, |conn| conn.srem::<_, _, i64>(&key, &values))
    }

    async fn execute(
        &mut self,
        address: String,
        command: String,
        arguments: Vec<redis_types::RedisParameter>,
    ) -> Outcome<Vec<redis_types::RedisResult>> {
        let args = arguments.into_iter().map(|a| match a {
            redis_types::RedisParameter::Int64(v) => Param::Int64(v),
            redis_types::RedisParameter::Binary(v) => Param::Binary(v),
        });
        let replies: Outcome<Vec<Reply>> = on_connection!(self, address, |conn| super::execute(
            &mut conn, &command, args
        ));
        Ok(replies?.map(|r| r.into_iter().map(result).collect()))
    }
}

fn result(reply: Reply) -> redis_types::RedisResult {
    match reply {
        Reply::Nil => redis_types::RedisResult::Nil,
        Reply::Status(s) => redis_types::RedisResult::Status(s),
        Reply::Int64(v) => redis_types::RedisResult::Int64(v),
        Reply::Binary(b) => redis_types::RedisResult::Binary(b),
    }
}
