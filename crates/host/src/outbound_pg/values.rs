//! PostgreSQL values to and from `spin:postgres/postgres@4.0.0`'s, as Spin
//! 3.6.3 maps them. The older interfaces map onto these (see `spin_v3` etc.).
//!
//! Results: the column's PostgreSQL type picks the variant (bool, bytea,
//! float4/8, int2/4/8, text/varchar/bpchar, timestamp and timestamptz as
//! `datetime`, date, time, uuid, jsonb, numeric as `decimal`, int4range,
//! int8range, numrange, int4[], int8[], numeric[], text[]/varchar[]/bpchar[],
//! interval); NULL is `db-null` and any other type comes back as its binary
//! wire form in `unsupported`. Parameters go out as the Rust type Spin binds
//! them as, so PostgreSQL accepts them for the same column types.

use super::bindings::spin::postgres4_0_0::postgres::{
    DbDataType, DbValue, Interval, ParameterValue, RangeBoundKind, RowSet,
};
use anyhow::{anyhow, bail, Context, Result};
use bytes::BufMut;
use postgres_range::{BoundSided, BoundType, Normalizable, Range, RangeBound};
use rust_decimal::Decimal;
use std::error::Error as StdError;
use tokio_postgres::types::{private::BytesMut, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;

type BoxError = Box<dyn StdError + Sync + Send>;

/// The variant a column of `ty` is reported as.
pub(super) fn column_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(ty.name().to_string()),
    }
}

/// Column `index` of `row`, read as the Rust type `T` (NULL: `db-null`),
/// then made a value by `make`.
fn read<'a, T: FromSql<'a>>(
    row: &'a Row,
    index: usize,
    make: impl FnOnce(T) -> Result<DbValue>,
) -> Result<DbValue> {
    match row.try_get::<_, Option<T>>(index) {
        Ok(Some(value)) => make(value),
        Ok(None) => Ok(DbValue::DbNull),
        // Spin reports the driver's error with its causes.
        Err(e) => Err(anyhow!(super::errors::chain(&e))),
    }
}

