//! get-history-bulk through the router: the web UI's bulk metric history of several
//! runs, its bounds, and its refusal of the `/api/` alias.

use crate::http::route::Ctx;
use crate::http::router::dispatch;
use crate::http::{ApiRequest, Method};
use crate::services::metrics::fixtures::{log, point, run};
use crate::store::database_artifacts::DatabaseArtifacts;
use crate::store::testing;

#[test]
fn bulk_history_of_several_runs() {
    let db = testing::db();
    let (a, b) = (run(&db), run(&db));
    log(
        &db,
        &a,
        &[
            point("loss", 0.9, 1, 0),
            point("loss", 0.5, 2, 1),
            point("acc", 1.0, 1, 0),
        ],
    );
    log(&db, &b, &[point("loss", 0.7, 1, 0)]);
    let get = |query: &str| {
        let req = ApiRequest::new(
            Method::Get,
            &format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk?{query}"),
            Vec::new(),
        );
        let r = dispatch(
            &Ctx {
                db: &db,
                artifacts: &DatabaseArtifacts(&db),
            },
            &req,
        );
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        (r.status, v)
    };
    let (status, v) = get(&format!(
        "run_id={a}&run_id={b}&run_id=nope&metric_key=loss"
    ));
    assert_eq!(status, 200);
    let mut want = vec![
        (a.clone(), 0.9, 0),
        (a.clone(), 0.5, 1),
        (b.clone(), 0.7, 0),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    let got: Vec<(String, f64, i64)> = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["key"], "loss");
            (
                m["run_id"].as_str().unwrap().to_string(),
                m["value"].as_f64().unwrap(),
                m["step"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let (_, v) = get(&format!(
        "run_id={a}&run_id={b}&metric_key=loss&max_results=2"
    ));
    assert_eq!(v["metrics"].as_array().unwrap().len(), 2);
    let (_, v) = get(&format!("run_id={a}&metric_key=missing"));
    assert_eq!(v, serde_json::json!({"metrics": []}));
    let many: String = (0..101).map(|i| format!("run_id={i}&")).collect();
    for bad in [
        "metric_key=loss".to_string(),
        format!("run_id={a}"),
        format!("run_id={a}&metric_key=loss&max_results=abc"),
        format!("{many}metric_key=loss"),
    ] {
        let (status, v) = get(&bad);
        assert_eq!(
            (status, v["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE")),
            "{bad}"
        );
    }
    let api = ApiRequest::new(
        Method::Get,
        &format!("/api/2.0/mlflow/metrics/get-history-bulk?run_id={a}&metric_key=loss"),
        Vec::new(),
    );
    assert_eq!(
        dispatch(
            &Ctx {
                db: &db,
                artifacts: &DatabaseArtifacts(&db)
            },
            &api
        )
        .status,
        404
    );
}
