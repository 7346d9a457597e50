//! The one error mapper: the server's error type and its mapping to MLflow's `error_code`
//! and HTTP status (reference table: mlflow-rest-api.md §1), and the mapping of database
//! failures ([`StoreError`]) and object-store failures ([`ObjectStoreError`]) onto it.
//! Every layer returns `Result<_, MlflowError>`;
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

/// A database failure reported by the backend. PostgreSQL backends end their text with
/// the failure's SQLSTATE (`… (SQLSTATE xxxxx)`), which [`StoreFailure::of`] reads; a
/// connection that cannot be made or is lost is `08001` or `08006`, the standard codes
/// a client reports for those.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

/// What a database failure means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// Another writer holds the lock (SQLite), or PostgreSQL aborted the transaction to
    /// resolve a conflict with one (serialization failure, deadlock): nothing was
    /// written, and the transaction may run again.
    Conflict,
    /// The database cannot be reached or refuses work for now (server down, connection
    /// lost or refused, shutting down or starting, out of connections).
    Unavailable,
    /// Anything else: the statement itself failed.
    Failed,
}

impl StoreFailure {
    pub fn of(e: &StoreError) -> StoreFailure {
        let text = e.0.as_str();
        let Some(code) = sqlstate(text) else {
            // SQLite's SQLITE_BUSY ("database is locked").
            return if text.contains("locked") || text.contains("busy") {
                StoreFailure::Conflict
            } else {
                StoreFailure::Failed
            };
        };
        match code {
            "40001" | "40P01" => StoreFailure::Conflict,
            // Connection exceptions; admin and crash shutdown, "cannot connect now"
            // (starting up), "database is being dropped"; insufficient resources
            // (too many connections, disk full, out of memory).
            _ if code.starts_with("08") || code.starts_with("53") => StoreFailure::Unavailable,
            "57P01" | "57P02" | "57P03" | "57P04" => StoreFailure::Unavailable,
            _ => StoreFailure::Failed,
        }
    }
}

/// The SQLSTATE at the end of a PostgreSQL backend's error text.
fn sqlstate(text: &str) -> Option<&str> {
    let code = text.strip_suffix(')')?.rsplit_once("(SQLSTATE ")?.1;
    (code.len() == 5).then_some(code)
}

const CONFLICT_MESSAGE: &str = "The database is busy; try again.";
const UNAVAILABLE_MESSAGE: &str = "The database is unavailable; try again.";

impl From<StoreError> for MlflowError {
    /// The backend's text (which may quote the statement and its values) goes to stderr
    /// only: answers carry a generic message, so no SQL or stored data leaks to clients.
    /// Transient failures are 503 `TEMPORARILY_UNAVAILABLE`, which the MLflow client
    /// retries.
    fn from(e: StoreError) -> Self {
        eprintln!("mlflow-server: database error: {}", e.0);
        match StoreFailure::of(&e) {
            StoreFailure::Conflict => {
                MlflowError::new(ErrorCode::TemporarilyUnavailable, CONFLICT_MESSAGE)
            }
            StoreFailure::Unavailable => {
                MlflowError::new(ErrorCode::TemporarilyUnavailable, UNAVAILABLE_MESSAGE)
            }
            StoreFailure::Failed => {
                MlflowError::internal("Internal database error; the server log has the details.")
            }
        }
    }
}

impl MlflowError {
    /// Whether this is a database conflict ([`StoreFailure::Conflict`]): the
    /// transaction that met it wrote nothing and may run again.
    pub fn is_store_conflict(&self) -> bool {
        self.code == ErrorCode::TemporarilyUnavailable && self.message == CONFLICT_MESSAGE
    }
}

/// A failure of the S3-compatible object store that holds the artifacts
/// (`store::s3`).
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectStoreError {
    /// No answer: connection refused, DNS failure, a timeout, a connection lost.
    Unreachable(String),
    /// The runtime refused the request: the endpoint is not in `allowed_outbound_hosts`.
    Denied(String),
    /// An error answer: its HTTP status and S3's `Code` and `Message`.
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer that is not what the S3 API promises.
    Malformed(String),
}

