//! The systems under test, by name: ours (the real components in `spinflow up`, our
//! wasmtime host, and in `spin up`, the real Spin CLI, when the run has one), the
//! peers, and the native floor; which of them need the Spin CLI or only the
//! repository, the runtime and model of each variant of our app, and a line
//! describing each for the report. How each is launched is `launch.rs`.

use crate::{postgres_names, storage_names};

/// Prediction servers. `spin…` systems run only with a Spin CLI (`--spin-bin`), and
/// `spinflow-baked`, their counterpart in our host, by default only then too.
pub const PREDICT_SYSTEMS: &[&str] = &[
    "floor",
    "spinflow",
    BASELINE,
    "spinflow-wasip3",
    "spinflow-registry",
    "spinflow-wasip3-registry",
    "spinflow-baked",
    "spin",
    "spin-pod",
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
    BASELINE,
    "spin",
    "mlflow",
    "mlflow-nodelay",
    "fasttrackml",
];

/// `spinflow` serving another built checkout of this repository (`--baseline-app DIR`):
/// the same binary and settings, the app as it was at that checkout's commit.
pub const BASELINE: &str = "spinflow-baseline";

/// Systems that run only with `--baseline-app`: [`BASELINE`] and its figures
/// (`spinflow-baseline (whole app)`).
pub fn needs_baseline_app(system: &str) -> bool {
    system.starts_with(BASELINE)
}

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

/// Which checkout's app a variant serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// This repository's.
    This,
    /// The baseline's (`--baseline-app DIR`), from its own spin.toml.
    Baseline,
}

/// A prediction variant of our app: runtime, manifest and served model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    pub runtime: Runtime,
    /// The app's manifest served (for `Baked`: the one the baked copy is made from).
    pub manifest: &'static str,
    pub model: Model,
    pub app: App,
    /// iris-api alone in its runtime (`--component-id iris-api`), as each iris-api pod
    /// runs it (`SPIN_COMPONENTS_TO_RETAIN=iris-api`), with the tracking server in a
    /// process of its own; otherwise the whole app, as `make up` serves it.
    pub iris_api_alone: bool,
}

/// Our prediction variants; `None` for the floor and the peers.
pub fn variant(system: &str) -> Option<Variant> {
    use {App::*, Model::*, Runtime::*};
    let (runtime, manifest, model, app) = match system {
        "spinflow" => (Spinflow, "spin.toml", Embedded, This),
        BASELINE => (Spinflow, "spin.toml", Embedded, Baseline),
        "spinflow-wasip3" => (Spinflow, "spin-wasip3.toml", Embedded, This),
        "spinflow-registry" => (Spinflow, "spin.toml", Registry, This),
        "spinflow-wasip3-registry" => (Spinflow, "spin-wasip3.toml", Registry, This),
        "spinflow-baked" => (Spinflow, "spin.toml", Baked, This),
        "spin" | "spin-pod" => (Spin, "spin.toml", Embedded, This),
        "spin-registry" => (Spin, "spin.toml", Registry, This),
        "spin-baked" => (Spin, "spin.toml", Baked, This),
        _ => return None,
    };
    Some(Variant {
        runtime,
        manifest,
        model,
        app,
        iris_api_alone: system == "spin-pod",
    })
}

