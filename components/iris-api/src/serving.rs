//! Which model is served, and keeping it current.
//!
//! The state shared by all instances lives in the key-value store:
//! * `iris-api/serving`: a JSON [`Record`]: the [`Settings`] last read from Spin's
//!   variables and the [`ModelState`] (what is served, when the registry was last
//!   asked, the last problem). One read gives a request everything it needs;
//! * `iris-api/model/cache/<name>/<version>`: the prepared ONNX bytes of each version
//!   seen, so that steady-state requests read the model locally and never touch the
//!   network.
//!
//! A version whose prepared bytes are those of the model baked into the component
//! (`spinflow preinit --model`, see [`crate::preload`]) is served from the baked plans.
//!
//! When the state is older than `model_refresh_seconds`, the variables are read again
//! and one instance (the one that wins an atomic lease) asks the registry again; the
//! others keep serving. A new
//! version is downloaded, prepared and checked before it is switched to; a version
//! that tract cannot run is refused and the previous model keeps serving. If the
//! registry is unreachable the cached version keeps serving (source `cache`); if
//! nothing is registered, the embedded default model serves (source `embedded`).

use crate::config::Settings;
use crate::kv::Store;
use crate::model;
use crate::preload::{self, PlanOrigin, Runnable};
use mlflow_client::{HttpClient, MlflowClient, ModelUri, RegistryError, Resolved, MAX_MODEL_BYTES};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tract_onnx::prelude::TractResult;

const RECORD_KEY: &str = "iris-api/serving";
const CACHE_PREFIX: &str = "iris-api/model/cache/";
const LEASE_PREFIX: &str = "iris-api/model/lease/";

/// Name and version reported for the embedded default model.
pub const EMBEDDED_NAME: &str = "iris";
pub const EMBEDDED_VERSION: &str = concat!("embedded-", env!("CARGO_PKG_VERSION"));

/// Where the served model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Confirmed by the registry at the last check.
    Registry,
    /// A registry version kept because the last check failed.
    Cache,
    /// The default model built into the component.
    Embedded,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Registry => "registry",
            Source::Cache => "cache",
            Source::Embedded => "embedded",
        }
    }
}

/// The shared record of what is served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    /// The settings this state was resolved for; a change forces a new resolution.
    pub model_uri: String,
    pub tracking_uri: String,
    pub name: String,
    pub version: String,
    pub source: Source,
    /// When the registry was last asked (ms since the epoch).
    pub checked_at_ms: u64,
    /// When the served version was switched to.
    pub loaded_at_ms: u64,
    /// The problem met at the last check, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The digest of the served registry version's prepared bytes (see
    /// [`model::digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl ModelState {
    fn embedded(model_uri: &str, tracking_uri: &str, now_ms: u64) -> Self {
        Self {
            model_uri: model_uri.into(),
            tracking_uri: tracking_uri.into(),
            name: EMBEDDED_NAME.into(),
            version: EMBEDDED_VERSION.into(),
            source: Source::Embedded,
            checked_at_ms: now_ms,
            loaded_at_ms: now_ms,
            last_error: None,
            digest: None,
        }
    }

    fn cache_key(&self) -> Option<String> {
        (self.source != Source::Embedded).then(|| cache_key(&self.name, &self.version))
    }
}

fn cache_key(name: &str, version: &str) -> String {
    format!("{CACHE_PREFIX}{name}/{version}")
}

/// The served model: its state and where its prepared form is.
pub struct Served {
    pub state: ModelState,
    pub model: ServedModel,
}

/// The embedded default, the baked model (both preloaded, see [`crate::preload`]), or
/// a registry version's prepared ONNX bytes, from the cache (or from this instance,
/// which already had them).
pub enum ServedModel {
    Embedded,
    Baked(&'static preload::Baked),
    Cached { key: String, onnx: Arc<[u8]> },
}

impl ServedModel {
    /// A runnable plan for batches of `rows` rows (any size when `None`), and how it
    /// was had.
    pub fn runnable(&self, rows: Option<usize>) -> TractResult<(Runnable, PlanOrigin)> {
        match self {
            ServedModel::Embedded => Ok((
                Runnable::Resident(preload::embedded(rows)?),
                PlanOrigin::Preloaded,
            )),
            ServedModel::Baked(baked) => Ok((
                Runnable::Resident(baked.plans.for_rows(rows)),
                PlanOrigin::Baked,
            )),
            ServedModel::Cached { key, onnx } => preload::registry(key, onnx, rows),
        }
    }
}

/// What is kept under [`RECORD_KEY`].
#[derive(Serialize, Deserialize)]
struct Record {
    settings: Settings,
    state: ModelState,
}

/// What a request starts from: the settings, and the state stored with them.
pub struct Loaded {
    pub settings: Settings,
    stored: Option<ModelState>,
}

impl Loaded {
    fn target(&self) -> Target<'_> {
        Target {
            model_uri: &self.settings.model_uri,
            tracking_uri: &self.settings.tracking_uri,
            refresh_ms: self.settings.refresh.as_millis() as u64,
        }
    }
}

