//! Prediction workloads: one row and 100 rows, 16 connections, fixed duration after a
//! warm-up. Every system gets the same rows; each in the request form it serves.

use serde_json::{json, Value};

use crate::loadgen::RequestSpec;
use crate::systems::BASELINE;

pub const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// The classic first Iris row (a setosa).
pub const ONE_ROW: [f64; 4] = [5.1, 3.5, 1.4, 0.2];

/// `n` Iris-like rows cycling through the three species, slightly varied so that no
/// two rows are equal (meant for up to a few hundred rows). Every third row is a virginica.
pub fn rows(n: usize) -> Vec<[f64; 4]> {
    const PROTOTYPES: [[f64; 4]; 3] = [
        [5.0, 3.4, 1.5, 0.2],
        [5.9, 2.8, 4.3, 1.3],
        [6.6, 3.0, 5.6, 2.0],
    ];
    (0..n)
        .map(|i| {
            let p = PROTOTYPES[i % 3];
            let jitter = (i / 3) as f64 * 0.01;
            [
                p[0] + jitter,
                p[1] - jitter,
                p[2] + jitter,
                p[3] + jitter / 2.0,
            ]
        })
        .collect()
}

/// The rows of a workload of `n` rows: the first Iris row alone, or `rows(n)`.
pub fn rows_for(n: usize) -> Vec<[f64; 4]> {
    if n == 1 {
        vec![ONE_ROW]
    } else {
        rows(n)
    }
}

/// How a system takes its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /predict` with `X-API-Key`: named features, or `{"features": [[...]]}`.
    Predict,
    /// `POST /invocations`, MLflow's scoring protocol (`dataframe_split`).
    Invocations,
    /// The floor: any request, fixed answer.
    Floor,
}

/// The body of a request for `rows`, in `protocol`'s form.
pub fn body(protocol: Protocol, rows: &[[f64; 4]]) -> Value {
    match protocol {
        Protocol::Predict | Protocol::Floor if rows.len() == 1 => {
            let r = rows[0];
            json!({FEATURES[0]: r[0], FEATURES[1]: r[1], FEATURES[2]: r[2], FEATURES[3]: r[3]})
        }
        Protocol::Predict | Protocol::Floor => json!({ "features": rows }),
        Protocol::Invocations => json!({"dataframe_split": {"columns": FEATURES, "data": rows}}),
    }
}

/// The request the load generator repeats for `rows` against `authority`.
pub fn request(protocol: Protocol, authority: &str, rows: &[[f64; 4]]) -> RequestSpec {
    let body = serde_json::to_vec(&body(protocol, rows)).expect("json");
    match protocol {
        Protocol::Predict => {
            // A single row is a setosa; a batch of 100 ends with virginica rows.
            let expect = if rows.len() == 1 {
                "setosa"
            } else {
                "virginica"
            };
            RequestSpec::post_json(authority, "/predict", body)
                .header("x-api-key", "dev-key")
                .expect(expect)
        }
        // spinflow asks for the API key here too (the scoring server ignores it).
        Protocol::Invocations => RequestSpec::post_json(authority, "/invocations", body)
            .header("x-api-key", "dev-key")
            .expect("predictions"),
        Protocol::Floor => RequestSpec::post_json(authority, "/predict", body),
    }
}

/// The targets measured on one system: (figure name, protocol).
pub fn targets(system: &str) -> Vec<(String, Protocol)> {
    match system {
        "floor" => vec![("floor".into(), Protocol::Floor)],
        // Ours also serves MLflow's scoring protocol: measured too, to compare with
        // `mlflow models serve` request for request (and the baseline's with ours).
        "spinflow" | BASELINE => vec![
            (system.into(), Protocol::Predict),
            (format!("{system} /invocations"), Protocol::Invocations),
        ],
        "mlflow-serve" => vec![("mlflow-serve".into(), Protocol::Invocations)],
        // The other spinflow variants (WASIp3, registry model): `/predict` only.
        other => vec![(other.to_string(), Protocol::Predict)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_distinct_and_cycle_species() {
        let r = rows(100);
        assert_eq!(r.len(), 100);
        for i in 0..r.len() {
            for j in (i + 1)..r.len() {
                assert_ne!(r[i], r[j], "rows {i} and {j} are equal");
            }
        }
        assert!(r[2][2] > 5.0 && r[0][2] < 2.0);
    }

    #[test]
    fn bodies_take_each_protocols_form() {
        let one = body(Protocol::Predict, &[ONE_ROW]);
        assert_eq!(one["petal_width"], 0.2);
        let batch = body(Protocol::Predict, &rows(3));
        assert_eq!(batch["features"].as_array().unwrap().len(), 3);
        let inv = body(Protocol::Invocations, &rows(2));
        assert_eq!(inv["dataframe_split"]["columns"][3], "petal_width");
        assert_eq!(inv["dataframe_split"]["data"].as_array().unwrap().len(), 2);
    }
}
