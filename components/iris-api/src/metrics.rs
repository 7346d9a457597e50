//! Prometheus metrics kept in the key-value store.
//!
//! Requests run in many instances (a WASIp2 instance serves a single one), so
//! counters cannot live in memory: each one is a key incremented atomically
//! (`wasi:keyvalue/atomics.increment`), which keeps the counts exact under
//! concurrent requests. A series is stored under
//! `iris-api/metrics/<name>|<label>=<value>|...`; `/metrics` lists those keys and
//! renders the text exposition format.
//!
//! Each increment is a write to the store, so a request makes as few as it can: one
//! `iris_api_request` counter whose labels say everything about the request (route,
//! method, status, latency bucket, error code, and the predicted class of a one-row
//! prediction), and the route's latency sum in microseconds. Rendering folds those
//! counters into the families below. Only batches of several rows add per-class row
//! counts. A key stored under a family's own name (those row counts, or a store written
//! by an older build) adds to that family too.
use crate::kv::Store;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

const PREFIX: &str = "iris-api/metrics/";
/// One counter per distinct kind of request (see the module doc).
const OBSERVED: &str = "iris_api_request";
const REQUESTS: &str = "iris_api_requests_total";
const DURATION: &str = "iris_api_request_duration_seconds";
const DURATION_BUCKET: &str = "iris_api_request_duration_seconds_bucket";
const DURATION_SUM_US: &str = "iris_api_request_duration_microseconds_sum";
const PREDICTIONS: &str = "iris_api_predictions_total";
const ERRORS: &str = "iris_api_errors_total";
const MODEL_INFO: &str = "iris_api_model_info";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// What one request adds to the metrics.
pub struct RequestRecord<'a> {
    pub route: &'a str,
    pub method: &'a str,
    pub status: u16,
    pub duration: Duration,
    /// Class name of every predicted row.
    pub predicted: &'a [String],
    /// Error code when the answer is an error.
    pub error: Option<&'a str>,
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut k = format!("{PREFIX}{name}");
    for (l, v) in labels {
        // `|` separates labels in the key; it never appears in our label values, but a
        // class name from a user's model could carry one.
        let _ = write!(k, "|{l}={}", v.replace('|', "/"));
    }
    k
}

/// Adds one request to the counters.
pub fn record(store: &impl Store, r: &RequestRecord) -> Result<(), String> {
    let status = r.status.to_string();
    let secs = r.duration.as_secs_f64();
    let le = BUCKETS
        .iter()
        .find(|b| secs <= **b)
        .map(|b| b.to_string())
        .unwrap_or_else(|| "+Inf".into());
    let mut labels = vec![
        ("route", r.route),
        ("method", r.method),
        ("status", status.as_str()),
        ("le", le.as_str()),
    ];
    if let Some(code) = r.error {
        labels.push(("code", code));
    }
    let one_class = match r.predicted {
        [class] => Some(class.as_str()),
        _ => None,
    };
    if let Some(class) = one_class {
        labels.push(("class", class));
    }
    store.increment(&key(OBSERVED, &labels), 1)?;
    store.increment(
        &key(DURATION_SUM_US, &[("route", r.route)]),
        r.duration.as_micros() as i64,
    )?;
    if one_class.is_none() {
        let mut per_class: BTreeMap<&str, i64> = BTreeMap::new();
        for class in r.predicted {
            *per_class.entry(class).or_default() += 1;
        }
        for (class, n) in per_class {
            store.increment(&key(PREDICTIONS, &[("class", class)]), n)?;
        }
    }
    Ok(())
}

type Labels = Vec<(String, String)>;
type Series = BTreeMap<Labels, i64>;

/// Adds each `iris_api_request` counter to the families it stands for.
fn fold_observed(series: &mut BTreeMap<String, Series>) {
    let Some(observed) = series.remove(OBSERVED) else {
        return;
    };
    for (labels, n) in observed {
        let mut add = |family: &str, names: &[&str]| {
            let picked: Option<Labels> = names
                .iter()
                .map(|name| labels.iter().find(|(l, _)| l == name).cloned())
                .collect();
            if let Some(picked) = picked {
                *series
                    .entry(family.to_string())
                    .or_default()
                    .entry(picked)
                    .or_default() += n;
            }
        };
        add(REQUESTS, &["route", "method", "status"]);
        add(DURATION_BUCKET, &["route", "le"]);
        add(ERRORS, &["route", "code"]);
        add(PREDICTIONS, &["class"]);
    }
}

