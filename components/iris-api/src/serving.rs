//! Which model is served, and keeping it current.
//!
//! The state shared by all instances lives in the key-value store:
//! * `iris-api/model/state`: a JSON [`ModelState`] (what is served, when the registry
//!   was last asked, the last problem);
//! * `iris-api/model/cache/<name>/<version>`: the prepared ONNX bytes of each version
//!   seen, so that steady-state requests read the model locally and never touch the
//!   network.
//!
//! When the state is older than `model_refresh_seconds`, one instance (the one that
//! wins an atomic lease) asks the registry again; the others keep serving. A new
//! version is downloaded, prepared and checked before it is switched to; a version
//! that tract cannot run is refused and the previous model keeps serving. If the
//! registry is unreachable the cached version keeps serving (source `cache`); if
//! nothing is registered, the embedded default model serves (source `embedded`).

use crate::kv::Store;
use crate::model;
use crate::preload::{self, PlanOrigin, Runnable};
use crate::registry::{HttpClient, ModelUri, Registry, RegistryError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tract_onnx::prelude::TractResult;

const STATE_KEY: &str = "iris-api/model/state";
const CACHE_PREFIX: &str = "iris-api/model/cache/";
const LEASE_PREFIX: &str = "iris-api/model/lease/";
const IMAGE_PREFIX: &str = "iris-api/model/image/";

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

/// The embedded default (preloaded, see [`crate::preload`]), a registry version's
/// prepared ONNX bytes, from the cache (or from this instance, which already had
/// them), or a registry version's plan placed from its image (see [`image_key`]).
pub enum ServedModel {
    Embedded,
    Cached {
        key: String,
        onnx: Arc<[u8]>,
        /// Whether to make the plan's image while loading it: none could be used.
        make_image: bool,
    },
    Placed(&'static model::Model),
}

/// Kept under an image's key when the plan cannot be kept as an image, so that
/// later instances load it without trying again. Images start with other bytes.
const NOT_IMAGEABLE: &[u8] = b"not imageable";

impl ServedModel {
    /// A runnable plan for batches of `rows` rows (any size when `None`), and how it
    /// was had. A registry version loaded here leaves its plan's image in `store`
    /// when it can (or the note that it cannot).
    pub fn runnable(
        &self,
        store: &impl Store,
        rows: Option<usize>,
    ) -> TractResult<(Runnable, PlanOrigin)> {
        match self {
            ServedModel::Embedded => Ok((
                Runnable::Resident(preload::embedded(rows)?),
                PlanOrigin::Preloaded,
            )),
            ServedModel::Cached {
                key,
                onnx,
                make_image,
            } => {
                let image_key = image_key(key, rows).filter(|_| *make_image);
                let plan = preload::registry(key, onnx, rows, image_key.is_some())?;
                if let (Some(image_key), Some(image)) = (image_key, plan.image) {
                    let kept = image.as_deref().unwrap_or(NOT_IMAGEABLE);
                    // Only a saving for later instances is lost if this fails.
                    let _ = store.set(&image_key, kept);
                }
                Ok((plan.runnable, plan.origin))
            }
            ServedModel::Placed(model) => Ok((Runnable::Resident(model), PlanOrigin::Image)),
        }
    }
}

/// Where the image of version `cache_key`'s plan for `rows` rows, made by this
/// component's snapshot, is kept; `None` where images are not used.
fn image_key(cache_key: &str, rows: Option<usize>) -> Option<String> {
    let tag = preload::image_tag()?;
    let version = cache_key.strip_prefix(CACHE_PREFIX).unwrap_or(cache_key);
    let shape = if rows == Some(1) { "1" } else { "any" };
    Some(format!("{IMAGE_PREFIX}{version}/{shape}/{tag}"))
}

/// The settings that matter here.
pub struct Target<'a> {
    pub model_uri: &'a str,
    pub tracking_uri: &'a str,
    pub refresh_ms: u64,
}

/// The current state, refreshed from the registry first if it is due.
pub async fn current_state(
    store: &impl Store,
    http: &impl HttpClient,
    target: &Target<'_>,
    now_ms: u64,
) -> ModelState {
    let stored: Option<ModelState> = store
        .get(STATE_KEY)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match stored {
        Some(state)
            if state.model_uri == target.model_uri
                && state.tracking_uri == target.tracking_uri
                && now_ms.saturating_sub(state.checked_at_ms) < target.refresh_ms =>
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
                let next = refresh(store, http, target, Some(state), now_ms).await;
                let _ = store.delete(&lease);
                next
            } else {
                state
            }
        }
        _ => refresh(store, http, target, None, now_ms).await,
    }
}

