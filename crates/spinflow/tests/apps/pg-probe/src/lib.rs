//! A Spin component for testing outbound PostgreSQL: `POST /?v=V` with a
//! JSON body
//!
//! ```json
//! {"address": "postgres://...", "steps": [
//!     {"op": "execute", "sql": "INSERT ... $1", "params": [{"t": "int32", "v": 5}]},
//!     {"op": "query", "sql": "SELECT ...", "params": []}
//! ]}
//! ```
//!
//! opens one connection to `address` through interface version `V` (`4`:
//! `spin:postgres/postgres@4.0.0`, `3`: `spin:postgres/postgres@3.0.0`, `2`:
//! `fermyon:spin/postgres@2.0.0`; `1`: Spin 1's unversioned
//! `fermyon:spin/postgres`, which has no connections: each step names the
//! address, and `open` always answers `ok`), runs the steps on it in order,
//! and answers 200 with JSON:
//!
//! ```json
//! {"open": "ok", "steps": [{"ok": 1}, {"ok": {"columns": ["n: DbDataType::Int32"], "rows": [["DbValue::Int32(5)"]]}}]}
//! ```
//!
//! A failed `open` is `{"open": "<the error>"}`; a failed step is
//! `{"err": "<the error>"}` (with `"code"` for a 4.0.0 database error), and
//! later steps still run. Errors and values are the bindings' debug forms,
//! except bytes: `binary` and `unsupported` as hex, `jsonb` as text.
//!
//! Parameters are `{"t": TYPE, "v": VALUE}` with TYPE a variant name of the
//! interface's `parameter-value` (`db-null` takes no value). Tuples and lists
//! are JSON arrays, a range bound is `[value, "inclusive"|"exclusive"]` or
//! null, an interval `[micros, days, months]`, bytes (`binary`) hex, `jsonb`
//! the JSON text, floats numbers or `"NaN"`, `"inf"`, `"-inf"`.

// The interfaces' `error`s are as large as they are.
#![allow(clippy::result_large_err)]

use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;
use spin_sdk::wit::{pg3, pg4, v2};
use std::fmt::Debug;

/// Spin 1's unversioned interfaces, bound from spin-sdk's WIT by build.rs.
mod v1 {
    include!(concat!(env!("OUT_DIR"), "/v1_bindings.rs"));
}
use v1::fermyon::spin::{postgres as pg1, rdbms_types as v1_types};

#[http_component]
fn handle(req: Request) -> Response {
    let version = req
        .query()
        .split('&')
        .find_map(|kv| kv.strip_prefix("v="))
        .unwrap_or("4")
        .to_string();
    let answer = match serde_json::from_slice::<Value>(req.body()) {
        Ok(body) => run_version(&version, &body),
        Err(e) => Err(format!("bad request body: {e}")),
    };
    match answer {
        Ok(report) => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(report.to_string())
            .build(),
        Err(message) => Response::new(400, message),
    }
}

fn run_version(version: &str, body: &Value) -> Result<Value, String> {
    let address = body["address"].as_str().ok_or("no address")?;
    let steps = body["steps"].as_array().cloned().unwrap_or_default();
    match version {
        "4" => Ok(run(
            address,
            &steps,
            pg4::Connection::open,
            to_v4,
            |c, sql, params| c.query(sql, params),
            |c, sql, params| c.execute(sql, params),
            rows_v4,
            |e| match e {
                pg4::Error::QueryFailed(pg4::QueryError::DbError(db)) => Some(db.code.clone()),
                _ => None,
            },
        )),
        "3" => Ok(run(
            address,
            &steps,
            pg3::Connection::open,
            to_v3,
            |c, sql, params| c.query(sql, params),
            |c, sql, params| c.execute(sql, params),
            rows_v3,
            |_| None,
        )),
        "2" => Ok(run(
            address,
            &steps,
            v2::postgres::Connection::open,
            to_v2,
            |c, sql, params| c.query(sql, params),
            |c, sql, params| c.execute(sql, params),
            rows_v2,
            |_| None,
        )),
        "1" => Ok(run(
            address,
            &steps,
            |a| Ok::<String, pg1::PgError>(a.to_string()),
            to_v1,
            |a, sql, params| pg1::query(a, sql, params),
            |a, sql, params| pg1::execute(a, sql, params),
            rows_v1,
            |_| None,
        )),
        other => Err(format!("unknown interface version {other}")),
    }
}

