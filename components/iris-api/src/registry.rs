//! Finding and downloading the served model through the MLflow REST API.
//!
//! `models:/iris@champion` -> `GET registered-models/alias`; `models:/iris/3` ->
//! `GET model-versions/get`; `models:/iris/Production` and `models:/iris/latest` ->
//! `POST registered-models/get-latest-versions`; then `GET model-versions/get-download-uri`.
//! `runs:/<id>/<path>` -> `GET runs/get` (artifact root + path); `models:/m-<id>` ->
//! `GET logged-models/<id>`. The ONNX file is then listed and downloaded through the
//! proxied artifact service (`/api/2.0/mlflow-artifacts/artifacts`).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::future::Future;

/// A parsed `model_uri`.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelUri {
    Alias {
        name: String,
        alias: String,
    },
    Version {
        name: String,
        version: u64,
    },
    /// A stage (`Production`, `Staging`...) or `latest` (any stage).
    Latest {
        name: String,
        stage: Option<String>,
    },
    Run {
        run_id: String,
        path: String,
    },
    LoggedModel {
        model_id: String,
    },
}

impl ModelUri {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let bad = || {
            format!("unsupported model_uri {uri:?}: use models:/<name>@<alias>, models:/<name>/<version|stage|latest>, models:/m-<id> or runs:/<run_id>/<path>")
        };
        if let Some(rest) = uri.strip_prefix("models:/") {
            if let Some((name, alias)) = rest.split_once('@') {
                if name.is_empty() || alias.is_empty() {
                    return Err(bad());
                }
                return Ok(Self::Alias {
                    name: name.into(),
                    alias: alias.into(),
                });
            }
            return match rest.rsplit_once('/') {
                Some((name, tail)) if !name.is_empty() && !tail.is_empty() => {
                    Ok(match tail.parse() {
                        Ok(version) => Self::Version {
                            name: name.into(),
                            version,
                        },
                        Err(_) if tail.eq_ignore_ascii_case("latest") => Self::Latest {
                            name: name.into(),
                            stage: None,
                        },
                        Err(_) => Self::Latest {
                            name: name.into(),
                            stage: Some(tail.into()),
                        },
                    })
                }
                None if rest.starts_with("m-") => Ok(Self::LoggedModel {
                    model_id: rest.into(),
                }),
                _ => Err(bad()),
            };
        }
        if let Some(rest) = uri.strip_prefix("runs:/") {
            return match rest.split_once('/') {
                Some((run_id, path)) if !run_id.is_empty() && !path.is_empty() => Ok(Self::Run {
                    run_id: run_id.into(),
                    path: path.trim_matches('/').into(),
                }),
                _ => Err(bad()),
            };
        }
        Err(bad())
    }
}

/// Why resolution failed; the served model stays as it is either way, but /health says which.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryError {
    /// The registry answered that there is no such model/version/alias/run.
    NotFound(String),
    /// The tracking server could not be reached or failed (network error, 5xx).
    Unavailable(String),
    /// The registry answered something we cannot use (no ONNX file, odd artifact URI...).
    Invalid(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(m) => write!(f, "not found in the registry: {m}"),
            Self::Unavailable(m) => write!(f, "tracking server unavailable: {m}"),
            Self::Invalid(m) => write!(f, "unusable registry answer: {m}"),
        }
    }
}

/// A plain HTTP answer.
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The outbound HTTP the resolver needs (Spin's outgoing handler in the component,
/// a fake in unit tests).
pub trait HttpClient {
    fn get(&self, url: &str) -> impl Future<Output = Result<HttpResponse, String>>;
    fn post_json(
        &self,
        url: &str,
        body: &Value,
    ) -> impl Future<Output = Result<HttpResponse, String>>;
}

/// The model version a URI points at.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub name: String,
    pub version: String,
    pub artifact_uri: String,
}

/// Characters to escape in a query value or path segment.
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, ESCAPE).to_string()
}

/// Talks to one tracking server.
pub struct Registry<'a, H> {
    pub http: &'a H,
    /// Base URL without a trailing slash, e.g. `http://mlflow-server.spin.internal`.
    pub tracking_uri: &'a str,
}