impl From<ObjectStoreError> for MlflowError {
    /// A missing object is the client's 404; a store that is down or overloaded is
    /// 503, which the MLflow client retries; anything else (a missing bucket, refused
    /// credentials) is the server's configuration: 500 with S3's code in the message.
    fn from(e: ObjectStoreError) -> Self {
        eprintln!("mlflow-server: artifact store error: {e:?}");
        match e {
            ObjectStoreError::Unreachable(detail) => MlflowError::new(
                ErrorCode::TemporarilyUnavailable,
                format!("The artifact store is unreachable ({detail}); try again."),
            ),
            ObjectStoreError::Denied(detail) => {
                MlflowError::internal(format!("The artifact store cannot be reached: {detail}"))
            }
            ObjectStoreError::Status {
                status,
                code,
                message,
            } => {
                let text = format!("S3 error {code} (HTTP {status}): {message}");
                if code == "NoSuchKey" {
                    MlflowError::not_found(text)
                } else if status >= 500 || code == "SlowDown" {
                    MlflowError::new(ErrorCode::TemporarilyUnavailable, text)
                } else {
                    MlflowError::internal(text)
                }
            }
            ObjectStoreError::Malformed(detail) => MlflowError::internal(format!(
                "The artifact store sent an answer that cannot be read: {detail}"
            )),
        }
    }
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
    fn store_failures_are_classified_by_sqlstate() {
        use StoreFailure::*;
        for (text, failure) in [
            ("database is locked", Conflict),
            ("could not serialize access (SQLSTATE 40001)", Conflict),
            ("deadlock detected (SQLSTATE 40P01)", Conflict),
            ("connection refused (SQLSTATE 08001)", Unavailable),
            ("connection closed (SQLSTATE 08006)", Unavailable),
            ("terminating connection (SQLSTATE 57P01)", Unavailable),
            ("too many clients (SQLSTATE 53300)", Unavailable),
            ("duplicate key (SQLSTATE 23505)", Failed),
            ("syntax error at end of input", Failed),
            ("value (SQLSTATE 08001) in the middle", Failed),
        ] {
            let of = StoreFailure::of(&StoreError(text.into()));
            assert_eq!(of, failure, "{text}");
        }
    }

    #[test]
    fn transient_store_failures_are_503_and_only_conflicts_retry() {
        let conflict: MlflowError = StoreError("deadlock detected (SQLSTATE 40P01)".into()).into();
        assert_eq!(conflict.status(), 503);
        assert!(conflict.is_store_conflict());
        let down: MlflowError = StoreError("connection closed (SQLSTATE 08006)".into()).into();
        assert_eq!(down.status(), 503);
        assert_eq!(down.code, ErrorCode::TemporarilyUnavailable);
        assert!(!down.is_store_conflict());
        let unique: MlflowError = StoreError("duplicate key (SQLSTATE 23505)".into()).into();
        assert_eq!(unique.status(), 500);
    }

    #[test]
    fn object_store_errors_map_to_mlflow_codes() {
        let status = |status: u16, code: &str| ObjectStoreError::Status {
            status,
            code: code.into(),
            message: "m".into(),
        };
        let code = |e: ObjectStoreError| MlflowError::from(e).code;
        assert_eq!(
            code(status(404, "NoSuchKey")),
            ErrorCode::ResourceDoesNotExist
        );
        assert_eq!(
            code(status(503, "SlowDown")),
            ErrorCode::TemporarilyUnavailable
        );
        assert_eq!(
            code(status(500, "InternalError")),
            ErrorCode::TemporarilyUnavailable
        );
        assert_eq!(
            code(ObjectStoreError::Unreachable("refused".into())),
            ErrorCode::TemporarilyUnavailable
        );
        let missing_bucket = MlflowError::from(status(404, "NoSuchBucket"));
        assert_eq!(missing_bucket.code, ErrorCode::InternalError);
        assert!(missing_bucket.message.contains("NoSuchBucket"));
        assert_eq!(code(status(403, "AccessDenied")), ErrorCode::InternalError);
    }

    #[test]
    fn required_rejects_empty() {
        assert!(required(&None, "x").is_err());
        assert!(required(&Some(String::new()), "x").is_err());
        assert_eq!(required(&Some("a".into()), "x").unwrap(), "a");
    }
}