/// The state plus the model to run for batches of `rows` rows (any size when
/// `None`): an image of its plan if there is one, else its bytes. Falls back to the
/// embedded model if the cached bytes are gone (and makes the next request resolve
/// again).
pub async fn current(
    store: &impl Store,
    http: &impl HttpClient,
    target: &Target<'_>,
    now_ms: u64,
    rows: Option<usize>,
) -> Served {
    let state = current_state(store, http, target, now_ms).await;
    let Some(key) = state.cache_key() else {
        return Served {
            state,
            model: ServedModel::Embedded,
        };
    };
    // The plan, placed from its image if there is one that fits this instance; else
    // the bytes, and whether to make an image while loading them.
    let image_key = image_key(&key, rows);
    let image = image_key.as_ref().map(|k| store.get(k).ok().flatten());
    let make_image = match image {
        Some(Some(image)) => {
            if let Some(model) = preload::restore(&image) {
                return Served {
                    state,
                    model: ServedModel::Placed(model),
                };
            }
            // An image this instance cannot take (the snapshot-heap bytes it points
            // into differ here) would likely not fit the next one either: loading
            // and remaking it every request would cost more than loading alone.
            if image != NOT_IMAGEABLE {
                if let Some(k) = &image_key {
                    let _ = store.set(k, NOT_IMAGEABLE);
                }
            }
            false
        }
        Some(None) => true,
        None => false,
    };
    match cached_bytes(store, &key) {
        Ok(Some(onnx)) => Served {
            state,
            model: ServedModel::Cached {
                key,
                onnx,
                make_image,
            },
        },
        _ => {
            let mut fallback = ModelState::embedded(target.model_uri, target.tracking_uri, 0);
            fallback.last_error = Some(format!(
                "cached model {key} is missing; serving the embedded default"
            ));
            let _ = save(store, &fallback);
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

fn save(store: &impl Store, state: &ModelState) -> Result<(), String> {
    store.set(
        STATE_KEY,
        &serde_json::to_vec(state).expect("state serialises"),
    )
}

/// Asks the registry which version to serve and switches to it if it is new and good.
async fn refresh(
    store: &impl Store,
    http: &impl HttpClient,
    target: &Target<'_>,
    previous: Option<ModelState>,
    now_ms: u64,
) -> ModelState {
    let mut state = previous
        .unwrap_or_else(|| ModelState::embedded(target.model_uri, target.tracking_uri, now_ms));
    state.checked_at_ms = now_ms;
    state.last_error = None;
    let registry = Registry {
        http,
        tracking_uri: target.tracking_uri,
    };
    let outcome = match ModelUri::parse(target.model_uri) {
        Ok(uri) => registry.resolve(&uri).await,
        Err(e) => Err(RegistryError::Invalid(e)),
    };
    match outcome {
        Ok(resolved) => {
            let key = cache_key(&resolved.name, &resolved.version);
            let cached = state.source != Source::Embedded
                && state.name == resolved.name
                && state.version == resolved.version
                || store.get(&key).ok().flatten().is_some();
            let ready = if cached {
                Ok(())
            } else {
                match registry.download_onnx(&resolved.artifact_uri).await {
                    Ok(bytes) => model::prepare(&bytes)
                        .map_err(|why| {
                            format!(
                                "model {} version {} refused: {why}",
                                resolved.name, resolved.version
                            )
                        })
                        .and_then(|prepared| store.set(&key, &prepared)),
                    Err(e) => Err(format!(
                        "model {} version {}: {e}",
                        resolved.name, resolved.version
                    )),
                }
            };
            match ready {
                Ok(()) => {
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
    if let Err(e) = save(store, &state) {
        state.last_error = Some(e);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryStore;
    use crate::registry::HttpResponse;
    use serde_json::Value;
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
        async fn get(&self, url: &str) -> Result<HttpResponse, String> {
            *self.calls.borrow_mut() += 1;
            if !*self.up.borrow() {
                return Err("connection refused".into());
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
        async fn post_json(&self, _: &str, _: &Value) -> Result<HttpResponse, String> {
            unreachable!()
        }
    }

    fn target() -> Target<'static> {
        Target {
            model_uri: "models:/iris@champion",
            tracking_uri: "http://t",
            refresh_ms: 1000,
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
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
        let t = target();

        // Nothing registered: embedded default, and the reason is recorded.
        let s = run(current(&store, &reg, &t, 0, Some(1))).state;
        assert_eq!(s.source, Source::Embedded);
        assert!(s.last_error.unwrap().contains("alias not found"));

        // Registered later: switch after the interval, not before.
        *reg.version.borrow_mut() = Some(1);
        assert_eq!(
            run(current(&store, &reg, &t, 500, Some(1))).state.source,
            Source::Embedded
        );
        let s = run(current(&store, &reg, &t, 1000, Some(1))).state;
        assert_eq!((s.source, s.version.as_str()), (Source::Registry, "1"));

        // Steady state: no network I/O.
        let calls = *reg.calls.borrow();
        let served = run(current(&store, &reg, &t, 1500, Some(1)));
        assert_eq!(*reg.calls.borrow(), calls);
        assert!(matches!(served.model, ServedModel::Cached { ref onnx, .. } if !onnx.is_empty()));

        // Registry down: keep serving version 1 from the cache.
        *reg.up.borrow_mut() = false;
        let s = run(current(&store, &reg, &t, 2100, Some(1))).state;
        assert_eq!((s.source, s.version.as_str()), (Source::Cache, "1"));
        assert!(s.last_error.unwrap().contains("unavailable"));

        // Back up with a broken version 3: refused, version 1 keeps serving.
        *reg.up.borrow_mut() = true;
        *reg.version.borrow_mut() = Some(3);
        let s = run(current(&store, &reg, &t, 3200, Some(1))).state;
        assert_eq!(s.version, "1");
        assert!(s.last_error.unwrap().contains("version 3 refused"));

        // Version 2 is good: switch.
        *reg.version.borrow_mut() = Some(2);
        let s = run(current(&store, &reg, &t, 4300, Some(1))).state;
        assert_eq!(
            (s.source, s.version.as_str(), s.last_error),
            (Source::Registry, "2", None)
        );
    }
}
