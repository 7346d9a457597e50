//! Where everything is found: the repository, the peers' virtual environment, this
//! run's scratch space, the binaries measured and the compiled-code caches.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Paths everything else is found from.
#[derive(Clone, Debug)]
pub struct Paths {
    pub repo: PathBuf,
    /// The peers' virtual environment (`bench/.venv`).
    pub venv: PathBuf,
    /// Scratch space of this run: state dirs, databases, logs (not committed).
    pub work: PathBuf,
    /// This binary, which also serves the native floor.
    pub bench_exe: PathBuf,
    /// Compiled-code cache of `spinflow up`: new for each full run (its first use is
    /// measured), kept across quick runs under target/ so they compile only once.
    cache: PathBuf,
    /// The real Spin CLI (`--spin-bin`, `SPIN_BIN`), when the run includes Spin.
    pub spin: Option<PathBuf>,
    /// Wasmtime cache directory of the `spin up` processes, chosen as `cache` is.
    spin_cache: PathBuf,
    /// The baseline app (`--baseline-app DIR`): another built checkout of this repository.
    pub baseline: Option<PathBuf>,
}

impl Paths {
    pub fn new(
        work: PathBuf,
        quick: bool,
        spin: Option<PathBuf>,
        baseline: Option<PathBuf>,
    ) -> Result<Self> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("bench/ has a parent")?
            .to_path_buf();
        let (cache, spin_cache) = if quick {
            (
                repo.join("target/bench-spinflow-cache"),
                repo.join("target/bench-spin-cache"),
            )
        } else {
            (work.join("spinflow-cache"), work.join("spin-cache"))
        };
        Ok(Paths {
            venv: repo.join("bench/.venv"),
            repo,
            cache,
            spin,
            spin_cache,
            baseline,
            work,
            bench_exe: std::env::current_exe()?,
        })
    }

    /// The `spinflow` binary measured: `SPINFLOW_BIN` (a copy that later builds
    /// cannot replace mid-run), else the workspace's release build.
    pub fn spinflow(&self) -> PathBuf {
        std::env::var_os("SPINFLOW_BIN")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| self.repo.join("target/release/spinflow"))
    }

    /// The compiled-code cache shared by the `spinflow up` processes of this run.
    pub fn spinflow_cache(&self) -> PathBuf {
        self.cache.clone()
    }

    /// The Spin CLI; only asked for when the run includes Spin.
    pub fn spin_bin(&self) -> PathBuf {
        self.spin
            .clone()
            .expect("a Spin system runs only with --spin-bin")
    }

    /// The Wasmtime cache directory shared by the `spin up` processes of this run.
    pub fn spin_cache(&self) -> PathBuf {
        self.spin_cache.clone()
    }

    /// The baseline app's manifest, served as it is (sources resolve against its own
    /// directory); only asked for when the run includes the baseline.
    pub fn baseline_manifest(&self) -> PathBuf {
        self.baseline
            .as_ref()
            .expect("the baseline runs only with --baseline-app")
            .join("spin.toml")
    }

    /// The runtime config `make up` passes: iris-api's key-value store in memory.
    pub fn runtime_config(&self) -> PathBuf {
        self.repo.join("runtime-config.toml")
    }

    pub fn venv_bin(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }

    pub fn peers(&self) -> PathBuf {
        self.repo.join("bench/peers")
    }

    pub fn wasm(&self, name: &str) -> PathBuf {
        self.repo
            .join("target/wasm32-wasip2/wasm-release")
            .join(name)
    }
}
