//! `spin:sqlite/sqlite@3.0.0` on the instance's connections.

use super::backend::Value;
use super::bindings::spin::sqlite::sqlite as v3;
use super::view::{DbError, SqliteView};
use wasmtime::component::Resource;

impl From<DbError> for v3::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NoSuchDatabase => v3::Error::NoSuchDatabase,
            DbError::AccessDenied => v3::Error::AccessDenied,
            DbError::InvalidConnection => v3::Error::InvalidConnection,
            DbError::Io(m) => v3::Error::Io(m),
        }
    }
}

fn to_v3(v: Value) -> v3::Value {
    match v {
        Value::Integer(i) => v3::Value::Integer(i),
        Value::Real(f) => v3::Value::Real(f),
        Value::Text(s) => v3::Value::Text(s),
        Value::Blob(b) => v3::Value::Blob(b),
        Value::Null => v3::Value::Null,
    }
}

fn from_v3(v: v3::Value) -> Value {
    match v {
        v3::Value::Integer(i) => Value::Integer(i),
        v3::Value::Real(f) => Value::Real(f),
        v3::Value::Text(s) => Value::Text(s),
        v3::Value::Blob(b) => Value::Blob(b),
        v3::Value::Null => Value::Null,
    }
}

impl v3::Host for SqliteView<'_> {}

impl v3::HostConnection for SqliteView<'_> {
    async fn open(
        &mut self,
        database: String,
    ) -> anyhow::Result<Result<Resource<v3::Connection>, v3::Error>> {
        Ok(SqliteView::open(self, database).await?.map_err(Into::into))
    }

    async fn execute(
        &mut self,
        conn: Resource<v3::Connection>,
        statement: String,
        parameters: Vec<v3::Value>,
    ) -> anyhow::Result<Result<v3::QueryResult, v3::Error>> {
        let params = parameters.into_iter().map(from_v3).collect();
        let result = SqliteView::execute(self, &conn, statement, params).await;
        Ok(result
            .map(|r| v3::QueryResult {
                columns: r.columns,
                rows: r
                    .rows
                    .into_iter()
                    .map(|values| v3::RowResult {
                        values: values.into_iter().map(to_v3).collect(),
                    })
                    .collect(),
            })
            .map_err(Into::into))
    }

    async fn last_insert_rowid(&mut self, conn: Resource<v3::Connection>) -> anyhow::Result<i64> {
        self.with_conn(&conn, |c| c.last_insert_rowid())
    }

    async fn changes(&mut self, conn: Resource<v3::Connection>) -> anyhow::Result<u64> {
        self.with_conn(&conn, |c| c.changes())
    }

    async fn drop(&mut self, conn: Resource<v3::Connection>) -> anyhow::Result<()> {
        self.close(conn).await
    }
}
