//! `spinflow up` and `spinflow build` arguments (named after `spin up` / `spin build`).

use anyhow::{bail, Context, Result};
use clap::Args;
use host::{App, AppOptions, ServeOptions};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The application manifest (a spin.toml file or its directory).
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    pub from: PathBuf,
    /// Build only these components.
    #[arg(short = 'c', long = "component-id")]
    pub component_id: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The application manifest (a spin.toml file or its directory).
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "SPIN_HTTP_LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    listen: String,
    /// Directory for default key-value and SQLite files [default: .spin next to the manifest].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Serve only this component (repeatable). Also read from SPIN_COMPONENTS_TO_RETAIN (comma-separated).
    #[arg(short = 'c', long = "component-id")]
    component_id: Vec<String>,
    /// Spin runtime config file ([key_value_store.<label>], [sqlite_database.<label>]).
    #[arg(long, env = "RUNTIME_CONFIG_FILE")]
    runtime_config_file: Option<PathBuf>,
    /// Environment variable for every component (KEY=VALUE, repeatable).
    #[arg(short = 'e', long = "env", value_parser = parse_pair)]
    env: Vec<(String, String)>,
    /// Application variable value (name=value, repeatable); wins over SPIN_VARIABLE_<NAME>.
    #[arg(long = "variable", value_parser = parse_pair)]
    variable: Vec<(String, String)>,
    /// SQL run against the default database before serving (repeatable; @file reads a file).
    #[arg(long = "sqlite")]
    sqlite: Vec<String>,
    /// Entry set in the default key-value store before serving (key=value, repeatable).
    #[arg(long = "key-value", value_parser = parse_pair)]
    key_value: Vec<(String, String)>,
    /// No access log.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Run `spinflow build` first.
    #[arg(long)]
    build: bool,
    /// Make the components' `files` writable (the copies made at start; the app's own
    /// files never change).
    #[arg(long)]
    allow_transient_write: bool,
    /// Largest accepted request body in bytes (suffixes K, M, G accepted); larger gets 413.
    /// A component can set its own with [component.<id>.tool.spinflow] max_request_body_bytes.
    #[arg(long, env = "SPINFLOW_MAX_REQUEST_BODY", default_value = "4G", value_parser = parse_size)]
    max_request_body: u64,
    /// Per-request time limit in seconds (0 = none).
    #[arg(long, env = "SPINFLOW_REQUEST_TIMEOUT", default_value_t = 600)]
    request_timeout: u64,
    /// Compiled-code cache directory [default: ~/.cache/spinflow].
    #[arg(long, env = "SPINFLOW_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile components at every start instead of using the cache.
    #[arg(long)]
    disable_cache: bool,
    /// Allocate instances on demand instead of from a pre-reserved pool.
    #[arg(long)]
    disable_pooling: bool,
    /// Largest linear memory a component may use (suffixes K, M, G accepted).
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY", default_value = "2G", value_parser = parse_size)]
    max_instance_memory: u64,
    /// Requests one instance of a WASIp3 component serves in all (as in Spin 4;
    /// WASIp2 components always get a fresh instance per request).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..))]
    max_instance_reuse_count: u64,
    /// Requests one instance of a WASIp3 component serves at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    max_instance_concurrent_reuse_count: u64,
    /// How long an idle WASIp3 instance is kept for reuse (e.g. 1s, 500ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    idle_instance_timeout: Duration,
    /// Time a client has to send a request's headers: from the connection's start for
    /// its first request, from the first byte for later ones; else the connection is
    /// closed (0 = no limit).
    #[arg(long, env = "SPINFLOW_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request (0 = no limit).
    #[arg(long, env = "SPINFLOW_KEEP_ALIVE_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    keep_alive_timeout: Duration,
    /// A request body that stops arriving for this long ends the request with 408
    /// Request Timeout (0 = no limit).
    #[arg(long, env = "SPINFLOW_BODY_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    body_idle_timeout: Duration,
    /// A client that takes none of its answer's bytes for this long is disconnected
    /// (0 = no limit).
    #[arg(long, env = "SPINFLOW_SEND_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    send_timeout: Duration,
    /// Request bodies up to this size are received in full before the request takes an
    /// instance slot; larger ones are streamed to the component (suffixes K, M, G
    /// accepted; 0 = stream every body).
    #[arg(long, env = "SPINFLOW_BODY_BUFFER_SIZE", default_value = "1M", value_parser = parse_size)]
    body_buffer_size: u64,
    /// Most connections open at once; past it, new connections wait in the listen
    /// backlog until one closes [default: 4096, or fewer to leave 1024 of the
    /// open-files limit (raised to its hard limit at start) to the host, at least half].
    #[arg(long, env = "SPINFLOW_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
}

