//! The S3 store against a real S3 server (s3s-fs, `test-s3`), through a native HTTP
//! client in place of Spin's: keys, listings, multipart uploads, aborts, deletes and
//! the errors of a missing bucket, refused credentials and an endpoint that is down.

use super::config::{S3Location, S3Settings};
use super::transport::{HttpReply, ObjectHttp, ReplyBody};
use super::upload::PART_SIZE;
use super::S3Artifacts;
use crate::error::{ErrorCode, ObjectStoreError};
use crate::store::artifact_store::ArtifactStore;
use std::io::Read;
use test_s3::TestS3;
use url::Url;

struct NativeHttp(ureq::Agent);

struct NativeBody(Box<dyn Read>);

impl ReplyBody for NativeBody {
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        let mut buf = vec![0; max.min(1 << 16)];
        let n = self
            .0
            .read(&mut buf)
            .map_err(|e| ObjectStoreError::Unreachable(e.to_string()))?;
        buf.truncate(n);
        Ok((n > 0).then_some(buf))
    }
}

impl ObjectHttp for NativeHttp {
    fn send(
        &self,
        method: rusty_s3::Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpReply, ObjectStoreError> {
        let mut request = ureq::http::Request::builder()
            .method(method.to_str())
            .uri(url.as_str());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(body.to_vec()).expect("request");
        let response = self
            .0
            .run(request)
            .map_err(|e| ObjectStoreError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let reader = response.into_body().into_reader();
        Ok(HttpReply {
            status,
            headers,
            body: Box::new(NativeBody(Box::new(reader))),
        })
    }
}

fn store_at(url: &str, destination: &str, secret: &str) -> S3Artifacts<NativeHttp> {
    let at = S3Location::from_settings(&S3Settings {
        destination: destination.into(),
        endpoint_url: url.into(),
        region: String::new(),
        access_key_id: test_s3::ACCESS_KEY.into(),
        secret_access_key: secret.into(),
    })
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    S3Artifacts::new(at, NativeHttp(agent))
}

fn store(s3: &TestS3) -> S3Artifacts<NativeHttp> {
    store_at(s3.url(), "s3://bucket/pre/fix", test_s3::SECRET_KEY)
}

/// Bytes that differ at every position of a part, so a misplaced part shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Files whose name starts with `.upload_id-`: parts s3s-fs keeps for open uploads.
fn pending_parts(s3: &TestS3) -> usize {
    std::fs::read_dir(s3.root())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".upload_id-")
        })
        .count()
}

#[test]
fn files_are_objects_under_the_prefix_and_the_bucket_is_the_listing() {
    let s3 = TestS3::start(&["bucket"]);
    let files = store(&s3);
    files.put("1/r/artifacts/a.txt", b"alpha").unwrap();
    files.put("1/r/artifacts/empty", b"").unwrap();
    files.put("1/r/artifacts/dir/b c+d%.bin", b"bb").unwrap();
    files.put("1/r/artifacts/dir/sub/c.txt", b"ccc").unwrap();
    files.put("1/r/artifacts0/other", b"x").unwrap();

    // The keys MLflow's server uses for proxied artifacts under the same destination.
    let on_disk = s3.object_path("bucket", "pre/fix/1/r/artifacts/dir/b c+d%.bin");
    assert_eq!(std::fs::read(on_disk).unwrap(), b"bb");

    let root = files.children("1/r/artifacts").unwrap();
    let listed: Vec<_> = root.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        listed,
        vec![("a.txt", Some(5)), ("dir", None), ("empty", Some(0))]
    );
    let dir = files.children("1/r/artifacts/dir").unwrap();
    assert_eq!(dir.get("b c+d%.bin"), Some(&Some(2)));
    assert_eq!(dir.get("sub"), Some(&None));
    assert!(files.children("1/r/artifacts/a.txt").unwrap().is_empty());
    assert!(files.children("1/r/missing").unwrap().is_empty());

    assert!(files.is_dir("1/r/artifacts/dir").unwrap());
    assert!(!files.is_dir("1/r/artifacts/a.txt").unwrap());
    assert_eq!(files.get("1/r/artifacts/a.txt").unwrap().unwrap(), b"alpha");
    assert_eq!(files.get("1/r/artifacts/empty").unwrap().unwrap(), b"");
    assert!(files.get("1/r/artifacts/nope").unwrap().is_none());

    // Replacing a file replaces the object.
    files.put("1/r/artifacts/a.txt", b"again").unwrap();
    assert_eq!(files.get("1/r/artifacts/a.txt").unwrap().unwrap(), b"again");

    // A directory goes with everything under it, and nothing beside it.
    files.delete("1/r/artifacts/dir").unwrap();
    assert_eq!(files.children("1/r/artifacts").unwrap().len(), 2);
    assert!(files.get("1/r/artifacts0/other").unwrap().is_some());
    files.delete("1/r/artifacts/a.txt").unwrap();
    files.delete("1/r/artifacts/never-there").unwrap();
    assert!(files.get("1/r/artifacts/a.txt").unwrap().is_none());
}

