//! Routing and the endpoints, independent of how the request arrived: `wasip2.rs` and
//! the `iris-api-p3` crate read the request and write the answer, and `lib.rs` checks
//! the method, the key and the body size and records the metrics around [`Env::respond`].

use crate::config::Settings;
use crate::error::ApiError;
use crate::kv::Store;
use crate::metrics;
use crate::model::{self, Predictions};
use crate::predict_answer;
use crate::preload;
use crate::serving::{self, Loaded, ModelState, Served};
use crate::{input, json_body, oip, scoring};
use mlflow_client::HttpClient;
use serde_json::{json, Value};
use std::time::Instant;

/// The routes, with the label used for them in metrics (bounded: never the raw path).
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Predict,
    Invocations,
    Ping,
    Health,
    Metrics,
    V2Server,
    V2Live,
    V2Ready,
    V2Model {
        name: String,
        version: Option<String>,
    },
    V2ModelReady {
        name: String,
        version: Option<String>,
    },
    V2Infer {
        name: String,
        version: Option<String>,
    },
    NotFound,
}

impl Route {
    pub fn of(path: &str) -> Self {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let s = |v: &str| v.to_string();
        match segments.as_slice() {
            ["predict"] => Self::Predict,
            ["invocations"] => Self::Invocations,
            ["ping"] => Self::Ping,
            ["health"] => Self::Health,
            ["metrics"] => Self::Metrics,
            ["v2"] => Self::V2Server,
            ["v2", "health", "live"] => Self::V2Live,
            ["v2", "health", "ready"] => Self::V2Ready,
            ["v2", "models", n] => Self::V2Model {
                name: s(n),
                version: None,
            },
            ["v2", "models", n, "versions", v] => Self::V2Model {
                name: s(n),
                version: Some(s(v)),
            },
            ["v2", "models", n, "ready"] => Self::V2ModelReady {
                name: s(n),
                version: None,
            },
            ["v2", "models", n, "versions", v, "ready"] => Self::V2ModelReady {
                name: s(n),
                version: Some(s(v)),
            },
            ["v2", "models", n, "infer"] => Self::V2Infer {
                name: s(n),
                version: None,
            },
            ["v2", "models", n, "versions", v, "infer"] => Self::V2Infer {
                name: s(n),
                version: Some(s(v)),
            },
            _ => Self::NotFound,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Predict => "/predict",
            Self::Invocations => "/invocations",
            Self::Ping => "/ping",
            Self::Health => "/health",
            Self::Metrics => "/metrics",
            Self::V2Server => "/v2",
            Self::V2Live => "/v2/health/live",
            Self::V2Ready => "/v2/health/ready",
            Self::V2Model { .. } => "/v2/models/:name",
            Self::V2ModelReady { .. } => "/v2/models/:name/ready",
            Self::V2Infer { .. } => "/v2/models/:name/infer",
            Self::NotFound => "other",
        }
    }

    /// The method the route answers.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Predict | Self::Invocations | Self::V2Infer { .. } => "POST",
            _ => "GET",
        }
    }

    pub fn has_body(&self) -> bool {
        self.method() == "POST"
    }
}

/// What the handler needs from the outside world.
pub struct Env<'a, S, H> {
    pub settings: &'a Settings,
    /// The settings' record, with the stored model state.
    pub loaded: &'a Loaded,
    pub store: &'a S,
    pub http: &'a H,
    pub now_ms: u64,
}

/// An answer, plus what the metrics need to know about it.
pub struct Outcome {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
    /// Class name of each predicted row.
    pub predicted: Vec<String>,
    pub error: Option<&'static str>,
}

impl Outcome {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            headers: vec![],
            predicted: vec![],
            error: None,
        }
    }

    pub fn from_error(e: &ApiError) -> Self {
        let mut out = Self::json(e.status, Value::Null);
        out.body = e.body().into_bytes();
        out.error = Some(e.code);
        if e.status == 401 {
            out.headers
                .push(("www-authenticate", crate::auth::CHALLENGE.to_string()));
        }
        out
    }
}

/// Accepts JSON, and curl's `-d` default (form-urlencoded) since such bodies are JSON
/// in practice; anything else that is declared is a wrong content type.
pub fn check_json_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media.is_empty()
        || media == "application/json"
        || media.ends_with("+json")
        || media == "application/x-www-form-urlencoded"
    {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(ct))
    }
}

