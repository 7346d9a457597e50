//! The systems under test and how each is launched: ours (the real components in
//! `spinflow up`, our wasmtime host, and in `spin up`, the real Spin CLI, when the run
//! has one), the peers as their users run them, and the native floor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::procs::Launch;
use crate::setup::{self, Paths};

/// Prediction servers. `spin…` systems run only with a Spin CLI (`--spin-bin`), and
/// `spinflow-baked`, their counterpart in our host, by default only then too.
pub const PREDICT_SYSTEMS: &[&str] = &[
    "floor",
    "spinflow",
    "spinflow-wasip3",
    "spinflow-registry",
    "spinflow-wasip3-registry",
    "spinflow-baked",
    "spin",
    "spin-registry",
    "spin-baked",
    "fastapi-1w",
    "fastapi-2w",
    "fastapi-2w-nodelay",
    "mlflow-serve",
];

/// Tracking servers.
pub const TRACKING_SYSTEMS: &[&str] = &[
    "spinflow",
    "spin",
    "mlflow",
    "mlflow-nodelay",
    "fasttrackml",
];

/// Systems that need nothing but this repository (no Python venv).
pub fn is_native(system: &str) -> bool {
    system == "floor" || system.starts_with("spin")
}

/// Systems served by the real Spin CLI (`spin`, `spin-…`, `spin (…)`), not by
/// `spinflow up`.
pub fn needs_spin_cli(system: &str) -> bool {
    system == "spin" || system.starts_with("spin-") || system.starts_with("spin (")
}

/// Systems in the default set only when the run has a Spin CLI: the Spin systems,
/// and `spinflow-baked`, the counterpart of `spin-baked` in our host.
pub fn only_with_spin_cli(system: &str) -> bool {
    needs_spin_cli(system) || system == "spinflow-baked"
}

/// The runtime that serves a system's components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `spinflow up`: our wasmtime host.
    Spinflow,
    /// `spin up`: the real Spin CLI.
    Spin,
}

/// The model iris-api serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// The embedded default (pre-initialised into iris_api.preinit.wasm).
    Embedded,
    /// A model trained into the app's own registry (`spinflow train`) before the runs.
    Registry,
    /// That registry model, also baked into iris-api at build time
    /// (`spinflow preinit --model`), served from its baked plans.
    Baked,
}

/// A prediction variant of our app: runtime, manifest and served model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    pub runtime: Runtime,
    /// The repository's manifest served (for `Baked`: the one the baked copy is made from).
    pub manifest: &'static str,
    pub model: Model,
}

