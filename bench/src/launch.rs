//! How each system under test is launched: `spinflow up` and `spin up` serving a
//! manifest (with the run's compiled-code caches), the peers as their users run
//! them, and the native floor; where the baked and registry variants keep their
//! files; and a launch's command line as the report shows it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifest;
use crate::paths::Paths;
use crate::procs::Launch;
use crate::systems::{variant, App, Model, Runtime, Variant, BASELINE};

/// The manifest copy that serves the baked iris-api (written by the harness).
pub fn baked_manifest(paths: &Paths) -> PathBuf {
    paths.work.join("spin-baked.toml")
}

/// iris-api with the registry model baked in (written by `spinflow preinit --model`).
pub fn baked_wasm(paths: &Paths) -> PathBuf {
    paths.work.join("iris_api.baked.wasm")
}

/// The manifest a variant is served from.
pub fn manifest_path(paths: &Paths, v: Variant) -> PathBuf {
    match (v.model, v.app) {
        (Model::Baked, _) => baked_manifest(paths),
        (_, App::Baseline) => paths.baseline_manifest(),
        (_, App::This) => paths.repo.join(v.manifest),
    }
}

/// The state dir of a registry or baked variant: prepared once (a model trained into
/// it), then served by every repetition. Both baked variants serve the same one (the
/// registry their baked model was fetched from).
pub fn registry_state_dir(paths: &Paths, system: &str) -> PathBuf {
    match variant(system) {
        Some(v) if v.model == Model::Baked => paths.work.join("state-baked"),
        _ => paths.work.join(format!("state-{system}")),
    }
}

/// Launch of a `spinflow up` serving `manifest` (relative to the repo, or absolute).
pub fn spinflow(
    paths: &Paths,
    name: &str,
    manifest: &Path,
    port: u16,
    state_dir: &Path,
    args: &[&str],
    ready_path: &str,
) -> Launch {
    let mut all = up_args(paths, manifest, port, state_dir);
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

/// `up -f <manifest> --listen 127.0.0.1:<port> --state-dir <dir>`: what `spinflow up`
/// and `spin up` both take.
fn up_args(paths: &Paths, manifest: &Path, port: u16, state_dir: &Path) -> Vec<String> {
    vec![
        "up".to_string(),
        "-f".into(),
        paths.repo.join(manifest).display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--state-dir".into(),
        state_dir.display().to_string(),
    ]
}

/// Launch of the real Spin CLI, `spin up`, serving `manifest` (relative to the repo, or
/// absolute) with the run's Wasmtime cache. Spin compiles every component at start
/// (iris-api takes a minute or two without the cache), hence the long ready timeout.
/// Spin runs the app in a child process (`spin trigger http`) of `spin up`.
pub fn spin(
    paths: &Paths,
    name: &str,
    manifest: &Path,
    port: u16,
    state_dir: &Path,
    args: &[&str],
    ready_path: &str,
) -> Launch {
    // A failure to write it shows as Spin's own error at start.
    let cache = manifest::spin_cache_config(&paths.spin_cache())
        .unwrap_or_else(|_| paths.spin_cache().with_extension("toml"));
    let mut all = up_args(paths, manifest, port, state_dir);
    all.extend(["--cache".into(), cache.display().to_string()]);
    all.extend(args.iter().map(|a| a.to_string()));
    Launch {
        name: name.into(),
        program: paths.spin_bin(),
        args: all,
        env: vec![],
        cwd: Some(paths.repo.clone()),
        port,
        ready_path: ready_path.into(),
        ready_timeout: Duration::from_secs(300),
    }
}

/// Points a `spin up` launch at another Wasmtime cache directory.
pub fn use_spin_cache(launch: &mut Launch, dir: &Path) -> anyhow::Result<()> {
    let config = manifest::spin_cache_config(dir)?;
    if let Some(i) = launch.args.iter().position(|a| a == "--cache") {
        launch.args[i + 1] = config.display().to_string();
    }
    Ok(())
}

/// Launch of our app under `runtime` (the whole app, as `make up` serves it).
pub fn app(
    paths: &Paths,
    runtime: Runtime,
    name: &str,
    manifest: &Path,
    port: u16,
    state_dir: &Path,
    ready_path: &str,
) -> Launch {
    let config = paths.runtime_config().display().to_string();
    let args = ["--runtime-config-file", config.as_str()];
    match runtime {
        Runtime::Spinflow => spinflow(paths, name, manifest, port, state_dir, &args, ready_path),
        Runtime::Spin => spin(paths, name, manifest, port, state_dir, &args, ready_path),
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

/// The tracking server a variant serving iris-api alone talks to, as an iris-api pod
/// talks to the mlflow-server Service: mlflow-server in a process of its own, served
/// by the same runtime. `None` for the systems that need none.
pub fn tracking_companion(paths: &Paths, system: &str, port: u16) -> Option<Launch> {
    let v = variant(system).filter(|v| v.iris_api_alone)?;
    let name = match v.runtime {
        Runtime::Spinflow => "spinflow",
        Runtime::Spin => "spin",
    };
    let mut launch = tracking_launch(paths, name, port);
    launch.name = format!("{system}-tracking");
    Some(launch)
}

/// Launch of a prediction system; `model_dir` is the peers' MLflow model, and
/// `tracking_uri` the [`tracking_companion`] of a variant serving iris-api alone.
pub fn predict_launch(
    paths: &Paths,
    system: &str,
    port: u16,
    model_dir: Option<&PathBuf>,
    floor_body: &str,
    tracking_uri: Option<&str>,
) -> Launch {
    let model = model_dir
        .map(|m| m.display().to_string())
        .unwrap_or_default();
    let state = paths.work.join(format!("state-{system}-{port}"));
    match system {
        "floor" => floor(paths, system, port, floor_body),
        // The whole app, as `make up` serves it (iris-api declares the tracking server
        // as an outbound host, and the host serves it only beside mlflow-server), or
        // iris-api alone with its tracking server elsewhere.
        _ if variant(system).is_some() => {
            let v = variant(system).expect("matched");
            let state = if v.model == Model::Embedded {
                state
            } else {
                registry_state_dir(paths, system)
            };
            let mut launch = app(
                paths,
                v.runtime,
                system,
                &manifest_path(paths, v),
                port,
                &state,
                "/health",
            );
            if v.iris_api_alone {
                launch
                    .args
                    .extend(["--component-id".into(), "iris-api".into()]);
                if let Some(uri) = tracking_uri {
                    launch
                        .env
                        .push(("SPIN_VARIABLE_MLFLOW_TRACKING_URI".into(), uri.into()));
                }
            }
            launch
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
        "spinflow" | BASELINE => spinflow(
            paths,
            system,
            &manifest_path(paths, variant(system).expect("one of our variants")),
            port,
            &data,
            &["--component-id", "mlflow-server"],
            "/health",
        ),
        "spin" => spin(
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
