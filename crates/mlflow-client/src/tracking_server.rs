//! The tracking server's URLs, and which artifact URIs it serves: the one place where
//! an artifact URI becomes a URL.

use crate::artifact_path::{encode, ArtifactPath};
use crate::error::RegistryError;
use crate::origin::{default_port, parse_authority, split_http_url, Origin};

/// The artifact proxy's route, under the tracking URI.
const ARTIFACTS_ROUTE: &str = "api/2.0/mlflow-artifacts/artifacts";

/// One tracking server, by its `http(s)://` URI (possibly with a path prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingServer {
    /// The URI without a trailing slash; every URL starts with it.
    base: String,
    origin: Origin,
    /// The path after the authority, without slashes at either end (usually empty).
    prefix: String,
}

impl TrackingServer {
    pub fn parse(tracking_uri: &str) -> Result<Self, RegistryError> {
        let base = tracking_uri.trim_end_matches('/');
        let (origin, prefix) = split_http_url(base)
            .filter(|_| !base.contains(['?', '#']))
            .ok_or_else(|| {
                RegistryError::Invalid(format!(
                    "the tracking URI must be http:// or https://, got {tracking_uri:?}"
                ))
            })?;
        let prefix = prefix.trim_matches('/').to_string();
        Ok(Self {
            base: base.to_string(),
            origin,
            prefix,
        })
    }

    /// The tracking URI without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of a REST call, e.g. `registered-models/alias?name=...`.
    pub fn api_url(&self, call: &str) -> String {
        format!("{}/api/2.0/mlflow/{call}", self.base)
    }

    /// The artifact proxy's URL of one file (download or upload).
    pub fn artifact_url(&self, path: &ArtifactPath) -> String {
        format!("{}/{ARTIFACTS_ROUTE}/{}", self.base, path.url_encoded())
    }

    /// The artifact proxy's URL listing one directory.
    pub fn listing_url(&self, path: &ArtifactPath) -> String {
        format!(
            "{}/{ARTIFACTS_ROUTE}?path={}",
            self.base,
            encode(path.as_str())
        )
    }

    /// Where `artifact_uri` is under the artifact proxy of this server. Accepted:
    /// `mlflow-artifacts:/path`, `mlflow-artifacts://<this server's host:port>/path` and
    /// `http(s)://<this server>/api/2.0/mlflow-artifacts/artifacts/path`. Refused: other
    /// schemes, other hosts (we would fetch from wherever a registry entry points), and
    /// paths with `.`/`..` segments.
    pub fn artifact_path(&self, artifact_uri: &str) -> Result<ArtifactPath, RegistryError> {
        let path = match scheme_of(artifact_uri) {
            Some(("mlflow-artifacts", rest)) => self.proxied_path(artifact_uri, rest)?,
            Some(("http" | "https", _)) => self.http_path(artifact_uri)?,
            _ => {
                return Err(RegistryError::Invalid(format!(
                    "the artifact location {artifact_uri:?} is not proxied by the tracking server; \
                     start it with artifact serving on (`mlflow server --serve-artifacts`)"
                )))
            }
        };
        ArtifactPath::parse(path)
    }

    /// The path of `mlflow-artifacts:` + `rest`.
    fn proxied_path<'u>(&self, uri: &str, rest: &'u str) -> Result<&'u str, RegistryError> {
        let Some(authority_and_path) = rest.strip_prefix("//") else {
            return Ok(rest);
        };
        let (authority, path) = authority_and_path
            .split_once('/')
            .unwrap_or((authority_and_path, ""));
        // A portless authority means the well-known port of the scheme we talk.
        let port = default_port(&self.origin.scheme).unwrap_or(80);
        match parse_authority(authority, port) {
            Some((host, port)) if host == self.origin.host && port == self.origin.port => Ok(path),
            _ => Err(self.foreign(uri)),
        }
    }

    /// The path of an `http(s)://` URI into this server's artifact proxy.
    fn http_path<'u>(&self, uri: &'u str) -> Result<&'u str, RegistryError> {
        let (origin, path) = split_http_url(uri).ok_or_else(|| self.foreign(uri))?;
        if origin != self.origin || uri.contains(['?', '#']) {
            return Err(self.foreign(uri));
        }
        let path = path
            .strip_prefix(self.prefix.as_str())
            .map(|p| p.trim_start_matches('/'))
            .and_then(|p| p.strip_prefix(ARTIFACTS_ROUTE))
            .filter(|p| p.is_empty() || p.starts_with('/'));
        path.ok_or_else(|| self.foreign(uri))
    }

    fn foreign(&self, uri: &str) -> RegistryError {
        RegistryError::Invalid(format!(
            "refusing the artifact location {uri:?}: it is not served by the tracking server {}",
            self.base
        ))
    }
}

