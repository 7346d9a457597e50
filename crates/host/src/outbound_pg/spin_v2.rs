//! `fermyon:spin/postgres@2.0.0` (types from `fermyon:spin/rdbms-types@2.0.0`):
//! integers, floats, strings and binary only. Unsigned parameters are refused
//! (PostgreSQL has no unsigned integers); other values come back
//! `unsupported` and their columns `other`, as in Spin.

use super::bindings::fermyon::spin2_0_0::{postgres as pg, rdbms_types as v2};
use super::bindings::spin::postgres4_0_0::postgres as v4;
use super::{PgConnection, PgView};
use wasmtime::component::Resource;

type Outcome<T> = anyhow::Result<Result<T, v2::Error>>;

/// Conversions between 4.0.0's values and those of an `rdbms-types`
/// interface (`fermyon:spin/rdbms-types@2.0.0` and the unversioned one have
/// the same variants).
macro_rules! rdbms_conversions {
    ($types:path) => {
        use $types as rdbms;

        /// A parameter, or `None` for an unsigned integer.
        fn parameter(value: rdbms::ParameterValue) -> Option<v4::ParameterValue> {
            use rdbms::ParameterValue as P;
            Some(match value {
                P::Boolean(v) => v4::ParameterValue::Boolean(v),
                P::Int8(v) => v4::ParameterValue::Int8(v),
                P::Int16(v) => v4::ParameterValue::Int16(v),
                P::Int32(v) => v4::ParameterValue::Int32(v),
                P::Int64(v) => v4::ParameterValue::Int64(v),
                P::Uint8(_) | P::Uint16(_) | P::Uint32(_) | P::Uint64(_) => return None,
                P::Floating32(v) => v4::ParameterValue::Floating32(v),
                P::Floating64(v) => v4::ParameterValue::Floating64(v),
                P::Str(v) => v4::ParameterValue::Str(v),
                P::Binary(v) => v4::ParameterValue::Binary(v),
                P::DbNull => v4::ParameterValue::DbNull,
            })
        }

        /// The parameters, or `None` if one is an unsigned integer.
        fn parameters(params: Vec<rdbms::ParameterValue>) -> Option<Vec<v4::ParameterValue>> {
            params.into_iter().map(parameter).collect()
        }

        const UNSIGNED: &str = "Postgres does not support unsigned integers";

        fn value(value: v4::DbValue) -> rdbms::DbValue {
            use v4::DbValue as V;
            match value {
                V::Boolean(v) => rdbms::DbValue::Boolean(v),
                V::Int8(v) => rdbms::DbValue::Int8(v),
                V::Int16(v) => rdbms::DbValue::Int16(v),
                V::Int32(v) => rdbms::DbValue::Int32(v),
                V::Int64(v) => rdbms::DbValue::Int64(v),
                V::Floating32(v) => rdbms::DbValue::Floating32(v),
                V::Floating64(v) => rdbms::DbValue::Floating64(v),
                V::Str(v) => rdbms::DbValue::Str(v),
                V::Binary(v) => rdbms::DbValue::Binary(v),
                V::DbNull => rdbms::DbValue::DbNull,
                _ => rdbms::DbValue::Unsupported,
            }
        }

        fn data_type(ty: v4::DbDataType) -> rdbms::DbDataType {
            use v4::DbDataType as T;
            match ty {
                T::Boolean => rdbms::DbDataType::Boolean,
                T::Int8 => rdbms::DbDataType::Int8,
                T::Int16 => rdbms::DbDataType::Int16,
                T::Int32 => rdbms::DbDataType::Int32,
                T::Int64 => rdbms::DbDataType::Int64,
                T::Floating32 => rdbms::DbDataType::Floating32,
                T::Floating64 => rdbms::DbDataType::Floating64,
                T::Str => rdbms::DbDataType::Str,
                T::Binary => rdbms::DbDataType::Binary,
                _ => rdbms::DbDataType::Other,
            }
        }

        fn rows(set: v4::RowSet) -> rdbms::RowSet {
            rdbms::RowSet {
                columns: set
                    .columns
                    .into_iter()
                    .map(|c| rdbms::Column {
                        name: c.name,
                        data_type: data_type(c.data_type),
                    })
                    .collect(),
                rows: set
                    .rows
                    .into_iter()
                    .map(|row| row.into_iter().map(value).collect())
                    .collect(),
            }
        }
    };
}
pub(super) use rdbms_conversions;

rdbms_conversions!(super::bindings::fermyon::spin2_0_0::rdbms_types);

fn error(error: v4::Error) -> v2::Error {
    match error {
        v4::Error::ConnectionFailed(e) => v2::Error::ConnectionFailed(e),
        v4::Error::BadParameter(e) => v2::Error::BadParameter(e),
        v4::Error::QueryFailed(e) => v2::Error::QueryFailed(super::spin_v3::query_error_text(e)),
        v4::Error::ValueConversionFailed(e) => v2::Error::ValueConversionFailed(e),
        v4::Error::Other(e) => v2::Error::Other(e),
    }
}

impl v2::Host for PgView<'_> {}
impl pg::Host for PgView<'_> {}

impl pg::HostConnection for PgView<'_> {
    async fn open(&mut self, address: String) -> Outcome<Resource<PgConnection>> {
        match super::open(self.outbound, &address).await {
            Ok(connection) => Ok(Ok(self.table.push(connection)?)),
            Err(e) => Ok(Err(error(e))),
        }
    }

    async fn query(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<v2::ParameterValue>,
    ) -> Outcome<v2::RowSet> {
        let Some(params) = parameters(params) else {
            return Ok(Err(v2::Error::ValueConversionFailed(UNSIGNED.into())));
        };
        let result = super::query(self.client(&c)?, &statement, &params).await;
        Ok(result.map(rows).map_err(error))
    }

    async fn execute(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<v2::ParameterValue>,
    ) -> Outcome<u64> {
        let Some(params) = parameters(params) else {
            return Ok(Err(v2::Error::ValueConversionFailed(UNSIGNED.into())));
        };
        let result = super::execute(self.client(&c)?, &statement, &params).await;
        Ok(result.map_err(error))
    }

    async fn drop(&mut self, c: Resource<PgConnection>) -> anyhow::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
