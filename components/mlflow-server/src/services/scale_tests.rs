//! The indexes hold at scale: with 10,000 runs and 1,000,000 metric points, the hot
//! queries (run search in an experiment, metric history, metric filters) are index
//! searches, never table scans or sorts of a whole table.

use crate::params;
use crate::services::metrics::metric_history;
use crate::services::runs::{search_runs, search_runs_sql};
use crate::store::db::{Db, DbExt, SqlValue};
use crate::store::testing;
use mlflow_wire::tracking as wire;

fn plan(db: &dyn Db, sql: &str, binds: &[SqlValue]) -> String {
    db.query(&format!("EXPLAIN QUERY PLAN {sql}"), binds)
        .unwrap()
        .iter()
        .map(|r| r.text(3))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_no_scan(plan: &str, table: &str) {
    for line in plan.lines() {
        let scans_table = line.starts_with(&format!("SCAN {table}"))
            && !line.contains("USING INDEX")
            && !line.contains("USING COVERING INDEX")
            && !line.contains("USING PRIMARY KEY");
        assert!(!scans_table, "full scan of {table}:\n{plan}");
    }
}

#[test]
fn hot_queries_use_indexes_at_10k_runs_and_1m_points() {
    if testing::postgres_url().is_some() {
        // The plans asked for here are SQLite's (EXPLAIN QUERY PLAN).
        println!("query plans are checked on SQLite only");
        return;
    }
    let db = testing::db();
    db.exec("BEGIN", &[]).unwrap();
    db.exec(
        "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time) VALUES (1, 'big', 'x', 0)",
        &[],
    )
    .unwrap();
    // 10,000 runs in two experiments; 100 points for each of 1,000 runs x 10 keys = 1M.
    db.exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
         INSERT INTO runs (run_uuid, name, experiment_id, status, start_time, lifecycle_stage, artifact_uri)
         SELECT printf('%032x', i), 'run-' || i, i % 2, 'FINISHED', i, 'active', 'a' FROM n",
        &[],
    )
    .unwrap();
    db.exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
         INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan)
         SELECT printf('%032x', (i / 1000) * 10), 'k' || (i % 10), i, i / 10, i * 0.5, 0 FROM n",
        &[],
    )
    .unwrap();
    db.exec("COMMIT", &[]).unwrap();
    db.exec("ANALYZE", &[]).unwrap();

    let n = db
        .query_one("SELECT COUNT(*) FROM metrics", &[])
        .unwrap()
        .unwrap();
    assert_eq!(n.int(0), 1_000_000);
    // The trigger kept one latest point per (run, key): 1,000 runs x 10 keys.
    let latest = db
        .query_one("SELECT COUNT(*), MAX(step) FROM latest_metrics", &[])
        .unwrap()
        .unwrap();
    assert_eq!((latest.int(0), latest.int(1)), (10_000, 99_999));

    let search = |filter: &str, order: &[&str]| wire::SearchRuns {
        experiment_ids: vec!["0".into()],
        filter: Some(filter.into()),
        order_by: order.iter().map(|s| s.to_string()).collect(),
        max_results: Some(100),
        ..Default::default()
    };
    for m in [
        search("", &[]),
        search("metrics.k3 > 10", &[]),
        search("params.p = 'x' AND tags.t != 'y'", &[]),
        search("", &["metrics.k1 DESC"]),
    ] {
        let (sql, binds, _, _) = search_runs_sql(&m).unwrap().unwrap();
        let p = plan(&db, &sql, &binds);
        assert_no_scan(&p, "r");
        assert_no_scan(&p, "kv");
        assert_no_scan(&p, "metrics");
        assert_eq!(
            search_runs(&db, &m).unwrap().runs.len().min(100),
            search_runs(&db, &m).unwrap().runs.len()
        );
    }

    let history =
        "SELECT key, value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ?
         ORDER BY timestamp, step, value LIMIT ? OFFSET ?";
    let binds = params![format!("{:032x}", 0), "k1", 1000i64, 0i64];
    let p = plan(&db, history, &binds);
    assert_no_scan(&p, "metrics");
    assert!(
        !p.contains("TEMP B-TREE"),
        "history sorts instead of reading in order:\n{p}"
    );
    let page = metric_history(&db, &format!("{:032x}", 0), "k1", Some(1000), None).unwrap();
    assert_eq!(page.metrics.len(), 100);
}
