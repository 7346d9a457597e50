//! What `spinflow up` can be told about the app it runs, and the limits that
//! follow from the instance pool.

use crate::engine::{self, EngineOptions};
use crate::instance_reuse::ReusePolicy;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `spinflow up` can be told.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub manifest: PathBuf,
    pub state_dir: Option<PathBuf>,
    pub runtime_config_file: Option<PathBuf>,
    /// Serve only these components (empty = all).
    pub component_ids: Vec<String>,
    /// `-e KEY=VALUE`: environment of every component.
    pub env: Vec<(String, String)>,
    /// `--variable name=value`: application variable values.
    pub variables: BTreeMap<String, String>,
    /// `--sqlite`: statements run against the default database before serving.
    pub sqlite_statements: Vec<String>,
    /// `--key-value key=value`: entries set in the default store before serving.
    pub key_values: Vec<(String, String)>,
    /// Largest request body, unless a component sets its own (see `limits`).
    pub max_request_body_bytes: u64,
    /// Wall-clock limit of one request (guest execution and response headers).
    pub request_timeout: Option<Duration>,
    pub cache_dir: Option<PathBuf>,
    pub engine: EngineOptions,
    /// How instances of WASIp3 components are reused.
    pub reuse: ReusePolicy,
    /// Spin's `--allow-transient-write`: `files` mounts are writable (the
    /// copies change, never the app's own files).
    pub allow_transient_write: bool,
}

impl AppOptions {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            state_dir: None,
            runtime_config_file: None,
            component_ids: Vec::new(),
            env: Vec::new(),
            variables: BTreeMap::new(),
            sqlite_statements: Vec::new(),
            key_values: Vec::new(),
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
            request_timeout: Some(Duration::from_secs(600)),
            cache_dir: engine::default_cache_dir(),
            engine: EngineOptions::default(),
            reuse: ReusePolicy::default(),
            allow_transient_write: false,
        }
    }
}

/// Default request body limit: large enough for model artifacts (which are
/// streamed, not buffered, by the host).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: u64 = 4 << 30;

/// Requests from the network that run at once (the instance pool's other half
/// is headroom for chained requests).
pub const MAX_NETWORK_REQUESTS: usize = engine::MAX_CONCURRENT_INSTANCES as usize / 2;