/// `(lower-case scheme, rest)` of `scheme:rest`.
fn scheme_of(uri: &str) -> Option<(&'static str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    ["mlflow-artifacts", "http", "https"]
        .into_iter()
        .find(|known| scheme.eq_ignore_ascii_case(known))
        .map(|known| (known, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(uri: &str) -> TrackingServer {
        TrackingServer::parse(uri).unwrap()
    }

    fn path(server: &TrackingServer, uri: &str) -> Result<String, RegistryError> {
        server.artifact_path(uri).map(|p| p.as_str().to_string())
    }

    #[test]
    fn only_http_tracking_uris_are_accepted() {
        assert!(TrackingServer::parse("file:///tmp/mlruns").is_err());
        assert!(TrackingServer::parse("mlflow-server").is_err());
        assert_eq!(server("http://h:1/").base(), "http://h:1");
    }

    #[test]
    fn proxied_locations_of_the_tracking_server_are_accepted() {
        let t = server("http://host:5000");
        assert_eq!(
            path(&t, "mlflow-artifacts:/1/models/m-1/artifacts").unwrap(),
            "1/models/m-1/artifacts"
        );
        assert_eq!(
            path(&t, "mlflow-artifacts://HOST:5000/1/r/artifacts/model").unwrap(),
            "1/r/artifacts/model"
        );
        assert_eq!(
            path(
                &t,
                "http://host:5000/api/2.0/mlflow-artifacts/artifacts/1/x"
            )
            .unwrap(),
            "1/x"
        );
        assert_eq!(
            path(&server("https://t"), "mlflow-artifacts://t/2/r").unwrap(),
            "2/r"
        );
        let prefixed = server("http://h/mlflow/");
        assert_eq!(
            path(
                &prefixed,
                "http://h/mlflow/api/2.0/mlflow-artifacts/artifacts/1/x"
            )
            .unwrap(),
            "1/x"
        );
    }

    #[test]
    fn other_hosts_and_schemes_are_refused() {
        let t = server("http://tracking:5000");
        for bad in [
            "mlflow-artifacts://store:5000/2/r/artifacts",
            "mlflow-artifacts://tracking:5001/2/r",
            "mlflow-artifacts://tracking/2/r",
            "mlflow-artifacts://user@tracking:5000/2/r",
            "http://other:5000/api/2.0/mlflow-artifacts/artifacts/1/x",
            "https://tracking:5000/api/2.0/mlflow-artifacts/artifacts/1/x",
            "http://tracking:5000/elsewhere/1/x",
            "http://tracking:5000/api/2.0/mlflow-artifacts/artifactsX/1",
            "http://tracking:5000/api/2.0/mlflow-artifacts/artifacts/1?x=y",
            "s3://bucket/x",
            "/tmp/mlruns/1/abc/artifacts",
            "file:///tmp/x",
        ] {
            assert!(
                matches!(path(&t, bad), Err(RegistryError::Invalid(_))),
                "{bad}"
            );
        }
        let err = path(&t, "/tmp/mlruns/1/abc/artifacts").unwrap_err();
        assert!(err.to_string().contains("--serve-artifacts"), "{err}");
    }

    #[test]
    fn climbing_locations_are_refused() {
        let t = server("http://t");
        for bad in [
            "mlflow-artifacts:/1/../../etc",
            "mlflow-artifacts:/1/%2e%2e/etc",
            "mlflow-artifacts:/1/./x",
            "mlflow-artifacts://t/1/../x",
            "http://t/api/2.0/mlflow-artifacts/artifacts/1/..%2F..%2Fx",
        ] {
            assert!(
                matches!(path(&t, bad), Err(RegistryError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_encode_the_path() {
        let t = server("http://t/");
        let p = ArtifactPath::parse("1/models/m-9/a b").unwrap();
        assert_eq!(
            t.artifact_url(&p),
            "http://t/api/2.0/mlflow-artifacts/artifacts/1/models/m-9/a%20b"
        );
        assert_eq!(
            t.listing_url(&p),
            "http://t/api/2.0/mlflow-artifacts/artifacts?path=1%2Fmodels%2Fm-9%2Fa%20b"
        );
        assert_eq!(t.api_url("runs/get"), "http://t/api/2.0/mlflow/runs/get");
    }
}
