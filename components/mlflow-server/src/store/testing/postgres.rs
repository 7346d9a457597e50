//! A PostgreSQL server of the tests' own, as `crates/spinflow/tests/outbound_pg.rs`
//! starts one: Debian's `postgresql` programs (`/usr/lib/postgresql/<version>/bin`,
//! installed by scripts/install-test-deps.sh), a cluster in a temporary directory, a
//! free loopback port, run as `nobody` when the tests run as root (initdb refuses
//! root), and a fast shutdown when dropped (or when the test's thread dies).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "mlflow-test-pw";

pub struct Postgres {
    child: Child,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory of PostgreSQL's programs: Debian's newest
/// `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`.
fn bin_dir() -> PathBuf {
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return bin;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if bin.join("initdb").is_file() && bin.join("postgres").is_file() {
            return bin;
        }
    }
    panic!(
        "PostgreSQL is not installed: no /usr/lib/postgresql/<version>/bin/initdb and no \
         pg_config on the PATH (scripts/install-test-deps.sh installs Debian's postgresql)"
    );
}

fn output_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn is_root() -> bool {
    output_of(Command::new("id").arg("-u")) == "0"
}

/// `program` run as `nobody` when the tests run as root, else as the tests' user; it
/// gets SIGINT (fast shutdown) if the thread that started it dies first.
fn as_server_user(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    if is_root() {
        let gid = output_of(Command::new("id").args(["-g", "nobody"]));
        cmd.args([
            "--reuid=nobody",
            &format!("--regid={gid}"),
            "--clear-groups",
        ]);
    }
    cmd.args(["--pdeathsig", "INT", "--"]).arg(program);
    cmd
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Postgres {
    /// `postgres://` URL of the server's `postgres` database.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// Starts a server and waits until it accepts connections; panics with the reason
    /// when it cannot.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let id = |flag: &str| -> u32 {
                output_of(Command::new("id").args([flag, "nobody"]))
                    .parse()
                    .unwrap()
            };
            std::os::unix::fs::chown(dir.path(), Some(id("-u")), Some(id("-g"))).unwrap();
        }
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, PASSWORD).unwrap();
        let data = dir.path().join("data");
        // C collation: text sorts by bytes, as SQLite's BINARY.
        output_of(
            as_server_user(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "-E", "UTF8", "--locale=C"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", password_file.display()))
                .args(["--no-sync", "--no-instructions"]),
        );
        // A port found free may be taken by another server before ours binds it: then
        // ours exits, and another port is tried.
        let log_path = dir.path().join("server.log");
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        for _ in 0..5 {
            let port = free_port();
            let mut child = as_server_user(&bin.join("postgres"))
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.path().display()))
                .args(["-c", "fsync=off", "-c", "timezone=UTC"])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log_path).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.join("postgres").display()));
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    if log().contains("could not bind") {
                        break;
                    }
                    panic!(
                        "PostgreSQL exited ({status}) before accepting connections:\n{}",
                        log()
                    );
                }
                // The server's own status line (8th of postmaster.pid).
                let status =
                    std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
                if status.lines().nth(7).map(str::trim) == Some("ready") {
                    return Postgres {
                        child,
                        _dir: dir,
                        port,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!(
                        "PostgreSQL did not accept connections on {port}:\n{}",
                        log()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("PostgreSQL found no free port:\n{}", log());
    }
}