#[test]
fn large_files_go_as_multipart_uploads_and_read_back_byte_exact() {
    let s3 = TestS3::start(&["bucket"]);
    let files = store(&s3);
    let data = pattern(2 * PART_SIZE + 12_345);
    let mut writer = files.create("1/r/artifacts/big.bin").unwrap();
    for piece in data.chunks(100_000) {
        writer.write(piece).unwrap();
    }
    writer.commit().unwrap();
    assert_eq!(pending_parts(&s3), 0);

    let mut reader = files.open("1/r/artifacts/big.bin").unwrap().unwrap();
    assert_eq!(reader.size(), data.len() as i64);
    let mut back = Vec::new();
    while let Some(piece) = reader.next_piece().unwrap() {
        back.extend(piece);
    }
    assert!(back == data, "the object differs from what was written");
    assert_eq!(
        files.children("1/r/artifacts").unwrap().get("big.bin"),
        Some(&Some(data.len() as i64))
    );

    // Exactly one part's worth: one part, completed.
    files
        .put("1/r/artifacts/one.bin", &pattern(PART_SIZE))
        .unwrap();
    assert_eq!(
        files.get("1/r/artifacts/one.bin").unwrap().unwrap(),
        pattern(PART_SIZE)
    );
}

#[test]
fn an_aborted_upload_leaves_no_object_and_no_parts() {
    let s3 = TestS3::start(&["bucket"]);
    let files = store(&s3);
    let mut writer = files.create("1/r/artifacts/cut.bin").unwrap();
    writer.write(&pattern(PART_SIZE + 10)).unwrap();
    assert_eq!(pending_parts(&s3), 1, "the first part is stored");
    writer.abort();
    assert_eq!(pending_parts(&s3), 0);
    assert!(files.get("1/r/artifacts/cut.bin").unwrap().is_none());
    // A small upload that is given up never reaches the bucket.
    let mut writer = files.create("1/r/artifacts/small.bin").unwrap();
    writer.write(b"abc").unwrap();
    writer.abort();
    assert!(files.get("1/r/artifacts/small.bin").unwrap().is_none());
}

#[test]
fn store_failures_map_to_mlflow_errors() {
    let s3 = TestS3::start(&["bucket"]);

    // (s3s-fs checks the bucket on listings only: it makes a missing bucket on
    // PutObject and answers NoSuchKey to a GetObject, where S3 says NoSuchBucket.)
    let no_bucket = store_at(s3.url(), "s3://missing/p", test_s3::SECRET_KEY);
    for e in [
        no_bucket.children("1/r/artifacts").unwrap_err(),
        no_bucket.delete("1/r/artifacts").unwrap_err(),
    ] {
        assert_eq!(e.code, ErrorCode::InternalError);
        assert!(e.message.contains("NoSuchBucket"), "{}", e.message);
        assert!(e.message.contains("'missing'"), "{}", e.message);
    }

    let wrong_secret = store_at(s3.url(), "s3://bucket/p", "not-the-secret");
    let e = wrong_secret.put("1/r/artifacts/a", b"a").unwrap_err();
    assert_eq!(e.code, ErrorCode::InternalError);
    assert!(e.message.contains("SignatureDoesNotMatch"), "{}", e.message);

    let url = s3.url().to_string();
    drop(s3);
    let down = store_at(&url, "s3://bucket/p", test_s3::SECRET_KEY);
    let e = down.get("1/r/artifacts/a").err().unwrap();
    assert_eq!(e.code, ErrorCode::TemporarilyUnavailable, "{}", e.message);
}
