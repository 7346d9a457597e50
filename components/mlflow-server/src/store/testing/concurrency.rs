//! Writers on several connections at once (replicas sharing one PostgreSQL): version
//! numbers are never duplicated and no request fails, and concurrent log-batches lose
//! no point and keep the latest one. Runs in the PostgreSQL re-run of the tests.

use super::{postgres_connections, postgres_url};
use crate::services::{model_versions, registered_models, runs};
use crate::store::db::DbExt;
use crate::store::migrations::ensure_schema;
use mlflow_wire::registry::CreateModelVersion;
use mlflow_wire::tracking as wire;

const WRITERS: usize = 4;
const EACH: usize = 10;

#[test]
fn concurrent_writers_on_postgres() {
    let Some(url) = postgres_url() else {
        return; // SQLite serializes writers on its lock; this is PostgreSQL's case
    };
    let dbs = postgres_connections(&url, WRITERS);
    // Replicas starting together migrate once.
    std::thread::scope(|s| {
        for db in &dbs {
            s.spawn(move || ensure_schema(db).unwrap());
        }
    });
    let db = &dbs[0];
    registered_models::create(db, "m", &[], None).unwrap();
    let run = runs::create_run(
        db,
        &wire::CreateRun {
            experiment_id: Some("0".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .info
    .run_id;
    std::thread::scope(|s| {
        for (w, db) in dbs.iter().enumerate() {
            let run = run.clone();
            s.spawn(move || {
                for i in 0..EACH {
                    model_versions::create(
                        db,
                        &CreateModelVersion {
                            name: Some("m".into()),
                            source: Some("s3://bucket/m".into()),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                    let metric = wire::BatchMetric {
                        key: Some("loss".into()),
                        value: Some((w * EACH + i) as f64),
                        timestamp: Some(1),
                        step: Some((w * EACH + i) as i64),
                        ..Default::default()
                    };
                    runs::log_batch_checked(
                        db,
                        &wire::LogBatch {
                            run_id: Some(run.clone()),
                            metrics: vec![metric],
                            tags: vec![wire::KeyValue::new("writer", w.to_string())],
                            ..Default::default()
                        },
                    )
                    .unwrap();
                }
            });
        }
    });
    let versions: Vec<i64> = db
        .query(
            "SELECT version FROM model_versions WHERE name = 'm' ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.int(0))
        .collect();
    assert_eq!(versions, (1..=(WRITERS * EACH) as i64).collect::<Vec<_>>());
    let points = db
        .query_one(
            "SELECT COUNT(*) FROM metrics WHERE run_uuid = ?",
            &crate::params![run.as_str()],
        )
        .unwrap()
        .unwrap();
    assert_eq!(points.int(0), (WRITERS * EACH) as i64);
    let latest = db
        .query_one(
            "SELECT step FROM latest_metrics WHERE run_uuid = ? AND key = 'loss'",
            &crate::params![run.as_str()],
        )
        .unwrap()
        .unwrap();
    assert_eq!(latest.int(0), (WRITERS * EACH - 1) as i64);
}