/// A timeout flag: 0 means no limit.
fn limit(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// A duration as Spin writes them: a number of seconds, or with `s` or `ms`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else {
        (s.strip_suffix('s').unwrap_or(s), 1000.0)
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 1s, 500ms)"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(n * unit_ms / 1000.0))
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (s, 1u64),
        Some((i, _)) => {
            let unit = s[i..].trim().to_ascii_uppercase();
            let unit = unit.trim_end_matches('B').trim_end_matches('I');
            let mult = match unit {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                _ => return Err(format!("unknown size unit in {s:?} (use K, M or G)")),
            };
            (&s[..i], mult)
        }
    };
    let n: u64 = digits.parse().map_err(|_| format!("invalid size {s:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

pub fn run(args: UpArgs) -> Result<()> {
    // Every connection is an open file: use all the process may have.
    let open_files = host::connections::raise_open_files_limit();
    if args.build {
        host::builder::build(&args.from, &[])?;
    }
    let mut component_ids = args.component_id.clone();
    if component_ids.is_empty() {
        if let Ok(list) = std::env::var("SPIN_COMPONENTS_TO_RETAIN") {
            component_ids = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
    }
    let mut options = AppOptions::new(&args.from);
    options.state_dir = args.state_dir.clone();
    options.runtime_config_file = args.runtime_config_file.clone();
    options.component_ids = component_ids;
    options.env = args.env.clone();
    options.variables = args.variable.iter().cloned().collect();
    options.sqlite_statements = args
        .sqlite
        .iter()
        .map(|s| match s.strip_prefix('@') {
            Some(path) => {
                std::fs::read_to_string(path).with_context(|| format!("--sqlite @{path}"))
            }
            None => Ok(s.clone()),
        })
        .collect::<Result<_>>()?;
    options.key_values = args.key_value.clone();
    options.allow_transient_write = args.allow_transient_write;
    options.max_request_body_bytes = args.max_request_body;
    options.request_timeout =
        (args.request_timeout > 0).then(|| Duration::from_secs(args.request_timeout));
    if args.disable_cache {
        options.cache_dir = None;
    } else if let Some(dir) = &args.cache_dir {
        options.cache_dir = Some(dir.clone());
    }
    options.engine.pooling = !args.disable_pooling;
    options.engine.max_instance_memory = usize::try_from(args.max_instance_memory)?;
    options.reuse = host::instance_reuse::ReusePolicy {
        max_requests: usize::try_from(args.max_instance_reuse_count)?,
        max_concurrent: usize::try_from(args.max_instance_concurrent_reuse_count)?,
        idle_timeout: args.idle_instance_timeout,
    };

    let max_connections = args.max_connections.map(usize::try_from).transpose()?;
    if let (Some(cap), Some(files)) = (max_connections, open_files) {
        if cap as u64 >= files {
            eprintln!(
                "spinflow: --max-connections {cap} is not below the open-files limit ({files}): \
                 connections may exhaust it"
            );
        }
    }
    let serve_options = ServeOptions {
        quiet: args.quiet,
        header_read_timeout: limit(args.header_read_timeout),
        keep_alive_timeout: limit(args.keep_alive_timeout),
        body_idle_timeout: limit(args.body_idle_timeout),
        send_timeout: limit(args.send_timeout),
        body_buffer_size: args.body_buffer_size,
        max_connections,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = App::load(&options).await?;
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => bail!("cannot listen on {}: {e}", args.listen),
        };
        let shutdown = shutdown_signal()?;
        host::serve(app, listener, serve_options, shutdown).await
    })?;
    // Guest tasks still streaming bodies are abandoned, not awaited.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, before the host announces it is serving, so an early signal still
/// shuts down gracefully.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("10k").unwrap(), 10 << 10);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5X").is_err());
    }

    #[test]
    fn durations_are_seconds_or_milliseconds() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn connection_defaults_are_the_hosts() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            up: UpArgs,
        }
        let args = <Cli as clap::Parser>::try_parse_from(["up"]).unwrap().up;
        let defaults = ServeOptions::default();
        assert_eq!(
            limit(args.header_read_timeout),
            defaults.header_read_timeout
        );
        assert_eq!(limit(args.keep_alive_timeout), defaults.keep_alive_timeout);
        assert_eq!(limit(args.body_idle_timeout), defaults.body_idle_timeout);
        assert_eq!(limit(args.send_timeout), defaults.send_timeout);
        assert_eq!(args.body_buffer_size, defaults.body_buffer_size);
        assert_eq!(args.max_connections, None);
        assert_eq!(limit(Duration::ZERO), None);
    }

    #[test]
    fn pairs_split_on_the_first_equals() {
        assert_eq!(parse_pair("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_pair("novalue").is_err());
    }
}
