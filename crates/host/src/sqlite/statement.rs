//! Running one statement on a rusqlite connection, and what the SQLite backend
//! needs to know about a statement before it runs.

use super::backend::{QueryResult, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Null => ValueRef::Null,
        }))
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            ValueRef::Null => Value::Null,
        }
    }
}

/// Runs one statement and collects its rows.
pub fn run_statement(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<QueryResult> {
    let sql = immediate_begin(sql).unwrap_or(sql);
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows_out = Vec::new();
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(Value::from))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows_out.push(values);
    }
    Ok(QueryResult {
        columns,
        rows: rows_out,
    })
}

/// `BEGIN` / `BEGIN DEFERRED [TRANSACTION]` become `BEGIN IMMEDIATE`.
fn immediate_begin(sql: &str) -> Option<&'static str> {
    let words: Vec<String> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(
        words.as_slice(),
        ["BEGIN"]
            | ["BEGIN", "TRANSACTION"]
            | ["BEGIN", "DEFERRED"]
            | ["BEGIN", "DEFERRED", "TRANSACTION"]
    )
    .then_some("BEGIN IMMEDIATE")
}

/// Whether `sql` opens a transaction: a `BEGIN` or `SAVEPOINT` statement. In
/// SQL's grammar a statement's kind is its first keyword (after whitespace and
/// comments), so this reads the statement's kind, and nothing more: whether a
/// statement writes is SQLite's verdict (`Statement::readonly`).
pub fn opens_transaction(sql: &str) -> bool {
    matches!(first_keyword(sql).as_deref(), Some("BEGIN" | "SAVEPOINT"))
}

/// The first keyword of `sql`, upper-cased, after whitespace and comments.
fn first_keyword(sql: &str) -> Option<String> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (!word.is_empty()).then(|| word.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_are_known_by_their_statement_kind() {
        assert!(opens_transaction("  -- note\n /* x */ begin;"));
        assert!(opens_transaction("SAVEPOINT a"));
        assert!(!opens_transaction("SELECT * FROM t"));
        assert!(!opens_transaction("COMMIT"));
        assert!(!opens_transaction("/* only a comment"));
    }

    #[test]
    fn plain_begin_becomes_immediate() {
        assert_eq!(immediate_begin("begin"), Some("BEGIN IMMEDIATE"));
        assert_eq!(
            immediate_begin(" BEGIN TRANSACTION; "),
            Some("BEGIN IMMEDIATE")
        );
        assert_eq!(immediate_begin("BEGIN EXCLUSIVE"), None);
        assert_eq!(immediate_begin("SELECT 1"), None);
    }

    #[test]
    fn statements_round_trip_values() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        run_statement(
            &conn,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)",
            &[],
        )
        .unwrap();
        let row = vec![
            Value::Integer(-3),
            Value::Real(1.5),
            Value::Text("é".into()),
            Value::Blob(vec![0, 1]),
            Value::Null,
        ];
        run_statement(&conn, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", &row).unwrap();
        let result = run_statement(&conn, "SELECT * FROM t", &[]).unwrap();
        assert_eq!(result.columns, vec!["i", "r", "s", "b", "n"]);
        assert_eq!(result.rows, vec![row]);
        assert!(run_statement(&conn, "SELEC nonsense", &[]).is_err());
    }
}
