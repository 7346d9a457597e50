//! `bench timing`: where the time of one request goes, from the `Server-Timing`
//! header that iris-api's prediction routes answer with (`state`, `load`, `infer`,
//! `metrics`, `handler`). Requests are sequential on one connection, so the parts are
//! not inflated by queueing; the report is each part's median and 90th percentile.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::loadgen::{self, RequestSpec};

#[derive(Debug, Serialize, PartialEq)]
pub struct Part {
    pub median_ms: f64,
    pub p90_ms: f64,
}

/// Sends `warmup + requests` requests one after another and summarises the
/// `Server-Timing` parts of the last `requests` answers.
pub async fn run(
    spec: &RequestSpec,
    warmup: usize,
    requests: usize,
) -> Result<BTreeMap<String, Part>> {
    let mut sender = loadgen::connect(&spec.authority).await?;
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for n in 0..warmup + requests {
        let (status, headers, _body) =
            loadgen::send_for_headers(&mut sender, spec.build()?).await?;
        if !(200..300).contains(&status) {
            bail!("{} {} answered {status}", spec.method, spec.path);
        }
        let timing = headers
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .context("the answer has no readable Server-Timing header")?;
        if n < warmup {
            continue;
        }
        for (name, ms) in parse_server_timing(timing) {
            samples.entry(name).or_default().push(ms);
        }
    }
    Ok(samples
        .into_iter()
        .map(|(name, mut ms)| {
            ms.sort_by(f64::total_cmp);
            let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
            let part = Part {
                median_ms: at(0.5),
                p90_ms: at(0.9),
            };
            (name, part)
        })
        .collect())
}

/// `name;dur=1.25, other;dur=0.5` -> [(name, 1.25), (other, 0.5)]; entries without a
/// duration are skipped.
fn parse_server_timing(header: &str) -> Vec<(String, f64)> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut params = entry.split(';').map(str::trim);
            let name = params.next().filter(|n| !n.is_empty())?;
            let dur = params.find_map(|p| p.strip_prefix("dur="))?;
            Some((name.to_string(), dur.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_durations_and_skips_the_rest() {
        let parts =
            parse_server_timing("state;dur=0.084, load;dur=1.229,cache;desc=hit, x;dur=oops");
        assert_eq!(
            parts,
            [("state".to_string(), 0.084), ("load".to_string(), 1.229)]
        );
    }
}