/// Opens a connection, then runs each step on it.
#[allow(clippy::too_many_arguments)]
fn run<C, P, R, E: Debug>(
    address: &str,
    steps: &[Value],
    open: impl Fn(&str) -> Result<C, E>,
    param: impl Fn(Param) -> Result<P, String>,
    query: impl Fn(&C, &str, &[P]) -> Result<R, E>,
    execute: impl Fn(&C, &str, &[P]) -> Result<u64, E>,
    render: impl Fn(&R) -> Value,
    code: impl Fn(&E) -> Option<String>,
) -> Value {
    let connection = match open(address) {
        Ok(c) => c,
        Err(e) => return json!({ "open": format!("{e:?}") }),
    };
    let mut reports = Vec::new();
    for step in steps {
        let sql = step["sql"].as_str().unwrap_or_default();
        let params = step["params"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|p| Param::parse(p).and_then(&param))
            .collect::<Result<Vec<P>, String>>();
        let params = match params {
            Ok(p) => p,
            Err(e) => {
                reports.push(json!({ "probe-error": e }));
                continue;
            }
        };
        let outcome = match step["op"].as_str() {
            Some("query") => query(&connection, sql, &params).map(|r| render(&r)),
            Some("execute") => execute(&connection, sql, &params).map(|n| json!(n)),
            other => {
                reports.push(json!({ "probe-error": format!("unknown op {other:?}") }));
                continue;
            }
        };
        reports.push(match outcome {
            Ok(v) => json!({ "ok": v }),
            Err(e) => match code(&e) {
                Some(code) => json!({ "err": format!("{e:?}"), "code": code }),
                None => json!({ "err": format!("{e:?}") }),
            },
        });
    }
    json!({ "open": "ok", "steps": reports })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| format!("bad hex {text:?}"))
        })
        .collect()
}

type Bound<T> = Option<(T, bool)>;

/// A parameter as the request gives it, before it is made one of an
/// interface version's values.
enum Param {
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Uint8(u8),
    Uint16(u16),
    Uint32(u32),
    Uint64(u64),
    Floating32(f32),
    Floating64(f64),
    Str(String),
    Binary(Vec<u8>),
    Date((i32, u8, u8)),
    Time((u8, u8, u8, u32)),
    Datetime((i32, u8, u8, u8, u8, u8, u32)),
    Timestamp(i64),
    Uuid(String),
    Jsonb(Vec<u8>),
    Decimal(String),
    RangeInt32((Bound<i32>, Bound<i32>)),
    RangeInt64((Bound<i64>, Bound<i64>)),
    RangeDecimal((Bound<String>, Bound<String>)),
    ArrayInt32(Vec<Option<i32>>),
    ArrayInt64(Vec<Option<i64>>),
    ArrayDecimal(Vec<Option<String>>),
    ArrayStr(Vec<Option<String>>),
    Interval((i64, i32, i32)),
    DbNull,
}

fn from<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("bad value {v}: {e}"))
}

fn float(v: &Value) -> Result<f64, String> {
    match v {
        Value::String(s) => s.parse().map_err(|_| format!("bad float {s}")),
        v => v.as_f64().ok_or_else(|| format!("bad float {v}")),
    }
}

/// A range bound: `[value, "inclusive"|"exclusive"]` or null.
fn bound<T: serde::de::DeserializeOwned>(v: &Value) -> Result<Bound<T>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let (value, kind): (T, String) = from(v)?;
    Ok(Some((value, kind == "inclusive")))
}

fn range<T: serde::de::DeserializeOwned>(v: &Value) -> Result<(Bound<T>, Bound<T>), String> {
    Ok((bound(&v[0])?, bound(&v[1])?))
}

