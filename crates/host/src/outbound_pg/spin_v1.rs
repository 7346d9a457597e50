//! The unversioned `fermyon:spin/postgres` of Spin 1: every call names the
//! address, and runs on a connection taken from its pool for that call.
//! Values and errors are those of `fermyon:spin/postgres@2.0.0`, with the
//! interface's own error type (`other-error` for `other`).

use super::bindings::fermyon::spin::{postgres as pg, rdbms_types as v1};
use super::bindings::spin::postgres4_0_0::postgres as v4;
use super::PgView;

type Outcome<T> = anyhow::Result<Result<T, pg::PgError>>;

super::spin_v2::rdbms_conversions!(super::bindings::fermyon::spin::rdbms_types);

fn error(error: v4::Error) -> pg::PgError {
    match error {
        v4::Error::ConnectionFailed(e) => pg::PgError::ConnectionFailed(e),
        v4::Error::BadParameter(e) => pg::PgError::BadParameter(e),
        v4::Error::QueryFailed(e) => pg::PgError::QueryFailed(super::spin_v3::query_error_text(e)),
        v4::Error::ValueConversionFailed(e) => pg::PgError::ValueConversionFailed(e),
        v4::Error::Other(e) => pg::PgError::OtherError(e),
    }
}

impl v1::Host for PgView<'_> {}

impl pg::Host for PgView<'_> {
    async fn query(
        &mut self,
        address: String,
        statement: String,
        params: Vec<v1::ParameterValue>,
    ) -> Outcome<v1::RowSet> {
        let connection = match super::open(self.outbound, &address).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(error(e))),
        };
        let Some(params) = parameters(params) else {
            return Ok(Err(pg::PgError::ValueConversionFailed(UNSIGNED.into())));
        };
        let result = super::query(connection.client(), &statement, &params).await;
        Ok(result.map(rows).map_err(error))
    }

    async fn execute(
        &mut self,
        address: String,
        statement: String,
        params: Vec<v1::ParameterValue>,
    ) -> Outcome<u64> {
        let connection = match super::open(self.outbound, &address).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(error(e))),
        };
        let Some(params) = parameters(params) else {
            return Ok(Err(pg::PgError::ValueConversionFailed(UNSIGNED.into())));
        };
        let result = super::execute(connection.client(), &statement, &params).await;
        Ok(result.map_err(error))
    }
}
