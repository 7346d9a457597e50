//! Outbound PostgreSQL, as Spin 3.6.3's outbound-pg factor serves it:
//! `spin:postgres/postgres@4.0.0` (`spin_v4`), `spin:postgres/postgres@3.0.0`
//! (`spin_v3`), `fermyon:spin/postgres@2.0.0` (`spin_v2`) and the unversioned
//! `fermyon:spin/postgres` of Spin 1 (`spin_v1`, an address per call). Every
//! version runs on the same connections and value mapping (`values`, in the
//! terms of 4.0.0); the older ones narrow results and errors to their types.
//!
//! An address (a URL `postgres://user:pass@host:port/db` or key-value
//! `host=... port=...`, as tokio-postgres parses them) is usable only if
//! `allowed_outbound_hosts` allows each of its hosts (`postgres://host:port`,
//! port 5432 when not given). Connections come from a pool per connection
//! string (deadpool-postgres, as in Spin: at most 64 connections each, 16
//! connection strings kept, the least recently used pool dropped beyond),
//! and are cleaned when handed back, before another request can take them
//! (`connection`; Spin cleans when it takes one). TLS is used unless the string says
//! `sslmode=disable` (`tls`).
//!
//! Each connection keeps the statements it has prepared (`statements`), so a
//! statement text it has seen before runs in one round trip instead of two
//! (prepare, then bind and execute). Spin 3.6.3 prepares every statement anew;
//! what the guest sees is the same either way.
//!
//! Unlike Spin, which sets no timeout, nothing here waits without bound on a
//! server that does not answer: a TCP connect gives up after
//! [`CONNECT_TIMEOUT`] (unless the string sets `connect_timeout`), making a
//! connection (TLS and login included) after [`CREATE_TIMEOUT`], checking a
//! pooled one after [`RECYCLE_TIMEOUT`], and waiting for a free one after
//! [`WAIT_TIMEOUT`]. The guest sees each as `connection-failed`.

// Results carry 4.0.0's `error` as is: its size is the interface's.
#![allow(clippy::result_large_err)]

mod bindings;
mod connection;
mod errors;
mod spin_v1;
mod spin_v2;
mod spin_v3;
mod spin_v4;
mod statements;
mod tls;
mod values;

use crate::outbound_http::OutboundHooks;
use anyhow::{Context, Result};
use bindings::spin::postgres4_0_0::postgres as v4;
use deadpool_postgres::{
    ClientWrapper, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use futures::TryStreamExt;
use std::sync::Mutex;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;
use wasmtime::component::{HasData, Linker, ResourceTable};

pub use connection::PgConnection;

/// What the PostgreSQL interfaces see of an instance.
pub struct PgView<'a> {
    pub outbound: &'a OutboundHooks,
    pub table: &'a mut ResourceTable,
}

pub struct PgCapability;
impl HasData for PgCapability {
    type Data<'a> = PgView<'a>;
}

/// Adds every PostgreSQL interface; `view` gives an instance's parts.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> PgView<'_>,
) -> Result<()> {
    use bindings::fermyon::{spin as v1, spin2_0_0 as v2};
    use bindings::spin::postgres3_0_0::postgres as v3;
    v4::add_to_linker::<_, PgCapability>(linker, view)?;
    v3::add_to_linker::<_, PgCapability>(linker, view)?;
    v2::postgres::add_to_linker::<_, PgCapability>(linker, view)?;
    v2::rdbms_types::add_to_linker::<_, PgCapability>(linker, view)?;
    v1::postgres::add_to_linker::<_, PgCapability>(linker, view)?;
    v1::rdbms_types::add_to_linker::<_, PgCapability>(linker, view)?;
    Ok(())
}

/// Largest result the host buffers for a guest (Spin's limit).
const MAX_RESULT_BYTES: usize = 128 << 20;
/// Connections per pool (Spin's).
const POOL_SIZE: usize = 64;
/// Pools kept, one per connection string (Spin's).
const POOLS_KEPT: usize = 16;
/// Longest wait for a TCP connection to a server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a new connection, TLS handshake and login included.
const CREATE_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest check of a pooled connection before it is handed out again.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a connection when all of a pool's are in use.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the component may reach every host `address` names; checked as
/// Spin 3.6.3 checks it, quirks included: the port is the one at the host's
/// position in the port list (a single port given for several hosts counts
/// for the first only; the others are checked at 5432), and `hostaddr` is
/// not checked.
fn check_allowed(outbound: &OutboundHooks, address: &str) -> Result<(), v4::Error> {
    let config: tokio_postgres::Config = address
        .parse()
        .map_err(|e| v4::Error::ConnectionFailed(errors::line(&e)))?;
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let Host::Tcp(name) = host else {
            return Err(v4::Error::ConnectionFailed(
                "Unix sockets are not supported on WebAssembly".into(),
            ));
        };
        let target = match ports.get(i) {
            Some(port) => format!("{name}:{port}"),
            None => name.clone(),
        };
        // An address that is no URL (an IPv6 literal, as Spin writes it) is
        // not permitted, as in Spin.
        if outbound.allows_url(&target, "postgres") != Ok(true) {
            return Err(v4::Error::ConnectionFailed(format!(
                "address postgres://{target} is not permitted"
            )));
        }
    }
    Ok(())
}

