//! The real application (spin.toml at the repository root) under `spinflow up`:
//! whole-app routing and selective deployment with `--component-id`.

mod common;

use common::{build_wasm, host, repo_root};

/// iris-api's /health reports its model; mlflow-server's does not.
fn from_iris_api(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v.get("model").is_some())
}

fn app_manifest() -> std::path::PathBuf {
    build_wasm(&["iris-api", "mlflow-server"]);
    repo_root().join("spin.toml")
}

#[test]
fn whole_app_routes_health_to_iris_api() {
    let app = host(app_manifest()).start();
    let health = app.get("/health");
    assert_eq!(health.status, 200, "{health:?}");
    assert!(from_iris_api(&health.body), "{}", health.body);
    assert_eq!(app.get("/.well-known/spin/health").body, "OK");
}

#[test]
fn selective_deployment_serves_one_component() {
    // mlflow-server alone takes every path, /health included.
    let app = host(app_manifest())
        .arg("--component-id")
        .arg("mlflow-server")
        .start();
    let health = app.get("/health");
    assert_eq!(health.status, 200, "{health:?}");
    assert!(!from_iris_api(&health.body), "{}", health.body);

    // iris-api alone, pointed at a tracking server elsewhere (its allowed host is a template).
    let app = host(app_manifest())
        .arg("--component-id")
        .arg("iris-api")
        .env("SPIN_VARIABLE_MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
        .start();
    let health = app.get("/health");
    assert_eq!(health.status, 200, "{health:?}");
    assert!(from_iris_api(&health.body), "{}", health.body);
    // Nothing claims other paths.
    assert_eq!(app.get("/api/2.0/mlflow/experiments/search").status, 404);
    drop(app);

    // iris-api alone with the default tracking URI, the mlflow-server component
    // that is not served: as under Spin (and containerd-shim-spin), the call
    // traps iris-api ("unknown routing destination"), so requests answer 500.
    let app = host(app_manifest())
        .arg("--component-id")
        .arg("iris-api")
        .start();
    let health = app.get("/health");
    assert_eq!(
        (health.status, health.body.as_str()),
        (500, ""),
        "{health:?}"
    );
    let out = app.wait_for_output("unknown routing destination 'mlflow-server'");
    assert!(
        out.contains("unknown routing destination 'mlflow-server'"),
        "{out}"
    );
}
