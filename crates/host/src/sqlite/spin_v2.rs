//! `fermyon:spin/sqlite@2.0.0` on the instance's connections.

use super::backend::Value;
use super::bindings::fermyon::spin2_0_0::sqlite as v2;
use super::view::{DbError, SqliteView};
use wasmtime::component::Resource;

impl From<DbError> for v2::Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NoSuchDatabase => v2::Error::NoSuchDatabase,
            DbError::AccessDenied => v2::Error::AccessDenied,
            DbError::InvalidConnection => v2::Error::InvalidConnection,
            DbError::Io(m) => v2::Error::Io(m),
        }
    }
}

fn to_v2(v: Value) -> v2::Value {
    match v {
        Value::Integer(i) => v2::Value::Integer(i),
        Value::Real(f) => v2::Value::Real(f),
        Value::Text(s) => v2::Value::Text(s),
        Value::Blob(b) => v2::Value::Blob(b),
        Value::Null => v2::Value::Null,
    }
}

fn from_v2(v: v2::Value) -> Value {
    match v {
        v2::Value::Integer(i) => Value::Integer(i),
        v2::Value::Real(f) => Value::Real(f),
        v2::Value::Text(s) => Value::Text(s),
        v2::Value::Blob(b) => Value::Blob(b),
        v2::Value::Null => Value::Null,
    }
}

impl v2::Host for SqliteView<'_> {}

impl v2::HostConnection for SqliteView<'_> {
    async fn open(
        &mut self,
        database: String,
    ) -> anyhow::Result<Result<Resource<v2::Connection>, v2::Error>> {
        Ok(SqliteView::open(self, database).await?.map_err(Into::into))
    }

    async fn execute(
        &mut self,
        conn: Resource<v2::Connection>,
        statement: String,
        parameters: Vec<v2::Value>,
    ) -> anyhow::Result<Result<v2::QueryResult, v2::Error>> {
        let params = parameters.into_iter().map(from_v2).collect();
        let result = SqliteView::execute(self, &conn, statement, params).await;
        Ok(result
            .map(|r| v2::QueryResult {
                columns: r.columns,
                rows: r
                    .rows
                    .into_iter()
                    .map(|values| v2::RowResult {
                        values: values.into_iter().map(to_v2).collect(),
                    })
                    .collect(),
            })
            .map_err(Into::into))
    }

    async fn drop(&mut self, conn: Resource<v2::Connection>) -> anyhow::Result<()> {
        self.close(conn).await
    }
}
