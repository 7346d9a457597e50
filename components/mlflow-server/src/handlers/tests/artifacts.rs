//! The artifact proxy through the router: a round trip of upload, download, listing and
//! delete, and the paths it refuses.

use crate::handlers::artifacts::streaming_target;
use crate::http::route::Ctx;
use crate::http::router::dispatch;
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::store::database_artifacts::DatabaseArtifacts;
use crate::store::testing;

fn call(db: &dyn crate::store::db::Db, method: Method, uri: &str, body: &[u8]) -> ApiResponse {
    dispatch(
        &Ctx {
            db,
            artifacts: &DatabaseArtifacts(db),
        },
        &ApiRequest::new(method, uri, body.to_vec()),
    )
}

#[test]
fn proxy_round_trip_over_http_model() {
    let db = testing::db();
    let base = "/api/2.0/mlflow-artifacts/artifacts";
    assert_eq!(
        call(
            &db,
            Method::Put,
            &format!("{base}/0/r/artifacts/d/a%20b.txt"),
            b"hi"
        )
        .status,
        200
    );
    let got = call(
        &db,
        Method::Get,
        &format!("{base}/0/r/artifacts/d/a%20b.txt"),
        b"",
    );
    assert_eq!((got.status, got.body.as_slice()), (200, &b"hi"[..]));
    let listing = call(&db, Method::Get, &format!("{base}?path=0/r/artifacts"), b"");
    assert_eq!(
        String::from_utf8(listing.body).unwrap(),
        r#"{"files":[{"path":"d","is_dir":true}]}"#
    );
    let file_listing = call(
        &db,
        Method::Get,
        &format!("{base}?path=0/r/artifacts/d/a%20b.txt"),
        b"",
    );
    assert_eq!(file_listing.body, b"{}");
    assert_eq!(
        call(&db, Method::Get, &format!("{base}?path=../x"), b"").status,
        400
    );
    assert_eq!(
        call(&db, Method::Put, &format!("{base}/0/%2e%2e/x"), b"x").status,
        400
    );
    assert_eq!(
        call(&db, Method::Get, &format!("{base}/0/missing"), b"").status,
        404
    );
    assert_eq!(
        call(&db, Method::Delete, &format!("{base}/0/r/artifacts/d"), b"").status,
        200
    );
    assert_eq!(
        call(
            &db,
            Method::Get,
            &format!("{base}/0/r/artifacts/d/a%20b.txt"),
            b""
        )
        .status,
        404
    );
    assert_eq!(
        streaming_target(Method::Put, &format!("{base}/0/x")),
        Some("0/x")
    );
    assert_eq!(
        streaming_target(Method::Delete, &format!("{base}/0/x")),
        None
    );
}
