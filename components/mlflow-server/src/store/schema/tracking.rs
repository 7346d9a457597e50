//! Tracking tables (area `tracking`). Append new steps; never edit shipped ones.
//!
//! Metric values: SQLite stores NaN as NULL, so a NaN point has `is_nan = 1` and a NULL
//! value. `latest_metrics` keeps, per (run, key), the point with the greatest
//! (step, timestamp, value) — what `runs/get` shows and what filters compare against.

use super::Migration;

pub const TRACKING_MIGRATIONS: &[Migration] = &[
    Migration {
        area: "tracking",
        version: 1,
        statements: &[
            "CREATE TABLE experiments (
                experiment_id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                artifact_location TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL DEFAULT 'active',
                creation_time INTEGER,
                last_update_time INTEGER)",
            "CREATE TABLE experiment_tags (
                experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
                key TEXT NOT NULL, value TEXT,
                PRIMARY KEY (experiment_id, key))",
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
                VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active',
                        CAST(strftime('%s','now') AS INTEGER) * 1000, CAST(strftime('%s','now') AS INTEGER) * 1000)",
            "CREATE TABLE runs (
                run_uuid TEXT PRIMARY KEY,
                name TEXT,
                experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
                user_id TEXT,
                status TEXT NOT NULL,
                start_time INTEGER,
                end_time INTEGER,
                lifecycle_stage TEXT NOT NULL DEFAULT 'active',
                artifact_uri TEXT NOT NULL,
                deleted_time INTEGER)",
            "CREATE TABLE params (
                run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                PRIMARY KEY (run_uuid, key)) WITHOUT ROWID",
            "CREATE TABLE tags (
                run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
                PRIMARY KEY (run_uuid, key)) WITHOUT ROWID",
            "CREATE TABLE metrics (
                run_uuid TEXT NOT NULL, key TEXT NOT NULL,
                value REAL, is_nan INTEGER NOT NULL DEFAULT 0,
                timestamp INTEGER NOT NULL, step INTEGER NOT NULL DEFAULT 0,
                model_id TEXT, dataset_name TEXT, dataset_digest TEXT)",
            "CREATE TABLE latest_metrics (
                run_uuid TEXT NOT NULL, key TEXT NOT NULL,
                value REAL, is_nan INTEGER NOT NULL DEFAULT 0,
                timestamp INTEGER NOT NULL, step INTEGER NOT NULL,
                PRIMARY KEY (run_uuid, key)) WITHOUT ROWID",
            "CREATE TABLE run_dataset_inputs (
                run_uuid TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL,
                source_type TEXT, source TEXT, schema TEXT, profile TEXT,
                context TEXT, tags_json TEXT,
                PRIMARY KEY (run_uuid, name, digest))",
            "CREATE TABLE run_model_inputs (
                run_uuid TEXT NOT NULL, model_id TEXT NOT NULL,
                PRIMARY KEY (run_uuid, model_id))",
            "CREATE TABLE run_model_outputs (
                run_uuid TEXT NOT NULL, model_id TEXT NOT NULL, step INTEGER NOT NULL,
                PRIMARY KEY (run_uuid, model_id))",
        ],
    },
    Migration {
        area: "tracking",
        version: 2,
        // Indexes sized for 10k runs / 1M metric points: run listing per experiment,
        // history per (run, key) in its read order, bulk-interval by step.
        statements: &[
            "CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time DESC)",
            "CREATE INDEX IF NOT EXISTS metrics_history ON metrics (run_uuid, key, timestamp, step, value)",
            "CREATE INDEX IF NOT EXISTS metrics_by_step ON metrics (run_uuid, key, step)",
            "CREATE INDEX IF NOT EXISTS latest_metrics_by_key ON latest_metrics (key, value)",
            "CREATE INDEX IF NOT EXISTS experiments_by_creation ON experiments (creation_time DESC)",
        ],
    },
    Migration {
        area: "tracking",
        version: 3,
        // Metric points move to a table clustered by their read order (the primary key is
        // the history order), replacing two secondary indexes that made inserts ~8x
        // slower. Identical points collapse into one, as in MLflow's SQL store. NaN is
        // stored as value 0 with is_nan = 1 (key columns cannot be NULL).
        statements: &[
            "CREATE TABLE metric_points (
                run_uuid TEXT NOT NULL, key TEXT NOT NULL,
                timestamp INTEGER NOT NULL, step INTEGER NOT NULL,
                value REAL NOT NULL, is_nan INTEGER NOT NULL,
                model_id TEXT, dataset_name TEXT, dataset_digest TEXT,
                PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan)) WITHOUT ROWID",
            "INSERT OR IGNORE INTO metric_points
                (run_uuid, key, timestamp, step, value, is_nan, model_id, dataset_name, dataset_digest)
                SELECT run_uuid, key, timestamp, step, COALESCE(value, 0), is_nan, model_id, dataset_name, dataset_digest
                FROM metrics",
            "DROP TABLE metrics",
            "ALTER TABLE metric_points RENAME TO metrics",
        ],
    },
    Migration {
        area: "tracking",
        version: 4,
        // `latest_metrics` follows every inserted point by itself, so that logging one
        // point is one statement: under Spin each statement is a round trip to the
        // host and a write transaction holds the lock for all of them. "Latest" is the
        // highest (step, timestamp, value), NaN lowest.
        statements: &["CREATE TRIGGER IF NOT EXISTS latest_metrics_follow AFTER INSERT ON metrics BEGIN
            INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step)
            VALUES (new.run_uuid, new.key, new.value, new.is_nan, new.timestamp, new.step)
            ON CONFLICT (run_uuid, key) DO UPDATE SET
              value = excluded.value, is_nan = excluded.is_nan,
              timestamp = excluded.timestamp, step = excluded.step
            WHERE (excluded.step, excluded.timestamp, CASE WHEN excluded.is_nan = 1 THEN -9e999 ELSE excluded.value END)
                > (latest_metrics.step, latest_metrics.timestamp, CASE WHEN latest_metrics.is_nan = 1 THEN -9e999 ELSE latest_metrics.value END);
        END"],
    },
];
