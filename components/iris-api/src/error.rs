//! The one error type of the API and its JSON form:
//! `{"error": {"code": "...", "message": "..."}}` (the codes are listed in
//! docs/iris-api.md, "Errors").

use serde_json::json;

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// Stable, machine-readable code (also a label of the errors metric).
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the body is not what the endpoint accepts.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BAD_REQUEST", message)
    }

    /// 401: no key, or a key that is not configured.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "UNAUTHENTICATED", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NOT_FOUND", message)
    }

    pub fn method_not_allowed(allowed: &str) -> Self {
        Self::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("this route accepts {allowed}"),
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("request body is larger than {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(found: &str) -> Self {
        Self::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("expected Content-Type application/json, got {found:?}"),
        )
    }

    /// 500: our fault (a model that fails at run time, a store that is gone...).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "INTERNAL_ERROR", message)
    }

    pub fn body(&self) -> String {
        json!({"error": {"code": self.code, "message": self.message}}).to_string()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}
