//! Settings read from Spin variables (see `[component.iris-api.variables]` in spin.toml).
//!
//! Reading a variable is a host call that costs Spin a thread hand-off, and a request
//! needs all seven: the settings are kept in the key-value store beside the model state
//! and read again when the model is checked (every `model_refresh_seconds`, see
//! [`crate::serving`]). API keys are kept as SHA-256 digests only.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Default `mlflow_tracking_uri`: the mlflow-server component through service chaining.
pub const DEFAULT_TRACKING_URI: &str = "http://mlflow-server.spin.internal";
pub const DEFAULT_MODEL_URI: &str = "models:/iris@champion";
pub const DEFAULT_REFRESH_SECONDS: u64 = 30;
pub const DEFAULT_MAX_BATCH_ROWS: usize = 1000;
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_OPEN_ROUTES: &str = "/health,/ping,/metrics,/v2/health/live,/v2/health/ready";

/// Everything the handler needs to know about its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Digests of the accepted API keys (see [`crate::auth::digest`]); empty means
    /// authentication is off.
    pub api_key_digests: Vec<String>,
    /// Paths that answer without a key; an entry ending in `*` is a prefix.
    pub open_routes: Vec<String>,
    pub tracking_uri: String,
    pub model_uri: String,
    pub refresh: Duration,
    pub max_batch_rows: usize,
    pub max_body_bytes: usize,
}

impl Settings {
    /// Builds the settings from a variable lookup (`None` = not set); a variable that is
    /// set but malformed is an error naming it, so a typo never silently falls back.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let list = |v: Option<String>, default: &str| -> Vec<String> {
            v.unwrap_or_else(|| default.to_string())
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match get(name) {
                None => Ok(default),
                Some(v) if v.trim().is_empty() => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("variable {name} must be a whole number, got {v:?}")),
            }
        };
        let text = |name: &str, default: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Ok(Self {
            api_key_digests: list(get("api_keys"), "")
                .iter()
                .map(|key| crate::auth::digest(key))
                .collect(),
            open_routes: list(get("open_routes"), DEFAULT_OPEN_ROUTES),
            tracking_uri: text("mlflow_tracking_uri", DEFAULT_TRACKING_URI)
                .trim_end_matches('/')
                .to_string(),
            model_uri: text("model_uri", DEFAULT_MODEL_URI),
            refresh: Duration::from_secs(number("model_refresh_seconds", DEFAULT_REFRESH_SECONDS)?),
            max_batch_rows: number("max_batch_rows", DEFAULT_MAX_BATCH_ROWS as u64)? as usize,
            max_body_bytes: number("max_body_bytes", DEFAULT_MAX_BODY_BYTES as u64)? as usize,
        })
    }

    /// True when `path` answers without an API key.
    pub fn is_open(&self, path: &str) -> bool {
        self.open_routes
            .iter()
            .any(|route| match route.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == route,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert!(s.api_key_digests.is_empty());
        assert_eq!(s.model_uri, DEFAULT_MODEL_URI);
        assert_eq!(s.refresh, Duration::from_secs(30));
        assert_eq!((s.max_batch_rows, s.max_body_bytes), (1000, 1 << 20));
        assert!(s.is_open("/health") && s.is_open("/metrics") && !s.is_open("/predict"));
    }

    #[test]
    fn lists_are_trimmed_and_prefixes_work() {
        let s = settings(&[
            ("api_keys", " a, b ,,"),
            ("open_routes", "/health, /v2/*"),
            ("mlflow_tracking_uri", "http://127.0.0.1:5000/"),
        ])
        .unwrap();
        let digests = ["a", "b"].map(crate::auth::digest);
        assert_eq!(s.api_key_digests, digests);
        assert!(s.is_open("/v2/models/iris") && !s.is_open("/metrics"));
        assert_eq!(s.tracking_uri, "http://127.0.0.1:5000");
    }

    #[test]
    fn malformed_numbers_name_the_variable() {
        let err = settings(&[("max_batch_rows", "lots")]).unwrap_err();
        assert!(err.contains("max_batch_rows"), "{err}");
    }
}