impl<H: HttpClient> Registry<'_, H> {
    /// Which version `uri` designates now, and where its artifacts are.
    pub async fn resolve(&self, uri: &ModelUri) -> Result<Resolved, RegistryError> {
        let (name, version) = match uri {
            ModelUri::Alias { name, alias } => {
                let v = self
                    .get_json(&format!(
                        "registered-models/alias?name={}&alias={}",
                        enc(name),
                        enc(alias)
                    ))
                    .await?;
                (name.clone(), version_of(&v["model_version"])?)
            }
            ModelUri::Version { name, version } => {
                let v = self
                    .get_json(&format!(
                        "model-versions/get?name={}&version={version}",
                        enc(name)
                    ))
                    .await?;
                (name.clone(), version_of(&v["model_version"])?)
            }
            ModelUri::Latest { name, stage } => {
                (name.clone(), self.latest(name, stage.as_deref()).await?)
            }
            ModelUri::Run { run_id, path } => {
                let v = self
                    .get_json(&format!("runs/get?run_id={}", enc(run_id)))
                    .await?;
                let root = text(&v["run"]["info"]["artifact_uri"], "run.info.artifact_uri")?;
                return Ok(Resolved {
                    name: path.clone(),
                    version: run_id.clone(),
                    artifact_uri: format!("{}/{path}", root.trim_end_matches('/')),
                });
            }
            ModelUri::LoggedModel { model_id } => {
                let v = self
                    .get_json(&format!("logged-models/{}", enc(model_id)))
                    .await?;
                let uri = text(
                    &v["model"]["info"]["artifact_uri"],
                    "model.info.artifact_uri",
                )?;
                let name = v["model"]["info"]["name"]
                    .as_str()
                    .unwrap_or(model_id)
                    .to_string();
                return Ok(Resolved {
                    name,
                    version: model_id.clone(),
                    artifact_uri: uri,
                });
            }
        };
        let v = self
            .get_json(&format!(
                "model-versions/get-download-uri?name={}&version={}",
                enc(&name),
                enc(&version)
            ))
            .await?;
        let mut artifact_uri = text(&v["artifact_uri"], "artifact_uri")?;
        // A 3.x registry may hand back the logged model's URI itself.
        if let Some(model_id) = artifact_uri
            .strip_prefix("models:/")
            .filter(|id| id.starts_with("m-"))
        {
            let m = self
                .get_json(&format!("logged-models/{}", enc(model_id)))
                .await?;
            artifact_uri = text(
                &m["model"]["info"]["artifact_uri"],
                "model.info.artifact_uri",
            )?;
        }
        Ok(Resolved {
            name,
            version,
            artifact_uri,
        })
    }

    /// Highest version among the latest ones of `stage` (or of every stage).
    async fn latest(&self, name: &str, stage: Option<&str>) -> Result<String, RegistryError> {
        let stages: Vec<&str> = stage.into_iter().collect();
        let url = self.api("registered-models/get-latest-versions");
        let body = json!({"name": name, "stages": stages});
        let v = match self.json(self.http.post_json(&url, &body).await, &url)? {
            Some(v) => v,
            None => {
                // Older servers only have the GET form (the POST answers 404).
                let mut q = format!("registered-models/get-latest-versions?name={}", enc(name));
                for s in &stages {
                    q.push_str(&format!("&stages={}", enc(s)));
                }
                self.get_json(&q).await?
            }
        };
        v["model_versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|mv| {
                mv["version"]
                    .as_str()
                    .map(String::from)
                    .or_else(|| mv["version"].as_u64().map(|n| n.to_string()))
            })
            .max_by_key(|s| s.parse::<u64>().unwrap_or(0))
            .ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "model {name:?} has no version in stage {}",
                    stage.unwrap_or("any")
                ))
            })
    }

    /// Downloads the ONNX file found at `artifact_uri` (a directory holding
    /// `model.onnx` or another `*.onnx`, or the file itself).
    pub async fn download_onnx(&self, artifact_uri: &str) -> Result<Vec<u8>, RegistryError> {
        let rel = artifact_path(artifact_uri)?;
        let file = if rel.ends_with(".onnx") {
            rel.clone()
        } else {
            let list = self
                .get_json_at(&format!(
                    "{}/api/2.0/mlflow-artifacts/artifacts?path={}",
                    self.tracking_uri,
                    enc(&rel)
                ))
                .await?;
            let names: Vec<&str> = list["files"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| !f["is_dir"].as_bool().unwrap_or(false))
                .filter_map(|f| f["path"].as_str())
                .map(|p| p.rsplit('/').next().unwrap_or(p))
                .collect();
            let pick = names
                .iter()
                .find(|n| **n == "model.onnx")
                .or_else(|| names.iter().find(|n| n.ends_with(".onnx")))
                .ok_or_else(|| {
                    RegistryError::Invalid(format!(
                        "no .onnx file in {artifact_uri} (found {names:?})"
                    ))
                })?;
            format!("{}/{pick}", rel.trim_end_matches('/'))
        };
        let path: Vec<String> = file.split('/').filter(|s| !s.is_empty()).map(enc).collect();
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.tracking_uri,
            path.join("/")
        );
        let resp = self
            .http
            .get(&url)
            .await
            .map_err(RegistryError::Unavailable)?;
        match resp.status {
            200 => Ok(resp.body),
            404 => Err(RegistryError::NotFound(format!(
                "artifact {file} is missing"
            ))),
            s => Err(status_error(s, &url, &resp.body)),
        }
    }

    fn api(&self, call: &str) -> String {
        format!("{}/api/2.0/mlflow/{call}", self.tracking_uri)
    }

    async fn get_json(&self, call: &str) -> Result<Value, RegistryError> {
        self.get_json_at(&self.api(call)).await
    }

    async fn get_json_at(&self, url: &str) -> Result<Value, RegistryError> {
        self.json(self.http.get(url).await, url)?
            .ok_or_else(|| RegistryError::NotFound(format!("{url} answered 404")))
    }

    /// The JSON of a 200; `None` for a bare 404 (endpoint missing); errors otherwise.
    fn json(
        &self,
        resp: Result<HttpResponse, String>,
        url: &str,
    ) -> Result<Option<Value>, RegistryError> {
        let resp = resp.map_err(RegistryError::Unavailable)?;
        if resp.status == 200 {
            return serde_json::from_slice(&resp.body)
                .map(Some)
                .map_err(|e| RegistryError::Invalid(format!("{url} answered invalid JSON: {e}")));
        }
        let err: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if resp.status == 404 && err.is_null() {
            return Ok(None);
        }
        Err(status_error(resp.status, url, &resp.body))
    }
}

