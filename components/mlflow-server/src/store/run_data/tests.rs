//! One statement reads back every kind of run data, in each table's order, on SQLite
//! and PostgreSQL alike.

use super::super::inputs::{self, NewDatasetInput};
use super::super::metrics::{self, NewMetric};
use super::super::runs::load;
use super::super::{params, tags, testing};
use super::*;
use mlflow_wire::tracking::RunInfo;

fn info(id: &str) -> RunInfo {
    RunInfo {
        run_id: id.into(),
        run_uuid: id.into(),
        ..Default::default()
    }
}

fn point(key: &str, value: f64, step: i64) -> NewMetric {
    NewMetric {
        key: key.into(),
        value,
        timestamp: 10 + step,
        step,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
    }
}

fn dataset(name: &str) -> NewDatasetInput<'_> {
    NewDatasetInput {
        name,
        digest: "d",
        source_type: "local",
        source: "{}",
        schema: None,
        profile: Some("p".into()),
        context: None,
        tags_json: r#"[{"key":"mlflow.data.context","value":"train"}]"#.into(),
    }
}

fn keys(kvs: &[KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| (kv.key.clone().unwrap(), kv.value.clone().unwrap()))
        .collect()
}

#[test]
fn every_kind_comes_back_in_its_order_and_empty_runs_stay_empty() {
    let db = testing::db();
    for (key, value) in [("z", "1"), ("a", "2")] {
        params::insert(&db, "r1", key, value).unwrap();
        tags::insert_all(&db, "r1", &[(key.into(), value.into())]).unwrap();
    }
    params::insert(&db, "r2", "only", "x").unwrap();
    let points = [
        point("nan", f64::NAN, 0),
        point("inf", f64::INFINITY, 0),
        point("neg", f64::NEG_INFINITY, 0),
        point("b", 1.0, 0),
        point("b", 2.5, 1),
    ];
    metrics::insert(&db, "r1", &points).unwrap();
    // Logged z before a: dataset inputs keep logging order, not name order.
    inputs::insert_dataset(&db, "r1", &dataset("z")).unwrap();
    inputs::insert_dataset(&db, "r1", &dataset("a")).unwrap();
    inputs::insert_model_input(&db, "r1", "m2").unwrap();
    inputs::insert_model_input(&db, "r1", "m1").unwrap();
    inputs::set_model_output(&db, "r1", "m3", 7).unwrap();

    let runs = load(&db, vec![info("r1"), info("r2"), info("r3")]).unwrap();
    let [r1, r2, r3] = &runs[..] else {
        panic!("three runs")
    };
    let sorted = vec![("a".into(), "2".into()), ("z".into(), "1".into())];
    assert_eq!(keys(&r1.data.params), sorted);
    assert_eq!(keys(&r1.data.tags), sorted);
    let latest: Vec<_> = r1
        .data
        .metrics
        .iter()
        .map(|m| (m.key.as_str(), m.value.to_string(), m.timestamp, m.step))
        .collect();
    assert_eq!(
        latest,
        [
            ("b", "2.5".into(), 11, 1),
            ("inf", "inf".into(), 10, 0),
            ("nan", "NaN".into(), 10, 0),
            ("neg", "-inf".into(), 10, 0),
        ]
    );
    let datasets: Vec<_> = r1
        .inputs
        .dataset_inputs
        .iter()
        .map(|d| {
            let ds = d.dataset.as_ref().unwrap();
            (
                ds.name.clone().unwrap(),
                ds.digest.clone().unwrap(),
                ds.schema.clone(),
                ds.profile.clone(),
                d.tags.len(),
            )
        })
        .collect();
    assert_eq!(
        datasets,
        [
            ("z".into(), "d".into(), None, Some("p".into()), 1),
            ("a".into(), "d".into(), None, Some("p".into()), 1),
        ]
    );
    let model_inputs: Vec<_> = r1
        .inputs
        .model_inputs
        .iter()
        .map(|m| m.model_id.clone().unwrap())
        .collect();
    assert_eq!(model_inputs, ["m1", "m2"]);
    let outputs = &r1.outputs.model_outputs;
    assert_eq!(outputs.len(), 1);
    assert_eq!(
        (outputs[0].model_id.as_deref(), outputs[0].step),
        (Some("m3"), Some(7))
    );
    assert_eq!(keys(&r2.data.params), [("only".into(), "x".into())]);
    assert!(r2.data.tags.is_empty() && r2.data.metrics.is_empty());
    assert!(r3.data.params.is_empty() && r3.inputs.dataset_inputs.is_empty());
}

#[test]
fn pages_beyond_one_statement_keep_every_run_data() {
    let db = testing::db();
    let ids: Vec<String> = (0..RUNS_PER_STATEMENT + 1)
        .map(|i| format!("run{i}"))
        .collect();
    for id in &ids {
        params::insert(&db, id, "p", id).unwrap();
    }
    let runs = load(&db, ids.iter().map(|id| info(id)).collect()).unwrap();
    for (run, id) in runs.iter().zip(&ids) {
        assert_eq!(keys(&run.data.params), [("p".into(), id.clone())]);
    }
}
