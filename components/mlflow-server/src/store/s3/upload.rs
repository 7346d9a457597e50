//! Writing one object: bytes gather into a part of [`PART_SIZE`]; a file that ends
//! within the first part is one `PutObject`, a larger one a multipart upload
//! (`CreateMultipartUpload`, one `UploadPart` per full part, `CompleteMultipartUpload`),
//! so memory holds one part whatever the file's size. A failed or abandoned upload is
//! aborted (`AbortMultipartUpload`), which frees the parts S3 kept.

use super::client::{S3Artifacts, SIGNATURE_LIFETIME};
use super::transport::ObjectHttp;
use crate::error::{ApiResult, MlflowError, ObjectStoreError};
use crate::store::artifact_store::ArtifactWriter;
use rusty_s3::actions::{CompleteMultipartUploadResponse, CreateMultipartUpload};
use rusty_s3::{Method, S3Action};

/// Bytes per part: above S3's 5 MiB minimum for every part but the last, and the part
/// size of the AWS SDKs' transfer managers.
pub const PART_SIZE: usize = 8 << 20;
/// S3's limit on the parts of one upload.
const MAX_PARTS: usize = 10_000;

pub struct ObjectUpload<'a, H> {
    store: &'a S3Artifacts<H>,
    key: String,
    part: Vec<u8>,
    multipart: Option<Multipart>,
}

/// A started multipart upload: its id and the ETags of the parts sent, in order.
struct Multipart {
    upload_id: String,
    etags: Vec<String>,
}

impl<'a, H: ObjectHttp> ObjectUpload<'a, H> {
    pub fn new(store: &'a S3Artifacts<H>, key: String) -> Self {
        ObjectUpload {
            store,
            key,
            part: Vec::new(),
            multipart: None,
        }
    }

    fn start_multipart(&self) -> Result<Multipart, ObjectStoreError> {
        let action = self
            .store
            .at
            .bucket
            .create_multipart_upload(self.store.credentials(), &self.key);
        let url = action.sign(SIGNATURE_LIFETIME);
        let body = self.store.call(Method::Post, &url, &[], &[])?.text()?;
        let created = CreateMultipartUpload::parse_response(&body)
            .map_err(|e| ObjectStoreError::Malformed(format!("CreateMultipartUpload: {e}")))?;
        Ok(Multipart {
            upload_id: created.upload_id().to_string(),
            etags: Vec::new(),
        })
    }

    /// Sends the gathered part as the next part of the multipart upload.
    fn send_part(&mut self) -> ApiResult<()> {
        if self.multipart.is_none() {
            self.multipart = Some(self.start_multipart()?);
        }
        let multipart = self.multipart.as_mut().expect("started above");
        if multipart.etags.len() == MAX_PARTS {
            return Err(MlflowError::invalid(format!(
                "Artifact too large: S3 takes at most {MAX_PARTS} parts of {PART_SIZE} bytes"
            )));
        }
        let number = u16::try_from(multipart.etags.len() + 1).expect("at most MAX_PARTS parts");
        let url = self
            .store
            .at
            .bucket
            .upload_part(
                self.store.credentials(),
                &self.key,
                number,
                &multipart.upload_id,
            )
            .sign(SIGNATURE_LIFETIME);
        let reply = self.store.call(Method::Put, &url, &[], &self.part)?;
        let etag = reply.header("etag").map(str::to_string).ok_or_else(|| {
            ObjectStoreError::Malformed(format!("UploadPart {number} answered no ETag"))
        })?;
        multipart.etags.push(etag);
        self.part.clear();
        Ok(())
    }

    fn put_whole(&self) -> ApiResult<()> {
        let url = self
            .store
            .at
            .bucket
            .put_object(self.store.credentials(), &self.key)
            .sign(SIGNATURE_LIFETIME);
        self.store.call(Method::Put, &url, &[], &self.part)?;
        Ok(())
    }

    fn complete(&self, multipart: &Multipart) -> ApiResult<()> {
        let action = self.store.at.bucket.complete_multipart_upload(
            self.store.credentials(),
            &self.key,
            &multipart.upload_id,
            multipart.etags.iter().map(String::as_str),
        );
        let url = action.sign(SIGNATURE_LIFETIME);
        let body = action.body();
        let answer = self
            .store
            .call(Method::Post, &url, &[], body.as_bytes())?
            .text()?;
        // S3 may answer 200 and still fail: the body then holds an <Error>.
        CompleteMultipartUploadResponse::parse(&answer).map_err(|_| ObjectStoreError::Status {
            status: 200,
            code: super::transport::xml_text(&answer, "Code")
                .unwrap_or_else(|| "CompleteMultipartUpload".into()),
            message: super::transport::xml_text(&answer, "Message").unwrap_or_default(),
        })?;
        Ok(())
    }

    fn abort_multipart(&self) {
        let Some(multipart) = &self.multipart else {
            return;
        };
        let url = self
            .store
            .at
            .bucket
            .abort_multipart_upload(self.store.credentials(), &self.key, &multipart.upload_id)
            .sign(SIGNATURE_LIFETIME);
        if let Err(e) = self.store.call(Method::Delete, &url, &[], &[]) {
            eprintln!(
                "mlflow-server: aborting the multipart upload of '{}' failed: {e:?}",
                self.key
            );
        }
    }
}

impl<H: ObjectHttp> ArtifactWriter for ObjectUpload<'_, H> {
    fn write(&mut self, mut bytes: &[u8]) -> ApiResult<()> {
        while !bytes.is_empty() {
            if self.part.capacity() == 0 {
                self.part.reserve_exact(PART_SIZE);
            }
            let take = (PART_SIZE - self.part.len()).min(bytes.len());
            self.part.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.part.len() == PART_SIZE {
                self.send_part()?;
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> ApiResult<()> {
        if self.multipart.is_none() {
            return self.put_whole();
        }
        let result = if self.part.is_empty() {
            Ok(())
        } else {
            self.send_part()
        }
        .and_then(|()| self.complete(self.multipart.as_ref().expect("multipart")));
        if result.is_err() {
            self.abort_multipart();
        }
        result
    }

    fn abort(self: Box<Self>) {
        self.abort_multipart();
    }
}
