//! The HTTP calls the client needs, implemented by the caller (Spin's outbound HTTP,
//! ureq, a fake in tests), so that this crate carries no HTTP stack.

use std::future::Future;

/// A plain HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Could not connect, send or read (the server is unavailable).
    Failed(String),
    /// The answer's body is longer than the limit the caller asked for.
    TooLarge { limit: usize },
}

/// Outbound HTTP. Each call reads at most `limit` bytes of the answer's body and fails
/// with [`HttpError::TooLarge`] beyond that, whatever the status.
pub trait HttpClient {
    fn get(&self, url: &str, limit: usize)
        -> impl Future<Output = Result<HttpResponse, HttpError>>;

    /// POST of `json` (already serialised) with `content-type: application/json`.
    fn post_json(
        &self,
        url: &str,
        json: &str,
        limit: usize,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>>;
}
