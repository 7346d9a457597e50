//! `spin:postgres/postgres@4.0.0`: the full value mapping and structured
//! database errors.

use super::bindings::spin::postgres4_0_0::postgres as v4;
use super::{PgConnection, PgView};
use wasmtime::component::Resource;

type Outcome<T> = anyhow::Result<Result<T, v4::Error>>;

impl v4::Host for PgView<'_> {}

impl v4::HostConnection for PgView<'_> {
    async fn open(&mut self, address: String) -> Outcome<Resource<PgConnection>> {
        match super::open(self.outbound, &address).await {
            Ok(connection) => Ok(Ok(self.table.push(connection)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn query(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<v4::ParameterValue>,
    ) -> Outcome<v4::RowSet> {
        Ok(super::query(self.client(&c)?, &statement, &params).await)
    }

    async fn execute(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<v4::ParameterValue>,
    ) -> Outcome<u64> {
        Ok(super::execute(self.client(&c)?, &statement, &params).await)
    }

    async fn drop(&mut self, c: Resource<PgConnection>) -> anyhow::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