/// Reads the record; `read_settings` reads Spin's variables, only when nothing is
/// stored yet or the state is due for a check.
pub fn load(
    store: &impl Store,
    now_ms: u64,
    read_settings: impl FnOnce() -> Result<Settings, String>,
) -> Result<Loaded, String> {
    let record: Option<Record> = store
        .get(RECORD_KEY)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match record {
        Some(Record { settings, state }) => {
            let refresh_ms = settings.refresh.as_millis() as u64;
            let settings = if is_due(&state, now_ms, refresh_ms) {
                read_settings()?
            } else {
                settings
            };
            Ok(Loaded {
                settings,
                stored: Some(state),
            })
        }
        None => Ok(Loaded {
            settings: read_settings()?,
            stored: None,
        }),
    }
}

fn is_due(state: &ModelState, now_ms: u64, refresh_ms: u64) -> bool {
    now_ms.saturating_sub(state.checked_at_ms) >= refresh_ms
}

/// The settings that matter to the model state.
struct Target<'a> {
    model_uri: &'a str,
    tracking_uri: &'a str,
    refresh_ms: u64,
}

/// The current state, refreshed from the registry first if it is due.
pub async fn current_state(
    store: &impl Store,
    http: &impl HttpClient,
    loaded: &Loaded,
    now_ms: u64,
) -> ModelState {
    let target = loaded.target();
    match loaded.stored.clone() {
        Some(state)
            if state.model_uri == target.model_uri
                && state.tracking_uri == target.tracking_uri
                && !is_due(&state, now_ms, target.refresh_ms) =>
        {
            state
        }
        Some(state)
            if state.model_uri == target.model_uri && state.tracking_uri == target.tracking_uri =>
        {
            // Due: one instance refreshes, the others serve what there is meanwhile.
            // The lease is per refresh window, so an instance that dies holding it
            // only delays the switch by one interval.
            let lease = format!("{LEASE_PREFIX}{}", now_ms / target.refresh_ms.max(1));
            if store.increment(&lease, 1).map(|n| n == 1).unwrap_or(true) {
                let next = refresh(store, http, loaded, Some(state), now_ms).await;
                let _ = store.delete(&lease);
                next
            } else {
                state
            }
        }
        _ => refresh(store, http, loaded, None, now_ms).await,
    }
}

/// The state plus the model to run: the baked plans if the served version is the
/// baked model, else its prepared bytes. Falls back to the embedded model if the
/// cached bytes are gone (and makes the next request resolve again).
pub async fn current(
    store: &impl Store,
    http: &impl HttpClient,
    loaded: &Loaded,
    now_ms: u64,
) -> Served {
    let state = current_state(store, http, loaded, now_ms).await;
    let Some(key) = state.cache_key() else {
        return Served {
            state,
            model: ServedModel::Embedded,
        };
    };
    if let Some(baked) = preload::baked().filter(|b| state.digest.as_ref() == Some(&b.digest)) {
        return Served {
            state,
            model: ServedModel::Baked(baked),
        };
    }
    match cached_bytes(store, &key) {
        Ok(Some(onnx)) => Served {
            state,
            model: ServedModel::Cached { key, onnx },
        },
        _ => {
            let target = loaded.target();
            let mut fallback = ModelState::embedded(target.model_uri, target.tracking_uri, 0);
            fallback.last_error = Some(format!(
                "cached model {key} is missing; serving the embedded default"
            ));
            let _ = save(store, &loaded.settings, &fallback);
            Served {
                state: fallback,
                model: ServedModel::Embedded,
            }
        }
    }
}

/// A version's prepared bytes: from this instance if it already has them (a reused
/// WASIp3 instance), else from the key-value cache.
fn cached_bytes(store: &impl Store, key: &str) -> Result<Option<Arc<[u8]>>, String> {
    match preload::registry_bytes(key) {
        Some(onnx) => Ok(Some(onnx)),
        None => store.get(key).map(|b| b.map(Arc::from)),
    }
}

fn save(store: &impl Store, settings: &Settings, state: &ModelState) -> Result<(), String> {
    let record = Record {
        settings: settings.clone(),
        state: state.clone(),
    };
    store.set(
        RECORD_KEY,
        &serde_json::to_vec(&record).expect("the record serialises"),
    )
}

