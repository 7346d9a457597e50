//! Helpers for end-to-end tests: build the test components, start the real
//! `spinflow up` binary on a free loopback port, talk HTTP to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn probe_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/probe/spin.toml")
}

/// Compiled code shared by every test host, so each component compiles once.
fn cache_dir() -> PathBuf {
    repo_root().join("target/spinflow-test-cache")
}

/// Builds the given wasm packages once per test binary (cargo makes it a no-op when fresh).
pub fn build_wasm(packages: &[&str]) {
    build_wasm_for("wasm32-wasip2", packages);
}

/// Builds the given packages for `target` (`wasm32-wasip1` gives core modules).
pub fn build_wasm_for(target: &str, packages: &[&str]) {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !built.iter().any(|b| *b == format!("{target}/{p}")))
        .collect();
    if missing.is_empty() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // One package per cargo call, as `spinflow build` does: building several at once
    // unifies their features, which rebuilds (and changes) the components' .wasm.
    for package in missing {
        let status = Command::new(&cargo)
            .current_dir(repo_root())
            .args(["build", "--target", target, "--profile", "wasm-release"])
            .args(["-p", package])
            .status()
            .expect("run cargo build for test components");
        assert!(status.success(), "building {package} for {target} failed");
        built.push(format!("{target}/{package}"));
    }
}

/// The built `.wasm` of a test package.
pub fn wasm_path(target: &str, package: &str) -> PathBuf {
    repo_root()
        .join("target")
        .join(target)
        .join("wasm-release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// A running `spinflow up`.
pub struct Host {
    child: Child,
    /// The state dir when the test did not choose one; removed with the host.
    _state: Option<tempfile::TempDir>,
    pub url: String,
    pub output: Arc<Mutex<String>>,
}

pub struct HostBuilder {
    manifest: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    state_dir: Option<PathBuf>,
    cache_dir: PathBuf,
    open_files: Option<u64>,
}

pub fn host(manifest: impl Into<PathBuf>) -> HostBuilder {
    HostBuilder {
        manifest: manifest.into(),
        args: Vec::new(),
        env: Vec::new(),
        state_dir: None,
        cache_dir: cache_dir(),
        open_files: None,
    }
}

/// The probe app with its one required variable set.
pub fn probe_host() -> HostBuilder {
    build_wasm(&["probe"]);
    host(probe_manifest()).env("SPIN_VARIABLE_TOKEN", "t0ken")
}

impl HostBuilder {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn cache_dir(mut self, dir: &Path) -> Self {
        self.cache_dir = dir.to_path_buf();
        self
    }

    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.state_dir = Some(dir.to_path_buf());
        self
    }

    /// Runs the host with this open-files limit, soft and hard (through util-linux's
    /// `prlimit`, which execs the host: the child's pid stays the host's).
    pub fn open_files_limit(mut self, n: u64) -> Self {
        self.open_files = Some(n);
        self
    }

    fn command(&self) -> Command {
        let mut cmd = match self.open_files {
            Some(n) => {
                let mut cmd = Command::new("prlimit");
                cmd.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_spinflow"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_spinflow")),
        };
        cmd.arg("up")
            .arg("-f")
            .arg(&self.manifest)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--cache-dir")
            .arg(&self.cache_dir);
        if let Some(dir) = &self.state_dir {
            cmd.arg("--state-dir").arg(dir);
        }
        cmd.args(&self.args);
        // Tests must not inherit a developer's settings.
        for var in [
            "SPIN_HTTP_LISTEN_ADDR",
            "SPIN_COMPONENTS_TO_RETAIN",
            "RUNTIME_CONFIG_FILE",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    /// Starts the host and waits for `Serving http://...`.
    pub fn start(self) -> Host {
        match self.try_start() {
            Ok(h) => h,
            Err(output) => panic!("spinflow up did not start:\n{output}"),
        }
    }

    /// Starts the host; `Err` carries its output if it exits before serving.
    pub fn try_start(mut self) -> Result<Host, String> {
        // Never the default `.spin` beside the manifest: tests must not share state.
        let temp_state = match self.state_dir {
            Some(_) => None,
            None => {
                let dir = tempfile::tempdir().expect("temp state dir");
                self.state_dir = Some(dir.path().to_path_buf());
                Some(dir)
            }
        };
        // One start-up at a time: the first compiles and caches, the others reuse it.
        static STARTING: Mutex<()> = Mutex::new(());
        let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = self.command().spawn().expect("spawn spinflow");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        collect(child.stdout.take().unwrap(), output.clone(), Some(tx));
        collect(child.stderr.take().unwrap(), output.clone(), None);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                if let Some(addr) = line.strip_prefix("Serving http://") {
                    return Ok(Host {
                        child,
                        _state: temp_state,
                        url: format!("http://{}", addr.trim()),
                        output,
                    });
                }
            }
            if let Ok(Some(_)) = child.try_wait() {
                // Let the readers drain what the process printed.
                std::thread::sleep(Duration::from_millis(200));
                return Err(output.lock().unwrap().clone());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!(
                    "timed out; output so far:\n{}",
                    output.lock().unwrap()
                ));
            }
        }
    }
}

fn collect(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    lines: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            output.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(tx) = &lines {
                let _ = tx.send(line);
            }
        }
    });
}

impl Host {
    pub fn get(&self, path: &str) -> Reply {
        request(agent().get(format!("{}{path}", self.url)).call())
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        request(agent().post(format!("{}{path}", self.url)).send(body))
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until the host's output contains `needle`; returns the output.
    pub fn wait_for_output(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.output();
            if out.contains(needle) || Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The host's listening address (`127.0.0.1:port`), for raw sockets.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// A field of the host's /proc/<pid>/status in bytes (e.g. `VmHWM`, peak resident memory).
    pub fn memory_status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"));
        let kib: u64 = line
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .expect("a size in kB");
        kib * 1024
    }

    /// Open file descriptors of the host process.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// CPU time (user + system) the host process has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read /proc/<pid>/stat");
        // Fields after the parenthesised command name; utime and stime are 14th and 15th.
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // Linux reports these in USER_HZ, 100 per second on every supported platform.
        Duration::from_millis(ticks * 10)
    }

    /// Sends SIGTERM and waits for the process; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A response, read fully.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn request(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.unwrap_or_else(|e| panic!("HTTP request failed: {e}"));
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status: response.status().as_u16(),
        headers,
        body,
    }
}
