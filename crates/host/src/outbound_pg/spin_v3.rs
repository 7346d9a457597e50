//! `spin:postgres/postgres@3.0.0`: dates and times but none of 4.0.0's later
//! types. Values 3.0.0 lacks (uuid, jsonb, numeric, ranges, arrays,
//! intervals) come back `unsupported` and their columns `other`, and a
//! database error is its text only, as in Spin.

use super::bindings::spin::postgres3_0_0::postgres as v3;
use super::bindings::spin::postgres4_0_0::postgres as v4;
use super::{PgConnection, PgView};
use wasmtime::component::Resource;

type Outcome<T> = anyhow::Result<Result<T, v3::Error>>;

fn parameter(value: v3::ParameterValue) -> v4::ParameterValue {
    use v3::ParameterValue as P;
    match value {
        P::Boolean(v) => v4::ParameterValue::Boolean(v),
        P::Int8(v) => v4::ParameterValue::Int8(v),
        P::Int16(v) => v4::ParameterValue::Int16(v),
        P::Int32(v) => v4::ParameterValue::Int32(v),
        P::Int64(v) => v4::ParameterValue::Int64(v),
        P::Floating32(v) => v4::ParameterValue::Floating32(v),
        P::Floating64(v) => v4::ParameterValue::Floating64(v),
        P::Str(v) => v4::ParameterValue::Str(v),
        P::Binary(v) => v4::ParameterValue::Binary(v),
        P::Date(v) => v4::ParameterValue::Date(v),
        P::Time(v) => v4::ParameterValue::Time(v),
        P::Datetime(v) => v4::ParameterValue::Datetime(v),
        P::Timestamp(v) => v4::ParameterValue::Timestamp(v),
        P::DbNull => v4::ParameterValue::DbNull,
    }
}

fn value(value: v4::DbValue) -> v3::DbValue {
    use v4::DbValue as V;
    match value {
        V::Boolean(v) => v3::DbValue::Boolean(v),
        V::Int8(v) => v3::DbValue::Int8(v),
        V::Int16(v) => v3::DbValue::Int16(v),
        V::Int32(v) => v3::DbValue::Int32(v),
        V::Int64(v) => v3::DbValue::Int64(v),
        V::Floating32(v) => v3::DbValue::Floating32(v),
        V::Floating64(v) => v3::DbValue::Floating64(v),
        V::Str(v) => v3::DbValue::Str(v),
        V::Binary(v) => v3::DbValue::Binary(v),
        V::Date(v) => v3::DbValue::Date(v),
        V::Time(v) => v3::DbValue::Time(v),
        V::Datetime(v) => v3::DbValue::Datetime(v),
        V::Timestamp(v) => v3::DbValue::Timestamp(v),
        V::DbNull => v3::DbValue::DbNull,
        V::Uuid(_)
        | V::Jsonb(_)
        | V::Decimal(_)
        | V::RangeInt32(_)
        | V::RangeInt64(_)
        | V::RangeDecimal(_)
        | V::ArrayInt32(_)
        | V::ArrayInt64(_)
        | V::ArrayDecimal(_)
        | V::ArrayStr(_)
        | V::Interval(_)
        | V::Unsupported(_) => v3::DbValue::Unsupported,
    }
}

fn data_type(ty: v4::DbDataType) -> v3::DbDataType {
    use v4::DbDataType as T;
    match ty {
        T::Boolean => v3::DbDataType::Boolean,
        T::Int8 => v3::DbDataType::Int8,
        T::Int16 => v3::DbDataType::Int16,
        T::Int32 => v3::DbDataType::Int32,
        T::Int64 => v3::DbDataType::Int64,
        T::Floating32 => v3::DbDataType::Floating32,
        T::Floating64 => v3::DbDataType::Floating64,
        T::Str => v3::DbDataType::Str,
        T::Binary => v3::DbDataType::Binary,
        T::Date => v3::DbDataType::Date,
        T::Time => v3::DbDataType::Time,
        T::Datetime => v3::DbDataType::Datetime,
        T::Timestamp => v3::DbDataType::Timestamp,
        T::Uuid
        | T::Jsonb
        | T::Decimal
        | T::RangeInt32
        | T::RangeInt64
        | T::RangeDecimal
        | T::ArrayInt32
        | T::ArrayInt64
        | T::ArrayDecimal
        | T::ArrayStr
        | T::Interval
        | T::Other(_) => v3::DbDataType::Other,
    }
}

fn rows(set: v4::RowSet) -> v3::RowSet {
    v3::RowSet {
        columns: set
            .columns
            .into_iter()
            .map(|c| v3::Column {
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

/// A database error's text (its `as-text` when structured).
pub(super) fn query_error_text(error: v4::QueryError) -> String {
    match error {
        v4::QueryError::Text(text) => text,
        v4::QueryError::DbError(e) => e.as_text,
    }
}

fn error(error: v4::Error) -> v3::Error {
    match error {
        v4::Error::ConnectionFailed(e) => v3::Error::ConnectionFailed(e),
        v4::Error::BadParameter(e) => v3::Error::BadParameter(e),
        v4::Error::QueryFailed(e) => v3::Error::QueryFailed(query_error_text(e)),
        v4::Error::ValueConversionFailed(e) => v3::Error::ValueConversionFailed(e),
        v4::Error::Other(e) => v3::Error::Other(e),
    }
}

impl v3::Host for PgView<'_> {}

impl v3::HostConnection for PgView<'_> {
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
        params: Vec<v3::ParameterValue>,
    ) -> Outcome<v3::RowSet> {
        let params: Vec<_> = params.into_iter().map(parameter).collect();
        let result = super::query(self.client(&c)?, &statement, &params).await;
        Ok(result.map(rows).map_err(error))
    }

    async fn execute(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<v3::ParameterValue>,
    ) -> Outcome<u64> {
        let params: Vec<_> = params.into_iter().map(parameter).collect();
        let result = super::execute(self.client(&c)?, &statement, &params).await;
        Ok(result.map_err(error))
    }

    async fn drop(&mut self, c: Resource<PgConnection>) -> anyhow::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
