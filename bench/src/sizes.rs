//! Artifact sizes: our `.wasm` files and host binary against the peers' installed
//! footprint (each peer's Python distributions and their dependency closure).

use std::fs;

use serde_json::Value;

use crate::paths::Paths;
use crate::results::Results;
use crate::shell;

const MIB: f64 = 1024.0 * 1024.0;

pub fn record(paths: &Paths, peers: bool, results: &mut Results) {
    for (label, path) in [
        (
            "spinflow: iris_api.preinit.wasm",
            paths.wasm("iris_api.preinit.wasm"),
        ),
        (
            "spinflow: iris_api_p3.preinit.wasm (WASIp3)",
            paths.wasm("iris_api_p3.preinit.wasm"),
        ),
        (
            "spinflow: mlflow_server.wasm",
            paths.wasm("mlflow_server.wasm"),
        ),
        (
            "spinflow: host binary (target/release/spinflow)",
            paths.spinflow(),
        ),
    ] {
        match fs::metadata(&path) {
            Ok(m) => results
                .sizes
                .push((label.to_string(), m.len() as f64 / MIB)),
            Err(e) => results.note(format!("size of {}: {e}", path.display())),
        }
    }
    if !peers {
        return;
    }
    let py = paths.venv_bin("python");
    let script = paths.peers().join("footprint.py");
    let args = [
        script.display().to_string(),
        "FastAPI iris-api (fastapi, uvicorn, scikit-learn, prometheus-client, mlflow)=fastapi,uvicorn,scikit-learn,prometheus-client,mlflow".into(),
        "MLflow 3 (server and models serve)=mlflow".into(),
        "FastTrackML (fml Go binary):fasttrackml".into(),
    ];
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = shell::output(py.to_str().unwrap_or("python3"), &arg_refs);
    match serde_json::from_str::<Value>(&out) {
        Ok(Value::Object(map)) => {
            for (label, v) in map {
                let bytes = v["bytes"].as_f64().unwrap_or(f64::NAN);
                let dists = v["distributions"].as_u64().unwrap_or(0);
                results.sizes.push((
                    format!("{label}: {dists} Python distributions"),
                    bytes / MIB,
                ));
            }
        }
        _ => results.note(format!("peer footprint: unreadable output {out:?}")),
    }
}