/// Our prediction variants; `None` for the floor and the peers.
pub fn variant(system: &str) -> Option<Variant> {
    let (runtime, manifest, model) = match system {
        "spinflow" => (Runtime::Spinflow, "spin.toml", Model::Embedded),
        "spinflow-wasip3" => (Runtime::Spinflow, "spin-wasip3.toml", Model::Embedded),
        "spinflow-registry" => (Runtime::Spinflow, "spin.toml", Model::Registry),
        "spinflow-wasip3-registry" => (Runtime::Spinflow, "spin-wasip3.toml", Model::Registry),
        "spinflow-baked" => (Runtime::Spinflow, "spin.toml", Model::Baked),
        "spin" => (Runtime::Spin, "spin.toml", Model::Embedded),
        "spin-registry" => (Runtime::Spin, "spin.toml", Model::Registry),
        "spin-baked" => (Runtime::Spin, "spin.toml", Model::Baked),
        _ => return None,
    };
    Some(Variant {
        runtime,
        manifest,
        model,
    })
}

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
    match v.model {
        Model::Baked => baked_manifest(paths),
        _ => paths.repo.join(v.manifest),
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

/// `manifest` (the text of a spin.toml in `dir`) with every component `source` made
/// absolute, `component`'s replaced by `wasm`, and the build sections dropped: a copy
/// that can live anywhere and serves `wasm` in place of the built component.
/// A `files = [...]` line with each `{ source = "dir", ... }` made absolute, so that the
/// mounts of a manifest copied elsewhere still name the app's directories.
fn absolute_file_sources(line: &str, dir: &Path) -> String {
    const KEY: &str = "source = \"";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(KEY) {
        let (head, tail) = rest.split_at(at + KEY.len());
        out.push_str(&head[..at]);
        let Some(end) = tail.find('"') else {
            out.push_str(&head[at..]);
            rest = tail;
            break;
        };
        let path = &tail[..end];
        let path = if Path::new(path).is_absolute() {
            path.to_string()
        } else {
            dir.join(path).display().to_string()
        };
        out.push_str(&format!("source = {}", setup::toml_string(&path)));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

pub fn rewrite_manifest(
    manifest: &str,
    dir: &Path,
    component: &str,
    wasm: &Path,
) -> anyhow::Result<String> {
    let target = format!("component.{component}");
    let mut replaced = false;
    let mut out = String::with_capacity(manifest.len());
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
        }
        let in_build = section.starts_with("component.") && section.ends_with(".build");
        if in_build {
            continue;
        }
        let source = trimmed
            .strip_prefix("source")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='))
            .map(str::trim)
            .and_then(|v| v.strip_prefix('"')?.strip_suffix('"'));
        if section.starts_with("component.") && trimmed.starts_with("files") {
            out.push_str(&absolute_file_sources(line, dir));
            out.push('\n');
            continue;
        }
        match source {
            Some(_) if section == target => {
                replaced = true;
                out.push_str(&format!(
                    "source = {}\n",
                    setup::toml_string(&wasm.display().to_string())
                ));
            }
            Some(path) if section.starts_with("component.") && !path.contains("://") => {
                let absolute = dir.join(path);
                out.push_str(&format!(
                    "source = {}\n",
                    setup::toml_string(&absolute.display().to_string())
                ));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    anyhow::ensure!(
        replaced,
        "no `source = \"...\"` of [component.{component}] to replace"
    );
    Ok(out)
}

/// A one-line description for the report.
pub fn describe(system: &str) -> &'static str {
    match system {
        "floor" => "native hyper server answering fixed bytes (the HTTP floor)",
        "spinflow" => "our .wasm components in `spinflow up`, our wasmtime host (whole app for prediction; `--component-id mlflow-server` for tracking)",
        "spinflow-wasip3" => "the same app with iris-api as a WASIp3 component (spin-wasip3.toml): instances reused",
        "spinflow-registry" => "spinflow serving a model from its registry (`spinflow train`), not the embedded default",
        "spinflow-wasip3-registry" => "the WASIp3 build serving a model from its registry",
        "spinflow-baked" => "spinflow serving the registry model baked into iris-api at build time (`spinflow preinit --model`; manifest $WORK/spin-baked.toml)",
        "spin" => "real Spin: the same .wasm components and spin.toml in `spin up` (whole app for prediction; `--component-id mlflow-server` for tracking)",
        "spin-registry" => "real Spin serving a model from the app's registry (trained with `spinflow train`, as for spinflow-registry)",
        "spin-baked" => "real Spin serving the registry model baked into iris-api (the same baked .wasm and manifest as spinflow-baked)",
        "fastapi-1w" => "reference FastAPI iris-api, uvicorn 1 worker",
        "fastapi-2w" => "reference FastAPI iris-api, uvicorn --workers 2 (default: no TCP_NODELAY, uvicorn #3149)",
        "fastapi-2w-nodelay" => "the same, 2 workers with TCP_NODELAY restored",
        "mlflow-serve" => "`mlflow models serve --env-manager local` (uvicorn, 1 worker)",
        "mlflow" => "`mlflow server`, SQLite, its default 4 uvicorn workers (no TCP_NODELAY, uvicorn #3149)",
        "mlflow-nodelay" => "the same with TCP_NODELAY restored",
        "fasttrackml" => "FastTrackML `fml server` (Go), SQLite",
        "spinflow (trivial component)" | "spinflow (whole app)" => "`spinflow up`, our wasmtime host",
        "spin (trivial component)" | "spin (whole app)" => "`spin up`, the real Spin CLI",
        crate::storage_names::SPINFLOW_DISK => "`spinflow up` serving bench/apps/roundtrip: the `default` key-value store and SQLite database as its defaults (files in the state dir, no runtime config)",
        crate::storage_names::SPIN_DISK => "`spin up`, the real Spin CLI, serving the same .wasm and manifest: Spin's default stores (files in the state dir, no runtime config)",
        crate::storage_names::SPINFLOW_MEMORY | crate::storage_names::SPIN_MEMORY => "the same, with a runtime config that keeps the `default` key-value store in memory (`[key_value_store.default] type = \"spin\"`, no path)",
        _ => "",
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
    let cache = setup::spin_cache_config(&paths.spin_cache())
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
    let config = setup::spin_cache_config(dir)?;
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
        _ if variant(system).is_some() => {
            let v = variant(system).expect("matched");
            let state = if v.model == Model::Embedded {
                state
            } else {
                registry_state_dir(paths, system)
            };
            app(
                paths,
                v.runtime,
                system,
                &manifest_path(paths, v),
                port,
                &state,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_systems_are_told_apart_from_ours() {
        for s in [
            "spin",
            "spin-registry",
            "spin-baked",
            "spin (trivial component)",
        ] {
            assert!(needs_spin_cli(s), "{s}");
            assert!(only_with_spin_cli(s), "{s}");
        }
        for s in [
            "spinflow",
            "spinflow-baked",
            "spinflow (trivial component)",
            "floor",
        ] {
            assert!(!needs_spin_cli(s), "{s}");
        }
        assert!(only_with_spin_cli("spinflow-baked"));
        assert!(!only_with_spin_cli("spinflow-registry"));
        assert_eq!(variant("spin-baked").unwrap().runtime, Runtime::Spin);
        assert_eq!(variant("spinflow-baked").unwrap().model, Model::Baked);
        assert_eq!(variant("spin-registry").unwrap().model, Model::Registry);
        assert!(variant("fastapi-1w").is_none());
        let storage = [
            crate::storage_names::SPINFLOW_DISK,
            crate::storage_names::SPIN_DISK,
            crate::storage_names::SPINFLOW_MEMORY,
            crate::storage_names::SPIN_MEMORY,
        ];
        for s in PREDICT_SYSTEMS
            .iter()
            .chain(TRACKING_SYSTEMS)
            .chain(&storage)
        {
            assert!(!describe(s).is_empty(), "{s} has no description");
        }
    }

    #[test]
    fn baked_manifest_copy_serves_the_baked_component_from_anywhere() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = std::fs::read_to_string(repo.join("spin.toml")).unwrap();
        let baked = Path::new("/work dir/iris_api.baked.wasm");
        let copy = rewrite_manifest(&text, repo, "iris-api", baked).unwrap();

        let sources: Vec<&str> = copy
            .lines()
            .filter(|l| l.trim_start().starts_with("source"))
            .collect();
        assert_eq!(sources.len(), 3, "{copy}");
        let site = repo.join("target/mlflow-ui/site");
        assert!(
            copy.contains(&format!("source = \"{}\"", site.display())),
            "the UI's files mount is not absolute:\n{copy}"
        );
        let mlflow = repo.join("target/wasm32-wasip2/wasm-release/mlflow_server.wasm");
        assert!(
            sources.contains(&format!("source = \"{}\"", mlflow.display()).as_str()),
            "{sources:?}"
        );
        assert!(sources.contains(&"source = \"/work dir/iris_api.baked.wasm\""));
        // No build steps; everything else (routes, variables, stores) kept.
        assert!(!copy.contains(".build]") && !copy.contains("command ="));
        for kept in [
            "[component.iris-api.variables]",
            "route = \"/predict\"",
            "key_value_stores = [\"default\"]",
            "sqlite_databases = [\"default\"]",
        ] {
            assert!(copy.contains(kept), "lost {kept}:\n{copy}");
        }
    }

    #[test]
    fn rewrite_makes_paths_absolute_and_keeps_urls() {
        let text = "[component.a]\nsource = \"a.wasm\"\n[component.a.build]\ncommand = \"x\"\n\
                    [component.b]\nsource = { url = \"https://x/b.wasm\", digest = \"sha256:0\" }\n\
                    [component.c]\nsource = \"https://x/c.wasm\"\n";
        let copy = rewrite_manifest(text, Path::new("/app"), "c", Path::new("/c.wasm")).unwrap();
        assert_eq!(
            copy,
            "[component.a]\nsource = \"/app/a.wasm\"\n\
             [component.b]\nsource = { url = \"https://x/b.wasm\", digest = \"sha256:0\" }\n\
             [component.c]\nsource = \"/c.wasm\"\n"
        );
        // A component whose source cannot be replaced is an error, not a silent copy.
        assert!(rewrite_manifest(text, Path::new("/app"), "b", Path::new("/b.wasm")).is_err());
        assert!(rewrite_manifest(text, Path::new("/app"), "d", Path::new("/d.wasm")).is_err());
    }

    #[test]
    fn file_mount_sources_become_absolute() {
        let line = r#"files = [{ source = "site", destination = "/" }, "static/*", { source = "/abs", destination = "/x" }]"#;
        assert_eq!(
            absolute_file_sources(line, Path::new("/app")),
            r#"files = [{ source = "/app/site", destination = "/" }, "static/*", { source = "/abs", destination = "/x" }]"#
        );
    }
}