/// The pools of this process, least recently used first.
static POOLS: Mutex<Vec<(String, Pool)>> = Mutex::new(Vec::new());

fn cached_pool(address: &str) -> Option<Pool> {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let at = pools.iter().position(|(a, _)| a == address)?;
    let entry = pools.remove(at);
    let pool = entry.1.clone();
    pools.push(entry);
    Some(pool)
}

/// The pool of `address`, made on first use (making one connects nothing).
async fn pool(address: &str) -> Result<Pool> {
    if let Some(pool) = cached_pool(address) {
        return Ok(pool);
    }
    let mut config: tokio_postgres::Config = address
        .parse()
        .context("parsing Postgres connection string")?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // Connections are cleaned when handed back (`connection`): taking one only
    // checks that it is still open.
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if config.get_ssl_mode() == SslMode::Disable {
        Manager::from_config(config, NoTls, manager_config)
    } else {
        Manager::from_config(config, tls::connector().await?, manager_config)
    };
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(CREATE_TIMEOUT))
        .recycle_timeout(Some(RECYCLE_TIMEOUT))
        .wait_timeout(Some(WAIT_TIMEOUT))
        .build()
        .context("building Postgres connection pool")?;
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    // Another instance may have made one meanwhile: keep that one.
    if let Some((_, existing)) = pools.iter().find(|(a, _)| a == address) {
        return Ok(existing.clone());
    }
    if pools.len() >= POOLS_KEPT {
        pools.remove(0);
    }
    pools.push((address.to_string(), pool.clone()));
    Ok(pool)
}

/// Checks `address`, then takes a connection from its pool.
async fn open(outbound: &OutboundHooks, address: &str) -> Result<PgConnection, v4::Error> {
    check_allowed(outbound, address)?;
    let pool = pool(address).await.map_err(|e| {
        let e = e.context("establishing PostgreSQL connection pool");
        v4::Error::ConnectionFailed(errors::anyhow_text(&e))
    })?;
    match pool.get().await {
        Ok(client) => Ok(PgConnection::new(client)),
        Err(e) => Err(v4::Error::ConnectionFailed(pool_error_text(&e))),
    }
}

/// A pool's failure to hand out a connection, as Spin words it.
fn pool_error_text(error: &PoolError) -> String {
    match error {
        PoolError::Backend(e) => errors::with_causes(
            &format!(
                "Error occurred while creating a new object: {}",
                errors::line(e)
            ),
            Some(e),
        ),
        other => errors::chain(other),
    }
}

/// A failed statement: PostgreSQL's own error with its fields, or the
/// driver's (the text is the driver's debug form, as Spin gives it).
fn query_failed(error: tokio_postgres::Error) -> v4::Error {
    let as_text = format!("{error:?}");
    let Some(db) = error.as_db_error() else {
        return v4::Error::QueryFailed(v4::QueryError::Text(as_text));
    };
    let mut extras = Vec::new();
    let fields = [
        ("column", db.column().map(str::to_string)),
        ("constraint", db.constraint().map(str::to_string)),
        ("routine", db.routine().map(str::to_string)),
        ("hint", db.hint().map(str::to_string)),
        ("table", db.table().map(str::to_string)),
        ("datatype", db.datatype().map(str::to_string)),
        ("schema", db.schema().map(str::to_string)),
        ("file", db.file().map(str::to_string)),
        ("line", db.line().map(|l| l.to_string())),
        ("where_", db.where_().map(str::to_string)),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            extras.push((name.to_string(), value));
        }
    }
    v4::Error::QueryFailed(v4::QueryError::DbError(v4::DbError {
        as_text,
        severity: db.severity().to_string(),
        code: db.code().code().to_string(),
        message: db.message().to_string(),
        detail: db.detail().map(str::to_string),
        extras,
    }))
}

/// The parameters as the driver binds them; `Err` is the first that does not
/// convert, in Spin's words.
fn parameters(params: &[v4::ParameterValue]) -> Result<Vec<Box<dyn ToSql + Send + Sync>>, String> {
    params
        .iter()
        .map(values::parameter)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| errors::anyhow_text(&e))
}