/// The model being served, for the info gauge.
pub struct ModelLabels<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub source: &'a str,
}

/// Renders every stored series in the Prometheus text format (version 0.0.4).
pub fn render(store: &impl Store, model: &ModelLabels) -> Result<String, String> {
    // name -> (labels -> value)
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    for k in store.keys_with_prefix(PREFIX)? {
        let mut parts = k[PREFIX.len()..].split('|');
        let name = parts.next().unwrap_or_default().to_string();
        let labels: Vec<(String, String)> = parts
            .filter_map(|p| {
                p.split_once('=')
                    .map(|(l, v)| (l.to_string(), v.to_string()))
            })
            .collect();
        let value = store.increment(&k, 0)?;
        *series.entry(name).or_default().entry(labels).or_default() += value;
    }
    fold_observed(&mut series);
    let mut out = String::new();
    family(
        &mut out,
        REQUESTS,
        "counter",
        "HTTP requests answered, by route, method and status.",
    );
    samples(&mut out, REQUESTS, series.get(REQUESTS));
    histogram(
        &mut out,
        series.get(DURATION_BUCKET),
        series.get(DURATION_SUM_US),
    );
    family(
        &mut out,
        PREDICTIONS,
        "counter",
        "Rows predicted, by predicted class.",
    );
    samples(&mut out, PREDICTIONS, series.get(PREDICTIONS));
    family(
        &mut out,
        ERRORS,
        "counter",
        "Error answers, by route and error code.",
    );
    samples(&mut out, ERRORS, series.get(ERRORS));
    family(
        &mut out,
        MODEL_INFO,
        "gauge",
        "The model being served (always 1).",
    );
    let labels = [
        ("name", model.name),
        ("version", model.version),
        ("source", model.source),
    ];
    let _ = writeln!(
        out,
        "{MODEL_INFO}{} 1",
        label_text(labels.iter().map(|(l, v)| (*l, *v)))
    );
    Ok(out)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn samples(out: &mut String, name: &str, series: Option<&Series>) {
    for (labels, value) in series.into_iter().flatten() {
        let _ = writeln!(
            out,
            "{name}{} {value}",
            label_text(labels.iter().map(|(l, v)| (l.as_str(), v.as_str())))
        );
    }
}

fn histogram(out: &mut String, buckets: Option<&Series>, sums: Option<&Series>) {
    family(
        out,
        DURATION,
        "histogram",
        "Time spent answering a request, by route.",
    );
    // route -> counts per bucket bound (index into BUCKETS; BUCKETS.len() = +Inf)
    let mut by_route: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (labels, value) in buckets.into_iter().flatten() {
        let get = |name: &str| {
            labels
                .iter()
                .find(|(l, _)| l == name)
                .map(|(_, v)| v.as_str())
        };
        let (Some(route), Some(le)) = (get("route"), get("le")) else {
            continue;
        };
        let slot = BUCKETS
            .iter()
            .position(|b| b.to_string() == le)
            .unwrap_or(BUCKETS.len());
        by_route
            .entry(route)
            .or_insert_with(|| vec![0; BUCKETS.len() + 1])[slot] += value;
    }
    for (route, counts) in by_route {
        let mut cumulative = 0;
        for (i, count) in counts.iter().enumerate() {
            cumulative += count;
            let le = BUCKETS
                .get(i)
                .map(|b| b.to_string())
                .unwrap_or_else(|| "+Inf".into());
            let _ = writeln!(
                out,
                "{DURATION}_bucket{} {cumulative}",
                label_text([("route", route), ("le", le.as_str())])
            );
        }
        let sum_us = sums
            .and_then(|s| {
                s.iter()
                    .find(|(l, _)| l.iter().any(|(k, v)| k == "route" && v == route))
            })
            .map(|(_, v)| *v)
            .unwrap_or(0);
        let route_label = label_text([("route", route)]);
        let _ = writeln!(out, "{DURATION}_sum{route_label} {}", sum_us as f64 / 1e6);
        let _ = writeln!(out, "{DURATION}_count{route_label} {cumulative}");
    }
}

fn label_text<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = labels
        .into_iter()
        .map(|(l, v)| {
            let escaped = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{l}=\"{escaped}\"")
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryStore;

    fn req<'a>(
        route: &'a str,
        status: u16,
        ms: u64,
        predicted: &'a [String],
        error: Option<&'a str>,
    ) -> RequestRecord<'a> {
        RequestRecord {
            route,
            method: "POST",
            status,
            duration: Duration::from_millis(ms),
            predicted,
            error,
        }
    }

    #[test]
    fn counts_render_as_prometheus_text() {
        let store = MemoryStore::default();
        let classes = vec![
            "setosa".to_string(),
            "setosa".to_string(),
            "virginica".to_string(),
        ];
        record(&store, &req("/predict", 200, 2, &classes, None)).unwrap();
        record(&store, &req("/predict", 200, 30, &classes[..1], None)).unwrap();
        record(
            &store,
            &req("/predict", 400, 5000, &[], Some("BAD_REQUEST")),
        )
        .unwrap();
        let text = render(
            &store,
            &ModelLabels {
                name: "iris",
                version: "3",
                source: "registry",
            },
        )
        .unwrap();
        assert!(
            text.contains(
                r#"iris_api_requests_total{route="/predict",method="POST",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text
            .contains(r#"iris_api_requests_total{route="/predict",method="POST",status="400"} 1"#));
        assert!(text.contains(r#"iris_api_predictions_total{class="setosa"} 3"#));
        assert!(text.contains(r#"iris_api_predictions_total{class="virginica"} 1"#));
        assert!(text.contains(r#"iris_api_errors_total{route="/predict",code="BAD_REQUEST"} 1"#));
        assert!(text.contains(
            r#"iris_api_request_duration_seconds_bucket{route="/predict",le="0.0025"} 1"#
        ));
        assert!(text
            .contains(r#"iris_api_request_duration_seconds_bucket{route="/predict",le="0.05"} 2"#));
        assert!(text
            .contains(r#"iris_api_request_duration_seconds_bucket{route="/predict",le="+Inf"} 3"#));
        assert!(text.contains(r#"iris_api_request_duration_seconds_count{route="/predict"} 3"#));
        assert!(text.contains(r#"iris_api_request_duration_seconds_sum{route="/predict"} 5.032"#));
        assert!(
            text.contains(r#"iris_api_model_info{name="iris",version="3",source="registry"} 1"#)
        );
    }

    fn model() -> ModelLabels<'static> {
        ModelLabels {
            name: "iris",
            version: "1",
            source: "embedded",
        }
    }

    #[test]
    fn a_one_row_prediction_writes_two_counters() {
        let store = MemoryStore::default();
        let class = ["versicolor".to_string()];
        record(&store, &req("/predict", 200, 1, &class, None)).unwrap();
        assert_eq!(store.0.borrow().len(), 2, "{:?}", store.0.borrow().keys());
        let text = render(&store, &model()).unwrap();
        assert!(text.contains(r#"iris_api_predictions_total{class="versicolor"} 1"#));
        assert!(!text.contains("iris_api_errors_total{"), "{text}");
    }

    #[test]
    fn counters_of_the_earlier_layout_keep_counting() {
        let store = MemoryStore::default();
        for (k, v) in [
            (
                "iris_api_requests_total|route=/predict|method=POST|status=200",
                5,
            ),
            (
                "iris_api_request_duration_seconds_bucket|route=/predict|le=0.001",
                5,
            ),
            (
                "iris_api_request_duration_microseconds_sum|route=/predict",
                2500,
            ),
            ("iris_api_predictions_total|class=setosa", 7),
        ] {
            store.increment(&format!("{PREFIX}{k}"), v).unwrap();
        }
        let setosa = ["setosa".to_string()];
        record(&store, &req("/predict", 200, 2, &setosa, None)).unwrap();
        let text = render(&store, &model()).unwrap();
        for expected in [
            r#"iris_api_requests_total{route="/predict",method="POST",status="200"} 6"#,
            r#"iris_api_request_duration_seconds_bucket{route="/predict",le="0.001"} 5"#,
            r#"iris_api_request_duration_seconds_bucket{route="/predict",le="0.0025"} 6"#,
            r#"iris_api_request_duration_seconds_sum{route="/predict"} 0.0045"#,
            r#"iris_api_predictions_total{class="setosa"} 8"#,
        ] {
            assert!(text.contains(expected), "{expected} not in\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_text([("a", "x\"y\\z")]), r#"{a="x\"y\\z"}"#);
    }
}
