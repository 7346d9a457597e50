//! The systems under test and how each is launched: ours (`spinflow up` with the real
//! components), the peers as their users run them, and the native floor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::procs::Launch;
use crate::setup::Paths;

/// Prediction servers.
pub const PREDICT_SYSTEMS: &[&str] = &[
    "floor",
    "spinflow",
    "spinflow-wasip3",
    "spinflow-registry",
    "spinflow-wasip3-registry",
    "fastapi-1w",
    "fastapi-2w",
    "fastapi-2w-nodelay",
    "mlflow-serve",
];

/// Tracking servers.
pub const TRACKING_SYSTEMS: &[&str] = &["spinflow", "mlflow", "mlflow-nodelay", "fasttrackml"];

/// Systems that need nothing but this repository (no Python venv).
pub fn is_native(system: &str) -> bool {
    system == "floor" || system.starts_with("spinflow")
}

/// spinflow's prediction variants: which manifest, and whether the served model
/// comes from the registry (trained into the app's own tracking server first).
pub fn spinflow_variant(system: &str) -> Option<(&'static str, bool)> {
    match system {
        "spinflow" => Some(("spin.toml", false)),
        "spinflow-wasip3" => Some(("spin-wasip3.toml", false)),
        "spinflow-registry" => Some(("spin.toml", true)),
        "spinflow-wasip3-registry" => Some(("spin-wasip3.toml", true)),
        _ => None,
    }
}

/// The state dir of a registry variant: prepared once (a model trained into it),
/// then served by every repetition.
pub fn registry_state_dir(paths: &Paths, system: &str) -> PathBuf {
    paths.work.join(format!("state-{system}"))
}

/// A one-line description for the report.
pub fn describe(system: &str) -> &'static str {
    match system {
        "floor" => "native hyper server answering fixed bytes (the HTTP floor)",
        "spinflow" => "our .wasm components in `spinflow up` (whole app for prediction; `--component-id mlflow-server` for tracking)",
        "spinflow-wasip3" => "the same app with iris-api as a WASIp3 component (spin-wasip3.toml): instances reused",
        "spinflow-registry" => "spinflow serving a model from its registry (`spinflow train`), not the embedded default",
        "spinflow-wasip3-registry" => "the WASIp3 build serving a model from its registry",
        "fastapi-1w" => "reference FastAPI iris-api, uvicorn 1 worker",
        "fastapi-2w" => "reference FastAPI iris-api, uvicorn --workers 2 (default: no TCP_NODELAY, uvicorn #3149)",
        "fastapi-2w-nodelay" => "the same, 2 workers with TCP_NODELAY restored",
        "mlflow-serve" => "`mlflow models serve --env-manager local` (uvicorn, 1 worker)",
        "mlflow" => "`mlflow server`, SQLite, its default 4 uvicorn workers (no TCP_NODELAY, uvicorn #3149)",
        "mlflow-nodelay" => "the same with TCP_NODELAY restored",
        "fasttrackml" => "FastTrackML `fml server` (Go), SQLite",
        _ => "",
    }
}