/// The client of the configured tracking server, and what the model URI designates there.
async fn resolve<'h, H: HttpClient>(
    http: &'h H,
    target: &Target<'_>,
) -> Result<(MlflowClient<'h, H>, Resolved), RegistryError> {
    let uri = ModelUri::parse(target.model_uri).map_err(RegistryError::Invalid)?;
    let registry = MlflowClient::new(http, target.tracking_uri)?;
    let resolved = registry.resolve(&uri).await?;
    Ok((registry, resolved))
}

/// Asks the registry which version to serve and switches to it if it is new and good.
async fn refresh(
    store: &impl Store,
    http: &impl HttpClient,
    loaded: &Loaded,
    previous: Option<ModelState>,
    now_ms: u64,
) -> ModelState {
    let target = loaded.target();
    let mut state = previous
        .unwrap_or_else(|| ModelState::embedded(target.model_uri, target.tracking_uri, now_ms));
    state.checked_at_ms = now_ms;
    state.last_error = None;
    match resolve(http, &target).await {
        Ok((registry, resolved)) => {
            let key = cache_key(&resolved.name, &resolved.version);
            let same_version = state.source != Source::Embedded
                && state.name == resolved.name
                && state.version == resolved.version;
            let known = match (&state.digest, same_version) {
                (Some(digest), true) => Some(digest.clone()),
                _ => store
                    .get(&key)
                    .ok()
                    .flatten()
                    .map(|prepared| model::digest(&prepared)),
            };
            let ready = match known {
                Some(digest) => Ok(digest),
                None => match registry
                    .download_onnx(&resolved.artifact_uri, MAX_MODEL_BYTES)
                    .await
                {
                    Ok(bytes) => model::prepare(&bytes)
                        .map_err(|why| {
                            format!(
                                "model {} version {} refused: {why}",
                                resolved.name, resolved.version
                            )
                        })
                        .and_then(|prepared| {
                            store.set(&key, &prepared)?;
                            Ok(model::digest(&prepared))
                        }),
                    Err(e) => Err(format!(
                        "model {} version {}: {e}",
                        resolved.name, resolved.version
                    )),
                },
            };
            match ready {
                Ok(digest) => {
                    state.digest = Some(digest);
                    if state.source == Source::Embedded
                        || state.name != resolved.name
                        || state.version != resolved.version
                    {
                        state.loaded_at_ms = now_ms;
                    }
                    state.name = resolved.name;
                    state.version = resolved.version;
                    state.source = Source::Registry;
                }
                Err(why) => {
                    if state.source == Source::Registry {
                        state.source = Source::Cache;
                    }
                    state.last_error = Some(why);
                }
            }
        }
        Err(RegistryError::NotFound(why)) => {
            let fresh = ModelState::embedded(target.model_uri, target.tracking_uri, now_ms);
            let loaded_at_ms = if state.source == Source::Embedded {
                state.loaded_at_ms
            } else {
                now_ms
            };
            state = ModelState {
                loaded_at_ms,
                last_error: Some(format!(
                    "nothing to serve from the registry ({why}); serving the embedded default"
                )),
                ..fresh
            };
        }
        Err(e) => {
            if state.source == Source::Registry {
                state.source = Source::Cache;
            }
            state.last_error = Some(e.to_string());
        }
    }
    if let Err(e) = save(store, &loaded.settings, &state) {
        state.last_error = Some(e);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryStore;
    use mlflow_client::{HttpError, HttpResponse};
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A registry with an alias `champion` on a mutable version, or down.
    struct FakeRegistry {
        version: RefCell<Option<u32>>,
        up: RefCell<bool>,
        files: HashMap<u32, Vec<u8>>,
        calls: RefCell<usize>,
    }

    impl HttpClient for FakeRegistry {
        async fn get(&self, url: &str, _: usize) -> Result<HttpResponse, HttpError> {
            *self.calls.borrow_mut() += 1;
            if !*self.up.borrow() {
                return Err(HttpError::Failed("connection refused".into()));
            }
            let ok = |body: String| {
                Ok(HttpResponse {
                    status: 200,
                    body: body.into_bytes(),
                })
            };
            let version = *self.version.borrow();
            if url.contains("registered-models/alias") {
                return match version {
                    Some(v) => ok(format!(r#"{{"model_version":{{"version":"{v}"}}}}"#)),
                    None => Ok(HttpResponse { status: 400, body: br#"{"error_code":"INVALID_PARAMETER_VALUE","message":"alias not found"}"#.to_vec() }),
                };
            }
            if let Some(v) = url.split("version=").nth(1) {
                return ok(format!(r#"{{"artifact_uri":"mlflow-artifacts:/0/v{v}"}}"#));
            }
            if url.contains("artifacts?path=") {
                return ok(r#"{"files":[{"path":"model.onnx","is_dir":false}]}"#.into());
            }
            let v: u32 = url
                .split("/v")
                .nth(1)
                .and_then(|s| s.split('/').next())
                .and_then(|s| s.parse().ok())
                .unwrap();
            Ok(HttpResponse {
                status: 200,
                body: self.files[&v].clone(),
            })
        }
        async fn post_json(&self, _: &str, _: &str, _: usize) -> Result<HttpResponse, HttpError> {
            unreachable!()
        }
    }

    fn settings() -> Result<Settings, String> {
        Settings::from_lookup(|name| match name {
            "mlflow_tracking_uri" => Some("http://t".into()),
            "model_refresh_seconds" => Some("1".into()),
            _ => None,
        })
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    /// What one request at `now_ms` gets.
    fn current_at(store: &MemoryStore, reg: &FakeRegistry, now_ms: u64) -> Served {
        let loaded = load(store, now_ms, settings).unwrap();
        run(current(store, reg, &loaded, now_ms))
    }

    #[test]
    fn lifecycle_embedded_registry_cache_and_refusal() {
        let good = iris_model::DEFAULT_ONNX.to_vec();
        let reg = FakeRegistry {
            version: RefCell::new(None),
            up: RefCell::new(true),
            files: HashMap::from([
                (1, good.clone()),
                (2, good.clone()),
                (3, b"not onnx".to_vec()),
            ]),
            calls: RefCell::new(0),
        };
        let store = MemoryStore::default();

        // Nothing registered: embedded default, and the reason is recorded.
        let s = current_at(&store, &reg, 0).state;
        assert_eq!(s.source, Source::Embedded);
        assert!(s.last_error.unwrap().contains("alias not found"));

        // Registered later: switch after the interval, not before.
        *reg.version.borrow_mut() = Some(1);
        assert_eq!(current_at(&store, &reg, 500).state.source, Source::Embedded);
        let s = current_at(&store, &reg, 1000).state;
        assert_eq!((s.source, s.version.as_str()), (Source::Registry, "1"));

        // Steady state: no network I/O.
        let calls = *reg.calls.borrow();
        let served = current_at(&store, &reg, 1500);
        assert_eq!(*reg.calls.borrow(), calls);
        assert!(matches!(served.model, ServedModel::Cached { ref onnx, .. } if !onnx.is_empty()));

        // Registry down: keep serving version 1 from the cache.
        *reg.up.borrow_mut() = false;
        let s = current_at(&store, &reg, 2100).state;
        assert_eq!((s.source, s.version.as_str()), (Source::Cache, "1"));
        assert!(s.last_error.unwrap().contains("unavailable"));

        // Back up with a broken version 3: refused, version 1 keeps serving.
        *reg.up.borrow_mut() = true;
        *reg.version.borrow_mut() = Some(3);
        let s = current_at(&store, &reg, 3200).state;
        assert_eq!(s.version, "1");
        assert!(s.last_error.unwrap().contains("version 3 refused"));

        // Version 2 is good: switch.
        *reg.version.borrow_mut() = Some(2);
        let s = current_at(&store, &reg, 4300).state;
        assert_eq!(
            (s.source, s.version.as_str(), s.last_error),
            (Source::Registry, "2", None)
        );
    }

    #[test]
    fn variables_are_read_again_only_when_the_model_is_checked() {
        let reg = FakeRegistry {
            version: RefCell::new(None),
            up: RefCell::new(true),
            files: HashMap::new(),
            calls: RefCell::new(0),
        };
        let store = MemoryStore::default();
        let reads = RefCell::new(0);
        let counted = || {
            *reads.borrow_mut() += 1;
            settings()
        };
        let request = |now_ms| {
            let loaded = load(&store, now_ms, counted).unwrap();
            run(current(&store, &reg, &loaded, now_ms))
        };
        request(0);
        assert_eq!(*reads.borrow(), 1, "nothing stored yet: read");
        request(200);
        request(900);
        assert_eq!(
            *reads.borrow(),
            1,
            "within the interval: the stored settings"
        );
        request(1000);
        assert_eq!(*reads.borrow(), 2, "due: read again with the check");
        request(1500);
        assert_eq!(*reads.borrow(), 2);
        // A variable that became malformed is reported at the next check.
        let broken = load(&store, 2000, || Err("variable max_batch_rows ...".into()));
        assert!(broken.is_err());
    }
}
