//! Artifact files as objects of an S3-compatible bucket: the [`ArtifactStore`] of a
//! deployment whose `artifacts_destination` is `s3://bucket/prefix`.
//!
//! File `<experiment>/<run>/artifacts/<path>` is the object
//! `<prefix>/<experiment>/<run>/artifacts/<path>`, the key MLflow's own server gives a
//! proxied artifact under `--artifacts-destination s3://bucket/prefix`, so a bucket
//! written by either looks alike. The bucket itself is the listing, as MLflow lists an
//! S3 artifact root: `ListObjectsV2` with the `/` delimiter, so objects written by
//! others under the prefix show too, and no second copy of the metadata can disagree
//! with the bucket.
//!
//! Every request is a presigned SigV4 URL built by `rusty-s3` (sans-IO) and sent through
//! [`ObjectHttp`]. Downloads stream the object's body a piece at a time; uploads go as
//! one `PutObject` up to [`upload::PART_SIZE`] and as a multipart upload beyond it
//! (`upload`), so memory holds one part at most.

mod client;
pub mod config;
pub mod transport;
mod upload;
#[cfg(target_arch = "wasm32")]
pub mod wasi_http;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use super::artifact_store::{ArtifactReader, ArtifactStore, ArtifactWriter};
use crate::error::{ApiResult, ObjectStoreError};
pub use client::S3Artifacts;
use client::SIGNATURE_LIFETIME;
use rusty_s3::actions::{ListObjectsV2, ObjectIdentifier};
use rusty_s3::{Method, S3Action};
use std::collections::BTreeMap;
use transport::{ObjectHttp, ReplyBody};

/// The most keys one `ListObjectsV2` or `DeleteObjects` call takes (S3's limit).
const PAGE: usize = 1000;
/// The most bytes of an object's body taken from the transport at once.
const PIECE: usize = 1 << 20;

/// One entry of a listing page.
enum Listed {
    Dir(String),
    File(String, i64),
}

impl<H: ObjectHttp> S3Artifacts<H> {
    /// One page of the keys under `prefix`, grouped at the next `/` when `grouped`.
    fn list_page(
        &self,
        prefix: &str,
        grouped: bool,
        max_keys: usize,
        token: Option<&str>,
    ) -> Result<(Vec<Listed>, Option<String>), ObjectStoreError> {
        let mut list: ListObjectsV2 = self.at.bucket.list_objects_v2(self.credentials());
        // Keys come back as they are: some servers announce URL encoding without
        // encoding, and decoding then turns a `+` of a file name into a space.
        list.query_mut().remove("encoding-type");
        if !prefix.is_empty() {
            list.with_prefix(prefix);
        }
        if grouped {
            list.with_delimiter("/");
        }
        list.with_max_keys(max_keys);
        if let Some(token) = token {
            list.with_continuation_token(token);
        }
        let url = list.sign(SIGNATURE_LIFETIME);
        let body = self.call(Method::Get, &url, &[], &[])?.text()?;
        let page = ListObjectsV2::parse_response(&body)
            .map_err(|e| ObjectStoreError::Malformed(format!("ListObjectsV2: {e}")))?;
        let mut entries: Vec<Listed> = page
            .common_prefixes
            .into_iter()
            .map(|p| Listed::Dir(p.prefix))
            .collect();
        entries.extend(page.contents.into_iter().map(|c| {
            let size = c.size.and_then(|s| i64::try_from(s).ok()).unwrap_or(0);
            Listed::File(c.key, size)
        }));
        Ok((entries, page.next_continuation_token))
    }

