//! Which database the component uses, chosen per request by the Spin variable
//! `database_url`: empty (the default) is the Spin SQLite database `default`; a
//! `postgres://` (or `postgresql://`) URL is that PostgreSQL server, reached through
//! Spin's outbound PostgreSQL interface (spin.toml must list its `host:port` in
//! `allowed_outbound_hosts`); anything else is refused without connecting anywhere.

use crate::error::StoreError;

/// The variable that selects the database.
pub const DATABASE_URL: &str = "database_url";

/// What a `database_url` value selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    SpinSqlite,
    Postgres,
}

/// Reads a `database_url` value. The error never quotes the value, which may hold a
/// password.
pub fn database_of(url: &str) -> Result<Database, StoreError> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(Database::SpinSqlite);
    }
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => Ok(Database::Postgres),
        _ => Err(StoreError(format!(
            "the variable {DATABASE_URL} is neither empty (Spin SQLite) nor a postgres:// URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_sqlite_and_postgres_urls_are_postgres() {
        assert_eq!(database_of("").unwrap(), Database::SpinSqlite);
        assert_eq!(database_of("  ").unwrap(), Database::SpinSqlite);
        for url in [
            "postgres://u:p@db:5432/mlflow",
            "postgresql://u@db/mlflow?sslmode=require",
            "POSTGRES://u@db/mlflow",
        ] {
            assert_eq!(database_of(url).unwrap(), Database::Postgres, "{url}");
        }
    }

    #[test]
    fn anything_else_is_refused_without_quoting_it() {
        let refusals: Vec<String> = [
            "mysql://u:hunter2@db/x",
            "hunter2",
            "sqlite:///x.db",
            "host=db user=u",
        ]
        .iter()
        .map(|url| database_of(url).unwrap_err().0)
        .collect();
        assert!(refusals[0].contains(DATABASE_URL), "{}", refusals[0]);
        assert!(refusals.iter().all(|r| r == &refusals[0]), "{refusals:?}");
    }
}
