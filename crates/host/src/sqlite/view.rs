//! The SQLite capability of one instance: which databases it may open, and
//! its open connections, whichever interface version opened them.

use super::backend::{Connection, QueryResult, Value};
use super::databases::Databases;
use crate::instance_id::InstanceId;
use std::collections::HashSet;
use std::sync::Arc;
use wasmtime::component::{HasData, Resource, ResourceTable};

#[derive(Clone)]
pub struct SqliteState {
    pub databases: Arc<Databases>,
    /// Labels the component declared in `sqlite_databases`.
    pub allowed: Arc<HashSet<String>>,
}

/// A guest `connection` resource.
pub struct ConnectionHandle(Box<dyn Connection>);

pub struct SqliteView<'a> {
    pub state: &'a SqliteState,
    pub table: &'a mut ResourceTable,
    /// The instance making the calls.
    pub instance: InstanceId,
}

pub struct SqliteCapability;
impl HasData for SqliteCapability {
    type Data<'a> = SqliteView<'a>;
}

/// Errors in the shape every interface version shares.
pub enum DbError {
    NoSuchDatabase,
    AccessDenied,
    InvalidConnection,
    Io(String),
}

impl SqliteView<'_> {
    pub async fn open(
        &mut self,
        database: String,
    ) -> anyhow::Result<Result<Resource<ConnectionHandle>, DbError>> {
        if !self.state.allowed.contains(&database) {
            return Ok(Err(DbError::AccessDenied));
        }
        let Some(db) = self.state.databases.get(&database).cloned() else {
            return Ok(Err(DbError::NoSuchDatabase));
        };
        match db.connect(self.instance).await {
            Ok(conn) => Ok(Ok(self.table.push(ConnectionHandle(conn))?)),
            Err(e) => Ok(Err(DbError::Io(e))),
        }
    }

    pub async fn execute(
        &mut self,
        conn: &Resource<ConnectionHandle>,
        statement: String,
        params: Vec<Value>,
    ) -> Result<QueryResult, DbError> {
        let Ok(handle) = self.table.get_mut(conn) else {
            return Err(DbError::InvalidConnection);
        };
        handle
            .0
            .execute(statement, params)
            .await
            .map_err(DbError::Io)
    }

    pub fn with_conn<R>(
        &mut self,
        conn: &Resource<ConnectionHandle>,
        f: impl FnOnce(&dyn Connection) -> R,
    ) -> anyhow::Result<R> {
        Ok(f(self.table.get(conn)?.0.as_ref()))
    }

    pub async fn close(&mut self, conn: Resource<ConnectionHandle>) -> anyhow::Result<()> {
        let handle = self.table.delete(conn)?;
        handle.0.close().await;
        Ok(())
    }
}