/// The value of column `index` of `row`.
pub(super) fn column_value(row: &Row, index: usize) -> Result<DbValue> {
    let ty = row.columns()[index].type_();
    match *ty {
        Type::BOOL => read(row, index, |v| Ok(DbValue::Boolean(v))),
        Type::BYTEA => read(row, index, |v| Ok(DbValue::Binary(v))),
        Type::FLOAT4 => read(row, index, |v| Ok(DbValue::Floating32(v))),
        Type::FLOAT8 => read(row, index, |v| Ok(DbValue::Floating64(v))),
        Type::INT2 => read(row, index, |v| Ok(DbValue::Int16(v))),
        Type::INT4 => read(row, index, |v| Ok(DbValue::Int32(v))),
        Type::INT8 => read(row, index, |v| Ok(DbValue::Int64(v))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => read(row, index, |v| Ok(DbValue::Str(v))),
        // A timestamptz column is read as a timestamp, which the driver
        // refuses: Spin 3.6.3 answers such columns with that error too.
        Type::TIMESTAMP | Type::TIMESTAMPTZ => read(row, index, |v: chrono::NaiveDateTime| {
            use chrono::{Datelike, Timelike};
            Ok(DbValue::Datetime((
                v.year(),
                v.month() as u8,
                v.day() as u8,
                v.hour() as u8,
                v.minute() as u8,
                v.second() as u8,
                v.nanosecond(),
            )))
        }),
        Type::DATE => read(row, index, |v: chrono::NaiveDate| {
            use chrono::Datelike;
            Ok(DbValue::Date((v.year(), v.month() as u8, v.day() as u8)))
        }),
        Type::TIME => read(row, index, |v: chrono::NaiveTime| {
            use chrono::Timelike;
            Ok(DbValue::Time((
                v.hour() as u8,
                v.minute() as u8,
                v.second() as u8,
                v.nanosecond(),
            )))
        }),
        Type::UUID => read(row, index, |v: uuid::Uuid| Ok(DbValue::Uuid(v.to_string()))),
        Type::JSONB => read(row, index, |v: serde_json::Value| {
            Ok(DbValue::Jsonb(
                serde_json::to_vec(&v).context("invalid JSON from database")?,
            ))
        }),
        Type::NUMERIC => read(row, index, |v: Decimal| Ok(DbValue::Decimal(v.to_string()))),
        Type::INT4_RANGE => read(row, index, |v: Range<i32>| {
            Ok(DbValue::RangeInt32(range_out(&v, |x| *x)))
        }),
        Type::INT8_RANGE => read(row, index, |v: Range<i64>| {
            Ok(DbValue::RangeInt64(range_out(&v, |x| *x)))
        }),
        Type::NUM_RANGE => read(row, index, |v: Range<RangeDecimal>| {
            Ok(DbValue::RangeDecimal(range_out(&v, |x| x.0.to_string())))
        }),
        Type::INT4_ARRAY => read(row, index, |v| Ok(DbValue::ArrayInt32(v))),
        Type::INT8_ARRAY => read(row, index, |v| Ok(DbValue::ArrayInt64(v))),
        Type::NUMERIC_ARRAY => read(row, index, |v: Vec<Option<Decimal>>| {
            Ok(DbValue::ArrayDecimal(
                v.into_iter().map(|d| d.map(|d| d.to_string())).collect(),
            ))
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            read(row, index, |v| Ok(DbValue::ArrayStr(v)))
        }
        Type::INTERVAL => read(row, index, |v: WireInterval| Ok(DbValue::Interval(v.0))),
        _ => read(row, index, |v: Raw| Ok(DbValue::Unsupported(v.0))),
    }
}

/// The bytes a value takes in a result, counted as Spin counts them against
/// its limit on what the host buffers.
pub(super) fn size(value: &DbValue) -> usize {
    let own = std::mem::size_of::<DbValue>();
    own + match value {
        DbValue::ArrayInt32(v) => v.len() * std::mem::size_of::<Option<i32>>(),
        DbValue::ArrayInt64(v) => v.len() * std::mem::size_of::<Option<i64>>(),
        DbValue::ArrayDecimal(v) | DbValue::ArrayStr(v) => v
            .iter()
            .map(|s| std::mem::size_of::<Option<String>>() + s.as_ref().map_or(0, String::len))
            .sum(),
        DbValue::Str(s) | DbValue::Uuid(s) | DbValue::Decimal(s) => s.len(),
        DbValue::Jsonb(b) | DbValue::Binary(b) | DbValue::Unsupported(b) => b.len(),
        _ => 0,
    }
}

/// What an empty result set's size starts from.
pub(super) const ROW_SET_SIZE: usize = std::mem::size_of::<RowSet>();

type WitRange<T> = (Option<(T, RangeBoundKind)>, Option<(T, RangeBoundKind)>);

fn kind_out(bound: BoundType) -> RangeBoundKind {
    match bound {
        BoundType::Inclusive => RangeBoundKind::Inclusive,
        BoundType::Exclusive => RangeBoundKind::Exclusive,
    }
}

fn kind_in(kind: RangeBoundKind) -> BoundType {
    match kind {
        RangeBoundKind::Inclusive => BoundType::Inclusive,
        RangeBoundKind::Exclusive => BoundType::Exclusive,
    }
}

/// A range's bounds (an empty range has none, as an unbounded one).
fn range_out<T: PartialOrd + Normalizable, U>(
    range: &Range<T>,
    value: impl Fn(&T) -> U,
) -> WitRange<U> {
    (
        range.lower().map(|b| (value(&b.value), kind_out(b.type_))),
        range.upper().map(|b| (value(&b.value), kind_out(b.type_))),
    )
}

/// A range of integers to send. postgres_range normalises an inclusive
/// upper or exclusive lower bound by adding one, and panics at the type's
/// maximum; such a bound is refused here instead (Spin's host panics).
fn int_range_in<T>(range: &WitRange<T>, max: T) -> Result<Range<T>>
where
    T: Copy + PartialOrd + Normalizable + std::fmt::Display,
{
    let (lower, upper) = range;
    for (bound, normalised) in [
        (lower, RangeBoundKind::Exclusive),
        (upper, RangeBoundKind::Inclusive),
    ] {
        if let Some((v, kind)) = bound {
            if *kind == normalised && *v == max {
                bail!("range bound {v} is out of range");
            }
        }
    }
    Ok(Range::new(
        lower.map(|(v, k)| RangeBound::new(v, kind_in(k))),
        upper.map(|(v, k)| RangeBound::new(v, kind_in(k))),
    ))
}

fn decimal_in(text: &str) -> Result<Decimal> {
    Decimal::from_str_exact(text).with_context(|| format!("invalid decimal {text}"))
}

fn decimal_bound_in<S: BoundSided>(
    bound: &Option<(String, RangeBoundKind)>,
) -> Result<Option<RangeBound<S, RangeDecimal>>> {
    bound
        .as_ref()
        .map(|(v, k)| Ok(RangeBound::new(RangeDecimal(decimal_in(v)?), kind_in(*k))))
        .transpose()
}

fn date_in(&(y, m, d): &(i32, u8, u8)) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(y, m.into(), d.into())
        .ok_or_else(|| anyhow!("invalid date y={y}, m={m}, d={d}"))
}

fn time_in(&(h, min, s, ns): &(u8, u8, u8, u32)) -> Result<chrono::NaiveTime> {
    chrono::NaiveTime::from_hms_nano_opt(h.into(), min.into(), s.into(), ns)
        .ok_or_else(|| anyhow!("invalid time {h}:{min}:{s}:{ns}"))
}

/// A parameter, bound as the Rust type Spin binds it as.
pub(super) fn parameter(value: &ParameterValue) -> Result<Box<dyn ToSql + Send + Sync>> {
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(*v),
        ParameterValue::Int8(v) => Box::new(*v),
        ParameterValue::Int16(v) => Box::new(*v),
        ParameterValue::Int32(v) => Box::new(*v),
        ParameterValue::Int64(v) => Box::new(*v),
        ParameterValue::Floating32(v) => Box::new(*v),
        ParameterValue::Floating64(v) => Box::new(*v),
        ParameterValue::Str(v) => Box::new(v.clone()),
        ParameterValue::Binary(v) => Box::new(v.clone()),
        ParameterValue::Date(v) => Box::new(date_in(v)?),
        ParameterValue::Time(v) => Box::new(time_in(v)?),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => Box::new(chrono::NaiveDateTime::new(
            date_in(&(*y, *mo, *d))?,
            time_in(&(*h, *mi, *s, *ns))?,
        )),
        // Seconds since the epoch, sent as a timestamptz.
        ParameterValue::Timestamp(v) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(*v, 0)
                .ok_or_else(|| anyhow!("invalid epoch timestamp {v}"))?,
        ),
        ParameterValue::Uuid(v) => {
            Box::new(uuid::Uuid::parse_str(v).with_context(|| format!("invalid UUID {v}"))?)
        }
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(v)
                .with_context(|| format!("invalid JSON {}", String::from_utf8_lossy(v)))?,
        ),
        ParameterValue::Decimal(v) => Box::new(decimal_in(v)?),
        ParameterValue::RangeInt32(v) => Box::new(int_range_in(v, i32::MAX)?),
        ParameterValue::RangeInt64(v) => Box::new(int_range_in(v, i64::MAX)?),
        ParameterValue::RangeDecimal((lower, upper)) => Box::new(Range::new(
            decimal_bound_in(lower)?,
            decimal_bound_in(upper)?,
        )),
        ParameterValue::ArrayInt32(v) => Box::new(v.clone()),
        ParameterValue::ArrayInt64(v) => Box::new(v.clone()),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| d.as_deref().map(decimal_in).transpose())
                .collect::<Result<Vec<_>>>()?,
        ),
        ParameterValue::ArrayStr(v) => Box::new(v.clone()),
        ParameterValue::Interval(v) => Box::new(WireInterval(*v)),
        ParameterValue::DbNull => Box::new(Null),
    })
}

