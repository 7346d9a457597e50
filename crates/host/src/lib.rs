//! The Spin-compatible wasmtime host behind `spinflow up`.
//!
//! One module per job: the manifest and runtime config, the router, the
//! engine, the server, and one module per host capability (variables, SQLite,
//! key-value, outbound HTTP), in the spirit of Spin's factors.

mod access_log;
pub mod allowed_hosts;
pub mod app;
mod bindings;
pub mod builder;
pub mod connections;
pub mod engine;
pub mod instance_reuse;
pub mod key_value;
pub mod manifest;
pub mod outbound_http;
pub mod preinit;
pub mod router;
pub mod runtime_config;
pub mod server;
pub mod sqlite;
mod sqlite_pool;
pub mod state;
mod stdio;
pub mod variables;
mod wal_checkpointer;
mod wal_sync;

pub use app::{App, AppOptions};
pub use server::{serve, ServeOptions};
