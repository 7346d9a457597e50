//! Registry and logged-model tables (area `registry`). Append new steps; never edit
//! shipped ones.
//!
//! Deleted model versions stay as rows with stage `Deleted_Internal` (as MLflow keeps
//! them), so version numbers are never reused while the registered model exists.
//! Logged-model metrics are not stored here: they are the tracking `metrics` rows that
//! carry the model's id.

use super::Migration;

pub const REGISTRY_MIGRATIONS: &[Migration] = &[
    Migration {
        area: "registry",
        version: 1,
        statements: &[
            "CREATE TABLE registered_models (
            name TEXT PRIMARY KEY,
            creation_time INTEGER NOT NULL,
            last_updated_time INTEGER NOT NULL,
            description TEXT,
            user_id TEXT)",
            "CREATE TABLE registered_model_tags (
            name TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (name, key)) WITHOUT ROWID",
            "CREATE TABLE model_versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            creation_time INTEGER NOT NULL,
            last_updated_time INTEGER NOT NULL,
            description TEXT,
            user_id TEXT,
            current_stage TEXT NOT NULL DEFAULT 'None',
            source TEXT,
            storage_location TEXT,
            run_id TEXT,
            run_link TEXT,
            status TEXT NOT NULL DEFAULT 'READY',
            status_message TEXT,
            model_id TEXT,
            PRIMARY KEY (name, version))",
            "CREATE TABLE model_version_tags (
            name TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (name, version, key)) WITHOUT ROWID",
            "CREATE TABLE registered_model_aliases (
            name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
            PRIMARY KEY (name, alias)) WITHOUT ROWID",
            "CREATE INDEX model_versions_by_run ON model_versions (run_id)",
            "CREATE TABLE logged_models (
            model_id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            artifact_location TEXT NOT NULL,
            creation_timestamp_ms INTEGER NOT NULL,
            last_updated_timestamp_ms INTEGER NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            lifecycle_stage TEXT NOT NULL DEFAULT 'active',
            model_type TEXT,
            source_run_id TEXT)",
            "CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, name)",
            "CREATE TABLE logged_model_params (
            model_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)) WITHOUT ROWID",
            "CREATE TABLE logged_model_tags (
            model_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (model_id, key)) WITHOUT ROWID",
            "CREATE INDEX IF NOT EXISTS metrics_by_model ON metrics (model_id)",
        ],
        postgres: &[
            "CREATE TABLE registered_models (
            name TEXT PRIMARY KEY,
            creation_time BIGINT NOT NULL,
            last_updated_time BIGINT NOT NULL,
            description TEXT,
            user_id TEXT)",
            "CREATE TABLE registered_model_tags (
            name TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (name, key))",
            "CREATE TABLE model_versions (
            name TEXT NOT NULL,
            version BIGINT NOT NULL,
            creation_time BIGINT NOT NULL,
            last_updated_time BIGINT NOT NULL,
            description TEXT,
            user_id TEXT,
            current_stage TEXT NOT NULL DEFAULT 'None',
            source TEXT,
            storage_location TEXT,
            run_id TEXT,
            run_link TEXT,
            status TEXT NOT NULL DEFAULT 'READY',
            status_message TEXT,
            model_id TEXT,
            PRIMARY KEY (name, version))",
            "CREATE TABLE model_version_tags (
            name TEXT NOT NULL, version BIGINT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (name, version, key))",
            "CREATE TABLE registered_model_aliases (
            name TEXT NOT NULL, alias TEXT NOT NULL, version BIGINT NOT NULL,
            PRIMARY KEY (name, alias))",
            "CREATE INDEX model_versions_by_run ON model_versions (run_id)",
            "CREATE TABLE logged_models (
            model_id TEXT PRIMARY KEY,
            experiment_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            artifact_location TEXT NOT NULL,
            creation_timestamp_ms BIGINT NOT NULL,
            last_updated_timestamp_ms BIGINT NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            lifecycle_stage TEXT NOT NULL DEFAULT 'active',
            model_type TEXT,
            source_run_id TEXT)",
            "CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, name)",
            "CREATE TABLE logged_model_params (
            model_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (model_id, key))",
            "CREATE TABLE logged_model_tags (
            model_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (model_id, key))",
            "CREATE INDEX IF NOT EXISTS metrics_by_model ON metrics (model_id)",
        ],
    },
    Migration {
        area: "registry",
        version: 2,
        // A logged model's own metric points: the run's metrics table collapses identical
        // points, so a point re-logged with the model's id (as MLflow 3 clients do) would
        // otherwise not be attributed to the model.
        statements: &["CREATE TABLE logged_model_metrics (
            model_id TEXT NOT NULL, key TEXT NOT NULL,
            timestamp INTEGER NOT NULL, step INTEGER NOT NULL,
            value REAL NOT NULL, is_nan INTEGER NOT NULL,
            run_uuid TEXT, dataset_name TEXT, dataset_digest TEXT,
            PRIMARY KEY (model_id, key, timestamp, step, value, is_nan)) WITHOUT ROWID"],
        postgres: &["CREATE TABLE logged_model_metrics (
            model_id TEXT NOT NULL, key TEXT NOT NULL,
            timestamp BIGINT NOT NULL, step BIGINT NOT NULL,
            value DOUBLE PRECISION NOT NULL, is_nan BIGINT NOT NULL,
            run_uuid TEXT, dataset_name TEXT, dataset_digest TEXT,
            PRIMARY KEY (model_id, key, timestamp, step, value, is_nan))"],
    },
];
