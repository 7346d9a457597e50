//! The requests of one S3 destination: where it is (bucket, prefix, credentials), the
//! transport that sends them, and how an error answer becomes an [`ObjectStoreError`].
//! The artifact store (the parent module) and the multipart upload (`upload`) both
//! send through it.

use super::config::S3Location;
use super::transport::{HttpReply, ObjectHttp};
use crate::error::ObjectStoreError;
use rusty_s3::{Credentials, Method};
use std::time::Duration;
use url::Url;

/// How long a presigned URL stays valid; S3 checks it when the request starts.
pub(super) const SIGNATURE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The artifact files of one S3 destination.
pub struct S3Artifacts<H> {
    pub(super) at: S3Location,
    pub(super) http: H,
}

impl<H: ObjectHttp> S3Artifacts<H> {
    pub fn new(at: S3Location, http: H) -> Self {
        S3Artifacts { at, http }
    }

    pub(super) fn credentials(&self) -> Option<&Credentials> {
        self.at.credentials.as_ref()
    }

    /// Sends a request and turns an error answer into its S3 error.
    pub(super) fn call(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpReply, ObjectStoreError> {
        let reply = self.http.send(method, url, headers, body)?;
        if reply.is_success() {
            return Ok(reply);
        }
        Err(match reply.into_error() {
            ObjectStoreError::Status {
                status,
                code,
                message,
            } if code == "NoSuchBucket" => ObjectStoreError::Status {
                status,
                message: format!(
                    "the bucket '{}' does not exist at {} {message}",
                    self.at.bucket.name(),
                    self.at.endpoint
                )
                .trim_end()
                .to_string(),
                code,
            },
            other => other,
        })
    }
}
