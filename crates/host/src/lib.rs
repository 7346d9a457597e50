//! The Spin-compatible wasmtime host behind `spinflow up`.
//!
//! One module per job: the manifest and runtime config, the router, the
//! engine, the server and the app it serves, and one module per host
//! capability, as Spin's factors are: `variables`, `key_value`, `sqlite`,
//! `outbound_http` (and `wasi:sockets` permissions), `outbound_redis`, `outbound_mqtt`, `outbound_pg`, and WASI (from wasmtime-wasi, with guest output through
//! `stdio` and the components' `files` mounts through `files`). Each capability owns the bindings of every interface version it
//! serves, generated from spin-sdk's WIT files (`spin_wit`), and reaches its
//! storage through a backend trait. `sqlite_pool` holds the SQLite files that
//! the key-value and SQLite backends share.

mod access_log;
pub mod app;
pub mod builder;
pub mod componentize;
pub mod connections;
pub mod engine;
pub mod files;
pub mod instance_id;
pub mod instance_reuse;
pub mod key_value;
pub mod manifest;
pub mod outbound_http;
pub mod outbound_mqtt;
pub mod outbound_pg;
pub mod outbound_redis;
pub mod preinit;
mod request_body;
mod responses;
pub mod router;
pub mod runtime_config;
pub mod server;
mod spin_headers;
mod spin_wit;
pub mod sqlite;
mod sqlite_pool;
pub mod state;
mod stdio;
pub mod variables;

pub use app::{App, AppOptions};
pub use server::{serve, ServeOptions};