    /// Deletes the objects `keys` (at most [`PAGE`]) in one `DeleteObjects` call.
    fn delete_keys(&self, keys: Vec<String>) -> Result<(), ObjectStoreError> {
        let objects: Vec<ObjectIdentifier> = keys.into_iter().map(ObjectIdentifier::new).collect();
        let mut action = self
            .at
            .bucket
            .delete_objects(self.credentials(), objects.iter());
        action.set_quiet(true);
        let url = action.sign(SIGNATURE_LIFETIME);
        let (body, md5) = action.body_with_md5();
        let reply = self.call(
            Method::Post,
            &url,
            &[("content-md5", md5.as_str())],
            body.as_bytes(),
        )?;
        let answer = reply.text()?;
        match transport::xml_text(&answer, "Code") {
            Some(code) => Err(ObjectStoreError::Status {
                status: 200,
                code,
                message: transport::xml_text(&answer, "Message").unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }
}

impl<H: ObjectHttp> ArtifactStore for S3Artifacts<H> {
    fn children(&self, dir: &str) -> ApiResult<BTreeMap<String, Option<i64>>> {
        let prefix = self.at.dir_prefix(dir);
        let mut children = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let (entries, next) = self.list_page(&prefix, true, PAGE, token.as_deref())?;
            for entry in entries {
                // Entries outside the prefix (a server that ignores it) are skipped, and
                // a key equal to the prefix is a "folder" marker, not a file.
                match entry {
                    Listed::Dir(p) => match p.strip_prefix(prefix.as_str()) {
                        Some(name) if !name.trim_end_matches('/').is_empty() => {
                            children.insert(name.trim_end_matches('/').to_string(), None);
                        }
                        _ => {}
                    },
                    Listed::File(key, size) => match key.strip_prefix(prefix.as_str()) {
                        Some(name) if !name.is_empty() => {
                            children.entry(name.to_string()).or_insert(Some(size));
                        }
                        _ => {}
                    },
                }
            }
            match next {
                Some(next) => token = Some(next),
                None => return Ok(children),
            }
        }
    }

    fn is_dir(&self, path: &str) -> ApiResult<bool> {
        let (entries, _) = self.list_page(&self.at.dir_prefix(path), true, 1, None)?;
        Ok(!entries.is_empty())
    }

    fn open(&self, path: &str) -> ApiResult<Option<Box<dyn ArtifactReader + '_>>> {
        if path.is_empty() {
            return Ok(None);
        }
        let key = self.at.key(path);
        let url = self
            .at
            .bucket
            .get_object(self.credentials(), &key)
            .sign(SIGNATURE_LIFETIME);
        let reply = match self.call(Method::Get, &url, &[], &[]) {
            Ok(reply) => reply,
            Err(ObjectStoreError::Status { code, .. }) if code == "NoSuchKey" => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = reply
            .header("content-length")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| {
                ObjectStoreError::Malformed(format!(
                    "GetObject of '{key}' without a Content-Length"
                ))
            })?;
        Ok(Some(Box::new(ObjectReader {
            size,
            read: 0,
            body: reply.body,
        })))
    }

    fn create(&self, path: &str) -> ApiResult<Box<dyn ArtifactWriter + '_>> {
        Ok(Box::new(upload::ObjectUpload::new(self, self.at.key(path))))
    }

    fn delete(&self, path: &str) -> ApiResult<()> {
        // Everything under the directory, a page at a time until none is left.
        let prefix = self.at.dir_prefix(path);
        loop {
            let (entries, _) = self.list_page(&prefix, false, PAGE, None)?;
            let keys: Vec<String> = entries
                .into_iter()
                .filter_map(|e| match e {
                    Listed::File(key, _) => Some(key),
                    Listed::Dir(_) => None,
                })
                .collect();
            if keys.is_empty() {
                break;
            }
            self.delete_keys(keys)?;
        }
        // Then the file of that name, if there is one: listed from its own key, it comes
        // first. (An empty path is the prefix itself, which names no file.)
        let key = self.at.key(path);
        if path.is_empty() {
            return Ok(());
        }
        let (first, _) = self.list_page(&key, true, 1, None)?;
        if matches!(first.first(), Some(Listed::File(k, _)) if *k == key) {
            let url = self
                .at
                .bucket
                .delete_object(self.credentials(), &key)
                .sign(SIGNATURE_LIFETIME);
            self.call(Method::Delete, &url, &[], &[])?;
        }
        Ok(())
    }
}

/// An object's body, read as it arrives.
struct ObjectReader {
    size: i64,
    read: i64,
    body: Box<dyn ReplyBody>,
}

impl ArtifactReader for ObjectReader {
    fn size(&self) -> i64 {
        self.size
    }

    fn next_piece(&mut self) -> ApiResult<Option<Vec<u8>>> {
        match self.body.read(PIECE)? {
            Some(piece) => {
                self.read += piece.len() as i64;
                Ok(Some(piece))
            }
            None if self.read == self.size => Ok(None),
            None => Err(ObjectStoreError::Malformed(format!(
                "the object ended after {} of {} bytes",
                self.read, self.size
            ))
            .into()),
        }
    }
}
