//! Outbound PostgreSQL as Spin 3.6.3 serves it (`spin:postgres/postgres@4.0.0`,
//! `@3.0.0` and `fermyon:spin/postgres@2.0.0`), against a real PostgreSQL
//! server that each test starts on a free loopback port and stops when it ends.
//!
//! The guest is `tests/apps/pg-probe`: it runs the statements it is sent on
//! one connection and answers what the host returned, values and errors in
//! the bindings' debug forms. Each case names the strings its answer must
//! contain. `spin_3_6_3_answers_the_same` runs every case under real Spin
//! too and compares the answers (ignored unless Spin 3.6.3 is installed).
//!
//! The servers come from `crates/test-postgres` (Debian's `postgresql`,
//! installed by scripts/install-test-deps.sh); without it the tests fail,
//! saying so.

mod common;

use common::{host, wasm_path, Host};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_postgres::Postgres;

/// A port nothing listens on (tcpmux): connections to it are refused.
const CLOSED_PORT: u16 = 1;

/// An app of pg-probe components: `allowed` may reach the server (and a
/// closed port), `denied` only `localhost` at the server's port, `none`
/// nothing.
fn manifest(dir: &Path, pg: &Postgres, closed_port: u16) -> PathBuf {
    common::build_wasm(&["pg-probe"]);
    let probe = wasm_path("wasm32-wasip2", "pg-probe");
    let port = pg.port();
    let components = [
        (
            "allowed",
            format!(r#"["postgres://127.0.0.1:{port}", "postgres://127.0.0.1:{closed_port}"]"#),
        ),
        ("denied", format!(r#"["postgres://localhost:{port}"]"#)),
        ("none", "[]".to_string()),
    ];
    let mut manifest = String::from("spin_manifest_version = 2\n[application]\nname = \"pg\"\n");
    for (id, hosts) in components {
        manifest.push_str(&format!(
            "[[trigger.http]]\nroute = \"/{id}/...\"\ncomponent = \"{id}\"\n\
             [component.{id}]\nsource = \"{}\"\nallowed_outbound_hosts = {hosts}\n",
            probe.display()
        ));
    }
    let path = dir.join("spin.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

/// One request to pg-probe and what its answer must contain.
struct Case {
    name: String,
    component: &'static str,
    version: u8,
    address: String,
    steps: Value,
    expect: Vec<String>,
}

fn case(name: &str, version: u8, address: &str, steps: Value, expect: &[&str]) -> Case {
    Case {
        name: name.to_string(),
        component: "allowed",
        version,
        address: address.to_string(),
        steps,
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

fn query(sql: &str, params: Value) -> Value {
    json!({"op": "query", "sql": sql, "params": params})
}

fn execute(sql: &str, params: Value) -> Value {
    json!({"op": "execute", "sql": sql, "params": params})
}

fn p(t: &str, v: Value) -> Value {
    json!({"t": t, "v": v})
}

/// Sends `case` to the probe served at `base` (`http://addr`); its answer as text.
fn send(base: &str, case: &Case) -> String {
    let body = json!({"address": case.address, "steps": case.steps}).to_string();
    let reply = common::request(
        common::agent()
            .post(format!("{base}/{}/?v={}", case.component, case.version))
            .send(body.as_bytes()),
    );
    assert_eq!(reply.status, 200, "{}: {reply:?}", case.name);
    reply.body
}

/// Runs `cases` against `app`, checking each answer.
fn check(app: &Host, cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let answer = send(&app.url, case);
        for want in &case.expect {
            if !answer.contains(want.as_str()) {
                failures.push(format!("{}: no {want:?} in\n    {answer}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A query of one parameter cast to `cast`, answered as column `v`.
fn round_trip(version: u8, url: &str, t: &str, v: Value, cast: &str, expect: &[&str]) -> Case {
    let sql = format!("SELECT $1::{cast} AS v");
    let steps = if t == "db-null" {
        json!([query(&sql, json!([{"t": "db-null"}]))])
    } else {
        json!([query(&sql, json!([p(t, v)]))])
    };
    case(
        &format!("v{version} {t} as {cast}"),
        version,
        url,
        steps,
        expect,
    )
}

/// Every type of 4.0.0, through a parameter and back.
fn value_cases_v4(url: &str) -> Vec<Case> {
    let r = |t: &str, v: Value, cast: &str, expect: &[&str]| round_trip(4, url, t, v, cast, expect);
    vec![
        r("boolean", json!(true), "bool", &["v: DbDataType::Boolean", "DbValue::Boolean(true)"]),
        // An s8 is PostgreSQL's one-byte "char", which 4.0.0 has no variant for.
        r("int8", json!(65), "\"char\"", &["v: DbDataType::Other(\\\"char\\\")", "DbValue::Unsupported(41)"]),
        r("int16", json!(-32768), "int2", &["v: DbDataType::Int16", "DbValue::Int16(-32768)"]),
        r("int32", json!(2147483647), "int4", &["v: DbDataType::Int32", "DbValue::Int32(2147483647)"]),
        r("int64", json!(-9007199254740993i64), "int8", &["v: DbDataType::Int64", "DbValue::Int64(-9007199254740993)"]),
        r("floating32", json!(1.5), "float4", &["v: DbDataType::Floating32", "DbValue::Floating32(1.5)"]),
        r("floating64", json!("-inf"), "float8", &["v: DbDataType::Floating64", "DbValue::Floating64(-inf)"]),
        r("floating64", json!(0.1), "float8", &["DbValue::Floating64(0.1)"]),
        r("str", json!("héllo 'q' \"x\""), "text", &["v: DbDataType::Str", r#"DbValue::Str(\"héllo 'q' \\\"x\\\"\")"#]),
        r("str", json!("pad"), "char(5)", &["v: DbDataType::Str", r#"DbValue::Str(\"pad  \")"#]),
        r("str", json!("v"), "varchar", &["v: DbDataType::Str", r#"DbValue::Str(\"v\")"#]),
        r("binary", json!("00ff10"), "bytea", &["v: DbDataType::Binary", "DbValue::Binary(00ff10)"]),
        r("date", json!([2024, 2, 29]), "date", &["v: DbDataType::Date", "DbValue::Date((2024, 2, 29))"]),
        r("time", json!([23, 59, 58, 123456000]), "time", &["v: DbDataType::Time", "DbValue::Time((23, 59, 58, 123456000))"]),
        r("datetime", json!([2024, 2, 29, 12, 30, 45, 500000000]), "timestamp", &["v: DbDataType::Datetime", "DbValue::Datetime((2024, 2, 29, 12, 30, 45, 500000000))"]),
        // Seconds since the epoch, sent as a timestamptz; read back as a timestamp
        // (a timestamptz column cannot be read, see `timestamptz column` below).
        r("timestamp", json!(1700000000), "timestamptz::timestamp", &["DbValue::Datetime((2023, 11, 14, 22, 13, 20, 0))"]),
        r("uuid", json!("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "uuid", &["v: DbDataType::Uuid", r#"DbValue::Uuid(\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\")"#]),
        r("jsonb", json!(r#"{"b": [1, 2.5, null], "a": "x"}"#), "jsonb", &["v: DbDataType::Jsonb", r#"DbValue::Jsonb({\"a\":\"x\",\"b\":[1,2.5,null]})"#]),
        // PostgreSQL orders a jsonb's keys shortest first; the host re-serialises them sorted.
        r("jsonb", json!(r#"{"bb": 1, "a": {"ccc": 2, "d": 3}}"#), "jsonb", &[r#"DbValue::Jsonb({\"a\":{\"ccc\":2,\"d\":3},\"bb\":1})"#]),
        r("decimal", json!("-12345.678900"), "numeric", &["v: DbDataType::Decimal", r#"DbValue::Decimal(\"-12345.678900\")"#]),
        r("range-int32", json!([[1, "inclusive"], [10, "inclusive"]]), "int4range", &["v: DbDataType::RangeInt32", "DbValue::RangeInt32((Some((1, RangeBoundKind::Inclusive)), Some((11, RangeBoundKind::Exclusive))))"]),
        r("range-int32", json!([null, [0, "exclusive"]]), "int4range", &["DbValue::RangeInt32((None, Some((0, RangeBoundKind::Exclusive))))"]),
        r("range-int64", json!([[5, "exclusive"], null]), "int8range", &["v: DbDataType::RangeInt64", "DbValue::RangeInt64((Some((6, RangeBoundKind::Inclusive)), None))"]),
        r("range-decimal", json!([["1.5", "exclusive"], ["2.25", "inclusive"]]), "numrange", &["v: DbDataType::RangeDecimal", r#"DbValue::RangeDecimal((Some((\"1.5\", RangeBoundKind::Exclusive)), Some((\"2.25\", RangeBoundKind::Inclusive))))"#]),
        r("array-int32", json!([1, null, -3]), "int4[]", &["v: DbDataType::ArrayInt32", "DbValue::ArrayInt32([Some(1), None, Some(-3)])"]),
        r("array-int64", json!([9007199254740993i64]), "int8[]", &["v: DbDataType::ArrayInt64", "DbValue::ArrayInt64([Some(9007199254740993)])"]),
        r("array-decimal", json!(["1.50", null]), "numeric[]", &["v: DbDataType::ArrayDecimal", r#"DbValue::ArrayDecimal([Some(\"1.50\"), None])"#]),
        r("array-str", json!(["a", null, ""]), "text[]", &["v: DbDataType::ArrayStr", r#"DbValue::ArrayStr([Some(\"a\"), None, Some(\"\")])"#]),
        r("array-str", json!(["b"]), "varchar[]", &["v: DbDataType::ArrayStr"]),
        r("interval", json!([1500000, -2, 14]), "interval", &["v: DbDataType::Interval", "DbValue::Interval(Interval { micros: 1500000, days: -2, months: 14 })"]),
        r("db-null", Value::Null, "int4", &["v: DbDataType::Int32", "DbValue::DbNull"]),
        r("db-null", Value::Null, "uuid", &["v: DbDataType::Uuid", "DbValue::DbNull"]),
        // Types 4.0.0 has no variant for: their name, and the value's binary form.
        case("json column", 4, url, json!([query(r#"SELECT '{"a":1}'::json AS v, NULL::inet AS n"#, json!([]))]),
            &["v: DbDataType::Other(\\\"json\\\")", "n: DbDataType::Other(\\\"inet\\\")", "DbValue::Unsupported(7b2261223a317d)", "DbValue::DbNull"]),
        case("several columns and rows", 4, url,
            json!([query("SELECT n, n * 2 AS twice, NULL::text AS t FROM generate_series(1, 3) AS n", json!([]))]),
            &[r#""columns":["n: DbDataType::Int32","twice: DbDataType::Int32","t: DbDataType::Str"]"#,
              r#""rows":[["DbValue::Int32(1)","DbValue::Int32(2)","DbValue::DbNull"],["DbValue::Int32(2)","DbValue::Int32(4)","DbValue::DbNull"],["DbValue::Int32(3)","DbValue::Int32(6)","DbValue::DbNull"]]"#]),
        // Columns are described from the first row, as in Spin: none without rows.
        case("no rows", 4, url, json!([query("SELECT 1 AS n WHERE false", json!([]))]),
            &[r#"{"ok":{"columns":[],"rows":[]}}"#]),
    ]
}

/// 3.0.0 and 2.0.0 map the same values onto their narrower types.
fn value_cases_older(url: &str) -> Vec<Case> {
    let r3 =
        |t: &str, v: Value, cast: &str, expect: &[&str]| round_trip(3, url, t, v, cast, expect);
    let r2 =
        |t: &str, v: Value, cast: &str, expect: &[&str]| round_trip(2, url, t, v, cast, expect);
    vec![
        r3(
            "boolean",
            json!(false),
            "bool",
            &["v: DbDataType::Boolean", "DbValue::Boolean(false)"],
        ),
        r3(
            "int64",
            json!(42),
            "int8",
            &["v: DbDataType::Int64", "DbValue::Int64(42)"],
        ),
        r3(
            "str",
            json!("x"),
            "text",
            &["v: DbDataType::Str", r#"DbValue::Str(\"x\")"#],
        ),
        r3(
            "binary",
            json!("ff"),
            "bytea",
            &["v: DbDataType::Binary", "DbValue::Binary(ff)"],
        ),
        r3(
            "date",
            json!([1999, 12, 31]),
            "date",
            &["v: DbDataType::Date", "DbValue::Date((1999, 12, 31))"],
        ),
        r3(
            "time",
            json!([1, 2, 3, 0]),
            "time",
            &["v: DbDataType::Time", "DbValue::Time((1, 2, 3, 0))"],
        ),
        r3(
            "datetime",
            json!([2000, 1, 1, 0, 0, 0, 0]),
            "timestamp",
            &[
                "v: DbDataType::Datetime",
                "DbValue::Datetime((2000, 1, 1, 0, 0, 0, 0))",
            ],
        ),
        r3(
            "timestamp",
            json!(0),
            "timestamptz::timestamp",
            &["DbValue::Datetime((1970, 1, 1, 0, 0, 0, 0))"],
        ),
        r3(
            "db-null",
            Value::Null,
            "text",
            &["v: DbDataType::Str", "DbValue::DbNull"],
        ),
        // 4.0.0's later types come back unsupported, their columns `other`.
        case(
            "v3 uuid column",
            3,
            url,
            json!([query("SELECT gen_random_uuid() AS v", json!([]))]),
            &["v: DbDataType::Other", "DbValue::Unsupported"],
        ),
        case(
            "v3 numeric column",
            3,
            url,
            json!([query("SELECT 1.5::numeric AS v", json!([]))]),
            &["v: DbDataType::Other", "DbValue::Unsupported"],
        ),
        r2(
            "int16",
            json!(7),
            "int2",
            &["v: DbDataType::Int16", "DbValue::Int16(7)"],
        ),
        r2(
            "floating64",
            json!(2.5),
            "float8",
            &["v: DbDataType::Floating64", "DbValue::Floating64(2.5)"],
        ),
        r2(
            "str",
            json!("y"),
            "varchar",
            &["v: DbDataType::Str", r#"DbValue::Str(\"y\")"#],
        ),
        r2(
            "binary",
            json!("0a"),
            "bytea",
            &["v: DbDataType::Binary", "DbValue::Binary(0a)"],
        ),
        r2(
            "db-null",
            Value::Null,
            "int4",
            &["v: DbDataType::Int32", "DbValue::DbNull"],
        ),
        case(
            "v2 date column",
            2,
            url,
            json!([query("SELECT DATE '2020-01-02' AS v", json!([]))]),
            &["v: DbDataType::Other", "DbValue::Unsupported"],
        ),
        // PostgreSQL has no unsigned integers.
        round_trip(
            2,
            url,
            "uint8",
            json!(1),
            "int2",
            &[r#"Error::ValueConversionFailed(\"Postgres does not support unsigned integers\")"#],
        ),
        case(
            "v2 unsigned in execute",
            2,
            url,
            json!([execute("SELECT $1::int8", json!([p("uint64", json!(1))]))]),
            &[r#"Error::ValueConversionFailed(\"Postgres does not support unsigned integers\")"#],
        ),
    ]
}

/// Statements that change data: row counts, NULLs stored and read back.
fn execute_cases(url: &str, version: u8) -> Vec<Case> {
    let table = format!("t{version}");
    let steps = json!([
        execute(
            &format!("CREATE TEMP TABLE {table} (id int4 PRIMARY KEY, name text, score float8)"),
            json!([])
        ),
        execute(
            &format!("INSERT INTO {table} VALUES (1, 'a', 1.5), (2, NULL, NULL), (3, 'c', 3.5)"),
            json!([])
        ),
        execute(
            &format!("UPDATE {table} SET score = $1 WHERE id >= $2"),
            json!([p("floating64", json!(9.0)), p("int32", json!(2))])
        ),
        execute(
            &format!("INSERT INTO {table} VALUES ($1, $2, $3)"),
            json!([p("int32", json!(4)), {"t": "db-null"}, {"t": "db-null"}])
        ),
        execute(&format!("DELETE FROM {table} WHERE id = 99"), json!([])),
        query(
            &format!("SELECT id, name, score FROM {table} ORDER BY id"),
            json!([])
        ),
    ]);
    vec![case(
        &format!("v{version} execute and read back"),
        version,
        url,
        steps,
        &[
            r#"{"ok":0},{"ok":3},{"ok":2},{"ok":1},{"ok":0}"#,
            r#"["DbValue::Int32(2)","DbValue::DbNull","DbValue::Floating64(9.0)"]"#,
            r#"["DbValue::Int32(4)","DbValue::DbNull","DbValue::DbNull"]"#,
        ],
    )]
}

/// Failures of statements and of values, and how each version reports them.
fn error_cases(url: &str) -> Vec<Case> {
    let uuid = || json!([p("uuid", json!("not-a-uuid"))]);
    vec![
        case(
            "v4 missing table",
            4,
            url,
            json!([query("SELECT * FROM no_such_table", json!([]))]),
            &[
                r#""code":"42P01""#,
                "Error::QueryFailed(QueryError::DbError(DbError {",
                r#"severity: \"ERROR\""#,
                r#"message: \"relation \\\"no_such_table\\\" does not exist\""#,
                r#"as-text: \"Error { kind: Db, cause: Some(DbError {"#,
            ],
        ),
        case(
            "v4 missing table in execute",
            4,
            url,
            json!([execute("DELETE FROM no_such_table", json!([]))]),
            &[r#""code":"42P01""#],
        ),
        case(
            "v4 unique violation",
            4,
            url,
            json!([
                execute("CREATE TEMP TABLE u (id int4 PRIMARY KEY)", json!([])),
                execute("INSERT INTO u VALUES (1)", json!([])),
                execute("INSERT INTO u VALUES (1)", json!([])),
            ]),
            &[
                r#""code":"23505""#,
                r#"detail: Some(\"Key (id)=(1) already exists.\")"#,
                r#"(\"constraint\", \"u_pkey\")"#,
                r#"(\"table\", \"u\")"#,
                r#"(\"schema\", \"pg_temp_"#,
            ],
        ),
        case(
            "v4 syntax error",
            4,
            url,
            json!([query("SELEC 1", json!([]))]),
            &[r#""code":"42601""#],
        ),
        // A failure while rows are streamed carries no structured fields (as in Spin).
        case(
            "v4 error while streaming rows",
            4,
            url,
            json!([query(
                "SELECT 1 / n FROM generate_series(1, 0, -1) AS n",
                json!([])
            )]),
            &[
                r#"Error::QueryFailed(QueryError::Text(\"db error: ERROR: division by zero\\n\\nCaused by:\\n    ERROR: division by zero\"))"#,
            ],
        ),
        case(
            "v3 missing table",
            3,
            url,
            json!([query("SELECT * FROM no_such_table", json!([]))]),
            &[
                r#"Error::QueryFailed(\"Error { kind: Db, cause: Some(DbError { severity: \\\"ERROR\\\""#,
                "E42P01",
            ],
        ),
        case(
            "v2 missing table",
            2,
            url,
            json!([execute("DELETE FROM no_such_table", json!([]))]),
            &[r#"Error::QueryFailed(\"Error { kind: Db"#, "E42P01"],
        ),
        // A parameter the host cannot convert: bad-parameter in a query,
        // value-conversion-failed in execute, as in Spin.
        case(
            "v4 bad uuid in query",
            4,
            url,
            json!([query("SELECT $1::uuid", uuid())]),
            &[
                r#"Error::BadParameter(\"invalid UUID not-a-uuid\\n\\nCaused by:\\n    invalid character"#,
            ],
        ),
        case(
            "v4 bad uuid in execute",
            4,
            url,
            json!([execute("SELECT $1::uuid", uuid())]),
            &[
                r#"Error::ValueConversionFailed(\"invalid UUID not-a-uuid\\n\\nCaused by:\\n    invalid character"#,
            ],
        ),
        case(
            "v4 bad date",
            4,
            url,
            json!([query(
                "SELECT $1::date",
                json!([p("date", json!([2023, 2, 29]))])
            )]),
            &[r#"Error::BadParameter(\"invalid date y=2023, m=2, d=29\")"#],
        ),
        case(
            "v4 bad time",
            4,
            url,
            json!([execute(
                "SELECT $1::time",
                json!([p("time", json!([24, 0, 0, 0]))])
            )]),
            &[r#"Error::ValueConversionFailed(\"invalid time 24:0:0:0\")"#],
        ),
        case(
            "v4 bad decimal",
            4,
            url,
            json!([query(
                "SELECT $1::numeric",
                json!([p("decimal", json!("1.2.3"))])
            )]),
            &[r#"Error::BadParameter(\"invalid decimal 1.2.3\\n\\nCaused by:\\n"#],
        ),
        case(
            "v4 bad decimal in array",
            4,
            url,
            json!([query(
                "SELECT $1::numeric[]",
                json!([p("array-decimal", json!(["1", "x"]))])
            )]),
            &[r#"Error::BadParameter(\"invalid decimal x"#],
        ),
        case(
            "v4 bad jsonb",
            4,
            url,
            json!([query(
                "SELECT $1::jsonb",
                json!([p("jsonb", json!("{nope"))])
            )]),
            &[
                r#"Error::BadParameter(\"invalid JSON {nope\\n\\nCaused by:\\n    key must be a string at line 1 column 2\")"#,
            ],
        ),
        case(
            "v4 bad timestamp",
            4,
            url,
            json!([query(
                "SELECT $1::timestamptz",
                json!([p("timestamp", json!(i64::MAX))])
            )]),
            &[r#"Error::BadParameter(\"invalid epoch timestamp 9223372036854775807\")"#],
        ),
        // A parameter of a type PostgreSQL does not take for the column: the
        // driver's error, as text.
        case(
            "v4 wrong parameter type",
            4,
            url,
            json!([query("SELECT $1::int4", json!([p("str", json!("1"))]))]),
            &[
                r#"Error::QueryFailed(QueryError::Text(\"Error { kind: ToSql(0), cause: Some(WrongType { postgres: Int4, rust: \\\"alloc::string::String\\\" }) }\"))"#,
            ],
        ),
        case(
            "v4 datetime for timestamptz",
            4,
            url,
            json!([execute(
                "SELECT $1::timestamptz",
                json!([p("datetime", json!([2020, 1, 1, 0, 0, 0, 0]))])
            )]),
            &[
                r#"Error::QueryFailed(QueryError::Text(\"Error { kind: ToSql(0), cause: Some(WrongType { postgres: Timestamptz"#,
            ],
        ),
        case(
            "v4 too few parameters",
            4,
            url,
            json!([query(
                "SELECT $1::int4, $2::int4",
                json!([p("int32", json!(1))])
            )]),
            &[
                r#"Error::QueryFailed(QueryError::Text(\"Error { kind: Parameters(1, 2), cause: None }\"))"#,
            ],
        ),
        // Values the host cannot read back: a query-failed with the driver's words.
        case(
            "v4 timestamptz column",
            4,
            url,
            json!([query(
                "SELECT TIMESTAMPTZ '2020-01-01 00:00:00+00' AS v",
                json!([])
            )]),
            &[
                r#"Error::QueryFailed(QueryError::Text(\"error deserializing column 0: cannot convert between the Rust type `core::option::Option<chrono::naive::datetime::NaiveDateTime>` and the Postgres type `timestamptz`"#,
            ],
        ),
        case(
            "v4 NaN numeric",
            4,
            url,
            json!([query("SELECT 'NaN'::numeric AS v", json!([]))]),
            &[r#"Error::QueryFailed(QueryError::Text(\"error deserializing column 0: "#],
        ),
        case(
            "v4 infinite timestamp",
            4,
            url,
            json!([query("SELECT 'infinity'::timestamp AS v", json!([]))]),
            &[r#"Error::QueryFailed(QueryError::Text(\"error deserializing column 0: "#],
        ),
        case(
            "v4 two-dimensional array",
            4,
            url,
            json!([query("SELECT ARRAY[[1,2],[3,4]]::int4[] AS v", json!([]))]),
            &[r#"Error::QueryFailed(QueryError::Text(\"error deserializing column 0: "#],
        ),
        // A failed statement leaves the connection usable.
        case(
            "v4 error then success",
            4,
            url,
            json!([
                query("SELECT * FROM no_such_table", json!([])),
                query("SELECT 7 AS v", json!([]))
            ]),
            &[r#""code":"42P01""#, "DbValue::Int32(7)"],
        ),
    ]
}

/// Opening connections: the allow-list, connection strings, servers that
/// are not there or refuse.
fn connection_cases(pg: &Postgres, closed_port: u16) -> Vec<Case> {
    let port = pg.port();
    let with = |component: &'static str, mut c: Case| {
        c.component = component;
        c
    };
    let ok = json!([query("SELECT current_user::text AS u", json!([]))]);
    vec![
        case(
            "url form",
            4,
            &pg.url(),
            ok.clone(),
            &[r#"DbValue::Str(\"postgres\")"#],
        ),
        case(
            "key-value form",
            4,
            &pg.key_value(),
            ok.clone(),
            &[r#"DbValue::Str(\"postgres\")"#],
        ),
        case(
            "key-value form, v3",
            3,
            &pg.key_value(),
            ok.clone(),
            &[r#"DbValue::Str(\"postgres\")"#],
        ),
        case(
            "url form, v2",
            2,
            &pg.url(),
            ok.clone(),
            &[r#"DbValue::Str(\"postgres\")"#],
        ),
        with(
            "denied",
            case(
                "denied url",
                4,
                &pg.url(),
                ok.clone(),
                &[&format!(
                    r#"{{"open":"Error::ConnectionFailed(\"address postgres://127.0.0.1:{port} is not permitted\")"}}"#
                )],
            ),
        ),
        with(
            "denied",
            case(
                "denied key-value",
                4,
                &pg.key_value(),
                ok.clone(),
                &[&format!(
                    r#"Error::ConnectionFailed(\"address postgres://127.0.0.1:{port} is not permitted\")"#
                )],
            ),
        ),
        with(
            "none",
            case(
                "denied, v3",
                3,
                &pg.url(),
                ok.clone(),
                &[&format!(
                    r#"Error::ConnectionFailed(\"address postgres://127.0.0.1:{port} is not permitted\")"#
                )],
            ),
        ),
        with(
            "none",
            case(
                "denied, v2",
                2,
                &pg.key_value(),
                ok.clone(),
                &[&format!(
                    r#"Error::ConnectionFailed(\"address postgres://127.0.0.1:{port} is not permitted\")"#
                )],
            ),
        ),
        // Every host of the string must be allowed.
        case(
            "second host denied",
            4,
            &format!("host=127.0.0.1,localhost port={port},{port} user=postgres"),
            ok.clone(),
            &[&format!(
                r#"Error::ConnectionFailed(\"address postgres://localhost:{port} is not permitted\")"#
            )],
        ),
        case(
            "unix socket",
            4,
            "host=/var/run/postgresql user=postgres",
            ok.clone(),
            &[r#"Error::ConnectionFailed(\"Unix sockets are not supported on WebAssembly\")"#],
        ),
        case(
            "bad connection string",
            4,
            "host='127.0.0.1 user=postgres",
            ok.clone(),
            &[r#"{"open":"Error::ConnectionFailed(\"invalid connection string: "#],
        ),
        case(
            "bad url",
            4,
            &format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=sometimes"),
            ok.clone(),
            &[r#"{"open":"Error::ConnectionFailed(\"invalid connection string: "#],
        ),
        case(
            "nothing listening",
            4,
            &format!("postgres://postgres:x@127.0.0.1:{closed_port}/postgres"),
            ok.clone(),
            &[
                r#"{"open":"Error::ConnectionFailed(\"Error occurred while creating a new object: error connecting to server: Connection refused (os error 111)"#,
            ],
        ),
        case(
            "wrong password",
            4,
            &format!("postgres://postgres:wrong@127.0.0.1:{port}/postgres"),
            ok.clone(),
            &[
                r#"{"open":"Error::ConnectionFailed(\"Error occurred while creating a new object: db error: FATAL: password authentication failed for user \\\"postgres\\\""#,
            ],
        ),
        case(
            "no such database",
            3,
            &format!(
                "postgres://postgres:{}@127.0.0.1:{port}/nope",
                test_postgres::PASSWORD
            ),
            ok.clone(),
            &[
                r#"{"open":"Error::ConnectionFailed(\"Error occurred while creating a new object: db error: FATAL: database \\\"nope\\\" does not exist"#,
            ],
        ),
        // The server has no TLS: a string that requires it is refused.
        case(
            "tls required, server without tls",
            4,
            &format!("{}?sslmode=require", pg.url()),
            ok.clone(),
            &[
                r#"{"open":"Error::ConnectionFailed(\"Error occurred while creating a new object: error performing TLS handshake: server does not support TLS"#,
            ],
        ),
        case(
            "tls preferred, server without tls",
            4,
            &format!("{} sslmode=prefer", pg.key_value()),
            ok.clone(),
            &[r#"DbValue::Str(\"postgres\")"#],
        ),
        case(
            "tls disabled",
            4,
            &format!("{} sslmode=disable", pg.key_value()),
            ok,
            &[r#"DbValue::Str(\"postgres\")"#],
        ),
    ]
}

/// Spin 1's unversioned interface: an address per call, 2.0.0's values.
fn unversioned_cases(pg: &Postgres, closed_port: u16) -> Vec<Case> {
    let url = pg.url();
    let r =
        |t: &str, v: Value, cast: &str, expect: &[&str]| round_trip(1, &url, t, v, cast, expect);
    let mut denied = case(
        "v1 denied",
        1,
        &pg.url(),
        json!([query("SELECT 1", json!([]))]),
        &[&format!(
            r#"PgError::ConnectionFailed(\"address postgres://127.0.0.1:{} is not permitted\")"#,
            pg.port()
        )],
    );
    denied.component = "denied";
    vec![
        r(
            "int32",
            json!(-5),
            "int4",
            &["v: DbDataType::Int32", "DbValue::Int32(-5)"],
        ),
        r(
            "int64",
            json!(1),
            "int8",
            &["v: DbDataType::Int64", "DbValue::Int64(1)"],
        ),
        r(
            "str",
            json!("z"),
            "text",
            &["v: DbDataType::Str", r#"DbValue::Str(\"z\")"#],
        ),
        r(
            "binary",
            json!("beef"),
            "bytea",
            &["v: DbDataType::Binary", "DbValue::Binary(beef)"],
        ),
        r(
            "floating32",
            json!(0.5),
            "float4",
            &["v: DbDataType::Floating32", "DbValue::Floating32(0.5)"],
        ),
        r(
            "db-null",
            Value::Null,
            "bool",
            &["v: DbDataType::Boolean", "DbValue::DbNull"],
        ),
        r(
            "uint32",
            json!(1),
            "int4",
            &[r#"PgError::ValueConversionFailed(\"Postgres does not support unsigned integers\")"#],
        ),
        case(
            "v1 date column",
            1,
            &url,
            json!([query("SELECT DATE '2020-01-02' AS v", json!([]))]),
            &["v: DbDataType::Other", "DbValue::Unsupported"],
        ),
        case(
            "v1 execute",
            1,
            &pg.key_value(),
            json!([execute("SELECT * FROM generate_series(1, 4)", json!([]))]),
            &[r#"{"ok":4}"#],
        ),
        case(
            "v1 missing table",
            1,
            &url,
            json!([execute("DELETE FROM no_such_table", json!([]))]),
            &[r#"PgError::QueryFailed(\"Error { kind: Db"#, "E42P01"],
        ),
        case(
            "v1 nothing listening",
            1,
            &format!("postgres://postgres:x@127.0.0.1:{closed_port}/postgres"),
            json!([query("SELECT 1", json!([]))]),
            &[
                r#"PgError::ConnectionFailed(\"Error occurred while creating a new object: error connecting to server: Connection refused"#,
            ],
        ),
        denied,
    ]
}

/// Starts `spinflow up` on the app; `env` for the host process.
fn spinflow(manifest: &Path, env: &[(&str, String)]) -> Host {
    let mut builder = host(manifest);
    for (k, v) in env {
        builder = builder.env(k, v.clone());
    }
    builder.start()
}

#[test]
fn values_round_trip_through_every_interface_version() {
    let pg = test_postgres::start(false);
    let dir = tempfile::tempdir().unwrap();
    let app = spinflow(&manifest(dir.path(), &pg, CLOSED_PORT), &[]);
    let mut cases = value_cases_v4(&pg.url());
    cases.extend(value_cases_older(&pg.key_value()));
    check(&app, &cases);
}

#[test]
fn the_unversioned_interface_opens_a_connection_per_call() {
    let pg = test_postgres::start(false);
    let closed = CLOSED_PORT;
    let dir = tempfile::tempdir().unwrap();
    let app = spinflow(&manifest(dir.path(), &pg, closed), &[]);
    check(&app, &unversioned_cases(&pg, closed));
}

#[test]
fn execute_counts_rows_and_nulls_are_stored() {
    let pg = test_postgres::start(false);
    let dir = tempfile::tempdir().unwrap();
    let app = spinflow(&manifest(dir.path(), &pg, CLOSED_PORT), &[]);
    let mut cases = execute_cases(&pg.url(), 4);
    cases.extend(execute_cases(&pg.url(), 3));
    cases.extend(execute_cases(&pg.key_value(), 2));
    check(&app, &cases);
}

/// What a request leaves in its session (a setting, a temporary table, a session
/// advisory lock) is gone for the next requests, whichever pooled connection they get;
/// and a guest that deallocates every prepared statement still runs one the host had
/// prepared before.
#[test]
fn each_request_gets_a_clean_session_and_working_statements() {
    let pg = test_postgres::start(false);
    let dir = tempfile::tempdir().unwrap();
    let app = spinflow(&manifest(dir.path(), &pg, CLOSED_PORT), &[]);
    let url = pg.url();
    let leave = json!([
        execute("SET application_name = 'left-behind'", json!([])),
        execute("CREATE TEMP TABLE left_behind (id int4)", json!([])),
        query("SELECT pg_advisory_lock(7) IS NULL AS locked", json!([])),
    ]);
    let look = json!([query(
        "SELECT current_setting('application_name') = 'left-behind' OR to_regclass('pg_temp.left_behind') IS NOT NULL OR EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS dirty",
        json!([])
    )]);
    let again = json!([
        query("SELECT 1 AS one", json!([])),
        execute("DEALLOCATE ALL", json!([])),
        query("SELECT 1 AS one", json!([])),
    ]);
    let mut cases = Vec::new();
    for i in 0..4 {
        let left = ["{\"ok\":0},{\"ok\":0},{\"ok\":{"];
        cases.push(case(
            &format!("leave state {i}"),
            4,
            &url,
            leave.clone(),
            &left,
        ));
        let clean = ["DbValue::Boolean(false)"];
        cases.push(case(
            &format!("clean session {i}"),
            4,
            &url,
            look.clone(),
            &clean,
        ));
    }
    let twice = [r#""rows":[["DbValue::Int32(1)"]]}},{"ok":0},{"ok":{"columns""#];
    cases.push(case("after DEALLOCATE ALL", 4, &url, again, &twice));
    check(&app, &cases);
}

#[test]
fn statement_and_value_errors_are_reported_as_spin_reports_them() {
    let pg = test_postgres::start(false);
    let dir = tempfile::tempdir().unwrap();
    let app = spinflow(&manifest(dir.path(), &pg, CLOSED_PORT), &[]);
    check(&app, &error_cases(&pg.url()));
}

#[test]
fn connections_need_an_allowed_reachable_server() {
    let pg = test_postgres::start(false);
    let closed = CLOSED_PORT;
    let dir = tempfile::tempdir().unwrap();
    let app = spinflow(&manifest(dir.path(), &pg, closed), &[]);
    check(&app, &connection_cases(&pg, closed));
    let out = app.wait_for_output("[denied] outbound connection to postgres://");
    assert!(
        out.contains(&format!(
            "[denied] outbound connection to postgres://127.0.0.1:{} denied",
            pg.port()
        )),
        "{out}"
    );
}

/// A server that accepts connections and never answers (a stalled or
/// blackholed database): opening a connection fails after the host's
/// timeouts instead of holding the request for good. Spin sets no timeout
/// there, so `spin_3_6_3_answers_the_same` leaves this case out.
#[test]
fn a_server_that_never_answers_is_a_connection_failure() {
    let pg = test_postgres::start(false);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // Accepted connections are kept open, unanswered, until the test ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let app = spinflow(&manifest(dir.path(), &pg, port), &[]);
    let ok = json!([query("SELECT 1 AS one", json!([]))]);
    check(
        &app,
        &[case(
            "server never answers",
            4,
            &format!("postgres://postgres:x@127.0.0.1:{port}/postgres?sslmode=disable"),
            ok,
            &[r#"{"open":"Error::ConnectionFailed(\"Timeout occurred while creating a new object"#],
        )],
    );
}

/// TLS cases against a server with TLS: verified against the system's trust
/// store (`SSL_CERT_FILE` for the host process names the test's CA, when given).
fn tls_cases(pg: &Postgres, trusted: bool) -> Vec<Case> {
    let ssl = json!([query(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        json!([])
    )]);
    let by_ip = format!("{}?sslmode=require", pg.url());
    if trusted {
        vec![
            case(
                "tls required, trusted",
                4,
                &by_ip,
                ssl.clone(),
                &["DbValue::Boolean(true)"],
            ),
            case(
                "tls preferred, trusted",
                4,
                &pg.key_value(),
                ssl.clone(),
                &["DbValue::Boolean(true)"],
            ),
            case(
                "tls disabled",
                4,
                &format!("{} sslmode=disable", pg.key_value()),
                ssl,
                &["DbValue::Boolean(false)"],
            ),
        ]
    } else {
        vec![
            case(
                "tls required, untrusted",
                4,
                &by_ip,
                ssl.clone(),
                &[
                    r#"{"open":"Error::ConnectionFailed(\"Error occurred while creating a new object: error performing TLS handshake: "#,
                ],
            ),
            // `prefer` does not fall back to plain text when the handshake fails.
            case(
                "tls preferred, untrusted",
                4,
                &pg.key_value(),
                ssl.clone(),
                &[
                    r#"{"open":"Error::ConnectionFailed(\"Error occurred while creating a new object: error performing TLS handshake: "#,
                ],
            ),
            case(
                "tls disabled",
                4,
                &format!("{} sslmode=disable", pg.key_value()),
                ssl,
                &["DbValue::Boolean(false)"],
            ),
        ]
    }
}

#[test]
fn tls_is_used_and_verified_when_the_connection_string_asks() {
    let pg = test_postgres::start(true);
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path(), &pg, CLOSED_PORT);
    // No trust store with the test's CA: the certificate is refused.
    let empty = dir.path().join("no-roots.pem");
    std::fs::write(&empty, "").unwrap();
    let app = spinflow(
        &manifest,
        &[
            ("SSL_CERT_FILE", empty.display().to_string()),
            (
                "SSL_CERT_DIR",
                dir.path().join("no-such-dir").display().to_string(),
            ),
        ],
    );
    check(&app, &tls_cases(&pg, false));
    drop(app);
    let app = spinflow(
        &manifest,
        &[("SSL_CERT_FILE", pg.ca().display().to_string())],
    );
    check(&app, &tls_cases(&pg, true));
}

/// Every case, under `spinflow up` and under Spin 3.6.3 on the same manifest
/// and server; answers must be equal but for the differences listed in
/// `known_difference`.
#[test]
#[ignore = "needs Spin 3.6.3 (/usr/local/bin/spin-3.6.3, or SPIN_3_6_3=path)"]
fn spin_3_6_3_answers_the_same() {
    let spin = std::env::var_os("SPIN_3_6_3")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/local/bin/spin-3.6.3"));
    assert!(spin.is_file(), "no Spin 3.6.3 at {}", spin.display());
    let mut diffs = Vec::new();
    // Plain server: every case; TLS server: trusted (SSL_CERT_FILE names its
    // CA), then untrusted (an empty trust store).
    for (tls, trusted) in [(false, false), (true, true), (true, false)] {
        let pg = test_postgres::start(tls);
        let closed = CLOSED_PORT;
        let dir = tempfile::tempdir().unwrap();
        let manifest = manifest(dir.path(), &pg, closed);
        let (cases, env) = if tls {
            let roots = if trusted {
                pg.ca()
            } else {
                let empty = dir.path().join("no-roots.pem");
                std::fs::write(&empty, "").unwrap();
                empty
            };
            let env = vec![
                ("SSL_CERT_FILE", roots.display().to_string()),
                (
                    "SSL_CERT_DIR",
                    dir.path().join("none").display().to_string(),
                ),
            ];
            (tls_cases(&pg, trusted), env)
        } else {
            let mut cases = value_cases_v4(&pg.url());
            cases.extend(value_cases_older(&pg.key_value()));
            cases.extend(execute_cases(&pg.url(), 4));
            cases.extend(execute_cases(&pg.url(), 3));
            cases.extend(execute_cases(&pg.url(), 2));
            cases.extend(error_cases(&pg.url()));
            cases.extend(connection_cases(&pg, closed));
            cases.extend(unversioned_cases(&pg, closed));
            (cases, vec![])
        };
        let ours = spinflow(&manifest, &env);
        let theirs = SpinUp::start(&spin, &manifest, &env);
        for case in &cases {
            let a = normalised(&send(&ours.url, case));
            let b = normalised(&send(&theirs.url, case));
            if a != b && !known_difference(&case.name) {
                diffs.push(format!("{}:\n  spinflow: {a}\n  spin:     {b}", case.name));
            } else if a != b {
                eprintln!(
                    "known difference, {}:\n  spinflow: {a}\n  spin:     {b}",
                    case.name
                );
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Cases whose answers differ from Spin 3.6.3's, knowingly (see the host's
/// README): the uuid crate's message for an invalid UUID (Spin 3.6.3 has an
/// older uuid), and the TLS library's for a certificate it does not trust
/// (rustls here, OpenSSL in Spin).
fn known_difference(name: &str) -> bool {
    name.contains("bad uuid") || name.contains("untrusted")
}

/// `answer` without what differs between any two servers: the schema of a
/// session's temporary tables (`pg_temp_<backend>`).
fn normalised(answer: &str) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut rest = answer;
    while let Some(at) = rest.find("pg_temp_") {
        out.push_str(&rest[..at + "pg_temp_".len()]);
        rest = rest[at + "pg_temp_".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('N');
    }
    out.push_str(rest);
    out
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running `spin up` (real Spin).
struct SpinUp {
    child: Child,
    url: String,
    _state: tempfile::TempDir,
}

impl SpinUp {
    fn start(spin: &Path, manifest: &Path, env: &[(&str, String)]) -> SpinUp {
        let state = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(spin);
        cmd.arg("up")
            .arg("-f")
            .arg(manifest)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--state-dir")
            .arg(state.path())
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start spin");
        let mut spin_up = SpinUp {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _state: state,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "spin up did not listen");
            if let Ok(Some(status)) = spin_up.child.try_wait() {
                panic!("spin up exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        spin_up
    }
}

impl Drop for SpinUp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
