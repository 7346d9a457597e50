//! The data of many runs — params, tags, latest metrics, dataset inputs, model inputs and
//! model outputs — read in one statement: a `UNION ALL` of one branch per table, each
//! tagged with its kind and padded to the same columns, split again here. Under Spin each
//! statement is a hand-off to a blocking thread and a fresh prepare, so a search page
//! costs one statement for its runs' data instead of six.

use super::db::{Db, DbExt, Dialect, Row, SqlValue};
use super::metrics::metric_from_row;
use crate::error::ApiResult;
use mlflow_wire::tracking::{Dataset, DatasetInput, KeyValue, Metric, ModelInput, ModelOutput};

/// Runs per statement. On PostgreSQL their ids are bound once (`?1` … `?400`) and every
/// branch reuses them, well within its 65535 parameters; on SQLite they are one value.
pub const RUNS_PER_STATEMENT: usize = 400;

/// One item of a run's data.
pub enum Datum {
    Param(KeyValue),
    Tag(KeyValue),
    Metric(Metric),
    DatasetInput(DatasetInput),
    ModelInput(ModelInput),
    ModelOutput(ModelOutput),
}

const PARAM: i64 = 0;
const TAG: i64 = 1;
const METRIC: i64 = 2;
const DATASET_INPUT: i64 = 3;
const MODEL_INPUT: i64 = 4;
const MODEL_OUTPUT: i64 = 5;

// Padding with a type, so that PostgreSQL types every column of the union alike.
const NO_TEXT: &str = "CAST(NULL AS TEXT)";
const NO_REAL: &str = "CAST(NULL AS DOUBLE PRECISION)";
const NO_INT: &str = "CAST(NULL AS BIGINT)";

/// The statement for `runs` run ids. Columns: kind, run_uuid, position (logging order of
/// dataset inputs, else 0), key (param/tag/metric key, dataset name, model id), the
/// metric's value, is_nan, timestamp and step (a model output's step in the first of
/// those), then text: a param's or tag's value, or the dataset's digest, source type,
/// source, schema, profile and tags.
///
/// The order is by kind, position and key: each run's items come by key (dataset inputs
/// in logging order), as each table alone would give them. PostgreSQL sorts (its
/// collation decides the keys' order). On SQLite the ids come as one JSON array joined
/// through `json_each`, and [`of_runs`] sorts by bytes, which is SQLite's `BINARY`: an
/// `IN` list per branch, or an `ORDER BY` over the branches, gives each branch a
/// temporary b-tree, and together they cost more than the five statements saved.
fn statement(dialect: Dialect, runs: usize) -> String {
    let (from, order) = match dialect {
        Dialect::Sqlite => (
            "FROM json_each(?1) AS page JOIN {table} AS d ON d.run_uuid = page.value".to_string(),
            "",
        ),
        Dialect::Postgres => {
            let ids = (1..=runs)
                .map(|n| format!("?{n}"))
                .collect::<Vec<_>>()
                .join(", ");
            (
                format!("FROM {{table}} AS d WHERE d.run_uuid IN ({ids})"),
                " ORDER BY kind, position, key",
            )
        }
    };
    let from = |table: &str| from.replace("{table}", table);
    let no_ints = format!("{NO_INT}, {NO_INT}, {NO_INT}");
    let no_texts = format!("{NO_TEXT}, {NO_TEXT}, {NO_TEXT}, {NO_TEXT}, {NO_TEXT}");
    format!(
        "SELECT {PARAM} AS kind, d.run_uuid, 0 AS position, d.key AS key, {NO_REAL}, {no_ints}, d.value, {no_texts}
           {params}
         UNION ALL SELECT {TAG}, d.run_uuid, 0, d.key, {NO_REAL}, {no_ints}, d.value, {no_texts}
           {tags}
         UNION ALL SELECT {METRIC}, d.run_uuid, 0, d.key, d.value, d.is_nan, d.timestamp, d.step, {NO_TEXT}, {no_texts}
           {metrics}
         UNION ALL SELECT {DATASET_INPUT}, d.run_uuid, d.rowid, d.name, {NO_REAL}, {no_ints}, d.digest, d.source_type, d.source, d.schema, d.profile, d.tags_json
           {datasets}
         UNION ALL SELECT {MODEL_INPUT}, d.run_uuid, 0, d.model_id, {NO_REAL}, {no_ints}, {NO_TEXT}, {no_texts}
           {model_inputs}
         UNION ALL SELECT {MODEL_OUTPUT}, d.run_uuid, 0, d.model_id, {NO_REAL}, d.step, {NO_INT}, {NO_INT}, {NO_TEXT}, {no_texts}
           {model_outputs}{order}",
        params = from("params"),
        tags = from("tags"),
        metrics = from("latest_metrics"),
        datasets = from("run_dataset_inputs"),
        model_inputs = from("run_model_inputs"),
        model_outputs = from("run_model_outputs"),
    )
}

/// (run id, item) of the data of `run_ids` (at most [`RUNS_PER_STATEMENT`]), each run's
/// items of a kind in the order described at [`statement`].
pub fn of_runs(db: &dyn Db, run_ids: &[String]) -> ApiResult<Vec<(String, Datum)>> {
    debug_assert!(run_ids.len() <= RUNS_PER_STATEMENT);
    if run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let dialect = db.dialect();
    let binds: Vec<SqlValue> = match dialect {
        Dialect::Sqlite => {
            vec![serde_json::to_string(run_ids)
                .expect("strings serialize")
                .into()]
        }
        Dialect::Postgres => run_ids.iter().map(SqlValue::from).collect(),
    };
    let mut rows = db.query(&statement(dialect, run_ids.len()), &binds)?;
    if dialect == Dialect::Sqlite {
        rows.sort_by_cached_key(|r| (r.int(0), r.int(2), r.text(3)));
    }
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.text(1), datum_from_row(r)?)))
        .collect())
}

fn datum_from_row(r: &Row) -> Option<Datum> {
    Some(match r.int(0) {
        PARAM => Datum::Param(KeyValue::new(r.text(3), r.text(8))),
        TAG => Datum::Tag(KeyValue::new(r.text(3), r.text(8))),
        METRIC => Datum::Metric(metric_from_row(r, 3)),
        DATASET_INPUT => Datum::DatasetInput(DatasetInput {
            tags: serde_json::from_str(&r.text(13)).unwrap_or_default(),
            dataset: Some(Dataset {
                name: r.opt_text(3),
                digest: r.opt_text(8),
                source_type: r.opt_text(9),
                source: r.opt_text(10),
                schema: r.opt_text(11),
                profile: r.opt_text(12),
            }),
        }),
        MODEL_INPUT => Datum::ModelInput(ModelInput {
            model_id: r.opt_text(3),
        }),
        MODEL_OUTPUT => Datum::ModelOutput(ModelOutput {
            model_id: r.opt_text(3),
            step: r.opt_int(5),
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
