//! Server processes under test: start in their own process group, wait for the first
//! 200, measure the resident memory of the whole process tree, stop everything.

use std::collections::HashMap;
use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::loadgen::{self, RequestSpec};

/// A free loopback port (the OS picks it; we release it right before the server binds).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub struct Server {
    pub port: u16,
    pub child: Child,
    pub log: PathBuf,
    /// Launch to first 200 on the readiness path.
    pub cold_start: Duration,
}

impl Server {
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Resident memory of the server and all its descendants, in MiB.
    pub fn rss_mib(&self) -> f64 {
        tree_rss_kib(self.child.id()) as f64 / 1024.0
    }

    /// Resident memory of the largest process of the tree, in MiB: for `spin up`,
    /// the `spin trigger http` process that serves the app (beside the launcher).
    pub fn largest_process_rss_mib(&self) -> f64 {
        tree_pids(self.child.id())
            .into_iter()
            .map(rss_kib)
            .max()
            .unwrap_or(0) as f64
            / 1024.0
    }

    /// Peak resident memory (VmHWM) of the largest process of the tree, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        tree_pids(self.child.id())
            .into_iter()
            .map(|pid| status_kib(pid, "VmHWM:"))
            .max()
            .unwrap_or(0) as f64
            / 1024.0
    }

    pub fn stop(mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: signalling our own child's process group; no memory is shared.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (workers, job runners) goes too.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// How to launch one server.
pub struct Launch {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub port: u16,
    /// Path answered with 200 once the server is ready.
    pub ready_path: String,
    pub ready_timeout: Duration,
}

/// Starts the server and waits for its first 200 (the cold start).
pub async fn start(launch: Launch, log_dir: &Path) -> Result<Server> {
    fs::create_dir_all(log_dir)?;
    let log = log_dir.join(format!("{}-{}.log", launch.name, launch.port));
    let out = fs::File::create(&log)?;
    let mut cmd = Command::new(&launch.program);
    cmd.args(&launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0);
    if let Some(dir) = &launch.cwd {
        cmd.current_dir(dir);
    }
    let t0 = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {} ({})", launch.name, launch.program.display()))?;
    let mut server = Server {
        port: launch.port,
        child,
        log,
        cold_start: Duration::ZERO,
    };
    let probe = RequestSpec::get(&server.authority(), &launch.ready_path);
    let deadline = t0 + launch.ready_timeout;
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            let tail = server.log_tail();
            bail!(
                "{} exited with {status} before answering:\n{tail}",
                launch.name
            );
        }
        if Instant::now() > deadline {
            let tail = server.log_tail();
            server.stop();
            bail!(
                "{} did not answer 200 on {} within {:?}:\n{tail}",
                launch.name,
                launch.ready_path,
                launch.ready_timeout
            );
        }
        if probe_once(&probe).await {
            server.cold_start = t0.elapsed();
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn probe_once(probe: &RequestSpec) -> bool {
    let attempt = async {
        let mut conn = loadgen::connect(&probe.authority).await?;
        loadgen::send(&mut conn, probe.build()?).await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Ok((200, _)))
    )
}

/// Sum of VmRSS over `root` and every descendant, in KiB.
pub fn tree_rss_kib(root: u32) -> u64 {
    tree_pids(root).into_iter().map(rss_kib).sum()
}

/// `root` and every descendant.
pub fn tree_pids(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_pid(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut pids = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        pids.push(pid);
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    pids
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A KiB field of `/proc/<pid>/status` (0 when the process is gone).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_resident_memory() {
        assert!(tree_rss_kib(std::process::id()) > 0);
    }

    #[test]
    fn tree_includes_children() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let alone = rss_kib(std::process::id());
        let tree = tree_rss_kib(std::process::id());
        assert!(
            tree > alone,
            "tree {tree} KiB should exceed self {alone} KiB"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