/// Maps an MLflow error answer onto [`RegistryError`]. An unknown alias is a 400
/// `INVALID_PARAMETER_VALUE` in MLflow, so 4xx count as "not found".
fn status_error(status: u16, url: &str, body: &[u8]) -> RegistryError {
    let err: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = err["message"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    let what = format!("{url} answered {status}: {message}");
    match status {
        400..=499 => RegistryError::NotFound(what),
        _ => RegistryError::Unavailable(what),
    }
}

fn version_of(mv: &Value) -> Result<String, RegistryError> {
    mv["version"]
        .as_str()
        .map(String::from)
        .or_else(|| mv["version"].as_u64().map(|n| n.to_string()))
        .ok_or_else(|| RegistryError::Invalid("model_version.version is missing".into()))
}

fn text(v: &Value, what: &str) -> Result<String, RegistryError> {
    v.as_str()
        .map(String::from)
        .ok_or_else(|| RegistryError::Invalid(format!("{what} is missing")))
}

/// The path under the artifact service's root for an artifact URI we can fetch over HTTP.
fn artifact_path(uri: &str) -> Result<String, RegistryError> {
    const SERVICE: &str = "/api/2.0/mlflow-artifacts/artifacts/";
    let rel = if let Some(rest) = uri.strip_prefix("mlflow-artifacts://") {
        // mlflow-artifacts://host:port/path: we always go through our tracking URI.
        rest.split_once('/').map(|(_, p)| p).unwrap_or("")
    } else if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        rest
    } else if let Some(idx) = uri.find(SERVICE).filter(|_| uri.starts_with("http")) {
        &uri[idx + SERVICE.len()..]
    } else {
        return Err(RegistryError::Invalid(format!(
            "artifact URI {uri:?} is not served by the tracking server (run it with artifact proxying)"
        )));
    };
    Ok(rel.trim_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[test]
    fn uris_parse() {
        assert_eq!(
            ModelUri::parse("models:/iris@champion").unwrap(),
            ModelUri::Alias {
                name: "iris".into(),
                alias: "champion".into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/3").unwrap(),
            ModelUri::Version {
                name: "iris".into(),
                version: 3
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/Production").unwrap(),
            ModelUri::Latest {
                name: "iris".into(),
                stage: Some("Production".into())
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/latest").unwrap(),
            ModelUri::Latest {
                name: "iris".into(),
                stage: None
            }
        );
        assert_eq!(
            ModelUri::parse("runs:/abc/model").unwrap(),
            ModelUri::Run {
                run_id: "abc".into(),
                path: "model".into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/m-123").unwrap(),
            ModelUri::LoggedModel {
                model_id: "m-123".into()
            }
        );
        for bad in [
            "s3://x",
            "models:/",
            "models:/@a",
            "runs:/abc",
            "models:/iris",
        ] {
            assert!(ModelUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn artifact_paths() {
        assert_eq!(
            artifact_path("mlflow-artifacts:/1/models/m-1/artifacts").unwrap(),
            "1/models/m-1/artifacts"
        );
        assert_eq!(
            artifact_path("mlflow-artifacts://host:5000/1/r/artifacts/model").unwrap(),
            "1/r/artifacts/model"
        );
        assert_eq!(
            artifact_path("http://h/api/2.0/mlflow-artifacts/artifacts/1/x").unwrap(),
            "1/x"
        );
        assert!(matches!(
            artifact_path("s3://bucket/x"),
            Err(RegistryError::Invalid(_))
        ));
    }

    /// Answers from a table of URL -> (status, body); records the calls.
    struct Fake {
        answers: HashMap<String, (u16, Vec<u8>)>,
        calls: RefCell<Vec<String>>,
    }

    impl Fake {
        fn new(answers: &[(&str, u16, &str)]) -> Self {
            let answers = answers
                .iter()
                .map(|(u, s, b)| (u.to_string(), (*s, b.as_bytes().to_vec())))
                .collect();
            Self {
                answers,
                calls: RefCell::default(),
            }
        }
        fn answer(&self, key: String) -> Result<HttpResponse, String> {
            self.calls.borrow_mut().push(key.clone());
            match self.answers.get(&key) {
                Some((status, body)) => Ok(HttpResponse {
                    status: *status,
                    body: body.clone(),
                }),
                None => Err(format!("connection refused ({key})")),
            }
        }
    }

    impl HttpClient for Fake {
        async fn get(&self, url: &str) -> Result<HttpResponse, String> {
            self.answer(format!("GET {url}"))
        }
        async fn post_json(&self, url: &str, body: &Value) -> Result<HttpResponse, String> {
            self.answer(format!("POST {url} {body}"))
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    const T: &str = "http://t";

    #[test]
    fn alias_resolution_and_download() {
        let fake = Fake::new(&[
            (
                "GET http://t/api/2.0/mlflow/registered-models/alias?name=iris&alias=champion",
                200,
                r#"{"model_version":{"name":"iris","version":"3"}}"#,
            ),
            (
                "GET http://t/api/2.0/mlflow/model-versions/get-download-uri?name=iris&version=3",
                200,
                r#"{"artifact_uri":"mlflow-artifacts:/1/models/m-9/artifacts"}"#,
            ),
            (
                "GET http://t/api/2.0/mlflow-artifacts/artifacts?path=1%2Fmodels%2Fm-9%2Fartifacts",
                200,
                r#"{"files":[{"path":"MLmodel","is_dir":false},{"path":"model.onnx","is_dir":false,"file_size":3}]}"#,
            ),
            (
                "GET http://t/api/2.0/mlflow-artifacts/artifacts/1/models/m-9/artifacts/model.onnx",
                200,
                "abc",
            ),
        ]);
        let reg = Registry {
            http: &fake,
            tracking_uri: T,
        };
        let resolved =
            block_on(reg.resolve(&ModelUri::parse("models:/iris@champion").unwrap())).unwrap();
        assert_eq!(
            (resolved.name.as_str(), resolved.version.as_str()),
            ("iris", "3")
        );
        assert_eq!(
            block_on(reg.download_onnx(&resolved.artifact_uri)).unwrap(),
            b"abc"
        );
    }

    #[test]
    fn stages_use_get_latest_versions_and_pick_the_highest() {
        let fake = Fake::new(&[
            (
                r#"POST http://t/api/2.0/mlflow/registered-models/get-latest-versions {"name":"iris","stages":["Production"]}"#,
                200,
                r#"{"model_versions":[{"version":"2"},{"version":"10"}]}"#,
            ),
            (
                "GET http://t/api/2.0/mlflow/model-versions/get-download-uri?name=iris&version=10",
                200,
                r#"{"artifact_uri":"mlflow-artifacts:/1/r/artifacts/model"}"#,
            ),
        ]);
        let reg = Registry {
            http: &fake,
            tracking_uri: T,
        };
        let r =
            block_on(reg.resolve(&ModelUri::parse("models:/iris/Production").unwrap())).unwrap();
        assert_eq!(r.version, "10");
    }

    #[test]
    fn errors_are_classified() {
        let fake = Fake::new(&[(
            "GET http://t/api/2.0/mlflow/registered-models/alias?name=iris&alias=champion",
            400,
            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Registered model alias champion not found."}"#,
        )]);
        let reg = Registry {
            http: &fake,
            tracking_uri: T,
        };
        let uri = ModelUri::parse("models:/iris@champion").unwrap();
        assert!(
            matches!(block_on(reg.resolve(&uri)), Err(RegistryError::NotFound(m)) if m.contains("champion not found"))
        );
        let down = Fake::new(&[]);
        let reg = Registry {
            http: &down,
            tracking_uri: T,
        };
        assert!(matches!(
            block_on(reg.resolve(&uri)),
            Err(RegistryError::Unavailable(_))
        ));
    }
}
