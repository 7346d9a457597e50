//! `fermyon:spin/redis@2.0.0`: connections opened once, used for many commands.

use super::bindings::fermyon::spin2_0_0::redis as v2;
use super::{OpenError, Param, RedisConnection, RedisView, Reply};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use wasmtime::component::Resource;

type Outcome<T> = anyhow::Result<Result<T, v2::Error>>;

fn other(e: impl std::fmt::Display) -> v2::Error {
    v2::Error::Other(e.to_string())
}

impl RedisView<'_> {
    /// A handle onto the guest's connection (cheap: the connection is multiplexed).
    fn conn(&self, c: &Resource<RedisConnection>) -> anyhow::Result<MultiplexedConnection> {
        Ok(self.table.get(c)?.0.clone())
    }
}

impl v2::Host for RedisView<'_> {}

impl v2::HostConnection for RedisView<'_> {
    async fn open(&mut self, address: String) -> Outcome<Resource<RedisConnection>> {
        match super::connect(self.outbound, &address).await {
            Ok(connection) => Ok(Ok(self.table.push(connection)?)),
            Err(OpenError::InvalidAddress) => Ok(Err(v2::Error::InvalidAddress)),
            Err(OpenError::Other(e)) => Ok(Err(v2::Error::Other(e))),
        }
    }

    async fn publish(
        &mut self,
        c: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Outcome<()> {
        let mut conn = self.conn(&c)?;
        Ok(conn.publish(&channel, &payload).await.map_err(other))
    }

    async fn get(&mut self, c: Resource<RedisConnection>, key: String) -> Outcome<Option<Vec<u8>>> {
        let mut conn = self.conn(&c)?;
        Ok(match conn.get::<_, Option<Vec<u8>>>(&key).await {
            Ok(Some(v)) if v.len() > super::MAX_RESULT_BYTES => Err(v2::Error::Other(format!(
                "query result exceeds limit of {} bytes",
                super::MAX_RESULT_BYTES
            ))),
            Ok(v) => Ok(v),
            Err(e) => Err(other(e)),
        })
    }

    async fn set(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> Outcome<()> {
        let mut conn = self.conn(&c)?;
        Ok(conn.set(&key, &value).await.map_err(other))
    }

    async fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> Outcome<i64> {
        let mut conn = self.conn(&c)?;
        Ok(conn.incr(&key, 1).await.map_err(other))
    }

    async fn del(&mut self, c: Resource<RedisConnection>, keys: Vec<String>) -> Outcome<u32> {
        let mut conn = self.conn(&c)?;
        Ok(conn.del(&keys).await.map_err(other))
    }

    async fn sadd(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Outcome<u32> {
        let mut conn = self.conn(&c)?;
        Ok(conn.sadd(&key, &values).await.map_err(|e| {
            if e.kind() == redis::ErrorKind::TypeError {
                v2::Error::TypeError
            } else {
                other(e)
            }
        }))
    }

    async fn smembers(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Outcome<Vec<String>> {
        let mut conn = self.conn(&c)?;
        Ok(conn.smembers(&key).await.map_err(other))
    }

    async fn srem(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Outcome<u32> {
        let mut conn = self.conn(&c)?;
        Ok(conn.srem(&key, &values).await.map_err(other))
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<v2::RedisParameter>,
    ) -> Outcome<Vec<v2::RedisResult>> {
        let mut conn = self.conn(&c)?;
        let args = arguments.into_iter().map(|a| match a {
            v2::RedisParameter::Int64(v) => Param::Int64(v),
            v2::RedisParameter::Binary(v) => Param::Binary(v),
        });
        Ok(super::execute(&mut conn, &command, args)
            .await
            .map(|replies| replies.into_iter().map(result).collect())
            .map_err(v2::Error::Other))
    }

    async fn drop(&mut self, c: Resource<RedisConnection>) -> anyhow::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

fn result(reply: Reply) -> v2::RedisResult {
    match reply {
        Reply::Nil => v2::RedisResult::Nil,
        Reply::Status(s) => v2::RedisResult::Status(s),
        Reply::Int64(v) => v2::RedisResult::Int64(v),
        Reply::Binary(b) => v2::RedisResult::Binary(b),
    }
}
