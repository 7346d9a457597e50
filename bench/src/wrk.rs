//! Cross-check of our load generator with wrk (Debian's package), on the same server
//! in the same run: if both reach the same requests/s against the native floor, the
//! generator is not what limits the figures.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Installs wrk when it is missing and we may. Returns whether it is available.
pub fn ensure() -> bool {
    crate::shell::ensure_debian_package("wrk", "wrk")
}

pub fn version() -> String {
    // wrk prints its version banner and exits non-zero on --version.
    Command::new("wrk")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

pub struct WrkResult {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// `wrk -t2 -c<connections> -d<duration> --latency http://<authority><path>` (GET).
pub fn run(
    authority: &str,
    path: &str,
    connections: usize,
    duration: Duration,
) -> Result<WrkResult> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{}s", duration.as_secs().max(1)),
            "--latency",
        ])
        .arg(format!("http://{authority}{path}"))
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}");
    }
    parse(&text)
}

fn parse(text: &str) -> Result<WrkResult> {
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no Requests/sec in wrk output")?;
    let percentile = |p: &str| -> Result<f64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .and_then(|v| duration_ms(v.trim()))
            .with_context(|| format!("no {p} latency in wrk output"))
    };
    if text.contains("Non-2xx or 3xx responses") || text.contains("Socket errors") {
        bail!("wrk saw errors:\n{text}");
    }
    Ok(WrkResult {
        rps,
        p50_ms: percentile("50%")?,
        p99_ms: percentile("99%")?,
    })
}

/// wrk's durations: `171.00us`, `1.23ms`, `2.00s`.
fn duration_ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|x| x * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 2s test @ http://127.0.0.1:1234/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   210.50us  120.00us   5.00ms   90.00%
    Req/Sec    38.00k     2.00k   41.00k    70.00%
  Latency Distribution
     50%  171.00us
     75%  240.00us
     90%  320.00us
     99%    1.23ms
  152000 requests in 2.00s, 30.00MB read
Requests/sec:  76000.50
Transfer/sec:     15.00MB
";

    #[test]
    fn parses_throughput_and_percentiles() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.rps, 76000.5);
        assert!((r.p50_ms - 0.171).abs() < 1e-9);
        assert!((r.p99_ms - 1.23).abs() < 1e-9);
    }

    #[test]
    fn errors_are_not_figures() {
        let with_errors = SAMPLE.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 5\nRequests/sec",
        );
        assert!(parse(&with_errors).is_err());
        assert!(parse("garbage").is_err());
    }

    #[test]
    fn duration_units() {
        assert_eq!(duration_ms("2.00s"), Some(2000.0));
        assert_eq!(duration_ms("1.50ms"), Some(1.5));
        assert_eq!(duration_ms("abc"), None);
    }
}
