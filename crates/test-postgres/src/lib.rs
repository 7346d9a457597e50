//! A PostgreSQL server of a test's own, for the tests that need a real one (the
//! host's outbound PostgreSQL, mlflow-server's PostgreSQL store): Debian's
//! `postgresql` programs (`/usr/lib/postgresql/<version>/bin`, installed by
//! scripts/install-test-deps.sh), a cluster in a temporary directory with C
//! collation (text sorts by bytes, as SQLite's BINARY), a free loopback port, TLS
//! on request, run as `nobody` when the tests run as root (initdb refuses root),
//! and a fast shutdown when dropped (or when the test's thread dies). A
//! server can be stopped and started again on its port and data (a database
//! outage), and hands out databases of their own (`CREATE DATABASE`) to tests
//! that share it. The `test-postgres` program offers the same to the Python
//! tests (src/main.rs).
//! Without PostgreSQL's programs a test fails, saying so; it never skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the server's `postgres` user.
pub const PASSWORD: &str = "spinflow-test-pw";

/// A PostgreSQL server of the test's own, in a temporary directory; stopped
/// (fast shutdown) and removed when dropped.
pub struct Postgres {
    /// The running server; `None` while stopped.
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    tls: bool,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Postgres {
    /// `postgres://` URL of the server's `postgres` database.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The key-value form of the same.
    pub fn key_value(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres password={PASSWORD} dbname=postgres",
            self.port
        )
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id while it runs (its backends are its children): for
    /// reading the CPU time the database spends.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The CA that signed the server's certificate (TLS servers only).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Stops the server (fast shutdown: open connections are ended) and waits
    /// until it has exited; the data stays. Nothing happens if it is stopped.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts a stopped server again, on the same port and data; panics with
    /// the reason when it cannot (the port taken meanwhile, for one).
    pub fn start_again(&mut self) {
        if self.child.is_none() {
            match spawn(&self.bin, self.dir.path(), self.port, self.tls) {
                Ok(child) => self.child = Some(child),
                Err(log) => panic!("PostgreSQL did not start again on {}:\n{log}", self.port),
            }
        }
    }

    /// Creates the database `name` (letters, digits and `_`) and returns its
    /// `postgres://` URL.
    pub fn create_database(&self, name: &str) -> String {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "database names here are letters, digits and _: {name:?}"
        );
        output_of(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", name])
                .env("PGPASSWORD", PASSWORD),
        );
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{name}",
            self.port
        )
    }
}

/// The directory of PostgreSQL's programs: Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest), else `pg_config --bindir`.
fn pg_bin_dir() -> PathBuf {
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

/// A command running `program` as the server's user: `nobody` when the test
/// runs as root (initdb refuses root), else the test's own user. The server
/// gets SIGINT (fast shutdown) if the test's thread dies first.
fn as_server_user(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    if output_of(Command::new("id").arg("-u")) == "0" {
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

/// A CA and a certificate it signs for 127.0.0.1 and localhost, made with
/// the openssl command.
fn make_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    output_of(
        Command::new("openssl")
            .current_dir(dir)
            .args(["req", "-x509", "-nodes", "-days", "2"])
            .args(ec)
            .args(["-keyout", "ca.key", "-out", "ca.crt"])
            .args(["-subj", "/CN=spinflow test CA"]),
    );
    output_of(
        Command::new("openssl")
            .current_dir(dir)
            .args(["req", "-nodes"])
            .args(ec)
            .args(["-keyout", "server.key", "-out", "server.csr"])
            .args(["-subj", "/CN=localhost"]),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    output_of(
        Command::new("openssl")
            .current_dir(dir)
            .args(["x509", "-req", "-days", "2", "-in", "server.csr"])
            .args(["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"])
            .args(["-extfile", "server.ext", "-out", "server.crt"]),
    );
}

/// Starts PostgreSQL (with TLS when `tls`) and waits until it accepts
/// connections; panics with the reason when it cannot.
pub fn start(tls: bool) -> Postgres {
    let bin = pg_bin_dir();
    let dir = tempfile::tempdir().unwrap();
    let root = output_of(Command::new("id").arg("-u")) == "0";
    if root {
        let uid: u32 = output_of(Command::new("id").args(["-u", "nobody"]))
            .parse()
            .unwrap();
        let gid: u32 = output_of(Command::new("id").args(["-g", "nobody"]))
            .parse()
            .unwrap();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    }
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let data = dir.path().join("data");
    output_of(
        as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", password_file.display()))
            .args(["--no-sync", "--no-instructions"]),
    );
    if tls {
        make_certificates(dir.path());
        if root {
            for file in ["server.key", "server.crt"] {
                output_of(
                    Command::new("chown")
                        .arg("nobody")
                        .arg(dir.path().join(file)),
                );
            }
        }
        output_of(
            Command::new("chmod")
                .arg("600")
                .arg(dir.path().join("server.key")),
        );
    }
    // A port found free may be taken by another test's server before ours
    // binds it: then ours exits, and another port is tried.
    let mut last_log = String::new();
    for _ in 0..5 {
        let port = free_port();
        match spawn(&bin, dir.path(), port, tls) {
            Ok(child) => {
                return Postgres {
                    child: Some(child),
                    dir,
                    port,
                    bin,
                    tls,
                }
            }
            Err(log) if log.contains("could not bind") => last_log = log,
            Err(log) => panic!("PostgreSQL did not accept connections on {port}:\n{log}"),
        }
    }
    panic!("PostgreSQL found no free port:\n{last_log}");
}

/// Runs the server of the cluster in `dir` on `port` and waits until it is
/// ready; `Err` is its log when it exits or does not get ready in time.
fn spawn(bin: &Path, dir: &Path, port: u16, tls: bool) -> Result<Child, String> {
    let data = dir.join("data");
    let log_path = dir.join("server.log");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut cmd = as_server_user(&bin.join("postgres"));
    cmd.arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args(["-c", "fsync=off", "-c", "timezone=UTC"]);
    if tls {
        cmd.args(["-c", "ssl=on"])
            .arg("-c")
            .arg(format!(
                "ssl_cert_file={}",
                dir.join("server.crt").display()
            ))
            .arg("-c")
            .arg(format!("ssl_key_file={}", dir.join("server.key").display()));
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.join("postgres").display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}):\n{}", log()));
        }
        // The server's own status line (8th of postmaster.pid), not a
        // connection that another test's server could answer.
        let status = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        if status.lines().nth(7).map(str::trim) == Some("ready") {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("not ready after 60 s:\n{}", log()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
