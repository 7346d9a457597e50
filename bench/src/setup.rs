//! What the harness installs and builds before it measures: our host and components,
//! the peers' virtual environment, and the peers' model.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

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
}

impl Paths {
    pub fn new(work: PathBuf, quick: bool, spin: Option<PathBuf>) -> Result<Self> {
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

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the Wasmtime cache config (`spin up --cache FILE`) that keeps compiled code
/// in `dir`, as `<dir>.toml`, and returns its path.
pub fn spin_cache_config(dir: &Path) -> Result<PathBuf> {
    let file = dir.with_extension("toml");
    if let Some(parent) = file.parent() {
        fs::create_dir_all(parent)?;
    }
    let text = format!(
        "[cache]\ndirectory = {}\n",
        toml_string(&dir.display().to_string())
    );
    fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// Runs a command with inherited output and fails if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Installs a Debian package with apt-get when `command` is not on PATH and we may
/// (root). Returns whether `command` is available.
pub fn ensure_debian_package(command: &str, package: &str) -> bool {
    let available = || {
        Command::new("sh")
            .args(["-c", &format!("command -v {command}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if available() {
        return true;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !install() {
        let _ = Command::new("apt-get").args(["update", "-qq"]).output();
        install();
    }
    available()
}

/// Runs a command and returns its trimmed stdout ("" when it cannot run).
pub fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The bench's own components, built beside the app's: the host's trivial test
/// component (`hello`) and the storage round-trip app (`roundtrip`).
pub const BENCH_COMPONENTS: &[&str] = &["hello", crate::storage_names::PACKAGE];

/// Builds the host, every component of spin.toml and iris-api for WASIp3
/// (`make build components-p3`), the bench's own components ([`BENCH_COMPONENTS`])
/// and the host's in-process cost example.
pub fn build_spinflow(paths: &Paths) -> Result<()> {
    run(Command::new("make")
        .args(["build", "components-p3"])
        .current_dir(&paths.repo))?;
    build_components(paths, BENCH_COMPONENTS)?;
    // The host's in-process cost example: built here so the measuring phase does not wait on it.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "spinflow-host",
            "--example",
            "instantiation_cost",
        ])
        .current_dir(&paths.repo))
}

/// `cargo build --target wasm32-wasip2 --profile wasm-release -p <each package>`.
fn build_components(paths: &Paths, packages: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--target",
        "wasm32-wasip2",
        "--profile",
        "wasm-release",
    ]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    run(cmd.current_dir(&paths.repo))
}

/// The .wasm of one of the bench's components (a crate of the workspace), built
/// when it is missing.
pub fn ensure_component(paths: &Paths, package: &str) -> Result<PathBuf> {
    let wasm = paths.wasm(&format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        build_components(paths, &[package])?;
    }
    Ok(wasm)
}

/// Creates `bench/.venv` with the peers, unless it already holds exactly the pinned set.
pub fn ensure_venv(paths: &Paths) -> Result<()> {
    let reqs = paths.peers().join("requirements.txt");
    let nodeps = paths.peers().join("requirements-nodeps.txt");
    let wanted = format!(
        "{}\n{}",
        fs::read_to_string(&reqs)?,
        fs::read_to_string(&nodeps)?
    );
    let stamp = paths.venv.join(".bench-installed");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    eprintln!(
        "installing the peers into {} (a few minutes, once)",
        paths.venv.display()
    );
    run(Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&paths.venv))?;
    let pip = paths.venv_bin("pip");
    run(Command::new(&pip).args(["install", "--quiet", "--upgrade", "pip"]))?;
    run(Command::new(&pip)
        .args(["install", "--quiet", "-r"])
        .arg(&reqs))?;
    // FastTrackML's wheel pins mlflow<3 for its Python client; only its Go server is used.
    run(Command::new(&pip)
        .args(["install", "--quiet", "--no-deps", "-r"])
        .arg(&nodeps))?;
    fs::write(&stamp, wanted)?;
    Ok(())
}

/// Trains the peers' scikit-learn model once per run and returns its MLflow model dir.
pub fn train_peer_model(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.work.join("peer-model");
    if !dir.join("MLmodel").exists() {
        run(Command::new(paths.venv_bin("python"))
            .arg(paths.peers().join("train.py"))
            .arg(&dir))?;
    }
    Ok(dir)
}

/// Version of an installed Python distribution in the bench venv.
pub fn pip_version(paths: &Paths, dist: &str) -> String {
    let py = paths.venv_bin("python");
    let code = format!("import importlib.metadata as m; print(m.version('{dist}'))");
    output(py.to_str().unwrap_or("python3"), &["-c", &code])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("/a b/c"), "\"/a b/c\"");
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }

    #[test]
    fn spin_cache_config_names_its_directory() {
        let dir = std::env::temp_dir().join(format!("bench-spin-cache-{}", std::process::id()));
        let file = spin_cache_config(&dir).unwrap();
        assert_eq!(file, dir.with_extension("toml"));
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            format!("[cache]\ndirectory = \"{}\"\n", dir.display())
        );
        fs::remove_file(file).unwrap();
    }
}
