//! Smoke test of the benchmark harness: `bench all --quick` against spinflow alone
//! (no peers, so no Python venv), so that the harness cannot silently rot.
//!
//! Needs the host and the components built (`make build`; `make test` does it first),
//! and Debian's PostgreSQL for the tracking-postgres workload (installed by
//! scripts/install-test-deps.sh).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn figure<'a>(
    figures: &'a [Value],
    workload: &str,
    metric: &str,
    system: &str,
) -> Option<&'a Value> {
    figures
        .iter()
        .find(|f| f["workload"] == workload && f["metric"] == metric && f["system"] == system)
}

/// The figure exists and every repetition measured something positive.
fn assert_positive(figures: &[Value], workload: &str, metric: &str, system: &str) {
    let f = figure(figures, workload, metric, system)
        .unwrap_or_else(|| panic!("no figure {workload} / {metric} / {system}"));
    let values = f["values"].as_array().expect("values");
    assert!(
        !values.is_empty(),
        "{workload} / {metric} / {system}: no values"
    );
    for v in values {
        let v = v.as_f64().expect("number");
        assert!(
            v > 0.0 && v.is_finite(),
            "{workload} / {metric} / {system}: {v}"
        );
    }
}

#[test]
fn quick_run_against_spinflow_alone_writes_a_report() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert!(
        repo.join("target/release/spinflow").exists(),
        "build the host and components first (make build)"
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-smoke");
    let _ = std::fs::remove_dir_all(&out);

    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "all",
            "--quick",
            "--only",
            "spinflow",
            "--no-build",
            "--no-plots",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stderr}");

    let stem = report_stem(&out);
    let report = std::fs::read_to_string(out.join(format!("{stem}.md"))).expect("report written");
    for section in [
        "## Ratios (spinflow / peer)",
        "### log-batch",
        "### host: trivial component, 16 connections",
        "### storage: key-value round trip, 16 connections",
        "### storage: SQLite round trip, 16 connections",
        "## Storage round trips (spinflow / Spin)",
        "## Tracking on PostgreSQL",
        "### One against two replicas on PostgreSQL",
    ] {
        assert!(
            report.contains(section),
            "report lacks {section}:\n{report}"
        );
    }
    assert!(
        report.contains("Machine load"),
        "report states the machine load"
    );

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(format!("{stem}.json"))).unwrap())
            .unwrap();
    let figures = json["results"]["figures"]
        .as_array()
        .expect("figures")
        .clone();
    let notes = json["results"]["notes"].as_array().expect("notes").clone();

    // The native floor, and the host's own figures against it.
    assert_positive(&figures, "predict 1 row", "req/s", "floor");
    let trivial = "spinflow (trivial component)";
    assert_positive(
        &figures,
        "host: trivial component, 16 connections",
        "req/s",
        trivial,
    );
    assert_positive(
        &figures,
        "host: trivial component, 16 connections",
        "req/s",
        "floor (same bytes)",
    );
    assert_positive(
        &figures,
        "host: cold start",
        "with compiled-code cache",
        trivial,
    );
    assert_positive(
        &figures,
        "host: cold start",
        "no compiled-code cache",
        trivial,
    );

    // The storage round trips (every answer checked against the value sent; a failed
    // request leaves a note, checked below).
    for (workload, system) in [
        (
            "storage: key-value round trip, 16 connections",
            "spinflow (storage app)",
        ),
        (
            "storage: SQLite round trip, 16 connections",
            "spinflow (storage app)",
        ),
        (
            "storage: key-value round trip, 16 connections",
            "spinflow (storage app, key-value in memory)",
        ),
    ] {
        assert_positive(&figures, workload, "req/s", system);
        assert!(figure(&figures, workload, "errors", system).is_some());
    }

    // Predictions through iris-api, on both protocols, every answer checked.
    for system in ["spinflow", "spinflow /invocations"] {
        for workload in ["predict 1 row", "predict 100 rows"] {
            assert_positive(&figures, workload, "req/s", system);
            assert_positive(&figures, workload, "p99", system);
        }
    }
    assert_positive(&figures, "resources (prediction)", "RSS idle", "spinflow");
    // Without --spin-bin, nothing runs under real Spin (nor the baked variants).
    let spin_rows: Vec<&Value> = figures
        .iter()
        .filter(|f| {
            let s = f["system"].as_str().unwrap_or_default();
            s == "spin"
                || s.starts_with("spin-")
                || s.starts_with("spin (")
                || s.ends_with("-baked")
        })
        .collect();
    assert!(
        spin_rows.is_empty(),
        "Spin figures without a Spin CLI: {spin_rows:?}"
    );

    // Every tracking workload ran and passed its read-back checks (a figure is only
    // recorded once its check passed).
    for (workload, metric) in [
        ("create-runs", "runs/s"),
        ("log-batch", "metrics/s"),
        ("log-metric, 8 connections", "req/s"),
        ("log-metric, 16 connections", "p99"),
        ("search-runs", "p50"),
        ("get-history", "p50"),
        ("resources (tracking)", "RSS idle"),
        ("resources (tracking)", "cold start"),
    ] {
        assert_positive(&figures, workload, metric, "spinflow");
    }
    // The same figures with mlflow-server on PostgreSQL.
    for (workload, metric) in [
        ("create-runs", "runs/s"),
        ("log-batch", "metrics/s"),
        ("log-metric, 16 connections", "p99"),
        ("search-runs", "p50"),
        ("get-history", "p50"),
    ] {
        assert_positive(&figures, workload, metric, "spinflow (PostgreSQL)");
    }
    // One and two replicas on one database: every acknowledged point is a row of the
    // database afterwards, and the CPU time of servers and database was read.
    for system in [
        "spinflow (PostgreSQL, 1 replica)",
        "spinflow (PostgreSQL, 2 replicas)",
    ] {
        for (workload, metric) in [
            ("log-batch", "metrics/s"),
            ("log-metric, 8 connections", "req/s"),
            ("log-metric, 16 connections", "req/s"),
        ] {
            assert_positive(&figures, workload, metric, system);
            assert_positive(&figures, workload, "server CPU per request", system);
            assert_positive(&figures, workload, "database CPU per request", system);
            for count in ["errors", "lost writes"] {
                let f = figure(&figures, workload, count, system)
                    .unwrap_or_else(|| panic!("no {count} of {workload} / {system}"));
                assert_eq!(
                    f["values"],
                    serde_json::json!([0.0]),
                    "{count} of {workload} / {system}"
                );
            }
        }
    }
    // A workload that failed (or had failed requests) leaves a note instead.
    let failures: Vec<&Value> = notes
        .iter()
        .filter(|n| {
            n.as_str()
                .is_some_and(|s| s.starts_with("spinflow") || s.contains("(tracking)"))
        })
        .collect();
    assert!(failures.is_empty(), "failures: {failures:?}");
}

/// The report's file stem (`<date>-quick`): the one `.md` in the output dir.
fn report_stem(out: &Path) -> String {
    let mds: Vec<String> = std::fs::read_dir(out)
        .expect("output dir")
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".md"))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(mds.len(), 1, "one report expected, found {mds:?}");
    mds[0].clone()
}