impl Param {
    fn parse(p: &Value) -> Result<Param, String> {
        let v = &p["v"];
        Ok(match p["t"].as_str().unwrap_or_default() {
            "boolean" => Param::Boolean(from(v)?),
            "int8" => Param::Int8(from(v)?),
            "int16" => Param::Int16(from(v)?),
            "int32" => Param::Int32(from(v)?),
            "int64" => Param::Int64(from(v)?),
            "uint8" => Param::Uint8(from(v)?),
            "uint16" => Param::Uint16(from(v)?),
            "uint32" => Param::Uint32(from(v)?),
            "uint64" => Param::Uint64(from(v)?),
            "floating32" => Param::Floating32(float(v)? as f32),
            "floating64" => Param::Floating64(float(v)?),
            "str" => Param::Str(from(v)?),
            "binary" => Param::Binary(unhex(v.as_str().unwrap_or_default())?),
            "date" => Param::Date(from(v)?),
            "time" => Param::Time(from(v)?),
            "datetime" => Param::Datetime(from(v)?),
            "timestamp" => Param::Timestamp(from(v)?),
            "uuid" => Param::Uuid(from(v)?),
            "jsonb" => Param::Jsonb(v.as_str().unwrap_or_default().as_bytes().to_vec()),
            "decimal" => Param::Decimal(from(v)?),
            "range-int32" => Param::RangeInt32(range(v)?),
            "range-int64" => Param::RangeInt64(range(v)?),
            "range-decimal" => Param::RangeDecimal(range(v)?),
            "array-int32" => Param::ArrayInt32(from(v)?),
            "array-int64" => Param::ArrayInt64(from(v)?),
            "array-decimal" => Param::ArrayDecimal(from(v)?),
            "array-str" => Param::ArrayStr(from(v)?),
            "interval" => Param::Interval(from(v)?),
            "db-null" => Param::DbNull,
            other => return Err(format!("unknown parameter type {other:?}")),
        })
    }
}

fn not_in(version: &str) -> String {
    format!("parameter type not in {version}")
}

fn to_v4(p: Param) -> Result<pg4::ParameterValue, String> {
    use pg4::ParameterValue as P;
    fn kind(inclusive: bool) -> pg4::RangeBoundKind {
        if inclusive {
            pg4::RangeBoundKind::Inclusive
        } else {
            pg4::RangeBoundKind::Exclusive
        }
    }
    fn b<T>(bound: Bound<T>) -> Option<(T, pg4::RangeBoundKind)> {
        bound.map(|(v, inclusive)| (v, kind(inclusive)))
    }
    Ok(match p {
        Param::Boolean(v) => P::Boolean(v),
        Param::Int8(v) => P::Int8(v),
        Param::Int16(v) => P::Int16(v),
        Param::Int32(v) => P::Int32(v),
        Param::Int64(v) => P::Int64(v),
        Param::Floating32(v) => P::Floating32(v),
        Param::Floating64(v) => P::Floating64(v),
        Param::Str(v) => P::Str(v),
        Param::Binary(v) => P::Binary(v),
        Param::Date(v) => P::Date(v),
        Param::Time(v) => P::Time(v),
        Param::Datetime(v) => P::Datetime(v),
        Param::Timestamp(v) => P::Timestamp(v),
        Param::Uuid(v) => P::Uuid(v),
        Param::Jsonb(v) => P::Jsonb(v),
        Param::Decimal(v) => P::Decimal(v),
        Param::RangeInt32((l, u)) => P::RangeInt32((b(l), b(u))),
        Param::RangeInt64((l, u)) => P::RangeInt64((b(l), b(u))),
        Param::RangeDecimal((l, u)) => P::RangeDecimal((b(l), b(u))),
        Param::ArrayInt32(v) => P::ArrayInt32(v),
        Param::ArrayInt64(v) => P::ArrayInt64(v),
        Param::ArrayDecimal(v) => P::ArrayDecimal(v),
        Param::ArrayStr(v) => P::ArrayStr(v),
        Param::Interval((micros, days, months)) => P::Interval(pg4::Interval {
            micros,
            days,
            months,
        }),
        Param::DbNull => P::DbNull,
        Param::Uint8(_) | Param::Uint16(_) | Param::Uint32(_) | Param::Uint64(_) => {
            return Err(not_in("4.0.0"))
        }
    })
}

fn to_v3(p: Param) -> Result<pg3::ParameterValue, String> {
    use pg3::ParameterValue as P;
    Ok(match p {
        Param::Boolean(v) => P::Boolean(v),
        Param::Int8(v) => P::Int8(v),
        Param::Int16(v) => P::Int16(v),
        Param::Int32(v) => P::Int32(v),
        Param::Int64(v) => P::Int64(v),
        Param::Floating32(v) => P::Floating32(v),
        Param::Floating64(v) => P::Floating64(v),
        Param::Str(v) => P::Str(v),
        Param::Binary(v) => P::Binary(v),
        Param::Date(v) => P::Date(v),
        Param::Time(v) => P::Time(v),
        Param::Datetime(v) => P::Datetime(v),
        Param::Timestamp(v) => P::Timestamp(v),
        Param::DbNull => P::DbNull,
        _ => return Err(not_in("3.0.0")),
    })
}

