//! The one error mapper: the server's error type and its mapping to MLflow's `error_code`
//! and HTTP status (reference table: mlflow-rest-api.md §1), and the mapping of database
//! failures ([`StoreError`]) onto it. Every layer returns `Result<_, MlflowError>`;
//! `http::ApiResponse::error` turns it into the JSON body the MLflow client expects.
//!
//! User mistakes must never become 5xx: the MLflow client retries 5xx for minutes.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidParameterValue,
    BadRequest,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    EndpointNotFound,
    PermissionDenied,
    InvalidState,
    InternalError,
    NotImplemented,
    RequestLimitExceeded,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
            ErrorCode::RequestLimitExceeded => "REQUEST_LIMIT_EXCEEDED",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
        }
    }

    /// MLflow's status for the code (RESOURCE_ALREADY_EXISTS is 400 there, not 409).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidParameterValue
            | ErrorCode::BadRequest
            | ErrorCode::ResourceAlreadyExists => 400,
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => 404,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::RequestLimitExceeded => 429,
            ErrorCode::InvalidState | ErrorCode::InternalError => 500,
            ErrorCode::NotImplemented => 501,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MlflowError {
    pub code: ErrorCode,
    pub message: String,
}

pub type ApiResult<T> = Result<T, MlflowError>;

impl MlflowError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MlflowError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceAlreadyExists, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
    /// A required field is missing or empty (MLflow's wording).
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!("Missing value for required parameter '{field}'."))
    }
    pub fn status(&self) -> u16 {
        self.code.http_status()
    }
}

impl fmt::Display for MlflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for MlflowError {}

/// A database failure reported by the backend.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl From<StoreError> for MlflowError {
    /// The backend's text (which may quote the statement and its values) goes to stderr
    /// only: answers carry a generic message, so no SQL or stored data leaks to clients.
    fn from(e: StoreError) -> Self {
        eprintln!("mlflow-server: database error: {}", e.0);
        // A busy database is transient: 503 makes the MLflow client retry.
        if e.0.contains("locked") || e.0.contains("busy") || postgres_transient(&e.0) {
            MlflowError::new(
                ErrorCode::TemporarilyUnavailable,
                "The database is busy; try again.",
            )
        } else {
            MlflowError::internal("Internal database error; the server log has the details.")
        }
    }
}

/// Whether a PostgreSQL backend's error text (`… (SQLSTATE xxxxx)`) is a serialization
/// failure or deadlock: the transaction was aborted, nothing was written, and the
/// request may be tried again.
fn postgres_transient(message: &str) -> bool {
    message.ends_with("(SQLSTATE 40001)") || message.ends_with("(SQLSTATE 40P01)")
}

/// Returns the non-empty value of a required field or the MLflow "missing" error.
pub fn required<'a>(value: &'a Option<String>, field: &str) -> ApiResult<&'a str> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(MlflowError::missing(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_are_4xx() {
        for code in [
            ErrorCode::InvalidParameterValue,
            ErrorCode::BadRequest,
            ErrorCode::ResourceAlreadyExists,
            ErrorCode::ResourceDoesNotExist,
        ] {
            assert!((400..500).contains(&code.http_status()), "{code:?}");
        }
        assert_eq!(ErrorCode::ResourceAlreadyExists.http_status(), 400);
        assert_eq!(ErrorCode::ResourceDoesNotExist.http_status(), 404);
    }

    #[test]
    fn required_rejects_empty() {
        assert!(required(&None, "x").is_err());
        assert!(required(&Some(String::new()), "x").is_err());
        assert_eq!(required(&Some("a".into()), "x").unwrap(), "a");
    }
}
