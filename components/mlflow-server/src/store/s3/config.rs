//! The S3 destination as the deployment sets it (`artifacts_destination`,
//! `s3_endpoint_url`, `s3_region`, `s3_access_key_id`, `s3_secret_access_key`), checked
//! and turned into a bucket with path-style URLs, the credentials and the key prefix.

use crate::error::{ApiResult, MlflowError};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use url::Url;

/// The region when `s3_region` is empty (as the AWS SDKs and MLflow assume).
pub const DEFAULT_REGION: &str = "us-east-1";

/// The settings of an S3 destination, as read from the variables.
#[derive(Debug, Default, Clone)]
pub struct S3Settings {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub destination: String,
    pub endpoint_url: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Where artifacts go: a bucket, the credentials that sign requests (none: anonymous,
/// unsigned requests) and the prefix of every key (no slash at either end).
#[derive(Debug)]
pub struct S3Location {
    pub bucket: Bucket,
    /// `s3_endpoint_url`, for messages.
    pub endpoint: String,
    pub credentials: Option<Credentials>,
    pub prefix: String,
}

impl S3Location {
    pub fn from_settings(s: &S3Settings) -> ApiResult<S3Location> {
        let (bucket_name, prefix) = parse_destination(&s.destination)?;
        let endpoint = Url::parse(s.endpoint_url.trim())
            .map_err(|e| misconfigured(format!("s3_endpoint_url '{}': {e}", s.endpoint_url)))?;
        let region = match s.region.trim() {
            "" => DEFAULT_REGION.to_string(),
            r => r.to_string(),
        };
        let bucket = Bucket::new(endpoint, UrlStyle::Path, bucket_name, region)
            .map_err(|e| misconfigured(format!("s3_endpoint_url '{}': {e}", s.endpoint_url)))?;
        let credentials = match (s.access_key_id.trim(), s.secret_access_key.trim()) {
            ("", "") => None,
            ("", _) | (_, "") => {
                return Err(misconfigured(
                    "s3_access_key_id and s3_secret_access_key are set together or not at all"
                        .into(),
                ))
            }
            (key, secret) => Some(Credentials::new(key, secret)),
        };
        Ok(S3Location {
            bucket,
            endpoint: s.endpoint_url.trim().to_string(),
            credentials,
            prefix,
        })
    }

    /// The object key of a store path.
    pub fn key(&self, path: &str) -> String {
        match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{path}", self.prefix),
        }
    }

    /// The listing prefix of the directory `path` (`<key>/`, or "" for the bucket's
    /// root).
    pub fn dir_prefix(&self, path: &str) -> String {
        match self.key(path) {
            key if key.is_empty() => key,
            key => key + "/",
        }
    }
}

/// `s3://bucket/prefix` → (bucket, prefix without slashes at its ends).
fn parse_destination(destination: &str) -> ApiResult<(String, String)> {
    let rest = destination.trim().strip_prefix("s3://").ok_or_else(|| {
        misconfigured(format!(
            "artifacts_destination '{destination}' is neither empty (the database) nor s3://bucket/prefix"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty()
        || bucket
            .chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#')
    {
        return Err(misconfigured(format!(
            "artifacts_destination '{destination}' names no valid bucket"
        )));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

fn misconfigured(detail: String) -> MlflowError {
    MlflowError::internal(format!(
        "The S3 artifact destination is misconfigured: {detail}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(destination: &str, endpoint: &str) -> S3Settings {
        S3Settings {
            destination: destination.into(),
            endpoint_url: endpoint.into(),
            region: String::new(),
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
        }
    }

    #[test]
    fn keys_follow_the_destination_prefix() {
        let at = S3Location::from_settings(&settings(
            "s3://bucket/some/prefix/",
            "http://127.0.0.1:9000",
        ))
        .unwrap();
        assert_eq!(at.bucket.name(), "bucket");
        assert_eq!(at.bucket.region(), DEFAULT_REGION);
        assert_eq!(
            at.key("1/r/artifacts/a.txt"),
            "some/prefix/1/r/artifacts/a.txt"
        );
        assert_eq!(at.dir_prefix("1/r/artifacts"), "some/prefix/1/r/artifacts/");
        assert_eq!(at.dir_prefix(""), "some/prefix/");
        // Path-style URLs: the bucket is the first path segment.
        assert_eq!(
            at.bucket.object_url("k").as_str(),
            "http://127.0.0.1:9000/bucket/k"
        );

        let bare =
            S3Location::from_settings(&settings("s3://b", "https://s3.amazonaws.com")).unwrap();
        assert_eq!(bare.key("1/r/artifacts/a"), "1/r/artifacts/a");
        assert_eq!(bare.dir_prefix(""), "");
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        for (destination, endpoint) in [
            ("gs://b/p", "http://h"),
            ("s3://", "http://h"),
            ("s3:///p", "http://h"),
            ("s3://b", "not a url"),
            ("s3://b", "ftp://h"),
        ] {
            let e = S3Location::from_settings(&settings(destination, endpoint)).unwrap_err();
            assert!(
                e.message.contains("misconfigured"),
                "{destination} {endpoint}"
            );
        }
        let mut half = settings("s3://b", "http://h");
        half.secret_access_key.clear();
        assert!(S3Location::from_settings(&half).is_err());
        half.access_key_id.clear();
        assert!(S3Location::from_settings(&half)
            .unwrap()
            .credentials
            .is_none());
    }
}