/// Time spent in the parts of a prediction, for the `Server-Timing` header.
#[derive(Default)]
struct Timing {
    state_ms: f64,
    load_ms: f64,
    /// How the plan was had (`preloaded`, `baked`, `kept`, `loaded`).
    plan: &'static str,
    infer_ms: f64,
}

impl Timing {
    fn header(&self) -> String {
        let plan = if self.plan.is_empty() {
            String::new()
        } else {
            format!("desc={};", self.plan)
        };
        format!(
            "state;dur={:.3}, load;{plan}dur={:.3}, infer;dur={:.3}",
            self.state_ms, self.load_ms, self.infer_ms
        )
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

impl<S: Store, H: HttpClient> Env<'_, S, H> {
    async fn state(&self) -> ModelState {
        serving::current_state(self.store, self.http, self.loaded, self.now_ms).await
    }

    /// Loads the served model, checks it with `check`, and runs `rows` through it.
    async fn predict(
        &self,
        rows: &[input::Row],
        timing: &mut Timing,
        check: impl FnOnce(&ModelState) -> Result<(), ApiError>,
    ) -> Result<(ModelState, Predictions, Vec<String>), ApiError> {
        let t = Instant::now();
        let Served { state, model } =
            serving::current(self.store, self.http, self.loaded, self.now_ms).await;
        check(&state)?;
        timing.state_ms = ms_since(t);
        let t = Instant::now();
        let (model, origin) = model
            .runnable(Some(rows.len()))
            .map_err(|e| ApiError::internal(format!("the served model does not load: {e}")))?;
        timing.load_ms = ms_since(t);
        timing.plan = origin.as_str();
        let t = Instant::now();
        let predictions = model
            .predict(rows)
            .map_err(|e| ApiError::internal(format!("inference failed: {e}")))?;
        timing.infer_ms = ms_since(t);
        let labels = model::display_names(model.class_names());
        Ok((state, predictions, labels))
    }

    /// Answers one request whose route, method and key have been checked and whose
    /// body (for POST routes) has been read within the size limit.
    pub async fn respond(
        &self,
        route: &Route,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Outcome, ApiError> {
        let max_rows = self.settings.max_batch_rows;
        let mut timing = Timing::default();
        let mut out = match route {
            Route::Predict => {
                check_json_content_type(content_type)?;
                let rows = input::predict_rows(&json_body::parse(body, max_rows)?, max_rows)?;
                let (state, p, labels) = self.predict(&rows, &mut timing, |_| Ok(())).await?;
                let mut out = Outcome::json(200, Value::Null);
                out.body = predict_answer::to_json(&p, &labels, &model_json(&state));
                out.predicted = p
                    .class_indices()
                    .iter()
                    .map(|k| labels[*k].clone())
                    .collect();
                out
            }
            Route::Invocations => {
                let media = content_type
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                let rows = if media == "text/csv" {
                    scoring::csv_rows(body, max_rows)?
                } else {
                    check_json_content_type(content_type)?;
                    scoring::json_rows(&json_body::parse(body, max_rows)?, max_rows)?
                };
                let (_, p, labels) = self.predict(&rows, &mut timing, |_| Ok(())).await?;
                let names: Vec<String> = p
                    .class_indices()
                    .iter()
                    .map(|k| labels[*k].clone())
                    .collect();
                let mut out = Outcome::json(200, json!({"predictions": names}));
                out.predicted = names;
                out
            }
            Route::Ping => Outcome {
                content_type: "text/plain",
                body: b"\n".to_vec(),
                ..Outcome::json(200, Value::Null)
            },
            Route::Health => {
                let state = self.state().await;
                let auth = if self.settings.api_key_digests.is_empty() {
                    "off"
                } else {
                    "api-key"
                };
                // Whether this instance started with the embedded model ready, that
                // is, whether the component was pre-initialised (see `preload`).
                let preloaded = preload::is_preloaded();
                // The model baked at build time (`spinflow preinit --model`), if any:
                // the registry version with this digest is served from its plans.
                let baked = preload::baked().map(|b| b.digest.as_str());
                Outcome::json(
                    200,
                    json!({
                        "status": "ok",
                        "model": model_json(&state),
                        "auth": auth,
                        "embedded_model_preloaded": preloaded,
                        "baked_model_digest": baked,
                    }),
                )
            }
            Route::Metrics => {
                let state = self.state().await;
                let labels = metrics::ModelLabels {
                    name: &state.name,
                    version: &state.version,
                    source: state.source.as_str(),
                };
                let text = metrics::render(self.store, &labels).map_err(ApiError::internal)?;
                Outcome {
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    body: text.into_bytes(),
                    ..Outcome::json(200, Value::Null)
                }
            }
            Route::V2Server => Outcome::json(
                200,
                json!({"name": "spinflow-iris-api", "version": env!("CARGO_PKG_VERSION"), "extensions": []}),
            ),
            Route::V2Live => Outcome::json(200, json!({"live": true})),
            Route::V2Ready => Outcome::json(200, json!({"ready": true})),
            Route::V2Model { name, version } => {
                let Served { state, model } =
                    serving::current(self.store, self.http, self.loaded, self.now_ms).await;
                check_model(&state, name, version.as_deref())?;
                let (model, _) = model.runnable(None).map_err(|e| {
                    ApiError::internal(format!("the served model does not load: {e}"))
                })?;
                Outcome::json(
                    200,
                    oip::metadata(&state.name, &state.version, model.class_names().len()),
                )
            }
            Route::V2ModelReady { name, version } => {
                let state = self.state().await;
                check_model(&state, name, version.as_deref())?;
                Outcome::json(200, json!({"name": state.name, "ready": true}))
            }
            Route::V2Infer { name, version } => {
                check_json_content_type(content_type)?;
                let request = oip::parse_infer(&json_body::parse(body, max_rows)?, max_rows)?;
                let check = |state: &ModelState| check_model(state, name, version.as_deref());
                let (state, p, labels) = self.predict(&request.rows, &mut timing, check).await?;
                let mut out = Outcome::json(
                    200,
                    oip::infer_response(&state.name, &state.version, &request, &p, &labels),
                );
                out.predicted = p
                    .class_indices()
                    .iter()
                    .map(|k| labels[*k].clone())
                    .collect();
                out
            }
            Route::NotFound => return Err(ApiError::not_found("no such route")),
        };
        if route.has_body() {
            out.headers.push(("server-timing", timing.header()));
        }
        Ok(out)
    }
}

fn check_model(state: &ModelState, name: &str, version: Option<&str>) -> Result<(), ApiError> {
    if name != state.name {
        return Err(ApiError::not_found(format!(
            "model {name:?} is not served here; this server serves {:?}",
            state.name
        )));
    }
    if let Some(v) = version.filter(|v| *v != state.version) {
        return Err(ApiError::not_found(format!(
            "version {v:?} of {name:?} is not served; the served version is {:?}",
            state.version
        )));
    }
    Ok(())
}

fn model_json(state: &ModelState) -> Value {
    let mut v = json!({
        "name": state.name,
        "version": state.version,
        "source": state.source.as_str(),
        "uri": state.model_uri,
        "tracking_uri": state.tracking_uri,
        "loaded_at_ms": state.loaded_at_ms,
        "checked_at_ms": state.checked_at_ms,
    });
    if let Some(e) = &state.last_error {
        v["last_error"] = json!(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_labels() {
        assert_eq!(Route::of("/predict"), Route::Predict);
        assert_eq!(
            Route::of("/v2/models/iris/infer"),
            Route::V2Infer {
                name: "iris".into(),
                version: None
            }
        );
        assert_eq!(
            Route::of("/v2/models/iris/versions/3/infer"),
            Route::V2Infer {
                name: "iris".into(),
                version: Some("3".into())
            }
        );
        assert_eq!(
            Route::of("/v2/models/x/versions/1").label(),
            "/v2/models/:name"
        );
        assert_eq!(Route::of("/nope"), Route::NotFound);
        assert_eq!(Route::of("/metrics").method(), "GET");
    }

    #[test]
    fn content_types() {
        assert!(check_json_content_type(None).is_ok());
        assert!(check_json_content_type(Some("application/json; charset=utf-8")).is_ok());
        assert!(check_json_content_type(Some("application/x-www-form-urlencoded")).is_ok());
        assert_eq!(
            check_json_content_type(Some("text/plain"))
                .unwrap_err()
                .status,
            415
        );
    }
}
