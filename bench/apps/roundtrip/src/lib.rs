//! The bench's storage round trip: each request writes a value and reads it back, in
//! the `default` key-value store or the `default` SQLite database, and answers with
//! what it read (a 500 if that is not what it wrote).
//!
//! - `POST /kv/<key>`, body = value: `set`, then `get` of the same key.
//! - `POST /sqlite/<id>`, body = value (UTF-8): an upsert of row `id`, then a `SELECT`
//!   of it. The table is created once, by the first request that finds it missing.
//! - `GET /`: 200, for the harness's readiness check (touches no store).

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;
use spin_sdk::sqlite::{Connection, Error as SqlError, Value};

const CREATE: &str =
    "CREATE TABLE IF NOT EXISTS roundtrip (id INTEGER PRIMARY KEY, value TEXT NOT NULL)";
const UPSERT: &str = "INSERT INTO roundtrip (id, value) VALUES (?, ?) \
                      ON CONFLICT (id) DO UPDATE SET value = excluded.value";
const SELECT: &str = "SELECT value FROM roundtrip WHERE id = ?";

#[http_component]
fn handle(req: Request) -> Response {
    let path = req.path();
    if *req.method() == Method::Get && path == "/" {
        return text(200, "roundtrip\n".into());
    }
    if *req.method() != Method::Post {
        return text(405, "POST /kv/<key> or /sqlite/<id>\n".into());
    }
    let outcome = if let Some(key) = path.strip_prefix("/kv/") {
        kv(key, req.body())
    } else if let Some(id) = path.strip_prefix("/sqlite/") {
        sqlite(id, req.body())
    } else {
        Err((404, format!("no route {path}\n")))
    };
    match outcome {
        Ok(value) => Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .body(value)
            .build(),
        Err((status, message)) => text(status, message),
    }
}

type Outcome = Result<Vec<u8>, (u16, String)>;

fn kv(key: &str, value: &[u8]) -> Outcome {
    if key.is_empty() || value.is_empty() {
        return Err((400, "a key in the path and a value in the body\n".into()));
    }
    let store = Store::open_default().map_err(|e| (500, format!("open: {e:?}\n")))?;
    store
        .set(key, value)
        .map_err(|e| (500, format!("set: {e:?}\n")))?;
    match store.get(key).map_err(|e| (500, format!("get: {e:?}\n")))? {
        Some(read) if read == value => Ok(read),
        Some(read) => Err((500, format!("read back {} other bytes\n", read.len()))),
        None => Err((500, "read back nothing\n".into())),
    }
}

fn sqlite(id: &str, value: &[u8]) -> Outcome {
    let id: i64 = id
        .parse()
        .map_err(|_| (400, format!("row id {id:?} is not an integer\n")))?;
    let value = std::str::from_utf8(value)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or((400, "a UTF-8 value in the body\n".to_string()))?;
    let db = Connection::open_default().map_err(|e| (500, format!("open: {e:?}\n")))?;
    let params = [Value::Integer(id), Value::Text(value.to_string())];
    let sql_error = |what: &str, e: SqlError| (500, format!("{what}: {e:?}\n"));
    match db.execute(UPSERT, &params) {
        Err(SqlError::Io(message)) if message.contains("no such table") => {
            db.execute(CREATE, &[])
                .map_err(|e| sql_error("create", e))?;
            db.execute(UPSERT, &params)
                .map_err(|e| sql_error("upsert", e))?;
        }
        other => {
            other.map_err(|e| sql_error("upsert", e))?;
        }
    }
    let rows = db
        .execute(SELECT, &[Value::Integer(id)])
        .map_err(|e| sql_error("select", e))?;
    match rows.rows.first().and_then(|row| row.values.first()) {
        Some(Value::Text(read)) if read == value => Ok(read.clone().into_bytes()),
        Some(other) => Err((500, format!("read back {other:?}\n"))),
        None => Err((500, "read back no row\n".into())),
    }
}

fn text(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body)
        .build()
}