/// A one-line description for the report.
pub fn describe(system: &str) -> &'static str {
    match system {
        "floor" => "native hyper server answering fixed bytes (the HTTP floor)",
        "spinflow" => "our .wasm components in `spinflow up`, our wasmtime host (whole app for prediction; `--component-id mlflow-server` for tracking)",
        BASELINE => "the same `spinflow` binary and settings serving the baseline: another checkout of this repository, built (`--baseline-app DIR`: its own spin.toml and .wasm files; its commit is under the run's versions)",
        "spinflow-wasip3" => "the same app with iris-api as a WASIp3 component (spin-wasip3.toml): instances reused",
        "spinflow-registry" => "spinflow serving a model from its registry (`spinflow train`), not the embedded default",
        "spinflow-wasip3-registry" => "the WASIp3 build serving a model from its registry",
        "spinflow-baked" => "spinflow serving the registry model baked into iris-api at build time (`spinflow preinit --model`; manifest $WORK/spin-baked.toml)",
        "spin" => "real Spin: the same .wasm components and spin.toml in `spin up` (whole app for prediction; `--component-id mlflow-server` for tracking)",
        "spin-pod" => "real Spin serving iris-api alone (`spin up --component-id iris-api`), as each iris-api pod of the Kubernetes deployment runs it (`SPIN_COMPONENTS_TO_RETAIN=iris-api`), with mlflow-server in a `spin up` of its own as its tracking server",
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
        "spinflow-baseline (whole app)" => "`spinflow up` serving the baseline's whole app (`--baseline-app DIR`)",
        "spin (trivial component)" | "spin (whole app)" => "`spin up`, the real Spin CLI",
        storage_names::SPINFLOW_DISK => "`spinflow up` serving bench/apps/roundtrip: the `default` key-value store and SQLite database as its defaults (files in the state dir, no runtime config)",
        storage_names::SPIN_DISK => "`spin up`, the real Spin CLI, serving the same .wasm and manifest: Spin's default stores (files in the state dir, no runtime config)",
        postgres_names::SPINFLOW => "mlflow-server in `spinflow up --component-id mlflow-server` on PostgreSQL (`SPIN_VARIABLE_DATABASE_URL` and `SPIN_VARIABLE_DATABASE_HOST`), on a database of its own of the run's PostgreSQL server",
        postgres_names::SPIN => "the same in real Spin, `spin up --component-id mlflow-server` (the URL with `?connect_timeout=10`, as the docs advise for Spin)",
        postgres_names::MLFLOW => "`mlflow server --backend-store-uri postgresql://…` (psycopg 3), its default 4 uvicorn workers, on a database of its own",
        postgres_names::FASTTRACKML => "FastTrackML `fml server --database-uri postgres://…`, on a database of its own",
        postgres_names::ONE_REPLICA => "one `spinflow up` (mlflow-server) on PostgreSQL, a new database: the concurrent write figures, with CPU time per request",
        postgres_names::TWO_REPLICAS => "two `spinflow up` on one new database, the load split between them by the load generator (each log-batch writer and log-metric connection addresses one directly, in turn)",
        storage_names::SPINFLOW_MEMORY | storage_names::SPIN_MEMORY => "the same, with a runtime config that keeps the `default` key-value store in memory (`[key_value_store.default] type = \"spin\"`, no path)",
        _ => "",
    }
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
        let baseline = variant(BASELINE).unwrap();
        assert_eq!(
            (baseline.runtime, baseline.model, baseline.app),
            (Runtime::Spinflow, Model::Embedded, App::Baseline)
        );
        assert_eq!(variant("spinflow").unwrap().app, App::This);
        assert!(!needs_spin_cli(BASELINE) && !only_with_spin_cli(BASELINE));
        assert!(needs_baseline_app("spinflow-baseline (whole app)"));
        assert!(!needs_baseline_app("spinflow") && !needs_baseline_app("spin"));
        let storage = [
            storage_names::SPINFLOW_DISK,
            storage_names::SPIN_DISK,
            storage_names::SPINFLOW_MEMORY,
            storage_names::SPIN_MEMORY,
        ];
        let postgres = [
            postgres_names::SPINFLOW,
            postgres_names::SPIN,
            postgres_names::MLFLOW,
            postgres_names::FASTTRACKML,
            postgres_names::ONE_REPLICA,
            postgres_names::TWO_REPLICAS,
        ];
        for s in PREDICT_SYSTEMS
            .iter()
            .chain(TRACKING_SYSTEMS)
            .chain(&storage)
            .chain(&postgres)
        {
            assert!(!describe(s).is_empty(), "{s} has no description");
        }
    }
}
