//! Migrations: idempotent, recorded, ordered per area, and applied in place to older
//! databases.

use super::*;
use crate::store::native::NativeDb;

#[test]
fn migrations_are_idempotent_and_recorded() {
    let db = NativeDb::open_in_memory();
    ensure_schema(&db).unwrap();
    ensure_schema(&db).unwrap();
    let total: usize = AREAS.iter().map(|a| a.len()).sum();
    assert_eq!(applied(&db).unwrap().len(), total);
}

#[test]
fn a_file_database_is_switched_to_write_ahead_logging_once() {
    let dir = std::env::temp_dir().join(format!("mlflow-wal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wal.db");
    let _ = std::fs::remove_file(&path);
    let journal = |db: &NativeDb| {
        db.query_one("PRAGMA journal_mode", &[])
            .unwrap()
            .unwrap()
            .text(0)
    };
    let db = NativeDb::open(&path);
    assert_eq!(journal(&db), "delete");
    ensure_schema(&db).unwrap();
    assert_eq!(journal(&db), "wal");
    // An already migrated database in rollback mode is switched too.
    db.exec("PRAGMA journal_mode = DELETE", &[]).unwrap();
    ensure_schema(&db).unwrap();
    assert_eq!(journal(&NativeDb::open(&path)), "wal");
    drop(db);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn versions_are_unique_and_increasing_per_area() {
    for steps in AREAS {
        for pair in steps.windows(2) {
            assert_eq!(pair[0].area, pair[1].area);
            assert!(pair[0].version < pair[1].version);
        }
    }
}

/// Applies only the steps `keep` accepts, as an older build would have.
fn migrate_partially(db: &NativeDb, keep: impl Fn(&Migration) -> bool) {
    db.exec(CREATE_TABLE, &[]).unwrap();
    for step in AREAS.iter().flat_map(|s| s.iter()).filter(|m| keep(m)) {
        for sql in step.statements {
            db.exec(sql, &[]).unwrap();
        }
        db.exec(
            "INSERT INTO schema_migrations (area, version, applied_at) VALUES (?, ?, 0)",
            &params![step.area, step.version],
        )
        .unwrap();
    }
}

#[test]
fn an_old_database_is_migrated_in_place() {
    // A database from before tracking v3 (metrics with a rowid and secondary indexes).
    let db = NativeDb::open_in_memory();
    migrate_partially(&db, |m| m.area != "tracking" || m.version < 3);
    db.exec(
        "INSERT INTO runs (run_uuid, name, experiment_id, status, lifecycle_stage, artifact_uri) VALUES ('r', 'n', 0, 'RUNNING', 'active', 'a')",
        &[],
    )
    .unwrap();
    for (v, nan, ts) in [(Some(1.5), 0, 1), (None, 1, 2), (Some(1.5), 0, 1)] {
        db.exec(
            "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES ('r', 'm', ?, ?, ?, 0)",
            &params![v, nan as i64, ts as i64],
        )
        .unwrap();
    }
    ensure_schema(&db).unwrap();
    let h = crate::store::metrics::history(&db, "r", "m", 1000, 0).unwrap();
    let got: Vec<(f64, i64)> = h.iter().map(|m| (m.value, m.timestamp)).collect();
    assert_eq!(got.len(), 2, "{got:?}"); // the duplicate point collapses, as in MLflow
    assert_eq!(got[0], (1.5, 1));
    assert!(got[1].0.is_nan());
    assert!(pending(&applied(&db).unwrap()).is_empty());
}