/// The converted parameters as the driver takes them.
fn borrowed(params: &[Box<dyn ToSql + Send + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Runs a statement that returns rows. A parameter that does not convert is
/// `bad-parameter` here (and `value-conversion-failed` in `execute`), as in
/// Spin. Columns are described from the first row: none when no row came.
async fn query(
    client: &ClientWrapper,
    statement: &str,
    params: &[v4::ParameterValue],
) -> Result<v4::RowSet, v4::Error> {
    let params = parameters(params).map_err(v4::Error::BadParameter)?;
    let params = &borrowed(&params);
    let rows = statements::run(client, statement, |prepared| async move {
        client.query_raw(&prepared, params.iter().copied()).await
    })
    .await
    .map_err(query_failed)?;
    let mut rows = std::pin::pin!(rows);
    let mut columns = None;
    let mut out = Vec::new();
    let mut bytes = values::ROW_SET_SIZE;
    let text = |e: String| v4::Error::QueryFailed(v4::QueryError::Text(e));
    loop {
        let row = match rows.try_next().await {
            Ok(Some(row)) => row,
            Ok(None) => break,
            // A failure past the first row (or while executing) carries no
            // structured fields in Spin.
            Err(e) => return Err(text(errors::chain(&e))),
        };
        if columns.is_none() {
            columns = Some(
                row.columns()
                    .iter()
                    .map(|c| v4::Column {
                        name: c.name().to_string(),
                        data_type: values::column_type(c.type_()),
                    })
                    .collect(),
            );
        }
        let values = (0..row.len())
            .map(|i| values::column_value(&row, i))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| text(errors::anyhow_text(&e)))?;
        bytes += values.iter().map(values::size).sum::<usize>();
        if bytes > MAX_RESULT_BYTES {
            return Err(text(format!(
                "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
            )));
        }
        out.push(values);
    }
    Ok(v4::RowSet {
        columns: columns.unwrap_or_default(),
        rows: out,
    })
}

/// Runs a statement; the number of rows it affected.
async fn execute(
    client: &ClientWrapper,
    statement: &str,
    params: &[v4::ParameterValue],
) -> Result<u64, v4::Error> {
    let params = parameters(params).map_err(v4::Error::ValueConversionFailed)?;
    let params = &borrowed(&params);
    statements::run(client, statement, |prepared| async move {
        client.execute(&prepared, params).await
    })
    .await
    .map_err(query_failed)
}

impl PgView<'_> {
    /// The driver's client (with its prepared statements) behind a guest's connection.
    fn client(&self, c: &wasmtime::component::Resource<PgConnection>) -> Result<&ClientWrapper> {
        Ok(self.table.get(c)?.client())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound_http::allowed_hosts::AllowedHosts;
    use std::sync::Arc;

    fn hooks(allowed: &[&str]) -> OutboundHooks {
        let entries = allowed.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        OutboundHooks {
            component_id: "c".into(),
            allowed: Arc::new(AllowedHosts::parse(&entries).unwrap()),
            chaining: None,
        }
    }

    fn refused(allowed: &[&str], address: &str) -> Option<String> {
        match check_allowed(&hooks(allowed), address) {
            Ok(()) => None,
            Err(v4::Error::ConnectionFailed(m)) => Some(m),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn both_connection_string_forms_are_checked() {
        let allowed = ["postgres://db.example:5433", "postgres://localhost"];
        assert_eq!(refused(&allowed, "postgres://u:p@db.example:5433/x"), None);
        assert_eq!(refused(&allowed, "host=db.example port=5433 user=u"), None);
        assert_eq!(refused(&allowed, "host=localhost user=u"), None);
        assert_eq!(
            refused(&allowed, "postgres://u@db.example/x").as_deref(),
            Some("address postgres://db.example:5432 is not permitted")
        );
        assert_eq!(
            refused(&allowed, "host=other port=5432").as_deref(),
            Some("address postgres://other:5432 is not permitted")
        );
    }

    #[test]
    fn every_host_is_checked_with_the_port_at_its_position() {
        let allowed = ["postgres://a:7000", "postgres://b:5432"];
        assert_eq!(refused(&allowed, "host=a,b port=7000"), None);
        assert_eq!(
            refused(&allowed, "host=a,b port=7000,7001").as_deref(),
            Some("address postgres://b:7001 is not permitted")
        );
    }

    #[test]
    fn unix_sockets_and_bad_strings_are_connection_failures() {
        assert_eq!(
            refused(&["*://*:*"], "host=/var/run/postgresql").as_deref(),
            Some("Unix sockets are not supported on WebAssembly")
        );
        let bad = refused(&["*://*:*"], "host='unterminated").unwrap();
        assert!(bad.starts_with("invalid connection string: "), "{bad}");
    }
}