fn to_v2(p: Param) -> Result<v2::rdbms_types::ParameterValue, String> {
    use v2::rdbms_types::ParameterValue as P;
    Ok(match p {
        Param::Boolean(v) => P::Boolean(v),
        Param::Int8(v) => P::Int8(v),
        Param::Int16(v) => P::Int16(v),
        Param::Int32(v) => P::Int32(v),
        Param::Int64(v) => P::Int64(v),
        Param::Uint8(v) => P::Uint8(v),
        Param::Uint16(v) => P::Uint16(v),
        Param::Uint32(v) => P::Uint32(v),
        Param::Uint64(v) => P::Uint64(v),
        Param::Floating32(v) => P::Floating32(v),
        Param::Floating64(v) => P::Floating64(v),
        Param::Str(v) => P::Str(v),
        Param::Binary(v) => P::Binary(v),
        Param::DbNull => P::DbNull,
        _ => return Err(not_in("2.0.0")),
    })
}

fn to_v1(p: Param) -> Result<v1_types::ParameterValue, String> {
    use v1_types::ParameterValue as P;
    Ok(match p {
        Param::Boolean(v) => P::Boolean(v),
        Param::Int8(v) => P::Int8(v),
        Param::Int16(v) => P::Int16(v),
        Param::Int32(v) => P::Int32(v),
        Param::Int64(v) => P::Int64(v),
        Param::Uint8(v) => P::Uint8(v),
        Param::Uint16(v) => P::Uint16(v),
        Param::Uint32(v) => P::Uint32(v),
        Param::Uint64(v) => P::Uint64(v),
        Param::Floating32(v) => P::Floating32(v),
        Param::Floating64(v) => P::Floating64(v),
        Param::Str(v) => P::Str(v),
        Param::Binary(v) => P::Binary(v),
        Param::DbNull => P::DbNull,
        _ => return Err(not_in("the unversioned interface")),
    })
}

fn rows_v1(set: &v1_types::RowSet) -> Value {
    let value = |v: &v1_types::DbValue| match v {
        v1_types::DbValue::Binary(b) => format!("DbValue::Binary({})", hex(b)),
        v => format!("{v:?}"),
    };
    json!({
        "columns": set.columns.iter().map(|c| format!("{}: {:?}", c.name, c.data_type)).collect::<Vec<_>>(),
        "rows": set.rows.iter().map(|r| r.iter().map(value).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

fn rows_v4(set: &pg4::RowSet) -> Value {
    let value = |v: &pg4::DbValue| match v {
        pg4::DbValue::Binary(b) => format!("DbValue::Binary({})", hex(b)),
        pg4::DbValue::Unsupported(b) => format!("DbValue::Unsupported({})", hex(b)),
        pg4::DbValue::Jsonb(b) => format!("DbValue::Jsonb({})", String::from_utf8_lossy(b)),
        v => format!("{v:?}"),
    };
    json!({
        "columns": set.columns.iter().map(|c| format!("{}: {:?}", c.name, c.data_type)).collect::<Vec<_>>(),
        "rows": set.rows.iter().map(|r| r.iter().map(value).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

fn rows_v3(set: &pg3::RowSet) -> Value {
    let value = |v: &pg3::DbValue| match v {
        pg3::DbValue::Binary(b) => format!("DbValue::Binary({})", hex(b)),
        v => format!("{v:?}"),
    };
    json!({
        "columns": set.columns.iter().map(|c| format!("{}: {:?}", c.name, c.data_type)).collect::<Vec<_>>(),
        "rows": set.rows.iter().map(|r| r.iter().map(value).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

fn rows_v2(set: &v2::rdbms_types::RowSet) -> Value {
    let value = |v: &v2::rdbms_types::DbValue| match v {
        v2::rdbms_types::DbValue::Binary(b) => format!("DbValue::Binary({})", hex(b)),
        v => format!("{v:?}"),
    };
    json!({
        "columns": set.columns.iter().map(|c| format!("{}: {:?}", c.name, c.data_type)).collect::<Vec<_>>(),
        "rows": set.rows.iter().map(|r| r.iter().map(value).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}