/// A numeric usable as a range bound (postgres_range wants `Normalizable`;
/// numeric ranges are continuous, so bounds stay as they are).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct RangeDecimal(Decimal);

impl Normalizable for RangeDecimal {
    fn normalize<S: BoundSided>(bound: RangeBound<S, Self>) -> RangeBound<S, Self> {
        bound
    }
}

impl ToSql for RangeDecimal {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <Decimal as ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for RangeDecimal {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Decimal::from_sql(ty, raw).map(RangeDecimal)
    }

    fn accepts(ty: &Type) -> bool {
        <Decimal as FromSql>::accepts(ty)
    }
}

/// An interval in PostgreSQL's binary form: microseconds (i64), days (i32),
/// months (i32), big-endian.
#[derive(Debug)]
struct WireInterval(Interval);

impl ToSql for WireInterval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_i64(self.0.micros);
        out.put_i32(self.0.days);
        out.put_i32(self.0.months);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for WireInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let bytes: [u8; 16] = raw
            .try_into()
            .map_err(|_| "unexpected binary format for Postgres INTERVAL")?;
        let [m0, m1, m2, m3, m4, m5, m6, m7, d0, d1, d2, d3, n0, n1, n2, n3] = bytes;
        Ok(WireInterval(Interval {
            micros: i64::from_be_bytes([m0, m1, m2, m3, m4, m5, m6, m7]),
            days: i32::from_be_bytes([d0, d1, d2, d3]),
            months: i32::from_be_bytes([n0, n1, n2, n3]),
        }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

/// Any value, as the bytes PostgreSQL sent.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// NULL for a parameter of any type (an `Option::<T>::None` would still
/// have to be of a type PostgreSQL accepts for the parameter).
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_range_bounds_that_cannot_be_normalised_are_refused() {
        let top = (None, Some((i32::MAX, RangeBoundKind::Inclusive)));
        assert!(int_range_in(&top, i32::MAX).is_err());
        let bottom = (Some((i64::MAX, RangeBoundKind::Exclusive)), None);
        assert!(int_range_in(&bottom, i64::MAX).is_err());
        let fine = (
            Some((1, RangeBoundKind::Inclusive)),
            Some((i32::MAX, RangeBoundKind::Exclusive)),
        );
        assert!(int_range_in(&fine, i32::MAX).is_ok());
    }

    #[test]
    fn parameters_that_do_not_parse_say_why() {
        let e = parameter(&ParameterValue::Uuid("nope".into()))
            .err()
            .unwrap();
        assert!(super::super::errors::anyhow_text(&e)
            .starts_with("invalid UUID nope\n\nCaused by:\n    "));
        let e = parameter(&ParameterValue::Date((2024, 2, 30)))
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "invalid date y=2024, m=2, d=30");
        let e = parameter(&ParameterValue::Timestamp(i64::MAX))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            format!("invalid epoch timestamp {}", i64::MAX)
        );
    }

    #[test]
    fn intervals_use_the_wire_layout() {
        let interval = Interval {
            micros: -5,
            days: 3,
            months: -14,
        };
        let mut out = BytesMut::new();
        WireInterval(interval)
            .to_sql(&Type::INTERVAL, &mut out)
            .unwrap();
        let back = WireInterval::from_sql(&Type::INTERVAL, &out).unwrap().0;
        assert_eq!((back.micros, back.days, back.months), (-5, 3, -14));
        assert!(WireInterval::from_sql(&Type::INTERVAL, &out[1..]).is_err());
    }
}
