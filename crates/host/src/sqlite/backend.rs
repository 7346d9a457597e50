//! What a SQL database backend provides: connections that run statements,
//! whichever interface version the guest calls them through.

use crate::instance_id::InstanceId;
use async_trait::async_trait;

/// A database value, independent of the WIT version.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// One labelled database.
#[async_trait]
pub trait Database: Send + Sync {
    /// A connection for `caller` alone: a transaction it begins spans its
    /// later statements.
    async fn connect(&self, caller: InstanceId) -> Result<Box<dyn Connection>, String>;

    /// Runs setup statements before the app serves (`--sqlite`).
    fn execute_batch(&self, sql: &str) -> anyhow::Result<()>;
}

/// One guest connection. Each backend decides where a statement runs, and says
/// so where it is implemented: on the async executor's thread only if it cannot
/// wait for a lock or for I/O that may stall.
#[async_trait]
pub trait Connection: Send {
    /// Runs one statement and collects its rows. An error is a message for the guest.
    async fn execute(
        &mut self,
        statement: String,
        params: Vec<Value>,
    ) -> Result<QueryResult, String>;
    fn last_insert_rowid(&self) -> i64;
    fn changes(&self) -> u64;
    /// Closes the connection, ending (rolling back) a transaction left open,
    /// off the executor's thread. Dropping it does the same where it is dropped
    /// (an instance that ends, a trap included).
    async fn close(self: Box<Self>);
}