/// Launch of a `spinflow up` serving `manifest` (relative to the repo).
pub fn spinflow(
    paths: &Paths,
    name: &str,
    manifest: &Path,
    port: u16,
    state_dir: &Path,
    args: &[&str],
    ready_path: &str,
) -> Launch {
    let mut all = vec![
        "up".to_string(),
        "-f".into(),
        paths.repo.join(manifest).display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--state-dir".into(),
        state_dir.display().to_string(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    Launch {
        name: name.into(),
        program: paths.spinflow(),
        args: all,
        // One compiled-code cache per run, primed before anything is measured.
        env: vec![(
            "SPINFLOW_CACHE_DIR".into(),
            paths.spinflow_cache().display().to_string(),
        )],
        cwd: Some(paths.repo.clone()),
        port,
        ready_path: ready_path.into(),
        ready_timeout: Duration::from_secs(60),
    }
}

/// Launch of the native floor (this binary's `floor` command) answering `body`.
pub fn floor(paths: &Paths, name: &str, port: u16, body: &str) -> Launch {
    Launch {
        name: name.into(),
        program: paths.bench_exe.clone(),
        args: vec![
            "floor".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--body".into(),
            body.into(),
        ],
        env: vec![],
        cwd: None,
        port,
        ready_path: "/".into(),
        ready_timeout: Duration::from_secs(10),
    }
}

/// Launch of a prediction system; `model_dir` is the peers' MLflow model.
pub fn predict_launch(
    paths: &Paths,
    system: &str,
    port: u16,
    model_dir: Option<&PathBuf>,
    floor_body: &str,
) -> Launch {
    let model = model_dir
        .map(|m| m.display().to_string())
        .unwrap_or_default();
    let state = paths.work.join(format!("state-{system}-{port}"));
    match system {
        "floor" => floor(paths, system, port, floor_body),
        // The whole app, as `make up` serves it: iris-api declares the tracking server
        // as an outbound host, and the host serves it only beside mlflow-server.
        _ if spinflow_variant(system).is_some() => {
            let (manifest, registry) = spinflow_variant(system).expect("matched");
            let state = if registry {
                registry_state_dir(paths, system)
            } else {
                state
            };
            spinflow(
                paths,
                system,
                Path::new(manifest),
                port,
                &state,
                &[],
                "/health",
            )
        }
        "fastapi-1w" | "fastapi-2w" | "fastapi-2w-nodelay" => {
            let mut args = vec![
                "main:app".to_string(),
                "--app-dir".into(),
                paths.peers().join("iris_api").display().to_string(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
            ];
            if system != "fastapi-1w" {
                args.extend(["--workers".into(), "2".into()]);
            }
            let mut env = vec![
                ("MODEL_PATH".to_string(), model),
                ("API_KEYS".into(), "dev-key".into()),
            ];
            if system.ends_with("nodelay") {
                env.push(nodelay_pythonpath(paths));
            }
            Launch {
                name: system.into(),
                program: paths.venv_bin("uvicorn"),
                args,
                env,
                cwd: None,
                port,
                ready_path: "/health".into(),
                ready_timeout: Duration::from_secs(120),
            }
        }
        "mlflow-serve" => Launch {
            name: system.into(),
            program: paths.venv_bin("mlflow"),
            args: vec![
                "models".into(),
                "serve".into(),
                "-m".into(),
                model,
                "--env-manager".into(),
                "local".into(),
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            env: vec![venv_path(paths)],
            cwd: Some(paths.work.clone()),
            port,
            ready_path: "/ping".into(),
            ready_timeout: Duration::from_secs(120),
        },
        other => panic!("unknown prediction system {other}"),
    }
}

/// Launch of a tracking system, with its data under the run's work dir.
pub fn tracking_launch(paths: &Paths, system: &str, port: u16) -> Launch {
    let data = paths.work.join(format!("data-{system}-{port}"));
    let _ = std::fs::create_dir_all(&data);
    match system {
        "spinflow" => spinflow(
            paths,
            system,
            Path::new("spin.toml"),
            port,
            &data,
            &["--component-id", "mlflow-server"],
            "/health",
        ),
        "mlflow" | "mlflow-nodelay" => {
            let mut env = vec![venv_path(paths)];
            if system == "mlflow-nodelay" {
                env.push(nodelay_pythonpath(paths));
            }
            Launch {
                name: system.into(),
                program: paths.venv_bin("mlflow"),
                args: vec![
                    "server".into(),
                    "--backend-store-uri".into(),
                    format!("sqlite:///{}", data.join("mlflow.db").display()),
                    "--default-artifact-root".into(),
                    data.join("artifacts").display().to_string(),
                    "--host".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port.to_string(),
                ],
                env,
                cwd: Some(data),
                port,
                ready_path: "/health".into(),
                ready_timeout: Duration::from_secs(180),
            }
        }
        "fasttrackml" => Launch {
            name: system.into(),
            program: paths.venv_bin("fml"),
            args: vec![
                "server".into(),
                "--listen-address".into(),
                format!("127.0.0.1:{port}"),
                "--database-uri".into(),
                format!("sqlite://{}", data.join("fasttrackml.db").display()),
                "--default-artifact-root".into(),
                data.join("artifacts").display().to_string(),
            ],
            env: vec![],
            cwd: Some(data),
            port,
            ready_path: "/health".into(),
            ready_timeout: Duration::from_secs(60),
        },
        other => panic!("unknown tracking system {other}"),
    }
}

/// The peers' console scripts spawn `uvicorn` by name: put the venv first on PATH.
fn venv_path(paths: &Paths) -> (String, String) {
    let path = std::env::var("PATH").unwrap_or_default();
    (
        "PATH".into(),
        format!("{}:{path}", paths.venv.join("bin").display()),
    )
}

fn nodelay_pythonpath(paths: &Paths) -> (String, String) {
    (
        "PYTHONPATH".into(),
        paths.peers().join("nodelay").display().to_string(),
    )
}

/// The command line of a launch, for the report.
pub fn command_line(launch: &Launch, paths: &Paths) -> String {
    let shorten = |s: &str| {
        s.replace(&format!("{}/", paths.work.display()), "$WORK/")
            .replace(&format!("{}/", paths.repo.display()), "")
    };
    let env: Vec<String> = launch
        .env
        .iter()
        .filter(|(k, _)| k != "PATH")
        .map(|(k, v)| format!("{k}={}", shorten(v)))
        .collect();
    let mut parts = env;
    parts.push(shorten(&launch.program.display().to_string()));
    parts.extend(launch.args.iter().map(|a| shorten(a)));
    parts.join(" ")
}
