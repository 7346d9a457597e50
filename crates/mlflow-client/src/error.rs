//! How a registry call failed, in the three classes iris-api's /health reports.

use crate::decode::from_value;
use crate::http::HttpError;
use mlflow_wire::ErrorBody;

/// Why resolution or download failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryError {
    /// The registry answered that there is no such model/version/alias/run/artifact.
    NotFound(String),
    /// The tracking server could not be reached or failed (network error, 5xx).
    Unavailable(String),
    /// The registry answered something we cannot use (no ONNX file, an artifact URI
    /// outside the tracking server, malformed JSON...).
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

impl std::error::Error for RegistryError {}

impl RegistryError {
    /// A transport failure on `url`.
    pub(crate) fn from_http(error: HttpError, url: &str) -> Self {
        match error {
            HttpError::Failed(why) => Self::Unavailable(why),
            HttpError::TooLarge { limit } => {
                Self::Invalid(format!("{url} answered more than {limit} bytes"))
            }
        }
    }

    /// An MLflow error answer. An unknown alias is a 400 `INVALID_PARAMETER_VALUE` in
    /// MLflow, so every 4xx counts as "not found"; 5xx as "unavailable".
    pub(crate) fn from_status(status: u16, url: &str, body: &[u8]) -> Self {
        // Parsed as a `Value` first: the one JSON parser instance the crate uses.
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| from_value::<ErrorBody>(&v).ok())
            .map(|e| e.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        let what = format!("{url} answered {status}: {message}");
        match status {
            400..=499 => Self::NotFound(what),
            _ => Self::Unavailable(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let e = RegistryError::from_status(
            400,
            "u",
            br#"{"error_code":"INVALID_PARAMETER_VALUE","message":"alias champion not found"}"#,
        );
        assert_eq!(
            e,
            RegistryError::NotFound("u answered 400: alias champion not found".into())
        );
        assert!(matches!(
            RegistryError::from_status(503, "u", b"busy"),
            RegistryError::Unavailable(m) if m.ends_with("busy")
        ));
        assert!(matches!(
            RegistryError::from_http(HttpError::TooLarge { limit: 4 }, "u"),
            RegistryError::Invalid(_)
        ));
    }
}
